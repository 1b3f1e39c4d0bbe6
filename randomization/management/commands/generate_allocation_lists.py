"""`manage.py generate_allocation_lists --per-site N [--sites BAL,GLA,FRB]` (API.md).

Generates each site's concealed permuted-block list from a fresh 128-bit seed, stores it with
its SHA-256 and the seed sealed, and prints only the hashes: never a list, an arm or a seed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from randomization.management.commands._common import (
    acting_user,
    add_by_argument,
    context_extra,
    fail,
)
from randomization.services import allocation_lists_generate
from trial.audit import task_context
from trial.errors import TrialError


class Command(BaseCommand):
    help = (
        "Statistician: generate sealed permuted-block allocation lists (blocks of 6, 8 or 10, "
        "1:1) for each site. Prints the list hashes only. Refuses to overwrite an existing "
        "list; --extend appends complete blocks as a new, audited list version."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--per-site", type=int, required=True, metavar="N", help="At least N slots per site"
        )
        parser.add_argument(
            "--sites", default="", metavar="BAL,GLA,FRB", help="Sites (default: all three)"
        )
        parser.add_argument(
            "--extend",
            action="store_true",
            help="Append complete blocks to the sites' existing lists (needs --reason)",
        )
        parser.add_argument("--reason", default="", help="Why (required with --extend)")
        add_by_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        user = acting_user(options["by"])
        codes = [c for c in options["sites"].split(",") if c.strip()] or None
        with task_context("generate_allocation_lists", None, **context_extra()):
            try:
                created = allocation_lists_generate(
                    per_site=options["per_site"],
                    site_codes=codes,
                    user=user,
                    extend=options["extend"],
                    reason=options["reason"],
                    channel="cli",
                )
            except TrialError as error:
                raise fail(error) from None
        for allocation_list in created:
            self.stdout.write(
                f"{allocation_list.site.code} v{allocation_list.version} {allocation_list.sha256}"
            )
