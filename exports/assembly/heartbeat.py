"""A running export's claim and pulse, on a database connection of its own.

The claim is a PostgreSQL session advisory lock keyed by the job: only one worker builds a job
at a time, and when a worker dies (even by SIGKILL) its connection closes and PostgreSQL drops
the lock at once. A running job whose lock nobody holds therefore has no builder, which is how
the watchdog (exports.tasks.requeue_stale_exports) knows to start it again.

The pulse is a thread that writes progress and a heartbeat time. It uses its own connection
because the build itself reads inside a long REPEATABLE READ, READ ONLY transaction, whose
changes (none) and whose snapshot nobody else would see."""

from __future__ import annotations

import threading
import time
import uuid
from types import TracebackType
from typing import Any

import psycopg
from django.db import connection

ADVISORY_NAMESPACE = 0x1A2B_0E7C  # keeps export claims apart from other advisory locks
PULSE_SECONDS = 0.5
HEARTBEAT_SECONDS = 5.0
CLAIM_TRIES = 10
CLAIM_PAUSE = 0.3


def advisory_key(job_id: Any) -> int:
    """A signed 64-bit key for pg_advisory_lock(bigint)."""
    raw = int.from_bytes(uuid.UUID(str(job_id)).bytes[:8], "big") ^ ADVISORY_NAMESPACE
    return raw - (1 << 64) if raw >= (1 << 63) else raw


def builder_alive(job_id: Any) -> bool:
    """Whether some session holds the job's claim (checked in pg_locks, without taking it)."""
    key = advisory_key(job_id) & ((1 << 64) - 1)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT EXISTS (
                SELECT 1 FROM pg_locks
                WHERE locktype = 'advisory' AND granted AND objsubid = 1
                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND classid::bigint = %s AND objid::bigint = %s
            )
            """,
            [key >> 32, key & 0xFFFFFFFF],
        )
        return bool(cursor.fetchone()[0])


def _connect() -> psycopg.Connection:
    params = dict(connection.get_connection_params())
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


class Heartbeat:
    """`with Heartbeat(job_id) as beat:` — `beat.claimed` says whether this worker may build."""

    def __init__(self, job_id: Any) -> None:
        self.job_id = str(job_id)
        self.claimed = False
        self._conn: psycopg.Connection | None = None
        self._progress = 0
        self._written = -1
        self._attempt = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> Heartbeat:
        self._conn = _connect()
        # A redelivered job can arrive a moment before PostgreSQL has ended the session of the
        # killed worker that held the claim: ask a few times before leaving the job to it.
        for _ in range(CLAIM_TRIES):
            row = self._conn.execute(
                "SELECT pg_try_advisory_lock(%s)", [advisory_key(self.job_id)]
            ).fetchone()
            self.claimed = bool(row and row[0])
            if self.claimed:
                break
            time.sleep(CLAIM_PAUSE)
        return self

    def start(self, *, attempt: int) -> None:
        """Begin the pulse for this attempt (only after the job was marked running)."""
        self._attempt = attempt
        self._thread = threading.Thread(
            target=self._run, name=f"export-heartbeat-{self.job_id[:8]}", daemon=True
        )
        self._thread.start()

    def set_progress(self, percent: int) -> None:
        with self._lock:
            self._progress = max(self._progress, min(99, int(percent)))

    def _run(self) -> None:
        since_heartbeat = HEARTBEAT_SECONDS
        while not self._stop.wait(PULSE_SECONDS):
            since_heartbeat += PULSE_SECONDS
            with self._lock:
                progress = self._progress
            if progress == self._written and since_heartbeat < HEARTBEAT_SECONDS:
                continue
            self._write(progress)
            since_heartbeat = 0.0

    def _write(self, progress: int) -> None:
        assert self._conn is not None
        try:
            self._conn.execute(
                "UPDATE exports_exportjob SET progress = %s, heartbeat_at = now() "
                "WHERE id = %s AND status = 'running' AND attempts = %s",
                [progress, self.job_id, self._attempt],
            )
            self._written = progress
        except psycopg.Error:
            # A lost pulse is not a lost export: the build goes on and reports at the end.
            pass

    def flush(self) -> None:
        """Write the latest progress now (before a status change)."""
        with self._lock:
            progress = self._progress
        if self._thread is not None and progress != self._written:
            self._write(progress)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._conn is not None:
            # Closing the session releases the advisory lock.
            self._conn.close()
