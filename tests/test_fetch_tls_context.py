"""Outbound HTTPS (webhooks, document fetches) builds its TLS context once per CA bundle, not
once per request: loading certifi's bundle took about 30 ms of CPU."""

from __future__ import annotations

import os
from pathlib import Path

from sendfaxmail.lib import fetch
from tests.pki import make_certificates


def test_it_reuses_the_context_for_the_same_bundle(settings, tmp_path: Path) -> None:
    settings.FETCH_CA_BUNDLE = str(make_certificates(tmp_path)[0])

    assert fetch._ssl_context() is fetch._ssl_context()


def test_it_reloads_a_bundle_that_changed(settings, tmp_path: Path) -> None:
    ca_file = make_certificates(tmp_path)[0]
    settings.FETCH_CA_BUNDLE = str(ca_file)
    before = fetch._ssl_context()
    stat = ca_file.stat()

    os.utime(ca_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    assert fetch._ssl_context() is not before
