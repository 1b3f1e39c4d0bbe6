"""`manage.py import_allocation_list FILE [--extend --reason TEXT] [--by USERNAME]`: import an
externally generated list (CSV: site, sequence, block, block_size, arm), all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from randomization.management.commands._common import (
    acting_user,
    add_by_argument,
    context_extra,
    fail,
)
from randomization.services import allocation_list_import
from trial.audit import task_context
from trial.errors import TrialError


class Command(BaseCommand):
    help = (
        "Statistician: import an allocation list from CSV (site, sequence, block, block_size, "
        "arm). Every rule is checked first; any problem refuses the whole file, by line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--extend",
            action="store_true",
            help="Append complete blocks to existing lists (needs --reason)",
        )
        parser.add_argument("--reason", default="", help="Why (required with --extend)")
        add_by_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        user = acting_user(options["by"])
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from None
        with task_context("import_allocation_list", None, **context_extra()):
            try:
                created = allocation_list_import(
                    data=data,
                    user=user,
                    extend=options["extend"],
                    reason=options["reason"],
                    channel="cli",
                    filename=path.name,
                )
            except TrialError as error:
                raise fail(error) from None
        for allocation_list in created:
            self.stdout.write(
                f"{allocation_list.site.code} v{allocation_list.version} {allocation_list.sha256}"
            )
