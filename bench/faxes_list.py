"""Does GET /v1/faxes stay fast deep into an account that holds 100,000 faxes?

Measures, in interleaved rounds on one gunicorn server: `?page=1` (20 faxes) and, 2,500 pages of
20 deeper, the same page size by `cursor`; `?page=1&limit=100` as a control, `?page=500&limit=100`
(faxes 49,901 to 50,000, by OFFSET) and the same faxes by `cursor`. The goal is that a deep page
by cursor costs no more than 1.2 times the first page of the same size. Prints EXPLAIN (ANALYZE,
BUFFERS) of the deep page's query both ways. Run from the repo root:

    .venv/bin/python bench/faxes_list.py [--requests 300] [--concurrency 2] [--workers 2]
        [--port 8767]

Needs PostgreSQL and Redis on 127.0.0.1 (see bench/README.md). The account
bench-list-100k@example.com and its faxes are made once (bulk inserts, under a minute) and reused
by later runs against the same database; each run adds one API key to it.
"""

from __future__ import annotations

import argparse
import os
import textwrap

import requests
from _server import (
    BenchError,
    add_server_arguments,
    bench_env,
    check_redis,
    collect_static,
    combine,
    cpu_count,
    fail,
    gunicorn_server,
    measure,
    prepare_database,
    run_manage,
    run_python,
    sql_queries,
    worker_description,
)

# Issue 18: a deep page by cursor costs at most this many times page 1 of the same size.
GOAL_RATIO = 1.2

EMAIL = "bench-list-100k@example.com"
FAXES = 100_000
BATCH = 5_000
ROUNDS = 3
FIRST = "?page=1"
DEEP = "?page=500&limit=100"
CONTROL = "?page=1&limit=100"
# Labels of the pages by cursor, whose query strings are known once the account is seeded:
# just after the 49,980th and the 49,900th newest faxes.
CURSOR_20 = "?cursor=<after 49,980>"
CURSOR_100 = "?limit=100&cursor=<…>"
# Label -> query string.
QUERIES = {FIRST: FIRST, CURSOR_20: "", CONTROL: CONTROL, DEEP: DEEP, CURSOR_100: ""}

# Runs in a child process with the bench environment; argv: email, fax count, batch size.
# Makes the account if it is missing, and gives it exactly COUNT live faxes unless it already
# has them. Faxes are spread over the past year, newest first every 315 s or so, with a mix of
# outcomes, as an account that sends a few hundred faxes a day would have.
_SEED = """
import json, random, secrets, sys, time
from contextlib import contextmanager
from datetime import timedelta
import django
django.setup()
from django.db import connection, transaction
from django.utils import timezone
from accounts.services import AccountError, account_create, account_get_by_email, plan_get
from faxes.models import DocumentSource, Fax, FaxStatus

email, count, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
try:
    account = account_get_by_email(email=email)
except AccountError:
    account = account_create(email=email, password=None, plan=plan_get(slug="business"),
                             name="Bench 100k")
faxes = Fax.objects.filter(account=account, livemode=True)
existing = faxes.count()

@contextmanager
def explicit_timestamps():
    # auto_now_add and auto_now overwrite created_at and updated_at on insert, bulk_create
    # included; this throwaway process turns them off to write a year of history.
    fields = [Fax._meta.get_field(name) for name in ("created_at", "updated_at")]
    saved = [(field.auto_now, field.auto_now_add) for field in fields]
    for field in fields:
        field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, (auto_now, auto_now_add) in zip(fields, saved):
            field.auto_now, field.auto_now_add = auto_now, auto_now_add

def fax(rng, index, now):
    created = now - timedelta(seconds=index * 315 + rng.randrange(300))
    completed = created + timedelta(seconds=rng.randrange(40, 400))
    roll = rng.random()
    status = (FaxStatus.DELIVERED if roll < 0.9
              else FaxStatus.FAILED if roll < 0.97 else FaxStatus.CANCELED)
    pages = rng.randint(1, 12)
    fax_id = "fax_" + "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                          "0123456789", k=24))
    return Fax(
        id=fax_id, account=account, livemode=True, status=status,
        to_number=f"+1555{rng.randrange(10**7):07d}", from_number="+15550199999",
        client_reference=f"bench-{index}" if rng.random() < 0.3 else None,
        document_source=DocumentSource.INLINE, document_content_type="application/pdf",
        document_size_bytes=rng.randrange(20_000, 2_000_000), document_sha256=secrets.token_hex(32),
        document=f"faxes/{fax_id}.pdf", page_count=pages, carrier="simulator",
        pages_delivered=pages if status == FaxStatus.DELIVERED else (
            rng.randint(0, pages - 1) if status == FaxStatus.FAILED else None),
        failure_reason="busy" if status == FaxStatus.FAILED else "",
        failure_message="The line was busy." if status == FaxStatus.FAILED else "",
        created_at=created, updated_at=completed, completed_at=completed,
    )

began = time.perf_counter()
inserted = 0
if existing != count:
    faxes.delete()
    # A fixed seed: every database gets the same faxes (the ids included, which are unique
    # because 24 random characters do not repeat among 100,000).
    rng, now = random.Random(100_000), timezone.now()
    with explicit_timestamps(), transaction.atomic():
        for start in range(0, count, batch):
            stop = min(start + batch, count)
            Fax.objects.bulk_create([fax(rng, index, now) for index in range(start, stop)])
    inserted = count
    with connection.cursor() as cursor:
        # What autovacuum would do after a while: statistics and the visibility map.
        cursor.execute("VACUUM (ANALYZE) faxes_fax")
else:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE faxes_fax")
print(json.dumps({"account_id": account.id, "existing": existing, "inserted": inserted,
                  "seconds": time.perf_counter() - began, "total_rows": Fax.objects.count()}))
"""

