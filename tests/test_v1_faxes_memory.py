"""POST /v1/faxes with a large document: nothing of it outlives the request.

The body, its base64 text and the decoded document used to stay in memory after the answer, held
by reference cycles (DRF's request, view and serializers) until the garbage collector ran. These
tests disable the collector, so only reference counting frees anything, as between two
collections in a worker.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tests import documents
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db

LARGE = 1_500_000


def _large_objects(sizes: set[int]) -> list[int]:
    """Lengths of the live str and bytes objects whose length is one of `sizes`."""
    # Strings and bytes are not tracked by the collector; the containers holding them are.
    found = []
    for holder in gc.get_objects():
        for value in gc.get_referents(holder):
            if type(value) in (str, bytes, bytearray) and len(value) in sizes:
                found.append(len(value))
    return found


@pytest.fixture
def no_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _send_large(client: ApiClient) -> tuple[int, set[int]]:
    """Send a large PDF; return the status and the sizes of its bytes and its base64 text."""
    pdf = documents.large_pdf_bytes(LARGE)
    content = documents.b64(pdf)
    document = {"content": content, "content_type": "application/pdf"}
    response = client.post_json("/v1/faxes", {"to": "+15551234567", "document": document})
    return response.status_code, {len(pdf), len(content)}


def test_it_frees_the_document_and_its_text_once_answered(
    api_client: ApiClient, no_collector: None
) -> None:
    status, sizes = _send_large(api_client)

    assert status == 201
    assert _large_objects(sizes) == []
