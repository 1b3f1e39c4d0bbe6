"""Pictures of the reports, drawn on the server with matplotlib (no script in the browser)."""
