"""serializer_of_thread: one serializer per thread validates every POST /v1/faxes body and shows
every fax. Requests served at once (gthread workers) must each get their own answer."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from rest_framework.exceptions import ValidationError

from faxes.serializers import FaxCreateSerializer
from sendfaxmail.lib.api import serializer_of_thread
from tests import documents

THREADS = 8
BODIES_PER_THREAD = 200


def _body(thread: int, number: int) -> dict:
    body = {
        "to": f"+1555{thread:03d}{number:04d}",
        "client_reference": f"thread-{thread}-body-{number}",
        "document": {"content": documents.b64(b"%PDF-1.4 x"), "content_type": "application/pdf"},
    }
    if number % 3 == 0:
        body["cover_page"] = {"subject": f"subject {thread}/{number}"}
    if number % 5 == 0:
        body["retry"] = {"attempts": thread % 6, "interval_seconds": 60 + number}
    if number % 7 == 0:
        body["header_text"] = "\x07"  # unprintable: refused, naming header_text
    return body


def _validate_many(thread: int, start: threading.Barrier) -> list[str]:
    """Validate this thread's bodies; return what did not come back as its own."""
    start.wait()
    wrong = []
    for number in range(BODIES_PER_THREAD):
        body = _body(thread, number)
        serializer = serializer_of_thread(FaxCreateSerializer)
        try:
            values = serializer.run_validation(body)
        except ValidationError as error:
            if number % 7 != 0 or set(error.detail) != {"header_text"}:
                wrong.append(f"{thread}/{number}: refused {error.detail}")
            continue
        if number % 7 == 0:
            wrong.append(f"{thread}/{number}: accepted an unprintable header")
        expected_cover = (
            {"subject": body["cover_page"]["subject"]} if "cover_page" in body else None
        )
        got = (
            values["to"],
            values["client_reference"],
            values.get("cover_page"),
            values.get("retry"),
        )
        if got != (body["to"], body["client_reference"], expected_cover, body.get("retry")):
            wrong.append(f"{thread}/{number}: got {got}")
    return wrong


def test_threads_validating_at_once_each_get_their_own_answers() -> None:
    start = threading.Barrier(THREADS)

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(_validate_many, range(THREADS), [start] * THREADS))

    assert [wrong for wrong in results if wrong] == []


def test_each_thread_has_its_own_serializer_made_once() -> None:
    here = serializer_of_thread(FaxCreateSerializer)
    with ThreadPoolExecutor(1) as pool:
        there = pool.submit(serializer_of_thread, FaxCreateSerializer).result()

    assert serializer_of_thread(FaxCreateSerializer) is here
    assert there is not here


@pytest.mark.parametrize("body", [None, [], "text", {"to": "+15551234567"}])
def test_a_refused_body_leaves_nothing_for_the_next(body: object) -> None:
    serializer = serializer_of_thread(FaxCreateSerializer)
    with pytest.raises(ValidationError):
        serializer.run_validation(body)

    values = serializer.run_validation(_body(1, 1))

    assert values["to"] == "+15550010001"
    assert not hasattr(serializer, "initial_data")
