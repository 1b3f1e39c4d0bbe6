"""Sending Celery tasks after commit without turning a committed change into an error."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def send_after_commit(task: Task, *args: Any) -> None:
    """Queue `task` once the current transaction commits. If the broker cannot be reached, the
    task runs here and now instead: a notification that belongs to a committed change (a
    randomisation, an exhausted list) must not be lost, nor turn the user's successful request
    into a server error."""

    def send() -> None:
        try:
            task.delay(*args)
        except OperationalError:
            logger.warning("Broker unreachable; running %s(%s) in the request", task.name, args)
            task.apply(args=args, throw=True)

    transaction.on_commit(send, robust=True)
