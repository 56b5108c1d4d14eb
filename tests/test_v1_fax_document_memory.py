"""Downloading a large sent fax: its header is stamped in memory (never on disk in the clear),
and the copies of it the app holds are bounded by a few times the document."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import pytest

from tests import documents
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db

SIZE = 19_000_000


def test_a_20_mb_download_holds_at_most_three_copies_of_the_document(
    api_client: ApiClient, accepted_fax: Callable
) -> None:
    # Python's allocations only. With qpdf's (C++) ones, stamping this document adds about
    # 80 MB of resident memory in all (bench/stamp_header.py --size-mb 19).
    pdf = documents.large_pdf_bytes(SIZE)
    fax = accepted_fax(document={"content": documents.b64(pdf), "content_type": "application/pdf"})
    del pdf

    tracemalloc.start()
    try:
        response = api_client.get(f"/v1/faxes/{fax.pk}/document")
        received = sum(len(chunk) for chunk in response.streaming_content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert received > SIZE
    assert peak < 3 * SIZE, f"{peak / 1e6:.0f} MB"
