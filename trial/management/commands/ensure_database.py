from typing import Any

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from psycopg import sql

from trial import dbroles
from trial.dbconfig import OWNER_ALIAS


class Command(BaseCommand):
    help = (
        "Create the database and, on a machine configured with one superuser URL, the runtime "
        "role; check that the runtime role is a least-privilege one (README.md, Configuration)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        owner = settings.DATABASES[OWNER_ALIAS]
        # The runtime role as configured, whichever role this process itself connects as
        # (DATABASE_ROLE=owner must never make the owner "the runtime role" and strip it).
        runtime = settings.DATABASE_ROLES.runtime
        with psycopg.connect(
            host=owner["HOST"],
            port=owner["PORT"] or 5432,
            user=owner["USER"],
            password=owner["PASSWORD"] or None,
            dbname="postgres",
            autocommit=True,
        ) as connection:
            cursor = connection.cursor()
            if settings.DATABASE_ROLES.derived:
                with connection.transaction():
                    created = dbroles.ensure_runtime_role(
                        cursor, role=runtime["USER"], password=runtime["PASSWORD"]
                    )
                word = "Created" if created else "Updated"
                self.stdout.write(f"{word} the runtime role {runtime['USER']}.")
            problems = dbroles.runtime_role_problems(
                cursor, role=runtime["USER"], owner=owner["USER"]
            )
            exists = cursor.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [owner["NAME"]]
            ).fetchone()
            if exists:
                self.stdout.write(f"Database {owner['NAME']} exists.")
            else:
                cursor.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(owner["NAME"]), sql.Identifier(owner["USER"])
                    )
                )
                self.stdout.write(f"Created database {owner['NAME']}.")
        if problems:
            raise CommandError(
                "The runtime database role is not least-privilege: " + " ".join(problems)
            )
