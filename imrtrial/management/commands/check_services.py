from typing import Any

import psycopg
import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
REDIS_START = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" '
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


class Command(BaseCommand):
    help = "Check that PostgreSQL and Redis answer; say in one line how to start them if not."

    def handle(self, *args: Any, **options: Any) -> None:
        db = settings.DATABASES["default"]
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
            raise CommandError(
                f"PostgreSQL is not reachable at {db['HOST']}:{db['PORT'] or 5432}; "
                f"start it with: {PG_START}"
            ) from None
        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
        except redis.RedisError:
            raise CommandError(
                f"Redis is not reachable at {settings.REDIS_URL}; start it with: {REDIS_START}"
            ) from None
        self.stdout.write("PostgreSQL and Redis are reachable.")
