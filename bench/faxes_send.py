"""What does POST /v1/faxes cost with a 1-page PDF, and with one of almost 20 MB?

Sends a 1-page PDF and a ~20 MB PDF (both generated here, never a real document) to one gunicorn
server, and prints requests per second, p50/p90/p99 latency and MB/s of each, the ratio of the
medians, and the memory a 20 MB document costs: in a separate process that decodes and validates
it, and in the gunicorn workers that handled the sends. Run from the repo root:

    .venv/bin/python bench/faxes_send.py [--small 500] [--small-concurrency 4]
        [--large 10] [--large-concurrency 2] [--workers 2] [--port 8766]

Needs PostgreSQL and Redis on 127.0.0.1 (see bench/README.md). Every accepted fax queues a task
on Redis database 14 that nobody consumes, and stores its document under a temporary
DOCUMENT_ROOT; both are emptied at the end.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import tempfile
import textwrap
from base64 import b64encode
from pathlib import Path

import pikepdf
import redis
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
    create_api_account,
    fail,
    flush_redis,
    gunicorn_process,
    measure,
    memory_kib,
    prepare_database,
    reset_peak_memory,
    run_python,
    worker_description,
)
from pikepdf import Dictionary, Name

# The app refuses documents over 20,000,000 bytes (settings.MAX_DOCUMENT_BYTES); the large
# document lands within one image row per page below this target.
LARGE_TARGET_BYTES = 19_990_000
LARGE_LIMIT_BYTES = 20_000_000
LARGE_PAGES = 10
# A US Letter page scanned at 300 dpi is 2550 samples wide.
IMAGE_WIDTH = 2550
LETTER = (612, 792)
# A 20 MB request takes seconds, not milliseconds, when two share the machine's CPUs.
LARGE_TIMEOUT_S = 120
# The queue that fax_submit_task tasks are routed to (CELERY_TASK_ROUTES); Redis keeps it as a list.
SUBMIT_QUEUE = "carrier"
TO = "+15551234567"
ROUNDS = 3
# Goals (issue 18): a 1-page send's median within 3× that of GET /healthz at the same
# concurrency; a 20 MB send's peak memory within 4× the document's size.
SEND_RATIO_GOAL = 3.0
MEMORY_RATIO_GOAL = 4.0

# Runs in a child process with the server's environment, the JSON body of the large send in
# argv[1], the small one's in argv[2] and an API key in argv[3]. Each measurement starts by
# resetting the process's peak resident memory (VmHWM) to its current RSS, so the peak it then
# reads is the measured step's own, not that of loading the input.
_MEMORY_PROBE = """
import gc, json, resource, statistics, sys, time
import django
django.setup()
from django.test import Client
from rest_framework import serializers
from faxes.documents import decode_base64, prepare_document

def kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

def reset_peak():
    gc.collect()
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    return kib("VmRSS")

def timed(function, *args, **kwargs):
    began = time.perf_counter()
    result = function(*args, **kwargs)
    return result, (time.perf_counter() - began) * 1000

large_body = open(sys.argv[1], "rb").read()
small_body = open(sys.argv[2], "rb").read()
text = json.loads(large_body)["document"]["content"]
client = Client(HTTP_HOST="127.0.0.1", raise_request_exception=False)
headers = {"Authorization": f"Bearer {sys.argv[3]}"}
def send(body):
    response = client.post("/v1/faxes", body, content_type="application/json", headers=headers)
    if response.status_code != 201:
        raise SystemExit(f"POST /v1/faxes answered {response.status_code}: "
                         f"{response.content[:300]!r}")

# Warm every code path on the small document so that lazy imports do not count.
send(small_body)
prepare_document(decode_base64(json.loads(small_body)["document"]["content"]),
                 declared_type="application/pdf")

rss_before = reset_peak()
data, decode_ms = timed(decode_base64, text)
prepared, prepare_ms = timed(prepare_document, data, declared_type="application/pdf")
validate = {"rss_before_kib": rss_before, "peak_kib": kib("VmHWM"), "pages": prepared.page_count,
            "size_bytes": prepared.size_bytes, "decode_ms": decode_ms, "prepare_ms": prepare_ms}
