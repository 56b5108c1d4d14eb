"""The API's objects as typed, immutable dataclasses.

Each has `from_dict()` that reads the JSON the API answers with, and keeps that JSON in `raw`
so that fields added to the API after this version stay reachable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "FINAL_STATUSES",
    "Fax",
    "FaxAttempt",
    "FaxDocument",
    "FaxNumber",
    "FaxRetry",
    "parse_datetime",
]

# A fax in one of these states will not change again.
FINAL_STATUSES = frozenset({"delivered", "failed", "canceled", "received"})


def parse_datetime(value: str) -> datetime:
    """An ISO 8601 time as the API writes it (`2026-11-26T23:00:00Z`) as an aware datetime.

    Python 3.10's `fromisoformat` does not read a `Z`, so it is rewritten as `+00:00` first.
    """
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def _optional_datetime(value: Any) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) and value else None


@dataclass(frozen=True)
class FaxDocument:
    """What was sent: `source` is `inline`, `url`, `copy` (a resend) or `carrier` (received);
    `url` is set only for `url`. `count`
    documents are faxed as one, after a cover page when `cover_page`; `header` says whether the
    header line is stamped on every page."""

    source: str
    content_type: str | None
    size_bytes: int | None
    url: str | None = None
    count: int = 1
    cover_page: bool = False
    header: bool = True

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaxDocument:
        return cls(
            source=data["source"],
            content_type=data.get("content_type"),
            size_bytes=data.get("size_bytes"),
            url=data.get("url"),
            count=data.get("count", 1),
            cover_page=bool(data.get("cover_page", False)),
            header=bool(data.get("header", True)),
        )


@dataclass(frozen=True)
class FaxRetry:
    """Automatic redial: up to `attempts` more calls after the first, `interval_seconds` apart,
    when the line is busy, nobody answers or the transmission breaks."""

    attempts: int
    interval_seconds: int

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaxRetry:
        return cls(attempts=data["attempts"], interval_seconds=data["interval_seconds"])


@dataclass(frozen=True)
class FaxAttempt:
    """One finished call of a fax: `number` 1 for the first; `status` `delivered` or
    `failed` (then `failure_reason`)."""

    number: int
    started_at: datetime | None
    completed_at: datetime
    status: str
    failure_reason: str | None
    pages_delivered: int | None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaxAttempt:
        return cls(
            number=data["number"],
            started_at=_optional_datetime(data.get("started_at")),
            completed_at=parse_datetime(data["completed_at"]),
            status=data["status"],
            failure_reason=data.get("failure_reason"),
            pages_delivered=data.get("pages_delivered"),
        )


@dataclass(frozen=True)
class Fax:
    """A fax. `status` is `scheduled` (until `send_at`), `queued` (also between redials, until
    `next_attempt_at`), `sending`, `delivered`, `failed` or `canceled`; a received fax is
    `receiving`, then `received` or `failed`. `failure_reason` is set when it failed (`busy`,
    `no_answer`, …); `cancel_requested_at` is set while a cancel asked of the carrier is
    pending; `attempts` lists the finished calls; `resent_from` is the id of the fax a resend
    copies. `from_` is the API's `from` (a Python keyword)."""

    id: str
    livemode: bool
    status: str
    to: str
    from_: str
    page_count: int | None
    pages_delivered: int | None
    document: FaxDocument
    client_reference: str | None
    failure_reason: str | None
    failure_message: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    cancel_requested_at: datetime | None = None
    direction: str = "outbound"
    retry: FaxRetry | None = None
    attempts: tuple[FaxAttempt, ...] = ()
    next_attempt_at: datetime | None = None
    send_at: datetime | None = None
    resent_from: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        """True once the fax is delivered, failed, canceled or received: its status will not
        change again."""
        return self.status in FINAL_STATUSES

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fax:
        return cls(
            id=data["id"],
            livemode=bool(data.get("livemode", True)),
            status=data["status"],
            to=data["to"],
            from_=data["from"],
            page_count=data.get("page_count"),
            pages_delivered=data.get("pages_delivered"),
            document=FaxDocument.from_dict(data.get("document") or {"source": "unknown"}),
            client_reference=data.get("client_reference"),
            failure_reason=data.get("failure_reason"),
            failure_message=data.get("failure_message"),
            created_at=parse_datetime(data["created_at"]),
            updated_at=parse_datetime(data["updated_at"]),
            completed_at=_optional_datetime(data.get("completed_at")),
            cancel_requested_at=_optional_datetime(data.get("cancel_requested_at")),
            direction=data.get("direction", "outbound"),
            retry=FaxRetry.from_dict(data["retry"]) if data.get("retry") else None,
            attempts=tuple(FaxAttempt.from_dict(each) for each in data.get("attempts") or ()),
            next_attempt_at=_optional_datetime(data.get("next_attempt_at")),
            send_at=_optional_datetime(data.get("send_at")),
            resent_from=data.get("resent_from"),
            raw=data,
        )


@dataclass(frozen=True)
class FaxNumber:
    """One of the account's fax numbers: a `from_` for sends."""

    id: str
    number: str
    label: str
    created_at: datetime
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaxNumber:
        return cls(
            id=data["id"],
            number=data["number"],
            label=data.get("label") or "",
            created_at=parse_datetime(data["created_at"]),
            raw=data,
        )