# Runs in a child process with the bench environment; argv: account id. EXPLAINs the query the
# list view runs for ?page=500&limit=100: offset 49,900, one row more than the limit.
_EXPLAIN = """
import json, sys
import django
django.setup()
from faxes.models import Fax
faxes = Fax.objects.filter(account_id=int(sys.argv[1]), livemode=True)
page = faxes.order_by("-created_at", "-id")[49_900:50_001]
print(json.dumps({"sql": str(page.query), "plan": page.explain(analyze=True, buffers=True)}))
"""


# Runs in a child process with the bench environment; argv: account id. The cursors of the
# pages that start after the 49,980th and the 49,900th newest faxes, and EXPLAIN of the
# query the list view runs for the second with limit=100: one row more than the limit.
_CURSORS = """
import json, sys
import django
django.setup()
from faxes.api import cursor_encode
from faxes.models import Fax
from faxes.selectors import FaxFilters, FaxPosition, faxes_at
faxes = Fax.objects.filter(account_id=int(sys.argv[1]), livemode=True)
newest = faxes.order_by("-created_at", "-id")
at_20, at_100 = newest[49_979], newest[49_899]
position = FaxPosition(created_at=at_100.created_at, id=at_100.id)
filtered = faxes.filter(created_at__lte=position.created_at).filter(
    django.db.models.Q(created_at__lt=position.created_at) | django.db.models.Q(id__lt=position.id)
)
page = filtered.order_by("-created_at", "-id")[:101]
rows, _ = faxes_at(account=at_100.account, livemode=True, filters=FaxFilters(),
                   position=position, limit=100)
assert [f.id for f in rows] == [f.id for f in newest[49_900:50_000]], "cursor page is wrong"
print(json.dumps({"cursor_20": cursor_encode(at_20), "cursor_100": cursor_encode(at_100),
                  "sql": str(page.query), "plan": page.explain(analyze=True, buffers=True)}))
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="per query, over all rounds")
    parser.add_argument("--concurrency", type=int, default=2, help="client threads")
    add_server_arguments(parser, port=8767)
    args = parser.parse_args()
    if args.requests < ROUNDS or args.concurrency < 1 or args.workers < 1:
        parser.error(f"--requests must be at least {ROUNDS}; concurrency and workers at least 1.")
    return args


def seed(env: dict[str, str]) -> dict:
    """Make sure the bench account holds FAXES live faxes; return what was done."""
    return run_python(_SEED, EMAIL, str(FAXES), str(BATCH), env=env, what="Seeding the faxes")


def new_key(env: dict[str, str]) -> str:
    """A read-only key for the bench account, valid under this run's pepper only."""
    output = run_manage(
        "create_api_key", EMAIL, "--scopes", "faxes:read", "--name", "bench-list", env=env
    )
    return output.strip().splitlines()[-1].strip()


