"""Accepting a send: the sender's number, the document, and the Idempotency-Key, entirely.

`fax_accept` runs the checks of a send in order of cost (the sender's number, then the inline
document: size, magic bytes and declared type before any conversion), then stores the fax at
most once per Idempotency-Key. It returns a domain result, `FaxAccepted`; the API turns that
into a status, a body and headers.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from accounts.models import Account
from developers.models import ApiKey
from faxes.documents import (
    DocumentError,
    PreparedDocument,
    check_document,
    convert_document,
    decode_base64,
)
from faxes.documents.base import MAX_PAGES, check_size
from faxes.documents.compose import TOTAL_PARAM, CoverPage, FaxParties, assemble
from faxes.models import DocumentSource, Fax, FaxStatus, IdempotencyKey
from faxes.selectors import (
    fax_from_number_allowed,
    fax_from_number_default,
)
from faxes.serializers import fax_public
from faxes.services.compose import ComposedFax, compose_preview
from faxes.services.documents import fax_parts_delete
from faxes.services.pipeline import fax_pipeline_start
from sendfaxmail.lib.api import LargeString
from sendfaxmail.lib.sql import insert_prepared

IDEMPOTENCY_TTL = timedelta(hours=24)
# How long a request waits for another request holding the same Idempotency-Key before it is
# told to retry (IdempotencyConflict(in_progress)). The holder's transaction only stores rows
# and a file, so this is short.
IDEMPOTENCY_WAIT = "500ms"
IDEMPOTENCY_KEY = re.compile(r"^[\x20-\x7e]{1,255}$")
# The idempotency record keeps the status of the answer it replays: every stored answer is the
# creation of a fax.
_CREATED = 201


@dataclass(frozen=True)
class InlineDocument:
    """A document sent in the request: base64 `content` of the declared `content_type` (None for
    a file uploaded from a browser, whose type is taken from its magic bytes)."""

    content: str | LargeString
    content_type: str | None


@dataclass(frozen=True)
class UrlDocument:
    """A document the worker fetches from `url`."""

    url: str


@dataclass(frozen=True)
class FaxRequest:
    """A send whose fields have the right shape; `from_number` None means the default.

    The document comes in one of three forms: `document`, `document_url`, or `documents` (1 to
    10, faxed in order).
    """

    to: str
    from_number: str | None
    document: InlineDocument | None
    document_url: str | None
    client_reference: str | None
    # Automatic redial; None: the account's setting.
    retry_attempts: int | None = None
    retry_interval_seconds: int | None = None
    documents: tuple[InlineDocument | UrlDocument, ...] = ()
    cover_page: CoverPage | None = None
    header: bool = True
    header_text: str = ""
    # Scheduling: an aware time, already checked (from now to 30 days ahead); None: at once.
    send_at: datetime | None = None

    def parts(self) -> list[tuple[str, InlineDocument | UrlDocument]]:
        """The documents in order, each with the param that names it in errors."""
        if self.documents:
            return [(f"documents[{i}]", part) for i, part in enumerate(self.documents)]
        if self.document is not None:
            return [("document", self.document)]
        return [("document", UrlDocument(self.document_url or ""))]


@dataclass(frozen=True)
class FaxAccepted:
    """A send accepted now, or an earlier one `replayed` for its Idempotency-Key.

    `representation` is the fax as it was shown when it was accepted (`fax_public`): a replay
    answers exactly what the first request got.
    """

    fax_id: str | None
    representation: dict[str, Any]
    replayed: bool = False


class FromNumberRefused(Exception):
    """The account has no number to send from, or `from` is not one of its numbers."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class IdempotencyConflict(Exception):
    """The key was used with a different request (`reused`) or its first request still runs."""

    def __init__(self, *, in_progress: bool) -> None:
        super().__init__("in progress" if in_progress else "reused")
        self.in_progress = in_progress


def idempotency_key_is_valid(value: str) -> bool:
    """Whether `value` may be an Idempotency-Key: 1 to 255 printable ASCII characters."""
    return IDEMPOTENCY_KEY.match(value) is not None


