from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from trial import backup
from trial.dbconfig import OWNER_ALIAS


class Command(BaseCommand):
    help = (
        "Write a consistent pg_dump (custom format) of the trial database and its manifest "
        "(SHA-256, time, schema version, row counts, lock state). The CPR keys are not in it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            default=str(settings.BACKUP_ROOT),
            help="Directory for the dump and its manifest (default: BACKUP_ROOT)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = backup.Target.from_settings(settings.DATABASES[OWNER_ALIAS])
        try:
            manifest = backup.backup(source, Path(options["output"]))
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Backup written: {manifest}")
