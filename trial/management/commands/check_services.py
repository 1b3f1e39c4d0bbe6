import sys
from typing import Any
from urllib.parse import urlparse

import psycopg
import redis
from django.conf import settings
from django.core.management.base import BaseCommand
from redis.backoff import NoBackoff
from redis.retry import Retry

from trial.dbconfig import OWNER_ALIAS

PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def redis_start(port: int) -> str:
    return (
        f'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port {port} --save "" '
        "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
    )


class Command(BaseCommand):
    help = "Check that PostgreSQL and Redis answer; say in one line how to start them if not."

    def handle(self, *args: Any, **options: Any) -> None:
        # As the owner: on a fresh machine the runtime role does not exist until
        # `ensure_database` (the next step of `make database`) creates it.
        db = settings.DATABASES[OWNER_ALIAS]
        where = f"{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}"
        try:
            psycopg.connect(
                host=db["HOST"],
                port=db["PORT"] or 5432,
                user=db["USER"],
                password=db["PASSWORD"] or None,
                dbname="postgres",
                connect_timeout=3,
            ).close()
        except psycopg.OperationalError:
            self.fail(f"PostgreSQL is not reachable at {where}. Start it with: {PG_START}")
        try:
            # One try: a missing server should be reported at once, not after backoff retries.
            redis.Redis.from_url(
                settings.REDIS_URL, socket_connect_timeout=3, retry=Retry(NoBackoff(), 0)
            ).ping()
        except redis.RedisError:
            port = urlparse(settings.REDIS_URL).port or 6379
            self.fail(
                f"Redis is not reachable at {settings.REDIS_URL}. "
                f"Start it with: {redis_start(port)}"
            )
        self.stdout.write("PostgreSQL and Redis are reachable.")

    def fail(self, message: str) -> None:
        # One plain line on stderr (no traceback, no "CommandError:"): make shows it as is.
        self.stderr.write(message)
        sys.exit(1)
