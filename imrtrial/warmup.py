"""Work a web worker does once when it starts rather than in its first request: the first
request of a fresh gunicorn worker would otherwise import every view module (the URL
configuration: matplotlib for the charts, WeasyPrint for the casebooks) and the translation
catalogues, seconds of work (docs/benchmarks.md, "The first export request"); then freezes
what it loaded for the garbage collector. Called from imrtrial.wsgi, never from a request.
(It publishes no Celery task, so it loads none of that machinery: the outbox relay sends.)"""

from __future__ import annotations

import gc

from django.conf import settings
from django.urls import get_resolver
from django.utils import translation


def warm_up() -> None:
    # Every view module, through the URL configuration.
    get_resolver().url_patterns  # noqa: B018
    # The translation catalogues of every language the pages speak.
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            translation.gettext("Log in")
    # What is loaded now stays for the worker's life: out of the garbage collector's sight.
    # Each full collection walked these ~270,000 objects (the app, Django, matplotlib,
    # pyarrow...), a 120-150 ms pause every few requests that was most of the pages' p95
    # (docs/benchmarks.md, "the pauses of the garbage collector").
    gc.collect()
    gc.freeze()
