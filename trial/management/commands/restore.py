from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from trial import backup
from trial.dbconfig import OWNER_ALIAS


class Command(BaseCommand):
    help = (
        "Restore a backup (its manifest's path) into the configured database, which must be "
        "empty, and verify row counts, the audit triggers, the schema version and the lock "
        "state against the manifest. Needs the same CPR_KEYS to read CPR numbers afterwards."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("manifest", help="The .manifest.json written by manage.py backup")

    def handle(self, *args: Any, **options: Any) -> None:
        target = backup.Target.from_settings(settings.DATABASES[OWNER_ALIAS])
        try:
            found = backup.restore(Path(options["manifest"]), target)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from None
        rows = sum(found["row_counts"].values())
        self.stdout.write(
            f"Restored {target.name}: {len(found['row_counts'])} tables, {rows} rows, lock state "
            f"{found['lock']['level']}; everything matches the manifest."
        )
