"""HTTP API of the assessments app (API.md "Assessments" and the extensions in DEVELOPERS.md)."""