def check_pages(base_url: str, auth: dict[str, str]) -> dict[str, int]:
    """Every query must answer a full page of faxes; return each answer's size in bytes."""
    sizes = {}
    for label, query in QUERIES.items():
        response = requests.get(f"{base_url}/v1/faxes{query}", headers=auth, timeout=30)
        if response.status_code != 200:
            raise BenchError(f"GET /v1/faxes{label} answered {response.status_code}.")
        body = response.json()
        if len(body["data"]) != body["limit"] or not body["has_more"]:
            raise BenchError(f"GET /v1/faxes{label} is not a full page: is the account seeded?")
        sizes[label] = len(response.content)
    return sizes


def run_rounds(base_url: str, auth: dict[str, str], args: argparse.Namespace) -> dict[str, list]:
    """ROUNDS rounds per query, the order reversed every other round so that drift cancels."""
    per_round = [
        args.requests // ROUNDS + (1 if index < args.requests % ROUNDS else 0)
        for index in range(ROUNDS)
    ]
    results: dict[str, list] = {label: [] for label in QUERIES}
    for index in range(ROUNDS):
        order = list(QUERIES) if index % 2 == 0 else list(reversed(QUERIES))
        for label in order:
            results[label].append(
                measure(
                    f"{base_url}/v1/faxes{QUERIES[label]}",
                    headers=auth,
                    requests_total=per_round[index],
                    concurrency=args.concurrency,
                )
            )
    return results


