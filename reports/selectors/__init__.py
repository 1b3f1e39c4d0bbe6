"""Reads for the reports, each already limited to the caller's sites and blinding."""
