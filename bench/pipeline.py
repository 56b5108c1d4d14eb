"""Does the fax pipeline keep up with the web tier? Goal: completed/s ≥ accepted/s.

Sends `--count` faxes (1-page PDFs, live key) through the real processes, run as the Procfile
runs them (gunicorn with gunicorn.conf.py's 4 workers, the Celery `worker` with concurrency 8 and
`fetcher` with 4, and `beat`), on a Redis broker, to a local fake Telnyx (bench/fake_telnyx.py)
that answers like Telnyx's v2 fax API and posts its signed webhooks back to /webhooks/telnyx from
`--carrier-senders` threads (32: bench/README.md says why), and to a customer webhook endpoint
(HTTPS on 127.0.0.77:443) that counts the events it gets. Prints:

- accepted/s (201s of POST /v1/faxes), submitted/s (POST /v2/faxes at the carrier) and
  completed/s (the carrier's `fax.delivered` webhook answered 200), each over its own span from
  its first to its last event, and their ratio to accepted/s;
- accept → carrier POST latency p50/p99, and accept → delivered;
- the customer-webhook fan-out rate and the delay from delivered to the customer's event;
- the checks at the end: every fax POSTed to the carrier exactly once and delivered, every
  customer event received (duplicates counted), and what /metrics says.

Run from the repo root (about 2 minutes for 300 faxes on 2 loaded cores):

    .venv/bin/python bench/pipeline.py [--count 1000] [--concurrency 4] [--port 8768]
        [--carrier-delay 0] [--carrier-senders 32] [--no-webhooks] [--timeout 900]

Needs PostgreSQL and Redis on 127.0.0.1 (see bench/README.md) and, for the customer endpoint,
the right to listen on port 443 (root): the app only delivers to port 443. Bench-only settings:
the app talks plain http to the fake carrier (TELNYX_API_BASE) and is reached over http by it
(PUBLIC_BASE_URL), which `manage.py check --deploy` would refuse; nothing here runs that check.
"""

from __future__ import annotations

import argparse
import base64
import http.server
import json
import os
import re
import secrets
import shutil
import ssl
import statistics
import subprocess
import tempfile
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests
from _server import (
    ROOT,
    VENV_BIN,
    BenchError,
    bench_env,
    check_redis,
    collect_static,
    cpu_count,
    create_api_account,
    fail,
    flush_redis,
    gunicorn_process,
    percentile,
    prepare_database,
    run_python,
)
from fake_telnyx import FakeTelnyx
from faxes_send import one_page_pdf

GOAL_RATIO = 1.0
RECEIVER_HOST = "127.0.0.77"
TO = "+15551234567"
WORKER_QUEUES = "celery,carrier,events,webhooks"


def procfile_counts() -> tuple[int, int, int]:
    """As the Procfile and gunicorn.conf.py run them: gunicorn's workers, and the concurrency of
    the Celery `worker` and `fetcher` processes."""
    conf = (ROOT / "gunicorn.conf.py").read_text()
    procfile = (ROOT / "Procfile").read_text()

    def concurrency(process: str) -> int:
        line = re.search(rf"^{process}:.*$", procfile, re.MULTILINE)
        found = re.search(r"--concurrency[ =](\d+)", line[0]) if line else None
        return int(found[1]) if found else 4

    web = re.search(r"^workers = (\d+)$", conf, re.MULTILINE)
    return int(web[1]) if web else 4, concurrency("worker"), concurrency("fetcher")


WEB_WORKERS, CELERY_CONCURRENCY, FETCH_CONCURRENCY = procfile_counts()
READY_TIMEOUT_S = 90
SEND_TIMEOUT_S = 30

# Prints the run's account id, after registering the customer's endpoint URL (argv[2]) unless "-".
_ACCOUNT = """
import json, sys
import django
django.setup()
from developers.selectors import api_key_for_secret
from developers.services.webhook_endpoints import webhook_endpoint_create
key = api_key_for_secret(sys.argv[1])
if sys.argv[2] != "-":
    webhook_endpoint_create(account=key.account, url=sys.argv[2], description="bench")
print(json.dumps({"account": key.account.pk}))
"""


