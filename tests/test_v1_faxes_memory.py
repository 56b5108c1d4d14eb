"""POST /v1/faxes with a large document: how much memory it takes, and that nothing of it
outlives the request.

The body, its base64 text and the decoded document used to stay in memory after the answer, held
by reference cycles (DRF's request, view and serializers) until the garbage collector ran; the
tests of that disable the collector, so only reference counting frees anything, as between two
collections in a worker.
"""

from __future__ import annotations

import gc
import io
import json
import tracemalloc
from collections.abc import Iterator

import pytest
from django.test import RequestFactory
from django.test.client import ClientHandler

from developers.models import ApiKey
from tests import documents
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db

LARGE = 1_500_000


def _large_objects(sizes: set[int]) -> list[str]:
    """The live str, bytes and bytearray objects whose length is one of `sizes`."""
    # Strings and bytes are not tracked by the collector; the containers holding them are.
    found = []
    for holder in gc.get_objects():
        for value in gc.get_referents(holder):
            if type(value) in (str, bytes, bytearray) and len(value) in sizes:
                found.append(f"{type(value).__name__} of {len(value)} in {type(holder).__name__}")
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
    """Send a large PDF; return the status and the sizes of the PDF, its base64 text and the
    whole body."""
    pdf = documents.large_pdf_bytes(LARGE)
    content = documents.b64(pdf)
    body = json.dumps(
        {"to": "+15551234567", "document": {"content": content, "content_type": "application/pdf"}}
    ).encode()
    response = client.post("/v1/faxes", data=body, content_type="application/json")
    return response.status_code, {len(pdf), len(content), len(body)}


def test_it_frees_the_body_its_text_and_the_document_once_answered(
    api_client: ApiClient, no_collector: None
) -> None:
    status, sizes = _send_large(api_client)

    assert status == 201
    assert _large_objects(sizes) == []


def test_a_large_send_takes_less_than_four_times_the_document_in_memory(
    api_key: tuple[ApiKey, str],
) -> None:
    pdf = documents.large_pdf_bytes(6_000_000)
    document = {"content": documents.b64(pdf), "content_type": "application/pdf"}
    body = json.dumps({"to": "+15551234567", "document": document}).encode()
    del document
    # As a server hands the body over: a stream, not a copy made by the test client.
    environ = {
        **RequestFactory()._base_environ(),
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/v1/faxes",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_AUTHORIZATION": f"Bearer {api_key[1]}",
        "wsgi.input": io.BytesIO(body),
    }
    tracemalloc.start()
    try:
        response = ClientHandler()(environ)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert response.status_code == 201
    # The body alone is 1.33 times the document, and the decoded document once more.
    assert peak < 4 * len(pdf)
