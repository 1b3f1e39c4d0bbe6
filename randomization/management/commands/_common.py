"""What the randomisation commands share: who is acting, and the audit context."""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from randomization.services.lists import require_list_custodian
from trial.errors import TrialError


def add_by_argument(parser: CommandParser) -> None:
    parser.add_argument(
        "--by",
        metavar="USERNAME",
        help="The statistician acting (recorded in the audit trail). Without it the "
        "operating-system account running the command is recorded.",
    )


def acting_user(username: str | None) -> Any:
    if not username:
        return None
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"No active user {username!r}.")
    try:
        require_list_custodian(user, channel="cli")
    except TrialError as error:
        raise CommandError(error.message) from None
    return user


def context_extra() -> dict[str, str]:
    return {"os_user": getpass.getuser(), "channel": "cli"}


def fail(error: TrialError) -> CommandError:
    lines = [error.message]
    for field, problems in (error.fields or {}).items():
        lines.extend(f"  {field}: {problem}" for problem in problems)
    return CommandError("\n".join(lines))
