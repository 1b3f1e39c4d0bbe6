"""Building export files: snapshot, formats, manifest, archive, publication."""
