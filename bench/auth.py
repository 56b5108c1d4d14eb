"""What does the /v1 auth + plan + scope + rate-limit layer cost? Goal: < 1 ms of median latency.
And the request log's share of it? Goal (issue 17): at most 0.2 ms.

Compares an authenticated `GET /v1/numbers` (Bearer key) with the unauthenticated `GET /healthz`
on one gunicorn server, in interleaved rounds so that drift (CPU frequency, caches, other load)
falls on both endpoints alike. A second server, the same but with `REQUEST_LOG_ENABLED=false`
on the next port, answers `GET /v1/numbers` in the same rounds: the difference of the two
medians is what the request log costs. Run from the repo root:

    .venv/bin/python bench/auth.py [--requests 3000] [--concurrency 2] [--workers 2] [--port 8765]
    .venv/bin/python bench/auth.py --no-request-log-comparison   # one server, as before

Needs PostgreSQL and Redis on 127.0.0.1 (see bench/README.md).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import textwrap

import requests
from _server import (
    BenchError,
    add_server_arguments,
    bench_env,
    check_redis,
    child_pids,
    collect_static,
    combine,
    cpu_count,
    cpu_seconds,
    create_api_account,
    database_backend_pids,
    fail,
    gunicorn_process,
    measure,
    prepare_database,
    sql_queries,
    worker_description,
)

GOAL_MS = 1.0
# The goal's conditions (issue 18): 2 client threads against 2 sync workers.
GOAL_CONCURRENCY = 2
GOAL_WORKERS = 2
# Issue 17: the request log must not move this benchmark by more than this.
LOG_GOAL_MS = 0.2
ROUNDS = 3
HEALTHZ = "GET /healthz"
NUMBERS = "GET /v1/numbers"
NUMBERS_NO_LOG = "  … request log off"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="per endpoint, over all rounds")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=GOAL_CONCURRENCY,
        help=f"client threads (the goal is judged at {GOAL_CONCURRENCY})",
    )
    parser.add_argument(
        "--no-request-log-comparison",
        dest="compare_log",
        action="store_false",
        help="skip the second server (REQUEST_LOG_ENABLED=false, on --port + 1)",
    )
    add_server_arguments(parser, port=8765)
    args = parser.parse_args()
    if args.requests < ROUNDS or args.concurrency < 1 or args.workers < 1:
        parser.error(f"--requests must be at least {ROUNDS}; concurrency and workers at least 1.")
    return args


def check_server(base_url: str, auth: dict[str, str]) -> None:
    """Make sure the measured requests do what we think: authenticated, counted, never limited."""
    anonymous = requests.get(f"{base_url}/v1/numbers", timeout=10)
    if anonymous.status_code != 401:
        raise BenchError(
            f"GET /v1/numbers without a key answered {anonymous.status_code}, not 401."
        )
    response = requests.get(f"{base_url}/v1/numbers", headers=auth, timeout=10)
    if response.status_code != 200:
        raise BenchError(f"GET /v1/numbers answered {response.status_code}: {response.text[:300]}")
    if "RateLimit-Limit" not in response.headers:
        raise BenchError("GET /v1/numbers has no RateLimit-Limit header: is the limiter counting?")


def server_cpu(masters: list[int], database_url: str) -> dict[int, float]:
    """CPU seconds used so far by the servers' workers and their PostgreSQL backends."""
    pids = [pid for master in masters for pid in child_pids(master)]
    return cpu_seconds(pids + database_backend_pids(database_url))