def request_fingerprint(*, method: str, path: str, body: Any) -> str:
    """Hash of the method, path and canonical JSON body (key order does not matter). A
    document's base64 content enters by its SHA-256, so that a 20 MB body is not serialised
    once more just to be hashed."""
    canonical = json.dumps(
        _without_content(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


# Hashing a document's text this much at a time needs no copy of the whole text.
_HASH_CHUNK = 1024 * 1024


def _without_content(body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    body = {**body, "document": _content_digested(body.get("document"))}
    if isinstance(body.get("documents"), list):
        body["documents"] = [_content_digested(item) for item in body["documents"]]
    return body


def _content_digested(document: Any) -> Any:
    content = document.get("content") if isinstance(document, dict) else None
    if isinstance(content, LargeString):
        # The text's UTF-8 bytes, as the parser found them: the digest a str would give.
        digest = hashlib.sha256(content.view)
    elif isinstance(content, str):
        digest = hashlib.sha256()
        for start in range(0, len(content), _HASH_CHUNK):
            digest.update(content[start : start + _HASH_CHUNK].encode())
    else:
        return document
    return {**document, "content": f"sha256:{digest.hexdigest()}"}


def fax_from_number_choose(*, account: Account, requested: str | None) -> str:
    """The number to send from: `requested` when it is one of the account's numbers, else the
    account's first number. FromNumberRefused when there is none, or `requested` is not its."""
    if requested is None:
        number = fax_from_number_default(account=account)
        if number is None:
            raise FromNumberRefused(
                "This account has no fax number to send from. Ask support to add one."
            )
        return number
    if not fax_from_number_allowed(account=account, number=requested):
        raise FromNumberRefused(
            f"'{requested}' is not one of this account's numbers (GET /v1/numbers)."
        )
    return requested


def inline_documents_prepare(
    parts: list[tuple[str, InlineDocument]], *, cover: CoverPage | None, parties: FaxParties
) -> PreparedDocument:
    """Decode and check inline documents, then convert them into the one PDF we fax (after the
    cover page, if any). Raises DocumentError as `inline_documents_convert` does, or
    DocumentError(param="documents") when the whole has more than 350 pages."""
    return assemble(inline_documents_convert(parts), cover=cover, parties=parties)


def inline_documents_convert(parts: list[tuple[str, InlineDocument]]) -> list[PreparedDocument]:
    """Decode, check and convert inline documents, each into a PDF, in order. The expensive step
    of a send, so every document's cheap checks (base64, declared type, size, magic bytes) and
    the total size come before any conversion. Raises DocumentError naming the document at
    fault (`documents[2].content`), or `documents` for the totals."""
    checked = []
    for param, document in parts:
        with _named(param):
            data = decode_base64(document.content)
            checked.append((param, data, check_document(data, declared_type=document.content_type)))
    if len(checked) > 1:
        with _named(TOTAL_PARAM, whole=True):
            check_size(sum(len(data) for _, data, _ in checked), limit=settings.MAX_DOCUMENT_BYTES)
    prepared = []
    for param, data, content_type in checked:
        with _named(param):
            prepared.append(convert_document(data, content_type=content_type))
    return prepared


def fax_preview(*, account: Account, request: FaxRequest) -> ComposedFax:
    """The fax `request` would send now, composed in memory (cover page and header included)
    and stored nowhere: the dashboard's preview step. The checks are `fax_accept`'s, in the
    same order (the sender's number, then the documents, then their pages in all), so that a
    preview refuses what the send would refuse, with the same errors. For inline documents
    only (the dashboard's uploads): a URL document is fetched by the worker, never here."""
    from_number = fax_from_number_choose(account=account, requested=request.from_number)
    return compose_preview(
        documents=inline_documents_convert(request.parts()),  # type: ignore[arg-type]
        cover=request.cover_page,
        header=request.header,
        header_text=request.header_text,
        account=account,
        from_number=from_number,
        to=request.to,
    )


@contextmanager
def _named(param: str, *, whole: bool = False) -> Iterator[None]:
    """Re-address a DocumentError about "document…" to `param` (e.g. `documents[2].content`);
    with `whole`, to `param` itself."""
    try:
        yield
    except DocumentError as error:
        if param != "document":
            suffix = "" if whole else (error.param or "").removeprefix("document")
            error.param = f"{param}{suffix}"
            if whole:
                error.message = error.message.replace("The document is", "The documents are")
        raise


def fax_accept(
    *,
    account: Account,
    api_key: ApiKey | None,
    livemode: bool,
    request: FaxRequest,
    idempotency_key: str | None,
    fingerprint: str,
) -> FaxAccepted:
    """Accept a send, at most once per Idempotency-Key.

    Raises FromNumberRefused, DocumentError (the inline document cannot be faxed) or
    IdempotencyConflict. The key is claimed by inserting its row in the same transaction that
    creates the fax, under a unique constraint: of N simultaneous identical requests one
    inserts, the others wait for it and then replay its answer (or, if it takes too long, get
    IdempotencyConflict(in_progress)). A request that fails rolls its claim back with it, so a
    crash never locks a key.
    """
    from_number = fax_from_number_choose(account=account, requested=request.from_number)
    parts = request.parts()
    prepared = None
    mixed: list[PreparedDocument | str] = []
    if all(isinstance(part, InlineDocument) for _, part in parts):
        prepared = inline_documents_prepare(
            parts,  # type: ignore[arg-type]
            cover=request.cover_page,
            parties=FaxParties(account.name, from_number, request.to),
        )
    elif any(isinstance(part, InlineDocument) for _, part in parts):
        mixed = _mixed_documents_prepare(parts, cover=request.cover_page)
    urls = [part.url for _, part in parts if isinstance(part, UrlDocument)]

    def create() -> Fax:
        return fax_create(
            account=account,
            api_key=api_key,
            livemode=livemode,
            to=request.to,
            from_number=from_number,
            document=prepared,
            document_url=None if prepared else urls[0],
            document_urls=urls if len(urls) > 1 or mixed else [],
            document_parts=mixed,
            client_reference=request.client_reference,
            retry_attempts=request.retry_attempts,
            retry_interval_seconds=request.retry_interval_seconds,
            compose=FaxCompose(
                document_count=len(parts),
                cover_page=request.cover_page,
                header=request.header,
                header_text=request.header_text,
            ),
            send_at=request.send_at,
        )

    if idempotency_key is None:
        # One INSERT, its own transaction: BEGIN and COMMIT would be two more round trips.
        fax = create()
        return FaxAccepted(fax_id=fax.id, representation=fax_public(fax))

    scope = {"account": account, "livemode": livemode, "key": idempotency_key}
    existing = IdempotencyKey.objects.filter(**scope).first()
    if existing is not None:
        return _replay(existing, fingerprint)
    try:
        with _documents_removed_on_failure() as created, transaction.atomic():
            _claim_wait_limit()
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    **scope, fingerprint=fingerprint, response_status=0, response_body={}
                )
            _lift_wait_limit()
            fax = create()
            created.append(fax)
            record.fax = fax
            record.response_status = _CREATED
            record.response_body = fax_public(fax)
            record.save(update_fields=["fax", "response_status", "response_body"])
    except IntegrityError:
        # Another request with this key committed first: answer as it did.
        return _replay(IdempotencyKey.objects.get(**scope), fingerprint)
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) == "55P03":  # lock_not_available
            raise IdempotencyConflict(in_progress=True) from None
        raise
    return FaxAccepted(fax_id=fax.id, representation=record.response_body)


@dataclass(frozen=True)
class IdempotentAnswer:
    """An answer to a request that may carry an Idempotency-Key: its HTTP status, its body and
    the fax it is about; `replayed` when it is the stored answer to an earlier request."""

    status: int
    body: dict[str, Any]
    fax_id: str | None
    replayed: bool = False


def idempotently(
    *,
    account: Account,
    livemode: bool,
    key: str | None,
    fingerprint: str,
    run: Callable[[], IdempotentAnswer],
) -> IdempotentAnswer:
    """`run()` at most once per Idempotency-Key `key` (any request about a fax but its send,
    which `fax_accept` handles). The key is claimed in the transaction that runs it, as
    `fax_accept` claims it: a concurrent request waits, then replays the stored answer, or gets
    IdempotencyConflict(in_progress); an exception from `run` rolls the claim back (errors are
    not stored); a key used with another request is IdempotencyConflict(reused)."""
    if key is None:
        return run()
    scope = {"account": account, "livemode": livemode, "key": key}
    existing = IdempotencyKey.objects.filter(**scope).first()
    if existing is not None:
        return _replay_answer(existing, fingerprint)
    try:
        with transaction.atomic():
            _claim_wait_limit()
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    **scope, fingerprint=fingerprint, response_status=0, response_body={}
                )
            _lift_wait_limit()
            answer = run()
            record.fax_id = answer.fax_id
            record.response_status = answer.status
            record.response_body = answer.body
            record.save(update_fields=["fax", "response_status", "response_body"])
    except IntegrityError:
        return _replay_answer(IdempotencyKey.objects.get(**scope), fingerprint)
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) == "55P03":  # lock_not_available
            raise IdempotencyConflict(in_progress=True) from None
        raise
    return answer


