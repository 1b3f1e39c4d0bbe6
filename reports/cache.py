"""Report figures are cached under a fingerprint of the data they are made from, so that a
cached answer is never stale and never crosses scopes.

The fingerprint is the newest audit event id of every table the reports read (pghistory writes
an event row in the same transaction as every insert, update and delete, so any change moves
it), the lock state, today's date (visit windows move with the calendar) and the database's
identity. A transaction that has written something but not committed adds its own id: what it
sees is nobody else's business. The key also holds the report's scope: the sites and whether
the caller sees arms, so users with a different blinding or site scope never share an entry,
and the language, since a report holds translated text."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import translation

from reports.selectors.scope import Scope, today

T = TypeVar("T")

# Tables whose changes can change a report (their pghistory event tables).
EVENT_TABLES = (
    "trial_datasetlockevent",
    "participants_participantevent",
    "participants_eligibilityscreeningevent",
    "randomization_allocationevent",
    "randomization_allocationlistevent",
    "assessments_instrumentresponseevent",
    "assessments_queryevent",
    "fidelity_imrgroupevent",
    "fidelity_groupmembershipevent",
    "fidelity_groupsessionevent",
    "fidelity_attendanceevent",
    "fidelity_fidelityratingevent",
)
TIMEOUT = 15 * 60

# The table names are the constants above, never input.
_FINGERPRINT_SQL = (
    "SELECT (SELECT oid FROM pg_database WHERE datname = current_database()), "  # noqa: S608
    "txid_current_if_assigned(), "
    + ", ".join(f"(SELECT max(pgh_id) FROM {table})" for table in EVENT_TABLES)  # noqa: S608
)


def fingerprint(holder: Any = None) -> str:
    """One query; index-only lookups of each event table's newest id. Kept on `holder` (the
    request: report pages only read), so a page with several reports asks once."""
    kept = getattr(holder, "_reports_fingerprint", None)
    if kept is not None:
        return kept
    with connection.cursor() as cursor:
        cursor.execute(_FINGERPRINT_SQL)
        values = cursor.fetchone()
    rules = json.dumps(settings.ASSESSMENT_WINDOWS, sort_keys=True)
    raw = f"{values}|{today().isoformat()}|{rules}"
    found = hashlib.sha256(raw.encode()).hexdigest()[:32]
    if holder is not None:
        holder._reports_fingerprint = found
    return found


def remember(name: str, scope: Scope, build: Callable[[], T]) -> T:
    """The cached value of report `name` for `scope` at the current data, or `build()`."""
    # A report holds translated text (titles, labels): its language is part of the key.
    language = translation.get_language() or settings.LANGUAGE_CODE
    key = f"reports:{name}:{language}:{scope.key}:{fingerprint(scope.holder)}"
    found = cache.get(key)
    if found is not None:
        return found
    value = build()
    cache.set(key, value, TIMEOUT)
    return value
