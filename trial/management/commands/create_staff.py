import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trial.audit import task_context
from trial.errors import Invalid
from trial.roles import Role
from trial.services import staff_save


class Command(BaseCommand):
    help = "Create or update a staff account with exactly the given roles (API.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--role",
            action="append",
            required=True,
            choices=Role.values,
            help="a role; repeat for several",
        )
        parser.add_argument(
            "--site",
            action="extend",
            nargs="+",
            default=[],
            metavar="CODE",
            help="site code(s); none means every site",
        )
        parser.add_argument("--password", required=True)
        parser.add_argument(
            "--totp-secret",
            dest="totp_secret",
            default=None,
            metavar="BASE32",
            help="register a confirmed TOTP device",
        )
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--reason",
            default="",
            help="why the account or its roles change (kept in the audit trail)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with task_context(
                "create_staff", None, target_username=options["username"], os_user=_os_user()
            ):
                user = staff_save(
                    username=options["username"],
                    roles=options["role"],
                    site_codes=options["site"],
                    password=options["password"],
                    totp_secret=options["totp_secret"],
                    email=options["email"],
                    reason=options["reason"] or "create_staff command",
                )
        except Invalid as exc:
            raise CommandError(exc.message) from None
        where = ", ".join(options["site"]) if options["site"] else "all sites"
        self.stdout.write(
            self.style.SUCCESS(f"{user.username}: {', '.join(options['role'])} ({where})")
        )


def _os_user() -> str:
    """Who ran the command, as far as the operating system knows (for the audit trail)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
