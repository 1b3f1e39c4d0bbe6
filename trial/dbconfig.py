"""The two database roles in settings (DESIGN.md invariant 9).

- `DATABASE_URL` is the runtime role: the web app, the workers and management commands. It
  owns nothing, is no superuser and has only the table privileges of trial.dbroles.
- `DATABASE_OWNER_URL` is the owner role: it runs migrations, owns the tables, and grants
  the runtime role its privileges after every migration. A process started with
  `DATABASE_ROLE=owner` (`make database`, docker-compose's `migrate`) connects as the owner
  for everything: data migrations then need no `using()` to reach the owner's connection.

Without `DATABASE_OWNER_URL` (a fresh machine: one superuser URL), `DATABASE_URL` is taken as
the owner's, and the runtime role is `<database>_app` (or `DATABASE_APP_USER`) on the same
server, with `DATABASE_APP_PASSWORD` or a password derived from `SECRET_KEY`;
`manage.py ensure_database` creates that role. Nothing here touches the database."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import dj_database_url

OWNER_ALIAS = "owner"
# Seconds a request waits for a free pooled connection before it is answered 503.
POOL_TIMEOUT = 5.0


@dataclass(frozen=True)
class DatabaseRoles:
    runtime: dict[str, Any]
    owner: dict[str, Any]
    # True when the runtime role is derived from the owner's URL (ensure_database creates it).
    derived: bool


def derived_password(secret_key: str, database: str, user: str) -> str:
    """A stable password for the derived runtime role: the same on every start, so that no
    file has to keep it, and different for every database and role."""
    message = f"imrtrial-runtime-role:{database}:{user}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def database_roles(
    *,
    url: str,
    owner_url: str = "",
    app_user: str = "",
    app_password: str = "",
    secret_key: str,
    conn_max_age: int = 0,
    options: dict[str, Any] | None = None,
) -> DatabaseRoles:
    def parse(value: str) -> dict[str, Any]:
        parsed: dict[str, Any] = dict(
            dj_database_url.parse(value, conn_max_age=conn_max_age, conn_health_checks=True)
        )
        parsed["OPTIONS"] = {**parsed.get("OPTIONS", {}), **(options or {})}
        return parsed

    if owner_url:
        return DatabaseRoles(runtime=parse(url), owner=parse(owner_url), derived=False)
    owner = parse(url)
    runtime = parse(url)
    runtime["USER"] = app_user or f"{owner['NAME']}_app"
    runtime["PASSWORD"] = app_password or derived_password(
        secret_key, owner["NAME"], runtime["USER"]
    )
    return DatabaseRoles(runtime=runtime, owner=owner, derived=True)


def databases(
    roles: DatabaseRoles, *, connect_as: str = "runtime", pool_size: int = 0
) -> dict[str, dict[str, Any]]:
    """DATABASES: `default` is the runtime role (the owner with `connect_as="owner"`);
    `owner` is the same database as the owner (role checks, backups). In tests the owner alias
    mirrors default's database (no second test database).

    With `pool_size`, `default` uses psycopg's connection pool (Django's OPTIONS["pool"]): each
    process holds at most that many connections, and a request that finds them all busy for
    `POOL_TIMEOUT` seconds fails with PoolTimeout, which the app answers with 503 (instead of
    PostgreSQL's "too many clients" once every process has opened its own)."""
    if connect_as not in ("runtime", "owner"):
        raise ValueError(f"DATABASE_ROLE must be 'runtime' or 'owner', not {connect_as!r}.")
    owner = dict(roles.owner)
    owner["TEST"] = {**owner.get("TEST", {}), "MIRROR": "default"}
    default = dict(roles.owner if connect_as == "owner" else roles.runtime)
    if pool_size > 0:
        default["OPTIONS"] = {
            **default.get("OPTIONS", {}),
            "pool": {"min_size": 1, "max_size": pool_size, "timeout": POOL_TIMEOUT},
        }
        # Django's pool and persistent connections exclude each other.
        default["CONN_MAX_AGE"] = 0
    return {"default": default, OWNER_ALIAS: owner}