del data, prepared

# The other steps a send takes on the whole body, each timed alone.
_, parse_ms = timed(json.loads, large_body)
_, field_ms = timed(serializers.CharField(trim_whitespace=False).run_validation, text)

# The whole request in process (Django test client, no HTTP), three times.
request_ms, request_peaks = [], []
for _ in range(3):
    rss = reset_peak()
    _, elapsed = timed(send, large_body)
    request_ms.append(elapsed)
    request_peaks.append(kib("VmHWM") - rss)
print(json.dumps({
    "validate": validate,
    "steps_ms": {"json_parse": parse_ms, "charfield_validators": field_ms},
    "request": {"rss_before_kib": rss, "p50_ms": statistics.median(request_ms),
                "peak_extra_kib": max(request_peaks)},
    "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"""


def one_page_pdf() -> bytes:
    """A 1-page US Letter PDF with a line of text, about a kilobyte."""
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=LETTER)
    font = Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica)
    page.add_resource(pdf.make_indirect(font), Name.Font, Name.F1)
    page.obj.Contents = pdf.make_stream(b"BT /F1 24 Tf 72 700 Td (SendFaxMail benchmark) Tj ET")
    return _save(pdf)


def large_pdf(target: int = LARGE_TARGET_BYTES, pages: int = LARGE_PAGES) -> bytes:
    """A PDF of `pages` pages just under `target` bytes that pikepdf opens without a warning.

    Each page draws a grey image of random samples stored without compression, like a noisy
    scan; random bytes cannot be compressed, so the size on the wire is the size on disk. The
    samples come from a fixed seed, so every run sends the same bytes.
    """
    overhead = len(_image_pdf(pages, rows=1)) - pages * IMAGE_WIDTH
    rows = (target - overhead) // (pages * IMAGE_WIDTH)
    # The overhead grows by a few digits with the rows; step down until the file fits.
    for _ in range(10):
        document = _image_pdf(pages, rows=rows)
        if len(document) <= target:
            return document
        rows -= 1
    raise BenchError(f"Could not build a PDF under {target:,} bytes.")


def _image_pdf(pages: int, *, rows: int) -> bytes:
    generator = random.Random(20_000_000)
    pdf = pikepdf.new()
    for _ in range(pages):
        image = pdf.make_stream(
            generator.randbytes(IMAGE_WIDTH * rows),
            Type=Name.XObject,
            Subtype=Name.Image,
            Width=IMAGE_WIDTH,
            Height=rows,
            ColorSpace=Name.DeviceGray,
            BitsPerComponent=8,
        )
        page = pdf.add_blank_page(page_size=LETTER)
        page.add_resource(image, Name.XObject, Name.Im0)
        height = LETTER[0] * rows / IMAGE_WIDTH
        page.obj.Contents = pdf.make_stream(f"q 612 0 0 {height:.2f} 0 0 cm /Im0 Do Q".encode())
    return _save(pdf)


def _save(pdf: pikepdf.Pdf) -> bytes:
    buffer = io.BytesIO()
    pdf.save(buffer, compress_streams=False, deterministic_id=True)
    return buffer.getvalue()


def send_body(document: bytes) -> bytes:
    """The JSON body of POST /v1/faxes with `document` inline, as bytes ready to send."""
    content = b64encode(document).decode("ascii")
    return json.dumps(
        {"to": TO, "document": {"content": content, "content_type": "application/pdf"}}
    ).encode()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=500, help="1-page sends (default 500)")
    parser.add_argument("--small-concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--large", type=int, default=10, help="~20 MB sends (default 10)")
    parser.add_argument("--large-concurrency", type=int, default=2, help="client threads")
    add_server_arguments(parser, port=8766)
    args = parser.parse_args()
    counts = (args.small, args.small_concurrency, args.large, args.large_concurrency, args.workers)
    if min(counts) < 1:
        parser.error("Every count must be at least 1.")
    return args


def check_send(url: str, headers: dict[str, str], body: bytes, *, timeout: float = 30) -> None:
    """One send must be accepted, or every measured figure would be an error's."""
    response = requests.post(url, data=body, headers=headers, timeout=timeout)
    if response.status_code != 201:
        raise BenchError(f"POST /v1/faxes answered {response.status_code}: {response.text[:300]}")