# --- The customer's endpoint ------------------------------------------------------------------


@dataclass
class Delivery:
    webhook_id: str
    type: str
    fax_id: str
    at: float


@dataclass
class Received:
    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    received: Received


class _ReceiverHandler(http.server.BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            event = json.loads(body)
            fax_id = event["data"]["object"]["id"]
        except (ValueError, KeyError, TypeError):
            event, fax_id = {}, "?"
        with self.server.received.lock:
            self.server.received.deliveries.append(
                Delivery(
                    webhook_id=self.headers.get("webhook-id", ""),
                    type=str(event.get("type")),
                    fax_id=str(fax_id),
                    at=time.time(),
                )
            )
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        return


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for RECEIVER_HOST (an IP address) that it signed."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    now = datetime.datetime.now(datetime.UTC)
    valid = (now - datetime.timedelta(hours=1), now + datetime.timedelta(days=1))
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("bench CA"))
        .issuer_name(name("bench CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name(RECEIVER_HOST))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(RECEIVER_HOST))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = (folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(cert.public_bytes(pem))
    paths[2].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@contextmanager
def customer_endpoint(folder: Path) -> Iterator[tuple[Received, Path]]:
    """An HTTPS server on RECEIVER_HOST:443; yields what it received and its CA file."""
    ca_file, cert_file, key_file = _certificates(folder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    try:
        server = _Receiver((RECEIVER_HOST, 443), _ReceiverHandler)
    except OSError as error:
        raise BenchError(
            f"Cannot listen on {RECEIVER_HOST}:443 ({error}); the app delivers webhooks to port "
            "443 only. Run as root, or pass --no-webhooks."
        ) from None
    server.received = Received()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.received, ca_file
    finally:
        server.shutdown()
        server.server_close()


# --- The app's processes ------------------------------------------------------------------------


@contextmanager
def celery_process(env: dict[str, str], folder: Path, name: str, *args: str) -> Iterator[Path]:
    """Start `celery -A sendfaxmail ARGS` with its log in FOLDER/NAME.log; stop it on exit."""
    log_path = folder / f"{name}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(VENV_BIN / "celery"), "-A", "sendfaxmail", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield log_path
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def wait_ready(logs: list[Path]) -> None:
    """Celery workers log "ready." once they consume; wait (bounded) for each."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    for log in logs:
        while "ready." not in log.read_text(errors="replace"):
            if time.monotonic() > deadline:
                raise BenchError(f"{log.name}: not ready after {READY_TIMEOUT_S} s:\n{_tail(log)}")
            time.sleep(0.25)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


# --- Load -----------------------------------------------------------------------------------


def send_all(url: str, secret: str, count: int, concurrency: int) -> dict[str, float]:
    """POST `count` 1-page faxes from `concurrency` threads; return {fax id: time accepted}."""
    body = json.dumps(
        {
            "to": TO,
            "document": {
                "content": base64.b64encode(one_page_pdf()).decode(),
                "content_type": "application/pdf",
            },
        }
    ).encode()
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    accepted: dict[str, float] = {}
    errors: Counter[str] = Counter()
    lock = threading.Lock()
    shares = [count // concurrency + (i < count % concurrency) for i in range(concurrency)]

    def worker(share: int) -> None:
        with requests.Session() as session:
            for _ in range(share):
                try:
                    response = session.post(url, data=body, headers=headers, timeout=SEND_TIMEOUT_S)
                except requests.RequestException as error:
                    with lock:
                        errors[type(error).__name__] += 1
                    continue
                with lock:
                    if response.status_code == 201:
                        accepted[response.json()["id"]] = time.time()
                    else:
                        errors[str(response.status_code)] += 1

    threads = [threading.Thread(target=worker, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        print(f"(sends not accepted: {dict(errors)})")
    return accepted


def wait_done(
    accepted: dict[str, float], fake: FakeTelnyx, received: Received | None, timeout: float
) -> bool:
    """Wait until every accepted fax is delivered (and its customer event received)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with fake.lock:
            delivered = sum(
                (fax_id, "fax.delivered") in fake.record.answered for fax_id in accepted
            )
        customer = len(accepted)
        if received is not None:
            with received.lock:
                customer = len(
                    {d.fax_id for d in received.deliveries if d.type == "fax.delivered"}
                    & set(accepted)
                )
        if delivered == len(accepted) and customer == len(accepted):
            return True
        time.sleep(0.5)
    return False


# --- Figures ------------------------------------------------------------------------------------


def rate(times: list[float]) -> float:
    """Events per second over the span from the first to the last."""
    if len(times) < 2 or max(times) == min(times):
        return float("nan")
    return len(times) / (max(times) - min(times))


def latencies_ms(starts: dict[str, float], ends: dict[str, float]) -> list[float]:
    return sorted((ends[key] - starts[key]) * 1000 for key in starts if key in ends)


def quantiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"p50 {statistics.median(values):.0f} ms, p99 {percentile(values, 99):.0f} ms, "
        f"max {values[-1]:.0f} ms"
    )


def database_counts(database_url: str, account_id: int) -> dict[str, int]:
    with psycopg.connect(database_url, connect_timeout=3) as connection:
        rows = connection.execute(
            "SELECT status, count(*) FROM faxes_fax WHERE account_id = %s GROUP BY status",
            [account_id],
        ).fetchall()
    return dict(rows)


def scrape_metrics(base_url: str, token: str) -> dict[str, float]:
    """The sfm_ samples of /metrics without labels or with one, as `name{label="x"}` -> value."""
    response = requests.get(
        f"{base_url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    samples = {}
    for line in response.text.splitlines():
        if line.startswith("sfm_") and not line.startswith("sfm_http"):
            name, _, number = line.rpartition(" ")
            samples[name] = float(number)
    return samples


def report(figures: dict, args: argparse.Namespace) -> None:
    accepted, fake, received = figures["accepted"], figures["fake"], figures["received"]
    first_post: dict[str, float] = {}
    for fax in sorted(fake.record.posts, key=lambda f: f.posted_at):
        first_post.setdefault(fax.fax_id or "?", fax.posted_at)
    delivered = {
        fax_id: at
        for (fax_id, event), at in fake.record.answered.items()
        if event == "fax.delivered"
    }
    delivered = {fax_id: at for fax_id, at in delivered.items() if fax_id in accepted}
    rates = {
        "accepted": rate(list(accepted.values())),
        "submitted": rate([at for fax_id, at in first_post.items() if fax_id in accepted]),
        "completed": rate(list(delivered.values())),
    }
    print()
    print(f"{'stage':<32} {'count':>6} {'per second':>11}  ratio to accepted/s")
    for stage, label in (
        ("accepted", "accepted (201 from POST /v1/faxes)"),
        ("submitted", "submitted (POST /v2/faxes)"),
        ("completed", "completed (fax.delivered applied)"),
    ):
        count = {
            "accepted": len(accepted),
            "submitted": len(first_post),
            "completed": len(delivered),
        }
        print(
            f"{label:<32} {count[stage]:>6} {rates[stage]:>11.1f}  "
            f"{rates[stage] / rates['accepted']:.2f}"
        )
    print()
    print(f"accept → carrier POST:  {quantiles(latencies_ms(accepted, first_post))}")
    print(f"accept → delivered:     {quantiles(latencies_ms(accepted, delivered))}")
    if received is not None:
        events = received.deliveries
        fax_delivered = {d.fax_id: d.at for d in events if d.type == "fax.delivered"}
        print(
            f"customer webhooks:      {len(events)} received, {rate([d.at for d in events]):.1f}/s "
            f"fan-out; delivered → customer's fax.delivered: "
            f"{quantiles(latencies_ms(delivered, fax_delivered))}"
        )
    print(
        f"end to end:             {len(delivered)} faxes in "
        f"{figures['finished'] - figures['started']:.1f} s from the first send to the last "
        "delivery"
    )

    print()
    posts = fake.posts_by_fax()
    twice = {fax_id: n for fax_id, n in posts.items() if n > 1}
    statuses = figures["statuses"]
    checks = [
        ("faxes accepted", len(accepted), args.count),
        ("POSTed to the carrier exactly once", sum(n == 1 for n in posts.values()), len(accepted)),
        ("POSTed more than once", len(twice), 0),
        ("carrier POSTs for faxes not accepted", len(set(posts) - set(accepted)), 0),
        ("delivered in the database", statuses.get("delivered", 0), len(accepted)),
        ("in any other status", sum(statuses.values()) - statuses.get("delivered", 0), 0),
        ("carrier webhooks refused or failed", fake.record.webhook_failures, 0),
    ]
    if received is not None:
        ids = Counter(d.webhook_id for d in received.deliveries)
        by_type = Counter(d.type for d in {d.webhook_id: d for d in received.deliveries}.values())
        checks += [
            ("customer fax.sending events", by_type["fax.sending"], len(accepted)),
            ("customer fax.delivered events", by_type["fax.delivered"], len(accepted)),
            ("customer events received twice", sum(n > 1 for n in ids.values()), 0),
        ]
    ok = figures["done"]
    for name, got, expected in checks:
        mark = "ok" if got == expected else "WRONG"
        ok = ok and got == expected
        print(f"  {name:<40} {got:>6} (expected {expected}) {mark}")
    if not figures["done"]:
        print(f"  NOT FINISHED within --timeout {args.timeout:g} s")
    metrics = figures["metrics"]
    if metrics:
        shown = [
            'sfm_faxes_accepted_total{mode="live",source="inline"}',
            'sfm_faxes_submitted_total{mode="live"}',
            'sfm_faxes_delivered_total{mode="live"}',
            'sfm_webhook_delivery_attempts_total{outcome="succeeded"}',
        ]
        print(
            "  /metrics (every process, multiprocess mode): "
            + ", ".join(f"{name.removeprefix('sfm_')} {metrics.get(name, 0):.0f}" for name in shown)
        )
        queues = {k: v for k, v in metrics.items() if k.startswith("sfm_celery_queue_length")}
        print(
            "  queues at the end: "
            + ", ".join(f"{k.split(chr(34))[1]} {v:.0f}" for k, v in queues.items())
        )

    ratio = rates["completed"] / rates["accepted"]
    verdict = "MET" if ok and ratio >= GOAL_RATIO else "NOT MET"
    print()
    print(
        f"Goal completed/s ≥ accepted/s: {verdict} (completed/s ÷ accepted/s = {ratio:.2f}; "
        f"checks {'all ok' if ok else 'FAILED'})."
    )
    print()
    notes = [
        f"{args.count} faxes from {args.concurrency} client threads; as the Procfile and "
        f"gunicorn.conf.py say: web: gunicorn {WEB_WORKERS} sync workers; worker: Celery "
        f"concurrency {CELERY_CONCURRENCY}; fetcher: {FETCH_CONCURRENCY}; beat; fake carrier: "
        f"{args.carrier_senders} webhook senders, delay {args.carrier_delay:g} s per event.",
        "Each rate is the count over the span from its stage's first event to its last, so a "
        "stage that falls behind shows a lower rate than the one feeding it.",
        f"Everything shares {cpu_count()} CPUs with the client; the 1-minute load average was "
        f"{figures['load'][0]:.2f} before the run and {figures['load'][1]:.2f} after it.",
    ]
    for note in notes:
        print(textwrap.fill(note, width=96, initial_indent="- ", subsequent_indent="  "))


# --- Main ---------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="faxes to send (default 1000)")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--port", type=int, default=8768)
    parser.add_argument(
        "--carrier-delay", type=float, default=0.0, help="seconds before each carrier webhook"
    )
    parser.add_argument(
        "--carrier-senders",
        type=int,
        default=32,
        help="the fake carrier's webhook sender threads (default 32; see bench/README.md)",
    )
    parser.add_argument("--no-webhooks", action="store_true", help="no customer endpoint")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the end")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sendfaxmail_bench"
        ),
    )
    args = parser.parse_args()
    if args.count < 2 or args.concurrency < 1 or args.carrier_senders < 1:
        parser.error("--count must be at least 2, --concurrency and --carrier-senders at least 1.")
    return args


def run(args: argparse.Namespace, folder: Path) -> dict:
    env = bench_env(args.database_url)
    fake = FakeTelnyx(senders=args.carrier_senders, delay=args.carrier_delay).start()
    token = secrets.token_urlsafe(24)
    metrics_dir = folder / "metrics"
    metrics_dir.mkdir()
    env.update(
        FAX_CARRIER="telnyx",
        TELNYX_API_KEY="bench-not-a-key",
        TELNYX_CONNECTION_ID="bench",
        TELNYX_PUBLIC_KEY=fake.public_key,
        TELNYX_API_BASE=fake.api_base,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{args.port}",
        DOCUMENT_ROOT=str(folder / "documents"),
        CELERY_BROKER_URL=env["REDIS_URL"],
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        METRICS_TOKEN=token,
        LOG_LEVEL="WARNING",
    )
    with ExitStack() as stack:
        stack.callback(fake.stop)
        received = None
        if not args.no_webhooks:
            received, ca_file = stack.enter_context(customer_endpoint(folder))
            env.update(FETCH_ALLOWED_NETWORKS=f"{RECEIVER_HOST}/32", FETCH_CA_BUNDLE=str(ca_file))
        check_redis(env["REDIS_URL"])
        flush_redis(env["REDIS_URL"])
        prepare_database(args.database_url, env)
        collect_static(env)
        secret = create_api_account(env)
        url = "-" if args.no_webhooks else f"https://{RECEIVER_HOST}/hooks/fax"
        ids = run_python(_ACCOUNT, secret, url, env=env, what="The account probe")
        logs = [
            stack.enter_context(
                celery_process(
                    env,
                    folder,
                    "worker",
                    "worker",
                    "--loglevel=INFO",
                    "-Q",
                    WORKER_QUEUES,
                    "--concurrency",
                    str(CELERY_CONCURRENCY),
                    "-n",
                    "bench-worker@%h",
                )
            ),
            stack.enter_context(
                celery_process(
                    env,
                    folder,
                    "fetcher",
                    "worker",
                    "--loglevel=INFO",
                    "-Q",
                    "fetch",
                    "--concurrency",
                    str(FETCH_CONCURRENCY),
                    "-n",
                    "bench-fetcher@%h",
                )
            ),
        ]
        stack.enter_context(
            celery_process(
                env,
                folder,
                "beat",
                "beat",
                "--loglevel=INFO",
                "--schedule",
                str(folder / "beat-schedule"),
            )
        )
        base_url, _ = stack.enter_context(gunicorn_process(env, args.port, workers=WEB_WORKERS))
        wait_ready(logs)
        print(f"sending {args.count} faxes…", flush=True)
        load_before = os.getloadavg()[0]
        started = time.time()
        accepted = send_all(f"{base_url}/v1/faxes", secret, args.count, args.concurrency)
        done = wait_done(accepted, fake, received, args.timeout)
        finished = time.time()
        time.sleep(1)  # late duplicates, if any, arrive
        return {
            "accepted": accepted,
            "fake": fake,
            "received": received,
            "done": done,
            "started": started,
            "finished": finished,
            "statuses": database_counts(args.database_url, ids["account"]),
            "metrics": scrape_metrics(base_url, token),
            "load": (load_before, os.getloadavg()[0]),
        }


def main() -> None:
    args = parse_args()
    print("SendFaxMail benchmark: the pipeline, web → worker → carrier → webhooks")
    folder = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    try:
        figures = run(args, folder)
    except BenchError as error:
        fail(error)
    finally:
        try:
            flush_redis(bench_env(args.database_url)["REDIS_URL"])
        except (BenchError, OSError) as error:
            print(f"(Could not empty the bench Redis database: {error})")
        shutil.rmtree(folder, ignore_errors=True)
    report(figures, args)


if __name__ == "__main__":
    main()