def report(figures: dict, args: argparse.Namespace) -> None:
    seeded, results, sizes = figures["seeded"], figures["results"], figures["sizes"]
    totals = {query: combine(rounds) for query, rounds in results.items()}
    print()
    if seeded["inserted"]:
        print(
            f"seeded: {seeded['inserted']:,} faxes inserted in {seeded['seconds']:.1f} s "
            f"(batches of {BATCH:,}), then VACUUM (ANALYZE)"
        )
    else:
        print(f"seeded: reused the account's {seeded['existing']:,} faxes, then ANALYZE")
    print(f"faxes_fax holds {seeded['total_rows']:,} rows over all accounts")
    print()
    columns = ("req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "bytes")
    print(f"{'GET /v1/faxes':<22} " + " ".join(f"{column:>7}" for column in columns) + "  status")
    for query, total in totals.items():
        statuses = " ".join(f"{code}×{count}" for code, count in total["statuses"].items())
        print(
            f"{query:<22} {total['rps']:>7.0f} {total['p50_ms']:>7.2f} {total['p90_ms']:>7.2f} "
            f"{total['p99_ms']:>7.2f} {total['max_ms']:>7.1f} {sizes[query]:>7}  {statuses}"
        )
    print()
    for query, rounds in results.items():
        medians = "  ".join(f"{result['p50_ms']:.2f}" for result in rounds)
        print(f"p50 per round, {query:<22} {medians} ms")
    first, deep, control = totals[FIRST], totals[DEEP], totals[CONTROL]
    cursor_20, cursor_100 = totals[CURSOR_20], totals[CURSOR_100]
    print()
    print(f"{'ratio':<38} {'p50':>6} {'p90':>6} {'p99':>6}")
    for name, high, low in (
        ("cursor 20 deep ÷ ?page=1", cursor_20, first),
        ("cursor 100 deep ÷ ?page=1&limit=100", cursor_100, control),
        (f"{DEEP} ÷ {FIRST}", deep, first),
        (f"{DEEP} ÷ {CONTROL}", deep, control),
    ):
        ratios = [high[key] / low[key] for key in ("p50_ms", "p90_ms", "p99_ms")]
        print(f"{name:<38} " + " ".join(f"{ratio:>6.2f}" for ratio in ratios))
    # The goal (issue 18) holds for both page sizes: the worse of the two medians is judged.
    worst = max(cursor_20["p50_ms"] / first["p50_ms"], cursor_100["p50_ms"] / control["p50_ms"])
    verdict = "MET" if worst <= GOAL_RATIO else "NOT MET"
    print(
        f"Goal deep page by cursor ≤ {GOAL_RATIO:g}× page 1, p50: {verdict} ({worst:.2f}×, the "
        f"worse of the two sizes; {worst / GOAL_RATIO:.2f} of the goal)"
    )
    print(
        f"SQL queries per list request, once warm: {figures['queries']['count']} "
        f"(the list itself: {figures['queries']['list']})"
    )
    print()
    print("EXPLAIN (ANALYZE, BUFFERS), page 500 with limit 100, run after the load, of")
    print(textwrap.indent(textwrap.fill(figures["explain"]["sql"], width=92), "  "))
    print(textwrap.indent(figures["explain"]["plan"], "  "))
    print()
    print("EXPLAIN (ANALYZE, BUFFERS), the same faxes by cursor, run before the load, of")
    print(textwrap.indent(textwrap.fill(figures["cursors"]["sql"], width=92), "  "))
    print(textwrap.indent(figures["cursors"]["plan"], "  "))
    print()
    print("Notes:")
    notes = [
        f"{DEEP} returns 5 times the rows of {FIRST}; {CONTROL} returns as many as the deep page "
        "from its start, so the second ratio is the cost of the offset alone.",
        "`page` pages with OFFSET: PostgreSQL walks and discards every earlier row, so a "
        "page's cost grows with its number, even when the index serves the order. A cursor "
        "enters the index at its position (created_at, id), so its cost does not.",
        f"'cursor 20 deep' starts after the 49,980th fax, 20 faxes like {FIRST}; 'cursor 100 "
        f"deep' is the faxes of {DEEP}, by cursor.",
        f"Client and server share {cpu_count()} CPUs. "
        + (
            "gthread workers keep each client's connection open between requests."
            if args.threads > 1
            else "gunicorn's sync workers close every connection, so each request includes a "
            "TCP connect on loopback."
        ),
        f"The 1-minute load average was {figures['load'][0]:.2f} before the run and "
        f"{figures['load'][1]:.2f} after it.",
    ]
    for note in notes:
        print(textwrap.fill(note, width=96, initial_indent="- ", subsequent_indent="  "))


def count_queries(env: dict[str, str], auth: dict[str, str]) -> dict[str, object]:
    """How many SQL queries a warm deep-page request runs, and the one that lists faxes."""
    captured = sql_queries(env, f"/v1/faxes{DEEP}", headers=auth)["queries"]
    listing = [sql for sql in captured if "OFFSET" in sql and '"faxes_fax"' in sql]
    return {"count": len(captured), "list": "1, with OFFSET 49900" if listing else "not found"}


def set_cursor_queries(cursors: dict) -> None:
    """Put the seeded account's cursors into the measured queries."""
    QUERIES[CURSOR_20] = f"?cursor={cursors['cursor_20']}"
    QUERIES[CURSOR_100] = f"?limit=100&cursor={cursors['cursor_100']}"


def main() -> None:
    args = parse_args()
    env = bench_env(args.database_url)
    print(f"SendFaxMail benchmark: GET /v1/faxes on an account holding {FAXES:,} faxes")
    print(
        f"server: gunicorn sendfaxmail.wsgi, {worker_description(args.workers, args.threads)}"
        " on "
        f"127.0.0.1:{args.port},"
        " DEBUG=false, PostgreSQL + Redis on 127.0.0.1"
    )
    print(
        f"load:   {args.requests} requests per query in {ROUNDS} interleaved rounds, "
        f"{args.concurrency} client threads; warm-up before each round not measured"
    )
    figures: dict = {}
    try:
        check_redis(env["REDIS_URL"])
        prepare_database(args.database_url, env)
        collect_static(env)
        figures["seeded"] = seed(env)
        auth = {"Authorization": f"Bearer {new_key(env)}"}
        figures["queries"] = count_queries(env, auth)
        figures["cursors"] = run_python(
            _CURSORS, str(figures["seeded"]["account_id"]), env=env, what="Cursors"
        )
        set_cursor_queries(figures["cursors"])
        load_before = os.getloadavg()[0]
        server = gunicorn_server(env, args.port, workers=args.workers, threads=args.threads)
        with server as base_url:
            figures["sizes"] = check_pages(base_url, auth)
            figures["results"] = run_rounds(base_url, auth, args)
        figures["load"] = (load_before, os.getloadavg()[0])
        figures["explain"] = run_python(
            _EXPLAIN, str(figures["seeded"]["account_id"]), env=env, what="EXPLAIN"
        )
    except BenchError as error:
        fail(error)
    report(figures, args)


if __name__ == "__main__":
    main()
