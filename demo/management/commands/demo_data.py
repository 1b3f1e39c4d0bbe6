import logging
import os
from typing import Any

from celery import current_app as celery_app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings
from django.utils import translation

from demo.trial import build_demo_trial, existing_trial
from trial.audit import task_context
from trial.roles import TWO_FACTOR_ROLES, Role
from trial.services import staff_save

# Demo accounts for a developer machine only (the command refuses to run unless DEBUG is on).
# Their TOTP secret is public on purpose: add it to an authenticator app, or run
# `python manage.py demo_totp USERNAME` for the current code.
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105 (public demo secret)
# The demo trial has participants and an IMR group at every site: the site-scoped demo users
# work at all three, so each of them sees it.
ALL_SITES = ["BAL", "GLA", "FRB"]
DEMO_SITES: dict[str, list[str]] = {
    Role.COORDINATOR: ALL_SITES,
    Role.ASSESSOR: ALL_SITES,
    Role.CLINICIAN: ALL_SITES,
    Role.INSTRUCTOR: ALL_SITES,
}
# The trial's rules need a second instructor (a group is run by two or three) and a second
# fidelity rater (two independent ratings): same password, listed apart.
DEMO_COLLEAGUES = {
    "demo-instructor-2": Role.INSTRUCTOR,
    "demo-fidelity-rater-2": Role.FIDELITY_RATER,
}


DEMO_PASSWORD = "Recovery-2026!"  # noqa: S105 (documented demo password)


class Command(BaseCommand):
    help = (
        "Create one demo user per role and, in an empty trial database, a small demo trial "
        "(development only); print how to log in and what was created."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--users-only", action="store_true", help="Create the demo users, not the trial."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_data only runs with DEBUG=true (never on a real trial).")
        rows = []
        with task_context("demo_data", None):
            for role in Role:
                username = f"demo-{role.value.replace('_', '-')}"
                two_factor = role in TWO_FACTOR_ROLES
                self.save_user(username, role, two_factor)
                rows.append((username, DEMO_PASSWORD, two_factor))
            for username, role in DEMO_COLLEAGUES.items():
                self.save_user(username, role, two_factor=False)
        port = os.environ.get("PORT") or "8000"
        self.stdout.write(f"\nDemo users (log in at http://127.0.0.1:{port}/accounts/login/):")
        for username, password, two_factor in rows:
            note = "  + TOTP code: manage.py demo_totp " + username if two_factor else ""
            self.stdout.write(f"  {username:<22} {password}{note}")
        self.stdout.write(f"  TOTP secret of the demo accounts: {DEMO_TOTP_SECRET}")
        self.stdout.write(
            f"  (also {', '.join(DEMO_COLLEAGUES)}: the second instructor and fidelity rater)\n"
        )
        if not options["users_only"]:
            self.demo_trial()

    def save_user(self, username: str, role: str, two_factor: bool) -> None:
        staff_save(
            username=username,
            roles=[role],
            site_codes=DEMO_SITES.get(role, []),
            password=DEMO_PASSWORD,
            totp_secret=DEMO_TOTP_SECRET if two_factor else None,
        )

    def demo_trial(self) -> None:
        reason = existing_trial()
        if reason:
            self.stdout.write(f"Demo trial: {reason}\n")
            return
        # Confirmation e-mails of the demo randomisations are sent in-process to nowhere (not
        # queued for the worker, which would print thirty of them).
        eager = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = True
        task_log = logging.getLogger("celery.app.trace")
        level = task_log.level
        task_log.setLevel(logging.WARNING)
        try:
            with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
                summary = build_demo_trial()
        finally:
            celery_app.conf.task_always_eager = eager
            task_log.setLevel(level)
        self.stdout.write("Demo trial created through the trial's own services:")
        # The summary is English, whatever the deployment's default language (statuses and
        # visit names come from translated labels).
        with translation.override("en"):
            for line in summary.lines():
                self.stdout.write(f"  {line}")
        self.stdout.write("")
