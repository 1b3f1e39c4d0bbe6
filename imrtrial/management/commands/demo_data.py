import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from imrtrial.audit import task_context
from imrtrial.roles import TWO_FACTOR_ROLES, Role
from imrtrial.staff import staff_save

# Demo accounts for a developer machine only (the command refuses to run unless DEBUG is on).
# Their TOTP secret is public on purpose: add it to an authenticator app, or run
# `python manage.py demo_totp USERNAME` for the current code.
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105 (public demo secret)
DEMO_SITES = {
    Role.COORDINATOR: ["BAL", "GLA"],
    Role.ASSESSOR: ["BAL", "GLA"],
    Role.CLINICIAN: ["BAL"],
    Role.INSTRUCTOR: ["BAL"],
}


DEMO_PASSWORD = "Recovery-2026!"  # noqa: S105 (documented demo password)


class Command(BaseCommand):
    help = "Create one demo user per role (development only) and print how to log in."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_data only runs with DEBUG=true (never on a real trial).")
        rows = []
        with task_context("demo_data", None):
            for role in Role:
                username = f"demo-{role.value.replace('_', '-')}"
                two_factor = role in TWO_FACTOR_ROLES
                staff_save(
                    username=username,
                    roles=[role.value],
                    site_codes=DEMO_SITES.get(role, []),
                    password=DEMO_PASSWORD,
                    totp_secret=DEMO_TOTP_SECRET if two_factor else None,
                )
                rows.append((username, DEMO_PASSWORD, two_factor))
        port = os.environ.get("PORT") or "8000"
        self.stdout.write(f"\nDemo users (log in at http://127.0.0.1:{port}/accounts/login/):")
        for username, password, two_factor in rows:
            note = "  + TOTP code: manage.py demo_totp " + username if two_factor else ""
            self.stdout.write(f"  {username:<22} {password}{note}")
        self.stdout.write(f"  TOTP secret of the demo accounts: {DEMO_TOTP_SECRET}\n")
