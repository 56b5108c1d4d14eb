"""`client.faxes` and `client.numbers`."""

from __future__ import annotations

import base64
import builtins
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar
from urllib.parse import quote

from .errors import APIError
from .models import Fax, FaxNumber

if TYPE_CHECKING:
    from ._client import SendFaxMail

__all__ = ["Faxes", "FileInput", "Numbers", "Pages"]

# A path (str or pathlib.Path), the bytes themselves, or a binary file object.
FileInput: TypeAlias = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]

T = TypeVar("T")

# The document types the API accepts, by their first bytes and by file extension.
_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
_EXTENSIONS = {
    ".pdf": "application/pdf",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}


def _inline(file: FileInput, content_type: str | None) -> dict[str, str]:
    """A document of the request body: the file's bytes in base64, and its type."""
    data, name = _read_file(file)
    return {
        "content": base64.b64encode(data).decode("ascii"),
        "content_type": content_type or _content_type(data, name),
    }


def _read_file(file: FileInput) -> tuple[bytes, str | None]:
    """The document's bytes, and its file name when it has one."""
    if isinstance(file, (bytes, bytearray, memoryview)):
        return bytes(file), None
    if isinstance(file, (str, os.PathLike)):
        path = Path(file)
        return path.read_bytes(), path.name
    if hasattr(file, "read"):
        data = file.read()
        if not isinstance(data, bytes):
            raise TypeError("Open the file in binary mode ('rb').")
        name = getattr(file, "name", None)
        return data, Path(name).name if isinstance(name, str) else None
    raise TypeError("file must be a path, bytes, or a binary file object.")


def _content_type(data: bytes, name: str | None) -> str:
    for magic, content_type in _MAGIC:
        if data.startswith(magic):
            return content_type
    if name and (by_name := _EXTENSIONS.get(Path(name).suffix.lower())):
        return by_name
    raise ValueError(
        "Cannot tell the document's type: the API takes PDF, TIFF, PNG or JPEG. "
        "Pass content_type= if the file is one of them."
    )


def _send_at(value: datetime | str) -> str:
    """`send_at` as the API reads it: ISO 8601 with a zone (a naive datetime is refused here,
    rather than guessed at)."""
    if isinstance(value, str):
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("send_at must be an aware datetime (with a tzinfo), or ISO 8601 text.")
    return value.isoformat()