def _replay_answer(record: IdempotencyKey, fingerprint: str) -> IdempotentAnswer:
    if record.fingerprint != fingerprint:
        raise IdempotencyConflict(in_progress=False)
    return IdempotentAnswer(
        status=record.response_status,
        body=record.response_body,
        fax_id=record.fax_id,
        replayed=True,
    )


def _mixed_documents_prepare(
    parts: list[tuple[str, InlineDocument | UrlDocument]], *, cover: CoverPage | None
) -> list[PreparedDocument | str]:
    """Inline and URL documents in one fax: the inline ones checked and converted now (a 400
    names the one at fault), the URLs left for the fetch worker. Returns the documents in order,
    each a PreparedDocument or a URL. The totals (20 MB, 350 pages) are checked for the inline
    documents here and for the whole once the URLs are fetched."""
    inline = [(param, part) for param, part in parts if isinstance(part, InlineDocument)]
    converted = iter(inline_documents_convert(inline))  # type: ignore[arg-type]
    ordered: list[PreparedDocument | str] = [
        part.url if isinstance(part, UrlDocument) else next(converted) for _, part in parts
    ]
    pages = sum(part.page_count for part in ordered if isinstance(part, PreparedDocument))
    if cover is not None:
        pages += 1
    if pages > MAX_PAGES:
        raise DocumentError(
            f"The inline documents (and cover page) already have {pages} pages; a fax may have "
            f"at most {MAX_PAGES}. Split them into several faxes.",
            param=TOTAL_PARAM,
        )
    return ordered


