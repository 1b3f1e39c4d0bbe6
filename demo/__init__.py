"""Demo data for a developer machine (`manage.py demo_data`, DEBUG only): the demo accounts
and a small, believable trial made through the real services."""
