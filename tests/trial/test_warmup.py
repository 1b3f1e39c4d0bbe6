"""A web worker loads at start what its first request would otherwise wait for (imrtrial.warmup,
called by imrtrial.wsgi): every view module and the catalogues (a web worker publishes no
Celery task: the outbox relay does).
Measured by bench/bench_first_export.py (docs/benchmarks.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

# Imported on a first request before the warm-up: the charts (matplotlib), the casebook PDFs
# (WeasyPrint), the URL configuration itself.
FIRST_REQUEST_IMPORTS = [
    "imrtrial.urls",
    "reports.pictures",
    "matplotlib.figure",
    "casebooks.printing",
    "weasyprint",
]


def after_loading_the_wsgi_application(expression: str) -> Any:
    """`expression` (JSON-able) in a fresh process that has just loaded imrtrial.wsgi, as a
    gunicorn worker does."""
    script = f"import gc, json, sys; import imrtrial.wsgi; print(json.dumps({expression}))"
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "imrtrial.settings"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_loading_the_wsgi_application_imports_what_the_first_request_needs() -> None:
    missing = f"[m for m in {FIRST_REQUEST_IMPORTS!r} if m not in sys.modules]"
    assert after_loading_the_wsgi_application(missing) == []


def test_what_the_worker_loaded_is_frozen_out_of_the_garbage_collectors_walks() -> None:
    """A full collection walks only what requests create, not the app and its libraries."""
    frozen, walked = after_loading_the_wsgi_application(
        "[gc.get_freeze_count(), len(gc.get_objects())]"
    )
    assert frozen > 100_000 and walked < frozen / 10
