"""Carrier events in one shape, whoever reported them: Telnyx's webhook or the simulator.

Telnyx posts `{"data": {"event_type", "id", "occurred_at", "payload": {"fax_id", "status",
"client_state", "page_count", "failure_reason", …}}}`. `parse_event` reads that shape (and raises
EventError for anything else); the status and failure mappings live here too.

Inbound faxes come in the same shape with `direction: "inbound"` and the fields `from`, `to` and
`media_url`. Telnyx's documents disagree on whether `fax.received` is an event type or only a
status, so for inbound faxes the payload's `direction` and `status` are the truth, and the event
type is used only when the status says nothing we know.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from faxes.documents import MAX_PAGES
from faxes.models import FaxStatus

# Telnyx event type -> the status it moves a fax to (None: history only).
EVENT_STATUS: dict[str, FaxStatus | None] = {
    "fax.queued": None,
    "fax.media.processed": None,
    "fax.sending.started": FaxStatus.SENDING,
    "fax.delivered": FaxStatus.DELIVERED,
    "fax.failed": FaxStatus.FAILED,
}

# Inbound: Telnyx's event type, or its payload status, -> the status it moves a received fax to.
INBOUND_EVENT_STATUS: dict[str, FaxStatus] = {
    "fax.receiving.started": FaxStatus.RECEIVING,
    "fax.media.processing.started": FaxStatus.RECEIVING,
    "fax.received": FaxStatus.RECEIVED,
    "fax.failed": FaxStatus.FAILED,
}
INBOUND_PAYLOAD_STATUS: dict[str, FaxStatus] = {
    "receiving": FaxStatus.RECEIVING,
    "media.processing": FaxStatus.RECEIVING,
    "received": FaxStatus.RECEIVED,
    "failed": FaxStatus.FAILED,
}
# Event types only an inbound fax has, whatever the payload's direction says.
INBOUND_ONLY_EVENTS = frozenset(
    {"fax.receiving.started", "fax.media.processing.started", "fax.received"}
)

# Telnyx's free-text failure reasons -> our short documented codes. Anything else is
# `carrier_error`; the message always carries Telnyx's own words.
FAILURE_CODES: dict[str, str] = {
    "user_busy": "busy",
    "busy": "busy",
    "receiver_busy": "busy",
    "receiver_no_answer": "no_answer",
    "no_answer": "no_answer",
    "receiver_no_response": "no_answer",
    "call_timeout": "no_answer",
    "receiver_unallocated_number": "invalid_number",
    "destination_invalid": "invalid_number",
    "destination_unreachable": "invalid_number",
    "invalid_number_format": "invalid_number",
    "receiver_invalid_number_format": "invalid_number",
    "destination_not_in_service": "invalid_number",
    "not_a_fax_machine": "not_a_fax_machine",
    "receiver_not_a_fax_machine": "not_a_fax_machine",
    "receiver_call_rejected": "rejected",
    "call_rejected": "rejected",
    "receiver_decline": "rejected",
    "fax_signaling_error": "transmission_error",
    "receiver_communication_error": "transmission_error",
    "receiver_call_dropped": "transmission_error",
    "sender_call_dropped": "transmission_error",
    "fax_transmission_error": "transmission_error",
    "receiver_incompatible_destination": "transmission_error",
    "file_format_invalid": "document_invalid",
    "file_download_failed": "document_invalid",
    "media_processing_failed": "document_invalid",
    "page_count_exceeded": "document_invalid",
    "account_disabled": "carrier_rejected",
    "connection_channel_limit_exceeded": "carrier_error",
}

FAILURE_MESSAGES: dict[str, str] = {
    "busy": "The receiving line was busy.",
    "no_answer": "The receiving number did not answer.",
    "invalid_number": "The number is not in service or cannot be reached.",
    "not_a_fax_machine": "A person or voicemail answered, not a fax machine.",
    "rejected": "The receiving side rejected the call.",
    "transmission_error": "The fax machines lost their connection during the transmission.",
    "document_invalid": "The carrier could not process the document.",
    "carrier_rejected": "The carrier refused the fax.",
    "carrier_error": "The carrier could not deliver the fax.",
}


class EventError(ValueError):
    """The body is not a carrier fax event we can read."""


# Telnyx payloads are two or three levels deep. Anything much deeper is refused before it is
# walked (recursively, here and by the JSON encoder that stores it).
MAX_PAYLOAD_DEPTH = 16


@dataclass(frozen=True)
class CarrierEvent:
    event_id: str
    event_type: str
    occurred_at: datetime
    carrier_fax_id: str | None
    client_state: str | None
    status: FaxStatus | None
    page_count: int | None
    failure_reason: str | None  # the carrier's own words
    payload: dict[str, Any]
    inbound: bool = False
    from_: str = ""  # inbound: the sender as the carrier gave it, possibly empty
    to: str | None = None
    media_url: str | None = None


def failure_for(carrier_reason: str | None) -> tuple[str, str]:
    """Our failure code and a message for a carrier's failure reason."""
    code = FAILURE_CODES.get((carrier_reason or "").strip().lower(), "carrier_error")
    message = FAILURE_MESSAGES[code]
    if carrier_reason:
        message = f"{message} (carrier reason: {carrier_reason})"
    return code, message


