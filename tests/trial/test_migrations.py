from __future__ import annotations

from io import StringIO

from django.core.management import call_command


def test_every_model_change_has_its_migration(db: None) -> None:
    out = StringIO()
    # --check exits with an error when a model change has no migration yet.
    call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    assert "No changes detected" in out.getvalue()
