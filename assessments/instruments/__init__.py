"""One module per instrument; `registry` lists them and `base` holds the vocabulary
(Item, Option, Score, Instrument, MissingReason). See DEVELOPERS.md, "Instruments"."""
