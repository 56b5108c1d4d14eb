"""How fast is POST /v1/faxes, with a 1-page PDF and with a 20 MB one, and what memory does a
20 MB document take to validate? Run from the repo root:

    .venv/bin/python bench/faxes_send.py [--small 300] [--large 8] [--concurrency 2] [--port 8766]

Needs PostgreSQL and Redis on 127.0.0.1 (see bench/README.md). Accepted faxes are queued on
Redis database 14 with nobody consuming them; the script empties that database at the end.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import subprocess
import tempfile
from pathlib import Path

import pikepdf
import redis
from _server import (
    DEFAULT_DATABASE_URL,
    PYTHON,
    ROOT,
    BenchError,
    bench_env,
    check_redis,
    collect_static,
    create_api_account,
    fail,
    gunicorn_server,
    measure,
    prepare_database,
)

LARGE_BYTES = 19_900_000  # just under the 20,000,000-byte limit

# Runs in a child process: the peak memory of validating the large document as a worker would.
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec.
MEMORY_PROBE = """
import sys
import django
django.setup()
from faxes.documents import decode_base64, prepare_document
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
before = peak_mb()
text = open(sys.argv[1]).read()
prepared = prepare_document(decode_base64(text), declared_type="application/pdf")
print(before, peak_mb(), prepared.page_count)
"""


def pdf(pages: int = 1, *, filler: int = 0) -> bytes:
    """A blank PDF; `filler` random bytes in a stream make it as large as needed."""
    document = pikepdf.new()
    for _ in range(pages):
        document.add_blank_page(page_size=(612, 792))
    if filler:
        document.Root.BenchFiller = document.make_stream(os.urandom(filler))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def body(data: bytes) -> dict:
    return {
        "to": "+15551234567",
        "document": {"content": base64.b64encode(data).decode(), "content_type": "application/pdf"},
    }


def worker_memory(env: dict[str, str], large: bytes) -> tuple[int, int, int]:
    """(MB before, MB peak, pages) of a process that decodes and validates the document."""
    with tempfile.NamedTemporaryFile("w", suffix=".b64") as encoded:
        encoded.write(base64.b64encode(large).decode())
        encoded.flush()
        result = subprocess.run(
            [str(PYTHON), "-c", MEMORY_PROBE, encoded.name],
            cwd=ROOT,
            env={**env, "DEBUG": "true"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if result.returncode:
        raise BenchError(f"memory probe failed: {result.stderr[-500:]}")
    before, peak, pages = (int(v) for v in result.stdout.split()[-3:])
    return before, peak, pages


def gunicorn_peak_mb(port: int) -> list[int]:
    """VmHWM (peak resident memory) of the gunicorn processes serving `port`, in MB."""
    peaks = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            status = (proc / "status").read_text()
        except OSError:
            continue
        if "gunicorn" in cmdline and f":{port}" in cmdline:
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) // 1024)
    return sorted(peaks)


def row(name: str, result: dict, megabytes: float) -> str:
    rate = result["rps"] * megabytes
    return (
        f"{name:<22} {result['rps']:>7.1f} {result['p50_ms']:>8.1f} {result['p99_ms']:>8.1f}"
        f" {rate:>8.1f}  {' '.join(f'{k}×{v}' for k, v in result['statuses'].items())}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=300, help="1-page sends (default 300)")
    parser.add_argument("--large", type=int, default=8, help="20 MB sends (default 8)")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    args = parser.parse_args()
    env = bench_env(args.database_url)
    small, large = pdf(), pdf(filler=LARGE_BYTES)
    try:
        check_redis(env["REDIS_URL"])
        prepare_database(args.database_url, env)
        collect_static(env)
        auth = {"Authorization": f"Bearer {create_api_account(env)}"}
        with gunicorn_server(env, args.port, workers=args.workers) as base_url:
            url = f"{base_url}/v1/faxes"
            one_page = measure(
                url,
                method="POST",
                headers=auth,
                body=body(small),
                requests_total=args.small,
                concurrency=args.concurrency,
            )
            twenty_mb = measure(
                url,
                method="POST",
                headers=auth,
                body=body(large),
                requests_total=args.large,
                concurrency=args.concurrency,
                warmup=1,
            )
            server_peaks = gunicorn_peak_mb(args.port)
        memory = worker_memory(env, large)
    except BenchError as error:
        fail(error)
    finally:
        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    print("SendFaxMail benchmark: POST /v1/faxes under gunicorn on PostgreSQL + Redis")
    print(f"server: {args.workers} sync workers; {args.concurrency} client threads\n")
    print(f"{'document':<22} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'MB/s':>8}  status")
    print(row(f"1 page, {len(small):,} B", one_page, len(small) / 1e6))
    print(row(f"{len(large) / 1e6:.1f} MB PDF", twenty_mb, len(large) / 1e6))
    print(f"\np50 ratio, 20 MB ÷ 1 page: {twenty_mb['p50_ms'] / one_page['p50_ms']:.0f}×")
    before, peak, pages = memory
    print(
        f"validating the 20 MB document in a fresh process (base64 decode + pikepdf, {pages} page):"
        f" {before} MB before, {peak} MB peak (+{peak - before} MB)"
    )
    print(f"gunicorn peak resident memory (VmHWM) after the run, MB: {server_peaks}")


if __name__ == "__main__":
    main()