def probe_memory(env: dict[str, str], large: bytes, small: bytes, secret: str) -> dict:
    """Run _MEMORY_PROBE on the two bodies, written to files it reads."""
    with tempfile.TemporaryDirectory(prefix="bench-send-") as folder:
        large_path, small_path = Path(folder, "large.json"), Path(folder, "small.json")
        large_path.write_bytes(large)
        small_path.write_bytes(small)
        return run_python(
            _MEMORY_PROBE,
            str(large_path),
            str(small_path),
            secret,
            env=env,
            what="The memory probe",
        )


def workers_memory(pids: list[int]) -> dict[int, dict[str, int]]:
    figures = {}
    for pid in pids:
        try:
            figures[pid] = memory_kib(pid)
        except OSError:
            figures[pid] = {}  # The worker was restarted (timeout or crash).
    return figures


def run(args: argparse.Namespace, env: dict[str, str], documents: dict[str, bytes]) -> dict:
    """Set up, measure, and return everything `report()` prints."""
    bodies = {name: send_body(document) for name, document in documents.items()}
    check_redis(env["REDIS_URL"])
    prepare_database(env["DATABASE_URL"], env)
    collect_static(env)
    secret = create_api_account(env)
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    probe = probe_memory(env, bodies["large"], bodies["small"], secret)
    server = gunicorn_process(env, args.port, workers=args.workers, threads=args.threads)
    with server as (base_url, master):
        url = f"{base_url}/v1/faxes"
        check_send(url, headers, bodies["small"])
        pids = child_pids(master.pid)
        idle = workers_memory(pids)
        small, health = measure_small_and_healthz(base_url, headers, bodies["small"], args)
        before = workers_memory(pids)
        peaks_reset = all([reset_peak_memory(pid) for pid in pids])
        # One send alone first: the worker that handles it shows what a single 20 MB request
        # costs, before the measured ones show what many cost.
        check_send(url, headers, bodies["large"], timeout=LARGE_TIMEOUT_S)
        single = workers_memory(pids)
        large = measure(
            url,
            method="POST",
            headers=headers,
            body=bodies["large"],
            requests_total=args.large,
            concurrency=args.large_concurrency,
            warmup=args.large_concurrency,
            timeout=LARGE_TIMEOUT_S,
        )
        after = workers_memory(pids)
    return {
        "small": small,
        "healthz": health,
        "large": large,
        "probe": probe,
        "workers": {
            "idle": idle,
            "before": before,
            "single": single,
            "after": after,
            "reset": peaks_reset,
        },
    }


def measure_small_and_healthz(
    base_url: str, headers: dict[str, str], body: bytes, args: argparse.Namespace
) -> tuple[dict, dict]:
    """1-page sends and GET /healthz at the same concurrency, in ROUNDS interleaved rounds
    (H S | S H | H S) so that drift in the machine's load falls on both alike."""
    per_round = max(1, args.small // ROUNDS)
    sends, checks = [], []
    for index in range(ROUNDS):
        order = ("healthz", "send") if index % 2 == 0 else ("send", "healthz")
        for name in order:
            if name == "send":
                sends.append(
                    measure(
                        f"{base_url}/v1/faxes",
                        method="POST",
                        headers=headers,
                        body=body,
                        requests_total=per_round,
                        concurrency=args.small_concurrency,
                    )
                )
            else:
                checks.append(
                    measure(
                        f"{base_url}/healthz",
                        requests_total=per_round,
                        concurrency=args.small_concurrency,
                    )
                )
    return combine(sends), combine(checks)


def queued_tasks(redis_url: str) -> int:
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=3)
    try:
        return int(client.llen(SUBMIT_QUEUE))
    finally:
        client.close()


def stored_documents(root: Path) -> tuple[int, int]:
    files = [path for path in root.rglob("*") if path.is_file()]
    return len(files), sum(path.stat().st_size for path in files)


def _mib(kib: int | None) -> str:
    return "?" if kib is None else f"{kib / 1024:.0f}"