def _query_value(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("Pass aware datetimes (with a tzinfo) as time filters.")
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Pages(Generic[T]):
    """Every object of a list endpoint, fetched page by page as the iteration reaches it.

    The first page is fetched at once, so a bad filter or key raises where the list was asked
    for. When an answer carries `next_cursor` (GET /v1/faxes does), the next page is asked for
    with `cursor=<next_cursor>`, until `next_cursor` is null; otherwise by `page` and `has_more`. An
    object already returned is skipped if a later page repeats it (with offset paging, faxes
    created during the iteration push older ones onto the next page).
    """

    def __init__(
        self,
        client: SendFaxMail,
        path: str,
        params: Mapping[str, Any],
        parse: Callable[[dict[str, Any]], T],
        page_param: str | None = "page",
    ) -> None:
        self._client = client
        self._path = path
        self._params = dict(params)
        self._parse = parse
        self._page_param = page_param
        self._iterator = self._iterate(self._fetch(self._params))

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        return next(self._iterator)

    def _fetch(self, params: Mapping[str, Any]) -> dict[str, Any]:
        body = self._client.request("GET", self._path, params=params)
        if not isinstance(body, dict) or not isinstance(body.get("data", []), list):
            raise APIError(f"GET {self._path} did not answer with a list object.")
        return body

    def _iterate(self, body: dict[str, Any]) -> Iterator[T]:
        seen: set[str] = set()
        page = int(self._params.get(self._page_param, 1)) if self._page_param else 1
        while True:
            data = body.get("data") or []
            for item in data:
                key = item.get("id") if isinstance(item, dict) else None
                if key is not None:
                    if key in seen:
                        continue
                    seen.add(key)
                yield self._parse(item)
            if "next_cursor" in body:
                cursor = body.get("next_cursor")
                if not cursor:
                    return
                params = {**self._params, "cursor": cursor}
            elif body.get("has_more") and data and self._page_param:
                page += 1
                params = {**self._params, self._page_param: page}
            else:
                return
            body = self._fetch(params)


class Faxes:
    """Send faxes and read them: `client.faxes`."""

    def __init__(self, client: SendFaxMail) -> None:
        self._client = client

    def send(
        self,
        *,
        to: str,
        file: FileInput | None = None,
        url: str | None = None,
        files: Sequence[FileInput] | None = None,
        from_: str | None = None,
        client_reference: str | None = None,
        content_type: str | None = None,
        cover_page: Mapping[str, str] | None = None,
        header: bool | None = None,
        header_text: str | None = None,
        retry: Mapping[str, int] | None = None,
        send_at: datetime | str | None = None,
        idempotency_key: str | None = None,
    ) -> Fax:
        """Send a fax to `to` (E.164, e.g. `+15551234567`) and return it, `queued` (or
        `scheduled` with `send_at`).

        Give exactly one of `file` (a path, bytes or a binary file object: a PDF, TIFF, PNG or
        JPEG of at most 20 MB, whose type is read from its first bytes, else from its name, else
        from `content_type`) and `url` (a public `https://` URL the API fetches). `from_` is one
        of the account's numbers (default: its first); `client_reference` (up to 128 characters)
        is echoed back.

        `files` (1 to 10, instead of `file` or `url`) are faxed in order as one fax: at most
        20 MB and 350 pages in all. `cover_page` (keys `to_name`, `from_name`, `subject`,
        `message`, all optional) adds a first page. The header line (date and time sent, the
        account's name, the number, "Page n/N") is stamped on every page unless `header=False`;
        `header_text` (up to 60 characters) replaces the account's name in it.

        `retry` (`{"attempts": 0..5, "interval_seconds": 60..3600}`, the interval optional)
        redials a busy line, no answer or a broken transmission; default: the account's
        setting. `send_at` (an aware datetime, or ISO 8601 text with a zone; from now to 30
        days ahead) schedules the fax: it stays `scheduled` until then.

        Every send carries an Idempotency-Key: `idempotency_key`, or a new random one. Retries
        reuse it, so a send whose answer was lost is answered with the fax it created instead of
        sending again. Pass your own (e.g. your order id) to make your own retries safe too,
        across processes and restarts: the API keeps keys for 24 hours.
        """
        if sum(given is not None for given in (file, url, files)) != 1:
            raise ValueError("Give exactly one of file=, files= and url=.")
        body: dict[str, Any] = {"to": to}
        if from_ is not None:
            body["from"] = from_
        if file is not None:
            body["document"] = _inline(file, content_type)
        elif files is not None:
            body["documents"] = [_inline(each, None) for each in files]
        else:
            body["document_url"] = url
        if cover_page is not None:
            body["cover_page"] = dict(cover_page)
        if header is not None:
            body["header"] = header
        if header_text is not None:
            body["header_text"] = header_text
        if client_reference is not None:
            body["client_reference"] = client_reference
        if retry is not None:
            body["retry"] = dict(retry)
        if send_at is not None:
            body["send_at"] = _send_at(send_at)
        answer = self._client.request(
            "POST",
            "/v1/faxes",
            json=body,
            idempotency_key=idempotency_key if idempotency_key is not None else str(uuid.uuid4()),
        )
        return Fax.from_dict(answer)

    def get(self, fax_id: str) -> Fax:
        """The fax with this id, as it is now. Raises `NotFound` for an unknown id, or one of
        another account or mode (live or test)."""
        return Fax.from_dict(self._client.request("GET", f"/v1/faxes/{quote(fax_id, safe='')}"))

    def preview(self, fax_id: str) -> bytes:
        """The fax's first page as PNG bytes, exactly as it is (or was) faxed: a sent fax's
        cover page and header line included, a received fax's first page. Raises
        `DocumentNotReady` while a URL document is still to be fetched, `DocumentGone` once the
        document was deleted, `NotFound` for an unknown id."""
        return self._client.request("GET", f"/v1/faxes/{quote(fax_id, safe='')}/preview", raw=True)

    def cancel(self, fax_id: str, *, idempotency_key: str | None = None) -> Fax:
        """Cancel the fax and return it. A `scheduled` or `queued` fax comes back `canceled`:
        it will never be sent. A `sending` fax comes back still `sending` with
        `cancel_requested_at` set; it ends `canceled` once the carrier stops it (or
        `delivered` if the carrier finished first). Raises `FaxNotCancelable` for a fax that
        has finished, `NotFound` for an unknown id. Carries an Idempotency-Key
        (`idempotency_key` or a new one), so that it is retried safely."""
        answer = self._client.request(
            "POST",
            f"/v1/faxes/{quote(fax_id, safe='')}/cancel",
            idempotency_key=idempotency_key if idempotency_key is not None else str(uuid.uuid4()),
        )
        return Fax.from_dict(answer)

    def resend(
        self,
        fax_id: str,
        *,
        to: str | None = None,
        from_: str | None = None,
        idempotency_key: str | None = None,
    ) -> Fax:
        """Send the stored document of fax `fax_id` again, as a new fax (returned, `queued`,
        with `resent_from` set); the original is unchanged. `to` defaults to the fax's own
        number, `from_` to its own sender; the new fax keeps its header options, `retry` and
        `client_reference`, and gets its own header line with its own send time. A received
        fax is forwarded: `to` is then required, and it leaves from the number it came in on.

        Raises `DocumentPurged` when the document was deleted, `DocumentNotReady` while a
        `document_url` is being fetched, `NotFound` for an unknown id. Carries an
        Idempotency-Key (`idempotency_key` or a new one), so that it is retried safely."""
        body: dict[str, Any] = {}
        if to is not None:
            body["to"] = to
        if from_ is not None:
            body["from"] = from_
        answer = self._client.request(
            "POST",
            f"/v1/faxes/{quote(fax_id, safe='')}/resend",
            json=body,
            idempotency_key=idempotency_key if idempotency_key is not None else str(uuid.uuid4()),
        )
        return Fax.from_dict(answer)

    def list(
        self,
        *,
        limit: int = 20,
        status: str | None = None,
        to: str | None = None,
        created_after: datetime | str | None = None,
        created_before: datetime | str | None = None,
        **filters: Any,
    ) -> Pages[Fax]:
        """Every fax that matches, newest first, fetched `limit` (1–100) at a time.

        Filters: `status` (`scheduled`, `queued`, `sending`, `delivered`, `failed`,
        `canceled`, `receiving`, `received`), `direction` (`outbound`, `inbound`), `to` (E.164),
        `created_after` / `created_before` (aware datetimes or ISO 8601 strings with a zone),
        and any filter the API adds later as a keyword. Iterate it (`for fax in …`), or take a
        few with `itertools.islice`; pages are fetched only as far as the iteration goes.
        """
        named = {
            "status": status,
            "to": to,
            "created_after": created_after,
            "created_before": created_before,
        }
        params = {
            name: _query_value(value)
            for name, value in {**named, **filters}.items()
            if value is not None
        }
        params["limit"] = str(limit)
        return Pages(self._client, "/v1/faxes", params, Fax.from_dict)


class Numbers:
    """The account's fax numbers: `client.numbers`."""

    def __init__(self, client: SendFaxMail) -> None:
        self._client = client

    def list(self) -> builtins.list[FaxNumber]:
        """The account's fax numbers, oldest first."""
        return list(Pages(self._client, "/v1/numbers", {}, FaxNumber.from_dict, page_param=None))