def parse_event(body: Any) -> CarrierEvent:
    """Read a Telnyx-shaped event. EventError for anything that is not one."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("payload"), dict):
        raise EventError("no data.payload object")
    event_id, event_type = data.get("id"), data.get("event_type")
    if (
        not isinstance(event_id, str)
        or not 0 < len(event_id) <= 64
        or not isinstance(event_type, str)
    ):
        raise EventError("no event id or type")
    occurred_at = _time(data.get("occurred_at"))
    if occurred_at is None:
        raise EventError("no occurred_at time with a zone")
    if not _depth_within(data["payload"], MAX_PAYLOAD_DEPTH):
        raise EventError("payload nested too deeply")
    # Text columns refuse NUL bytes; a signed body still must not be able to make us fail.
    payload = _without_nul(data["payload"])
    for name in ("fax_id", "client_state"):
        if payload.get(name) is not None and not isinstance(payload[name], str):
            raise EventError(f"{name} is not a string")
    if len(payload.get("fax_id") or "") > 64:
        raise EventError("fax_id too long")
    page_count = payload.get("page_count")
    if not isinstance(page_count, int) or not 0 <= page_count <= MAX_PAGES:
        page_count = None
    inbound = payload.get("direction") == "inbound" or event_type in INBOUND_ONLY_EVENTS
    media_url = payload.get("media_url")
    return CarrierEvent(
        event_id=event_id.replace("\x00", ""),
        event_type=event_type[:64].replace("\x00", ""),
        occurred_at=occurred_at,
        carrier_fax_id=_text(payload.get("fax_id")),
        client_state=_text(payload.get("client_state")),
        status=_inbound_status(event_type, payload) if inbound else EVENT_STATUS.get(event_type),
        page_count=page_count,
        failure_reason=_text(payload.get("failure_reason")),
        payload=payload,
        inbound=inbound,
        from_=payload["from"][:64] if isinstance(payload.get("from"), str) else "",
        to=_text(payload.get("to")),
        media_url=media_url if isinstance(media_url, str) and 0 < len(media_url) <= 2048 else None,
    )


def _inbound_status(event_type: str, payload: dict[str, Any]) -> FaxStatus | None:
    """The payload's status when it is one we know, else the event type's."""
    status = payload.get("status")
    if isinstance(status, str) and status in INBOUND_PAYLOAD_STATUS:
        return INBOUND_PAYLOAD_STATUS[status]
    return INBOUND_EVENT_STATUS.get(event_type)


def _time(value: Any) -> datetime | None:
    """An aware time in UTC, within the years a database stores; None otherwise."""
    try:
        moment = parse_datetime(value) if isinstance(value, str) else None
        if moment is None or moment.tzinfo is None:
            return None
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return moment if 2000 <= moment.year <= 2999 else None


def _depth_within(container: dict | list, limit: int) -> bool:
    """Whether `container` nests no more than `limit` containers deep; iterative, so it cannot
    itself run out of stack."""
    stack = [(container, 1)]
    while stack:
        item, depth = stack.pop()
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                if depth >= limit:
                    return False
                stack.append((child, depth + 1))
    return True


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def _text(value: Any) -> str | None:
    return value[:256] if isinstance(value, str) and value else None