def fax_accept_replayed(
    *, account: Account, livemode: bool, idempotency_key: str, fingerprint: str
) -> FaxAccepted | None:
    """The stored answer to an earlier send with this Idempotency-Key and this very request,
    else None. For a retry that no longer passes validation although the first one did: a
    `send_at` that has passed since must replay the fax that was scheduled, not answer 400
    (which would make the client send it again under a new key)."""
    record = IdempotencyKey.objects.filter(
        account=account, livemode=livemode, key=idempotency_key
    ).first()
    if record is None or record.fingerprint != fingerprint or not record.response_status:
        return None
    return _replay(record, fingerprint)


def _replay(record: IdempotencyKey, fingerprint: str) -> FaxAccepted:
    if record.fingerprint != fingerprint:
        raise IdempotencyConflict(in_progress=False)
    return FaxAccepted(fax_id=record.fax_id, representation=record.response_body, replayed=True)


def _claim_wait_limit() -> None:
    """Make the claim insert give up quickly while another transaction holds the same key."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{IDEMPOTENCY_WAIT}'")


def _lift_wait_limit() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = DEFAULT")


@dataclass(frozen=True)
class FaxCompose:
    """How the fax is composed besides its documents: their count, the cover page, the header."""

    document_count: int = 1
    cover_page: CoverPage | None = None
    header: bool = True
    header_text: str = ""


def fax_create(
    *,
    account: Account,
    api_key: ApiKey | None,
    livemode: bool,
    to: str,
    from_number: str,
    document: PreparedDocument | None,
    document_url: str | None,
    client_reference: str | None,
    retry_attempts: int | None = None,
    retry_interval_seconds: int | None = None,
    compose: FaxCompose | None = None,
    document_urls: list[str] | None = None,
    document_parts: list[PreparedDocument | str] | None = None,
    send_at: datetime | None = None,
    resent_from: Fax | None = None,
) -> Fax:
    """Store an accepted fax and its document; processing starts once the transaction commits.

    `document_parts`, for a fax mixing inline and URL documents (then `document` is None): each
    document in order, a URL or an inline document converted already. The inline ones are
    stored now, encrypted like every document, each as its own object, until the fetch worker
    assembles them with the fetched ones (`Fax.document_parts`).

    With `send_at` the fax is `scheduled`: only a document still to be fetched (or copied) is
    processed now; `faxes_release_scheduled` queues the fax at `send_at`. With `resent_from`
    (and no `document`), the worker copies that fax's stored document.

    Inside a caller's transaction, the caller deletes the fax's stored objects if that
    transaction fails (`_documents_removed_on_failure`); a failure here removes them already.
    """
    fax = Fax(
        account=account,
        api_key=api_key,
        livemode=livemode,
        to_number=to,
        from_number=from_number,
        client_reference=client_reference,
        enqueued_at=timezone.now(),
        status=FaxStatus.SCHEDULED if send_at is not None else FaxStatus.QUEUED,
        send_at=send_at,
        resent_from=resent_from,
    )
    # The account's redial setting, where the request gives none: an API key's account carries
    # it from the authentication query (developers/selectors.py), a dashboard session's account
    # is the whole row.
    fax.retry_attempts = account.fax_retry_attempts if retry_attempts is None else retry_attempts
    fax.retry_interval_seconds = (
        account.fax_retry_interval_seconds
        if retry_interval_seconds is None
        else retry_interval_seconds
    )
    compose = compose or FaxCompose()
    fax.document_count = compose.document_count
    fax.cover_page = asdict(compose.cover_page) if compose.cover_page else None
    fax.header = compose.header
    fax.header_text = compose.header_text
    if document is not None:
        fax.document_source = DocumentSource.INLINE
        fax.document_content_type = document.content_type
        fax.document_size_bytes = document.size_bytes
        fax.document_sha256 = document.sha256
        fax.page_count = document.page_count
        fax.document.save(f"{fax.id}.pdf", ContentFile(document.pdf), save=False)
    elif resent_from is not None:
        fax.document_source = DocumentSource.COPY
        fax.document_content_type = resent_from.document_content_type
        fax.document_size_bytes = resent_from.document_size_bytes
        fax.document_sha256 = resent_from.document_sha256
        fax.page_count = resent_from.page_count
    else:
        fax.document_source = DocumentSource.URL
        fax.document_url = document_url or ""
        fax.document_urls = document_urls or []
        fax.document_parts = _parts_store(fax, document_parts or [])
    try:
        # The fax's history starts with its row (`fax_history`): one INSERT, no event row.
        insert_prepared(fax)
    except Exception:
        _stored_objects_delete(fax)
        raise
    # Robust: the fax is stored whatever the broker says; if it is down, the sweeper starts the
    # fax at its next run. The client must not get a 500 (and retry) for a fax already accepted.
    # A scheduled fax with its document has nothing to do before `send_at`.
    if fax.status == FaxStatus.QUEUED or not fax.document:
        transaction.on_commit(lambda: fax_pipeline_start(fax=fax), robust=True)
    return fax


@contextmanager
def _documents_removed_on_failure() -> Iterator[list[Fax]]:
    """Yield a list for the faxes created in a transaction inside this block; if the block
    raises (the transaction rolled back), their document files are deleted. Django has no
    rollback hook, so the files are removed here, where the failure is seen."""
    created: list[Fax] = []
    try:
        yield created
    except BaseException:
        for fax in created:
            _stored_objects_delete(fax)
        raise


def _parts_store(fax: Fax, parts: list[PreparedDocument | str]) -> list[dict[str, Any]]:
    """Store the inline documents among `parts`; return `Fax.document_parts` for them all."""
    stored: list[dict[str, Any]] = []
    try:
        for number, part in enumerate(parts):
            if isinstance(part, str):
                stored.append({"url": part})
                continue
            name = fax.document.storage.save(
                f"faxes/{fax.id}-part-{number}.pdf", ContentFile(part.pdf)
            )
            stored.append(
                {
                    "stored": name,
                    "page_count": part.page_count,
                    "content_type": part.content_type,
                    "size_bytes": part.size_bytes,
                    "sha256": part.sha256,
                }
            )
    except BaseException:
        fax.document_parts = stored
        _stored_objects_delete(fax)
        raise
    return stored


def _stored_objects_delete(fax: Fax) -> None:
    """Delete the fax's stored document and the inline documents waiting for a fetch."""
    if fax.document:
        fax.document.delete(save=False)
    fax_parts_delete(fax=fax)


def idempotency_keys_purge(*, older_than: timedelta = IDEMPOTENCY_TTL) -> int:
    """Delete keys past their retention (at least 24 hours). Returns how many went."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