def run_rounds(
    base_url: str,
    auth: dict[str, str],
    args: argparse.Namespace,
    no_log_url: str | None = None,
    masters: list[int] | None = None,
) -> dict[str, list]:
    """ROUNDS rounds per endpoint, in the order H N L | L N H | H N L so linear drift cancels
    (L: /v1/numbers on the server without the request log, when there is one). Each result
    also carries `cpu_ms`: the CPU time the server side (gunicorn workers and PostgreSQL
    backends) spent per request, warm-up included."""
    targets = {HEALTHZ: (f"{base_url}/healthz", {}), NUMBERS: (f"{base_url}/v1/numbers", auth)}
    if no_log_url is not None:
        targets[NUMBERS_NO_LOG] = (f"{no_log_url}/v1/numbers", auth)
    per_round = [
        args.requests // ROUNDS + (1 if index < args.requests % ROUNDS else 0)
        for index in range(ROUNDS)
    ]
    results: dict[str, list] = {name: [] for name in targets}
    for index in range(ROUNDS):
        order = list(targets) if index % 2 == 0 else list(reversed(targets))
        for name in order:
            url, headers = targets[name]
            warmup = min(500, max(50, per_round[index] // 10))
            before = server_cpu(masters or [], args.database_url)
            result = measure(
                url,
                headers=headers,
                requests_total=per_round[index],
                concurrency=args.concurrency,
                warmup=warmup,
            )
            after = server_cpu(masters or [], args.database_url)
            used = sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())
            result["cpu_ms"] = used * 1000 / (per_round[index] + max(warmup, args.concurrency))
            results[name].append(result)
    return results


def format_statuses(statuses: dict[str, int]) -> str:
    return " ".join(f"{code}×{count}" for code, count in statuses.items())


def report(
    results: dict[str, list],
    queries: dict[str, int | None],
    load: tuple[float, float],
    args: argparse.Namespace,
) -> None:
    totals = {name: combine(rounds) for name, rounds in results.items()}
    print()
    columns = ("req/s", "p50 ms", "p90 ms", "p99 ms", "max ms")
    print(f"{'endpoint':<17} " + " ".join(f"{column:>7}" for column in columns) + "  status")
    for name, total in totals.items():
        print(
            f"{name:<17} {total['rps']:>7.0f} {total['p50_ms']:>7.2f} {total['p90_ms']:>7.2f} "
            f"{total['p99_ms']:>7.2f} {total['max_ms']:>7.1f}  {format_statuses(total['statuses'])}"
        )
    print()
    for name, rounds in results.items():
        medians = "  ".join(f"{result['p50_ms']:.2f}" for result in rounds)
        print(f"p50 per round, {name:<17} {medians} ms")

    health, numbers = totals[HEALTHZ], totals[NUMBERS]
    difference = numbers["p50_ms"] - health["p50_ms"]
    log_cost = None
    if NUMBERS_NO_LOG in totals:
        log_cost = numbers["p50_ms"] - totals[NUMBERS_NO_LOG]["p50_ms"]
        log_rounds = [
            on["p50_ms"] - off["p50_ms"]
            for on, off in zip(results[NUMBERS], results[NUMBERS_NO_LOG], strict=True)
        ]
    round_differences = [
        n["p50_ms"] - h["p50_ms"] for h, n in zip(results[HEALTHZ], results[NUMBERS], strict=True)
    ]
    print()
    print(f"req/s ratio, v1/numbers ÷ healthz:        {numbers['rps'] / health['rps']:.2f}")
    print(f"median difference, v1/numbers − healthz: {difference:+.2f} ms")
    print(
        "  per round:                              "
        + "  ".join(f"{value:+.2f}" for value in round_differences)
        + f" ms (spread {statistics.pstdev(round_differences):.2f} ms)"
    )
    cpu = {name: statistics.median(r["cpu_ms"] for r in rounds) for name, rounds in results.items()}
    print()
    print(
        "server CPU per request (gunicorn workers + their PostgreSQL backends, median of rounds;"
        " less sensitive to other load than latency, but it moves by a few tenths of a ms on a"
        " busy machine):"
    )
    for name, value in cpu.items():
        print(f"  {name:<22} {value:.3f} ms")
    print(f"  v1/numbers − healthz   {cpu[NUMBERS] - cpu[HEALTHZ]:+.3f} ms")
    if NUMBERS_NO_LOG in cpu:
        print(f"  request log on − off   {cpu[NUMBERS] - cpu[NUMBERS_NO_LOG]:+.3f} ms")
    print()
    if log_cost is not None:
        print(f"request log, v1/numbers on − off:        {log_cost:+.2f} ms")
        print(
            "  per round:                              "
            + "  ".join(f"{value:+.2f}" for value in log_rounds)
            + f" ms (spread {statistics.pstdev(log_rounds):.2f} ms)"
        )
    if queries[NUMBERS] is not None:
        print(
            f"SQL queries per request:                 v1/numbers {queries[NUMBERS]}, "
            f"healthz {queries[HEALTHZ]}"
        )

    clean = all(set(total["statuses"]) == {"200"} for total in totals.values())
    print()
    if not clean:
        print("Goals: NOT JUDGED: some requests did not answer 200.")
    else:
        conditions = (args.concurrency, args.workers, args.threads)
        if conditions != (GOAL_CONCURRENCY, GOAL_WORKERS, 1):
            verdict = (
                f"NOT JUDGED (it is measured with {GOAL_CONCURRENCY} client threads on "
                f"{GOAL_WORKERS} sync workers; this run used {args.concurrency} on "
                f"{worker_description(args.workers, args.threads)})"
            )
        else:
            verdict = verdict_of(difference, round_differences, GOAL_MS, strict=True)
        print(
            f"Goal < {GOAL_MS:g} ms median overhead: {verdict} "
            f"({difference:+.2f} ms, {difference / GOAL_MS:.2f} of the goal; server CPU "
            f"{cpu[NUMBERS] - cpu[HEALTHZ]:+.2f} ms)."
        )
        if log_cost is not None:
            print(
                f"Goal request log ≤ {LOG_GOAL_MS:g} ms: "
                f"{verdict_of(log_cost, log_rounds, LOG_GOAL_MS, strict=False)} "
                f"({log_cost:+.2f} ms, {log_cost / LOG_GOAL_MS:.2f} of the goal; server CPU "
                f"{cpu[NUMBERS] - cpu[NUMBERS_NO_LOG]:+.2f} ms)."
            )
    print()
    print("Notes:")
    notes = [
        "/v1/numbers also runs one query for the account's numbers and serialises them (one "
        "number here), so the difference is an upper bound of the auth layer's cost.",
        "The request log's entry is made and pushed to Redis after the answer has been sent: "
        "it shows in the latency when requests queue for a worker (more client threads than "
        "workers), and in the CPU the other processes are left with.",
        "/healthz is not free either: it runs SELECT 1 and a Redis PING, so the difference is "
        "what /v1 adds to a request that already reaches PostgreSQL and Redis.",
        f"Client and server share {cpu_count()} CPUs. "
        + (
            "gthread workers keep each client's connection open between requests."
            if args.threads > 1
            else "gunicorn's sync workers close every connection, so each request includes a "
            "TCP connect on loopback."
        ),
        f"The 1-minute load average was {load[0]:.2f} before the run and {load[1]:.2f} after "
        "it: other work on the machine slows both endpoints and widens the spread of rounds.",
    ]
    if args.concurrency > args.workers * args.threads:
        notes.append(
            f"{args.concurrency} client threads share {args.workers} workers, so latencies "
            f"include queueing for a worker (roughly ×{args.concurrency / args.workers:g}). Run "
            f"with --concurrency {args.workers} for figures closer to one request's service time."
        )
    for note in notes:
        print(textwrap.fill(note, width=96, initial_indent="- ", subsequent_indent="  "))


def verdict_of(value: float, rounds: list[float], goal: float, *, strict: bool) -> str:
    """MET or NOT MET; NOT JUDGED when the rounds disagree by more than the goal itself (other
    load on the machine), since the median then says more about the load than the code."""
    if statistics.pstdev(rounds) > goal:
        return "NOT JUDGED (rounds spread more than the goal: rerun on a quiet machine)"
    met = value < goal if strict else value <= goal
    return "MET" if met else "NOT MET"


def count_queries(env: dict[str, str], auth: dict[str, str]) -> dict[str, int | None]:
    """Steady-state SQL per request, or None when the probe fails (it is only informative)."""
    try:
        return {
            NUMBERS: len(sql_queries(env, "/v1/numbers", headers=auth)["queries"]),
            HEALTHZ: len(sql_queries(env, "/healthz")["queries"]),
        }
    except BenchError as error:
        print(f"(SQL query count skipped: {error})")
        return {NUMBERS: None, HEALTHZ: None}


def main() -> None:
    args = parse_args()
    env = bench_env(args.database_url)
    try:
        check_redis(env["REDIS_URL"])
        prepare_database(args.database_url, env)
        collect_static(env)
        secret = create_api_account(env)
        auth = {"Authorization": f"Bearer {secret}"}
        queries = count_queries(env, auth)
        print("SendFaxMail benchmark: cost of the /v1 auth + plan + scope + rate-limit layer")
        print(
            f"server: gunicorn sendfaxmail.wsgi, {worker_description(args.workers, args.threads)}"
            " on "
            f"127.0.0.1:{args.port}, DEBUG=false, PostgreSQL + Redis on 127.0.0.1"
        )
        if args.compare_log:
            print(
                f"        and the same with REQUEST_LOG_ENABLED=false on 127.0.0.1:{args.port + 1}"
                " (its workers idle while the other server is measured)"
            )
        print(
            f"load:   {args.requests} requests per endpoint in {ROUNDS} interleaved rounds, "
            f"{args.concurrency} client threads; warm-up before each round not measured"
        )
        load_before = os.getloadavg()[0]
        server = gunicorn_process(env, args.port, workers=args.workers, threads=args.threads)
        without_log = (
            gunicorn_process(
                {**env, "REQUEST_LOG_ENABLED": "false"},
                args.port + 1,
                workers=args.workers,
                threads=args.threads,
            )
            if args.compare_log
            else contextlib.nullcontext(None)
        )
        with server as (base_url, master), without_log as second:
            no_log_url, no_log_master = second or (None, None)
            check_server(base_url, auth)
            if no_log_url is not None:
                check_server(no_log_url, auth)
            masters = [master.pid] + ([no_log_master.pid] if no_log_master else [])
            results = run_rounds(base_url, auth, args, no_log_url, masters)
    except BenchError as error:
        fail(error)
    report(results, queries, (load_before, os.getloadavg()[0]), args)


if __name__ == "__main__":
    main()
