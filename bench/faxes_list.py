"""Does paging stay fast deep into a big account? p50 of GET /v1/faxes?page=1 against
?page=500&limit=100 on an account holding 100,000 faxes. Run from the repo root:

    .venv/bin/python bench/faxes_list.py [--requests 300] [--concurrency 2] [--port 8767]

Needs PostgreSQL and Redis on 127.0.0.1 (see bench/README.md). The 100,000 faxes are made once
(about half a minute) and moved to each run's new account after that.
"""

from __future__ import annotations

import argparse
import subprocess

from _server import (
    DEFAULT_DATABASE_URL,
    PYTHON,
    ROOT,
    BenchError,
    bench_env,
    check_redis,
    collect_static,
    combine,
    create_api_account,
    fail,
    gunicorn_server,
    measure,
    prepare_database,
)

FAXES = 100_000
ROUNDS = 3

# Runs in a child process with the server's environment (its pepper finds the key's account).
SEED = """
import os, secrets
from datetime import timedelta
import django
django.setup()
from django.utils import timezone
from developers.selectors import api_key_for_secret
from faxes.models import Fax

account_id = api_key_for_secret(os.environ["BENCH_KEY"]).account_id
marker = "bench-list-100k"
existing = Fax.objects.filter(client_reference=marker)
if existing.count() >= {faxes}:
    existing.update(account_id=account_id)
else:
    existing.delete()
    start = timezone.now() - timedelta(days=365)
    for batch in range(0, {faxes}, 5000):
        Fax.objects.bulk_create(
            Fax(
                id=f"fax_{{secrets.token_hex(12)}}",
                account_id=account_id,
                status="delivered",
                to_number="+15551234567",
                from_number="+15550100001",
                client_reference=marker,
                document_source="inline",
                document_content_type="application/pdf",
                document_size_bytes=1000,
                page_count=1,
                pages_delivered=1,
                created_at=start + timedelta(seconds=300 * n),
            )
            for n in range(batch, min(batch + 5000, {faxes}))
        )
# Fresh statistics, as autovacuum would have them: without, the planner guesses 18 rows.
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("ANALYZE faxes_fax")
page = Fax.objects.filter(account_id=account_id, livemode=True).order_by("-created_at", "-id")
print(page[49900:50001].explain(analyze=True, buffers=True))
"""


def seed(env: dict[str, str], secret: str) -> str:
    """Give the key's account 100,000 faxes; return EXPLAIN ANALYZE of the deep page's query."""
    result = subprocess.run(
        [str(PYTHON), "-c", SEED.format(faxes=FAXES)],
        cwd=ROOT,
        env={**env, "BENCH_KEY": secret},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode:
        raise BenchError(f"seeding failed: {result.stderr[-800:]}")
    return result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="per page, over 3 rounds")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    args = parser.parse_args()
    env = bench_env(args.database_url)
    pages = {"?page=1": "page=1", "?page=500&limit=100": "page=500&limit=100"}
    results: dict[str, list] = {name: [] for name in pages}
    try:
        check_redis(env["REDIS_URL"])
        prepare_database(args.database_url, env)
        collect_static(env)
        secret = create_api_account(env)
        plan = seed(env, secret)
        auth = {"Authorization": f"Bearer {secret}"}
        with gunicorn_server(env, args.port, workers=args.workers) as base_url:
            for index in range(ROUNDS):
                order = list(pages) if index % 2 == 0 else list(reversed(pages))
                for name in order:
                    results[name].append(
                        measure(
                            f"{base_url}/v1/faxes?{pages[name]}",
                            headers=auth,
                            requests_total=args.requests // ROUNDS,
                            concurrency=args.concurrency,
                        )
                    )
    except BenchError as error:
        fail(error)
    totals = {name: combine(rounds) for name, rounds in results.items()}
    print(f"SendFaxMail benchmark: GET /v1/faxes on an account with {FAXES:,} faxes")
    print(f"server: {args.workers} sync workers; {args.concurrency} client threads\n")
    print(f"{'request':<22} {'req/s':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}  status")
    for name, total in totals.items():
        statuses = " ".join(f"{k}×{v}" for k, v in total["statuses"].items())
        print(
            f"GET /v1/faxes{name:<9} {total['rps']:>7.0f} {total['p50_ms']:>8.2f}"
            f" {total['p90_ms']:>8.2f} {total['p99_ms']:>8.2f}  {statuses}"
        )
    first, deep = totals["?page=1"], totals["?page=500&limit=100"]
    ratio = deep["p50_ms"] / first["p50_ms"]
    print(f"\np50 ratio, page 500 (limit 100) ÷ page 1 (limit 20): {ratio:.2f}")
    print("\nEXPLAIN (ANALYZE, BUFFERS) of the page-500 query:")
    print(plan)


if __name__ == "__main__":
    main()
