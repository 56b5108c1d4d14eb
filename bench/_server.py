"""Shared benchmark pieces: a bench database, an API account, a gunicorn server, a load loop.

Everything talks to 127.0.0.1 only: PostgreSQL and Redis on their default ports, and a gunicorn
started here. The server runs the production settings (DEBUG off) from `bench_env()`, with rate
limits so high that the limiter counts every request but never refuses one.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import math
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import psycopg
import redis
import requests
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = VENV_BIN / "python"
GUNICORN = VENV_BIN / "gunicorn"

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/sendfaxmail_bench"
# BENCH_REDIS_URL moves the benchmarks to another Redis database (it is flushed after a run).
DEFAULT_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
# As gunicorn.conf.py runs the web process by default (WEB_THREADS=1): sync workers. --threads N
# runs gthread workers instead.
DEFAULT_THREADS = 1
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}

# Bounds for every wait, so that a broken setup fails with a message instead of hanging.
MANAGE_TIMEOUT_S = 300
SERVER_START_TIMEOUT_S = 30
SERVER_STOP_TIMEOUT_S = 15
POLL_INTERVAL_S = 0.25
REQUEST_TIMEOUT_S = 10


class BenchError(RuntimeError):
    """The benchmark cannot run as set up; the message says what to fix."""


def _require_loopback(host: str | None, what: str) -> None:
    # The benchmarks must never load a server on another machine.
    if (host or "127.0.0.1") not in LOOPBACK_HOSTS:
        raise BenchError(f"{what} must be on this machine (127.0.0.1), not {host!r}.")


def bench_env(
    database_url: str = DEFAULT_DATABASE_URL, redis_url: str = DEFAULT_REDIS_URL
) -> dict[str, str]:
    """The environment for manage.py and gunicorn: production settings with bench-only secrets.

    It starts from an almost empty environment so that variables of the calling shell (say
    DJANGO_SETTINGS_MODULE=tests.settings) cannot change what is measured. The secrets are new
    on every call: API keys created under one environment only work with a server started with it.
    """
    env = {
        name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ
    }
    env.update(
        DJANGO_SETTINGS_MODULE="sendfaxmail.settings",
        DEBUG="false",
        SECRET_KEY=f"bench-only-{secrets.token_urlsafe(32)}",
        API_KEY_PEPPER=f"bench-only-{secrets.token_urlsafe(32)}",
        DOCUMENT_ENCRYPTION_KEYS=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        SENDFAXMAIL_ENV_FILE="",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        API_READ_RATE="1000000/m",
        API_SEND_RATE="1000000/m",
        LOG_LEVEL="WARNING",
        # The simulator stands in for Telnyx even if a stray .env names a Telnyx key.
        FAX_CARRIER="simulator",
    )
    return env


def add_server_arguments(parser: argparse.ArgumentParser, *, port: int) -> None:
    """The options every benchmark shares: workers, port and the bench database."""
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help="threads per worker: 1 runs sync workers (as gunicorn.conf.py by default), more "
        "runs gthread workers (default %(default)s)",
    )
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="created if missing (default: %(default)s)",
    )


def run_manage(*args: str, env: dict[str, str]) -> str:
    """Run `manage.py ARGS` with the venv's python in the repo root; return its stdout.

    A non-zero exit raises BenchError carrying the command's stderr.
    """
    try:
        completed = subprocess.run(
            [str(PYTHON), "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=MANAGE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"manage.py {args[0]} took more than {MANAGE_TIMEOUT_S} s.") from None
    if completed.returncode != 0:
        raise BenchError(
            f"manage.py {' '.join(args[:1])} failed ({completed.returncode}):\n"
            f"{completed.stderr.strip()[-2000:]}"
        )
    return completed.stdout


def check_redis(redis_url: str = DEFAULT_REDIS_URL) -> None:
    """Fail early, with a clear message, when Redis does not answer."""
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=3)
    _require_loopback(client.connection_pool.connection_kwargs.get("host"), "Redis")
    try:
        client.ping()
    except redis.RedisError as error:
        raise BenchError(f"Redis does not answer at {redis_url} ({error}).") from None
    finally:
        client.close()


def prepare_database(
    database_url: str = DEFAULT_DATABASE_URL, env: dict[str, str] | None = None
) -> None:
    """Create the bench database if it is missing, then apply every migration to it."""
    conninfo = psycopg.conninfo.conninfo_to_dict(database_url)
    _require_loopback(conninfo.get("host"), "PostgreSQL")
    dbname = conninfo.get("dbname")
    if not dbname:
        raise BenchError(f"{database_url} names no database.")
    # Connect to the maintenance database: the bench database may not exist yet.
    maintenance = {**conninfo, "dbname": "postgres"}
    try:
        with psycopg.connect(**maintenance, connect_timeout=3, autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [dbname]
            ).fetchone()
            if not exists:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    except psycopg.Error as error:
        raise BenchError(f"PostgreSQL does not answer at {database_url} ({error}).") from None
    run_manage("migrate", "--noinput", "-v", "0", env=env or bench_env(database_url))


def collect_static(env: dict[str, str]) -> None:
    """Build var/staticfiles and its manifest, which DEBUG=false settings need to serve pages."""
    run_manage("collectstatic", "--noinput", "-v", "0", env=env)


def create_api_account(
    env: dict[str, str], *, scopes: str = "faxes:send,faxes:read,numbers:read"
) -> str:
    """Create a Business account with one fax number and an API key; return the key's secret.

    Each run gets a new account (the email carries a timestamp) and a new number +1555010XXXX
    derived from the same timestamp; numbers are unique, so a taken one moves to the next.
    """
    stamp = int(time.time())
    email = f"bench-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}@example.com"
    run_manage(
        "create_account",
        email,
        "--plan",
        "business",
        # One form: a URL-safe token may start with "-", which argparse would take for an option.
        f"--password={secrets.token_urlsafe(16)}",
        env=env,
    )
    attempts = 20
    for attempt in range(attempts):
        number = f"+1555010{(stamp + attempt) % 10_000:04d}"
        try:
            run_manage("add_number", email, number, "--label", "Bench", env=env)
            break
        except BenchError as error:
            if "already taken" not in str(error):
                raise
    else:
        raise BenchError(f"No free number among {attempts} tried; clean the bench database.")
    output = run_manage("create_api_key", email, "--scopes", scopes, "--name", "bench", env=env)
    # The command prints the secret alone on its last line.
    return output.strip().splitlines()[-1].strip()


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def gunicorn_server(
    env: dict[str, str], port: int, workers: int = 2, threads: int = DEFAULT_THREADS
) -> Iterator[str]:
    """Serve `sendfaxmail.wsgi` with gunicorn on 127.0.0.1:PORT; yield the base URL.

    `threads` above 1 runs gthread workers, 1 sync workers (gunicorn.conf.py's default). Waits
    (bounded) until GET /healthz answers 200, and stops the server on exit. Refuses a port that
    something already listens on, so that nothing else is measured by mistake.
    """
    with gunicorn_process(env, port, workers=workers, threads=threads) as (base_url, _):
        yield base_url


def worker_description(workers: int, threads: int) -> str:
    """How the server runs, for the benchmarks' headers."""
    if threads > 1:
        return f"{workers} gthread workers × {threads} threads"
    return f"{workers} sync workers"


def gunicorn_command(port: int, *, workers: int, threads: int) -> list[str]:
    command = [
        str(GUNICORN),
        "sendfaxmail.wsgi",
        "-b",
        f"127.0.0.1:{port}",
        "-w",
        str(workers),
        "--access-logfile",
        "/dev/null",
    ]
    if threads > 1:
        command += ["--worker-class", "gthread", "--threads", str(threads)]
    return command


@contextlib.contextmanager
def gunicorn_process(
    env: dict[str, str], port: int, workers: int = 2, threads: int = DEFAULT_THREADS
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Like `gunicorn_server()`, but also yield the master process, to find its workers."""
    if _port_in_use(port):
        raise BenchError(f"Port {port} on 127.0.0.1 is already in use; pick another with --port.")
    base_url = f"http://127.0.0.1:{port}"
    command = gunicorn_command(port, workers=workers, threads=threads)
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            _wait_until_healthy(process, base_url, log)
            yield base_url, process
        finally:
            _stop(process)


def _server_log(log: tempfile._TemporaryFileWrapper) -> str:
    log.flush()
    log.seek(0)
    return log.read()[-3000:]


def _wait_until_healthy(
    process: subprocess.Popen, base_url: str, log: tempfile._TemporaryFileWrapper
) -> None:
    last = "no answer"
    for _ in range(int(SERVER_START_TIMEOUT_S / POLL_INTERVAL_S)):
        if process.poll() is not None:
            raise BenchError(f"gunicorn exited with {process.returncode}:\n{_server_log(log)}")
        try:
            response = requests.get(f"{base_url}/healthz", timeout=2)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:200]}"
        except requests.RequestException as error:
            last = type(error).__name__
        time.sleep(POLL_INTERVAL_S)
    raise BenchError(
        f"/healthz did not answer 200 within {SERVER_START_TIMEOUT_S} s (last: {last}).\n"
        f"{_server_log(log)}"
    )


def _stop(process: subprocess.Popen) -> None:
    # SIGTERM lets the gunicorn master stop its workers; kill only if that hangs.
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=SERVER_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=SERVER_STOP_TIMEOUT_S)


# --- Load -----------------------------------------------------------------------------------


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty list."""
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(latencies_ms: list[float], seconds: float, statuses: dict[str, int]) -> dict:
    """The figures every benchmark prints, from raw latencies and the wall-clock duration."""
    ordered = sorted(latencies_ms)
    if not ordered:
        raise BenchError("No request was measured.")
    return {
        "requests": len(ordered),
        "seconds": seconds,
        "rps": len(ordered) / seconds if seconds > 0 else float("nan"),
        "p50_ms": statistics.median(ordered),
        "p90_ms": percentile(ordered, 90),
        "p99_ms": percentile(ordered, 99),
        "max_ms": ordered[-1],
        "statuses": dict(sorted(statuses.items())),
        "latencies_ms": latencies_ms,
    }


def combine(results: list[dict]) -> dict:
    """Merge several `measure()` results (rounds) into one, as if measured in one go."""
    latencies = [value for result in results for value in result["latencies_ms"]]
    statuses: Counter[str] = Counter()
    for result in results:
        statuses.update(result["statuses"])
    return summarize(latencies, sum(result["seconds"] for result in results), statuses)


def _encode_body(body: bytes | str | dict | list | None, headers: dict[str, str]) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    return json.dumps(body).encode()


def _load(
    sessions: list[requests.Session],
    url: str,
    *,
    method: str,
    headers: dict[str, str],
    data: bytes | None,
    requests_total: int,
    timeout: float = REQUEST_TIMEOUT_S,
) -> tuple[list[float], float, Counter[str]]:
    """Send `requests_total` requests spread over one thread per session; time each one."""
    concurrency = len(sessions)
    shares = [
        requests_total // concurrency + (1 if index < requests_total % concurrency else 0)
        for index in range(concurrency)
    ]
    per_thread: list[tuple[list[float], Counter[str]]] = [([], Counter()) for _ in sessions]
    start = threading.Barrier(concurrency + 1)

    def worker(index: int) -> None:
        session = sessions[index]
        latencies, statuses = per_thread[index]
        start.wait()
        for _ in range(shares[index]):
            began = time.perf_counter()
            try:
                response = session.request(method, url, headers=headers, data=data, timeout=timeout)
                outcome = str(response.status_code)
            except requests.RequestException as error:
                outcome = type(error).__name__
            latencies.append((time.perf_counter() - began) * 1000)
            statuses[outcome] += 1

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(concurrency)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    statuses: Counter[str] = Counter()
    for _, counts in per_thread:
        statuses.update(counts)
    return [value for latencies, _ in per_thread for value in latencies], seconds, statuses


def measure(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    requests_total: int,
    concurrency: int,
    method: str = "GET",
    body: bytes | str | dict | list | None = None,
    warmup: int | None = None,
    timeout: float = REQUEST_TIMEOUT_S,
) -> dict:
    """Load `url` from `concurrency` threads, each with its own keep-alive session.

    A warm-up of `warmup` requests (default: a tenth, between 50 and 500) runs first and is not
    measured. Returns requests `rps`, `p50_ms`, `p90_ms`, `p99_ms`, `max_ms`, `statuses` (code or
    exception name -> count), and the raw `latencies_ms` and `seconds` that `combine()` merges.
    A dict body is sent as JSON. `timeout` bounds each request, in seconds.
    """
    if requests_total < 1 or concurrency < 1:
        raise BenchError("requests_total and concurrency must be at least 1.")
    headers = dict(headers or {})
    data = _encode_body(body, headers)
    if warmup is None:
        warmup = min(500, max(50, requests_total // 10))
    sessions = [requests.Session() for _ in range(concurrency)]
    try:
        if warmup > 0:
            _load(
                sessions,
                url,
                method=method,
                headers=headers,
                data=data,
                requests_total=max(warmup, concurrency),
                timeout=timeout,
            )
        latencies, seconds, statuses = _load(
            sessions,
            url,
            method=method,
            headers=headers,
            data=data,
            requests_total=requests_total,
            timeout=timeout,
        )
    finally:
        for session in sessions:
            session.close()
    return summarize(latencies, seconds, statuses)


# --- SQL query count ------------------------------------------------------------------------

# Runs in a child process with the bench environment: sends the request twice through Django's
# test client and reports the SQL of the second, steady-state one.
_QUERY_PROBE = """
import json, sys
import django
django.setup()
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
spec = json.loads(sys.argv[1])
client = Client(HTTP_HOST="127.0.0.1", raise_request_exception=False)
def call():
    return client.generic(spec["method"], spec["path"], spec["body"],
                          content_type="application/json", headers=spec["headers"])
call()
with CaptureQueriesContext(connection) as context:
    response = call()
print(json.dumps({"status": response.status_code,
                  "queries": [query["sql"] for query in context.captured_queries]}))
"""


def sql_queries(
    env: dict[str, str],
    path: str,
    *,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: str = "",
) -> dict:
    """The SQL one request runs once warm: `{"status": int, "queries": [sql, ...]}`.

    The request is sent twice in a separate process (the first one may record the key's use), so
    do not point it at a request that must not happen twice. Django's connection health check
    (`CONN_HEALTH_CHECKS`, a `SELECT 1` on the first query of each request) bypasses Django's
    cursor and is not counted.
    """
    spec = {"method": method, "path": path, "headers": headers or {}, "body": body}
    return run_python(_QUERY_PROBE, json.dumps(spec), env=env, what="The SQL query probe")


def run_python(source: str, *args: str, env: dict[str, str], what: str) -> Any:
    """Run `source` with the venv's python in the repo root and ARGS as sys.argv[1:].

    The program reports by printing one JSON document on its last line of stdout, which is
    returned. `what` names the program in the BenchError raised when it fails or times out.
    """
    try:
        completed = subprocess.run(
            [str(PYTHON), "-c", source, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=MANAGE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what} took more than {MANAGE_TIMEOUT_S} s.") from None
    if completed.returncode != 0:
        raise BenchError(f"{what} failed:\n{completed.stderr.strip()[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- Processes and memory -------------------------------------------------------------------


def child_pids(parent: int) -> list[int]:
    """The pids of `parent`'s children (gunicorn's workers, say), read from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # The process ended while we looked.
        # The command name, in parentheses, may hold spaces: the fields after it are fixed.
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            children.append(int(entry.name))
    return sorted(children)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU time of each process, in seconds, from /proc/<pid>/stat; a process that
    ended is left out. Unlike latency, CPU time does not grow when other work takes the CPUs."""
    seconds = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        seconds[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return seconds


def database_backend_pids(database_url: str) -> list[int]:
    """The PostgreSQL server processes serving connections to the bench database (the app's,
    kept open by CONN_MAX_AGE); readable in /proc when the benchmark runs as root or postgres."""
    conninfo = psycopg.conninfo.conninfo_to_dict(database_url)
    with psycopg.connect(database_url, connect_timeout=3, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [conninfo.get("dbname")],
        ).fetchall()
    return [pid for (pid,) in rows]


def memory_kib(pid: int) -> dict[str, int]:
    """`VmRSS` (resident now) and `VmHWM` (resident at its peak) of a process, in KiB."""
    figures = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            figures[name] = int(value.split()[0])
    return figures


def reset_peak_memory(pid: int) -> bool:
    """Restart a process's VmHWM from its current RSS; False if the kernel does not allow it."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def flush_redis(redis_url: str = DEFAULT_REDIS_URL) -> int:
    """Empty the bench's Redis database (tasks nobody consumes, rate counters); return its size.

    Only the database the URL names is flushed, and only on this machine.
    """
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=3)
    _require_loopback(client.connection_pool.connection_kwargs.get("host"), "Redis")
    try:
        size = client.dbsize()
        client.flushdb()
    finally:
        client.close()
    return size


def cpu_count() -> int:
    """CPUs this process may run on: the client and the server share them."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def fail(error: BenchError) -> NoReturn:
    """Print a BenchError as a one-paragraph message and exit non-zero."""
    print(f"bench: {error}", file=sys.stderr)
    sys.exit(1)
