"""`manage.py verify_allocation_list FILE [--by USERNAME]`: does a file (e.g. the copy in the
trial master file) hold exactly the stored list? Exit status 0 if it does, 1 if not."""

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
from randomization.services import allocation_list_verify
from trial.audit import task_context
from trial.errors import TrialError


class Command(BaseCommand):
    help = (
        "Statistician: verify the stored allocation list against a CSV file made of whole list "
        "versions. Reports differences by line without printing any arm. Audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        add_by_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        user = acting_user(options["by"])
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from None
        with task_context("verify_allocation_list", None, **context_extra()):
            try:
                result = allocation_list_verify(
                    data=data, user=user, channel="cli", filename=path.name
                )
            except TrialError as error:
                raise fail(error) from None
        for version in result.versions:
            state = "matches" if version["matches"] else "DIFFERS"
            self.stdout.write(
                f"{version['site']} v{version['version']} {state} (stored {version['sha256']})"
            )
        if not result.matches:
            raise CommandError(
                "The file does not match the stored list:\n"
                + "\n".join(f"  {problem}" for problem in result.errors)
            )
        self.stdout.write("The file matches the stored list.")