def print_memory_ratio(workers: dict, document_size: int) -> None:
    """The goal: a worker's peak resident memory over what it held before the 20 MB sends, per
    byte of document, at most MEMORY_RATIO_GOAL (the body alone is 1.33 bytes per byte)."""
    ratios = {}
    for stage in ("single", "after"):
        growth = [
            workers[stage][pid].get("VmHWM", 0) - workers["before"][pid].get("VmRSS", 0)
            for pid in workers["before"]
            if workers[stage].get(pid)
        ]
        ratios[stage] = max(growth, default=0) * 1024 / document_size
    verdict = "MET" if ratios["after"] <= MEMORY_RATIO_GOAL else "NOT MET"
    print(
        f"  peak RSS over the RSS before the 20 MB sends ÷ document size: first send alone "
        f"{ratios['single']:.1f}×, all sends {ratios['after']:.1f}× (goal ≤ "
        f"{MEMORY_RATIO_GOAL:g}×: {verdict}, {ratios['after'] / MEMORY_RATIO_GOAL:.2f} of the goal)"
    )


def report(args: argparse.Namespace, documents: dict[str, bytes], figures: dict) -> None:
    small, large = figures["small"], figures["large"]
    sizes = {name: len(document) for name, document in documents.items()}
    print()
    columns = ("req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "MB/s")
    print(
        f"{'POST /v1/faxes':<24} {'conc':>4} " + " ".join(f"{c:>8}" for c in columns) + "  status"
    )
    rows = (
        (f"1 page, {sizes['small']:,} B", small, args.small_concurrency, sizes["small"]),
        (
            f"{LARGE_PAGES} pages, {sizes['large']:,} B",
            large,
            args.large_concurrency,
            sizes["large"],
        ),
    )
    for name, result, concurrency, size in rows:
        statuses = " ".join(f"{code}×{count}" for code, count in result["statuses"].items())
        print(
            f"{name:<24} {concurrency:>4} {result['rps']:>8.1f} {result['p50_ms']:>8.1f} "
            f"{result['p90_ms']:>8.1f} {result['p99_ms']:>8.1f} {result['max_ms']:>8.1f} "
            f"{result['rps'] * size / 1e6:>8.2f}  {statuses}"
        )
    health = figures["healthz"]
    print(
        f"{'GET /healthz':<24} {args.small_concurrency:>4} {health['rps']:>8.1f} "
        f"{health['p50_ms']:>8.1f} {health['p90_ms']:>8.1f} {health['p99_ms']:>8.1f} "
        f"{health['max_ms']:>8.1f} {'':>8}  "
        + " ".join(f"{code}×{count}" for code, count in health["statuses"].items())
    )
    print()
    print(f"p50 ratio, 20 MB ÷ 1 page:   {large['p50_ms'] / small['p50_ms']:.0f}×")
    ratio = small["p50_ms"] / health["p50_ms"]
    verdict = "MET" if ratio <= SEND_RATIO_GOAL else "NOT MET"
    print(
        f"p50 ratio, 1 page ÷ /healthz: {ratio:.1f}× (goal ≤ {SEND_RATIO_GOAL:g}×: {verdict}, "
        f"{ratio / SEND_RATIO_GOAL:.2f} of the goal)"
    )
    print(
        "faxes accepted in the whole run (warm-ups, checks and the probe's included): "
        f"{figures['stored'][0]} documents stored ({figures['stored'][1] / 1e6:.0f} MB), "
        f"{figures['queued']} fax_submit_task tasks queued on Redis"
    )

    probe = figures["probe"]
    validate, request = probe["validate"], probe["request"]
    print()
    print("Memory and time of one 20 MB document, in a separate process (no other load):")
    print(
        f"  base64 decode + prepare_document(): peak RSS {_mib(validate['peak_kib'])} MiB, "
        f"{_mib(validate['peak_kib'] - validate['rss_before_kib'])} MiB over the "
        f"{_mib(validate['rss_before_kib'])} MiB it started with (Django, the body and its "
        f"base64 text); decode {validate['decode_ms']:.0f} ms, prepare "
        f"{validate['prepare_ms']:.0f} ms ({validate['pages']} pages)"
    )
    print(
        f"  the whole POST through Django's test client: p50 {request['p50_ms']:.0f} ms, "
        f"peak {_mib(request['peak_extra_kib'])} MiB over the RSS before it"
    )
    steps = probe["steps_ms"]
    print(
        f"  steps on the whole body: json.loads {steps['json_parse']:.0f} ms, DRF CharField "
        f"validators on the content {steps['charfield_validators']:.0f} ms"
    )

    workers = figures["workers"]
    print()
    print("gunicorn workers, MiB: resident (VmRSS) at each stage, and peak resident (VmHWM) since")
    print("the reset before the 20 MB sends, after the first one alone and after all of them:")
    headings = ("idle", "after 1-page", "peak 1st 20MB", "peak all 20MB", "after 20MB")
    print(f"  {'pid':>8} " + " ".join(f"{heading:>13}" for heading in headings))
    for pid in workers["idle"]:
        values = (
            workers["idle"][pid].get("VmRSS"),
            workers["before"][pid].get("VmRSS"),
            workers["single"][pid].get("VmHWM"),
            workers["after"][pid].get("VmHWM"),
            workers["after"][pid].get("VmRSS"),
        )
        print(f"  {pid:>8} " + " ".join(f"{_mib(value):>13}" for value in values))
    if not workers["reset"]:
        print("  (VmHWM could not be reset: the peaks cover each worker's whole life.)")
    print_memory_ratio(workers, sizes["large"])

    print()
    print("Notes:")
    notes = [
        f"MB/s counts document bytes (10^6); the base64 JSON body on the wire is a third larger "
        f"({sizes['large'] * 4 / 3 / 1e6:.1f} MB for the large document).",
        "Each send parses the JSON, validates the document, writes it to disk, inserts the fax "
        "and its event, and queues fax_submit_task on Redis after commit.",
        f"Client and server share {cpu_count()} CPUs; with more client threads than the "
        f"{args.workers} workers, latencies include waiting for a free worker.",
        f"The 1-minute load average was {figures['load'][0]:.2f} before the run and "
        f"{figures['load'][1]:.2f} after it.",
    ]
    for note in notes:
        print(textwrap.fill(note, width=96, initial_indent="- ", subsequent_indent="  "))


def main() -> None:
    args = parse_args()
    env = bench_env(args.database_url)
    document_root = Path(tempfile.mkdtemp(prefix="bench-documents-"))
    # The broker is named explicitly so that a stray CELERY_BROKER_URL cannot send the
    # benchmark's tasks anywhere but the bench database, which is flushed at the end.
    env.update(DOCUMENT_ROOT=str(document_root), CELERY_BROKER_URL=env["REDIS_URL"])
    documents = {"small": one_page_pdf(), "large": large_pdf()}
    if len(documents["large"]) > LARGE_LIMIT_BYTES:
        fail(BenchError("The large document is over the app's limit."))
    print("SendFaxMail benchmark: POST /v1/faxes, 1-page and ~20 MB PDFs")
    print(
        f"server: gunicorn sendfaxmail.wsgi, {worker_description(args.workers, args.threads)}"
        " on "
        f"127.0.0.1:{args.port},"
        f" DEBUG=false, PostgreSQL + Redis on 127.0.0.1"
    )
    print(
        f"load:   {args.small} 1-page sends from {args.small_concurrency} threads, then "
        f"{args.large} large sends from {args.large_concurrency} threads; each after an "
        "unmeasured warm-up; no Idempotency-Key"
    )
    load_before = os.getloadavg()[0]
    try:
        figures = run(args, env, documents)
        figures["queued"] = queued_tasks(env["REDIS_URL"])
        figures["stored"] = stored_documents(document_root)
    except BenchError as error:
        fail(error)
    finally:
        try:
            flush_redis(env["REDIS_URL"])
        except (BenchError, redis.RedisError) as error:
            print(f"(Could not empty Redis database 14: {error})")
        shutil.rmtree(document_root, ignore_errors=True)
    figures["load"] = (load_before, os.getloadavg()[0])
    report(args, documents, figures)


if __name__ == "__main__":
    main()
