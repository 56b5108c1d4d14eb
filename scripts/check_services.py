"""Stop `make test` at once, with a clear message, when PostgreSQL or Redis does not answer."""

from __future__ import annotations

import os
import sys

import psycopg
import redis
from psycopg import sql


def main() -> int:
    database_url = os.environ["DATABASE_URL"]
    redis_url = os.environ["REDIS_URL"]
    failures = []
    try:
        # Connect to the maintenance database: the test database may not exist yet.
        conninfo = psycopg.conninfo.conninfo_to_dict(database_url)
        dbname = conninfo.get("dbname")
        conninfo["dbname"] = "postgres"
        with psycopg.connect(**conninfo, connect_timeout=3, autocommit=True) as connection:
            # `makemigrations --check` looks at the database itself, not the test copy.
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [dbname]
            ).fetchone()
            if dbname and not exists:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    except psycopg.Error as error:
        failures.append(
            f"PostgreSQL does not answer at {database_url} ({error}).\n"
            "  Start it with: "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        failures.append(
            f"Redis does not answer at {redis_url} ({error}).\n"
            "  Start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379"
        )
    for failure in failures:
        print(f"make test: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
