"""The instrument registry: one module per instrument (items, options, ranges, scoring),
`registry` lists them, `base` holds the vocabulary (Item, Option, Score, Instrument,
MissingReason), `validation` checks an entry and `metadata` describes the variables for the
exports and the codebook. Stands on `trial` only; assessments, fidelity and exports read it.
See DEVELOPERS.md, "How to add...", "An instrument"."""
