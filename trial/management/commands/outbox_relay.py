import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from trial import outbox


class Command(BaseCommand):
    help = (
        "Send the outbox's tasks (e-mails, export builds) to the broker as soon as their "
        "transaction commits (PostgreSQL LISTEN/NOTIFY); runs until stopped (TERM or Ctrl-C)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--wait",
            type=float,
            default=outbox.DRAIN_INTERVAL,
            help="Seconds between looks for postponed messages when nothing is notified "
            f"(default {outbox.DRAIN_INTERVAL:g})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()

        def request_stop(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        # A stop between two sendings, never inside one (a message handed to the broker and
        # not yet marked sent would be sent again when its lease ends).
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        self.stdout.write(f"Outbox relay listening on '{outbox.CHANNEL}'.")
        outbox.relay(stop=stop, wait=options["wait"])
        self.stdout.write("Outbox relay stopped.")
