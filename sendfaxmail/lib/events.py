"""The names of the events customers receive about their faxes, in one place: `faxes` emits
them and `developers` lets customers choose which ones their endpoints get."""

from __future__ import annotations

FAX_SENDING = "fax.sending"
FAX_DELIVERED = "fax.delivered"
FAX_FAILED = "fax.failed"
FAX_CANCELED = "fax.canceled"
# A busy line, no answer or a broken transmission; the fax is queued for another call.
FAX_RETRY_SCHEDULED = "fax.retry_scheduled"
FAX_RECEIVED = "fax.received"

# A fax's status -> the event that reports it (other statuses send none).
FAX_STATUS_EVENTS: dict[str, str] = {
    "sending": FAX_SENDING,
    "delivered": FAX_DELIVERED,
    "failed": FAX_FAILED,
    "canceled": FAX_CANCELED,
    "received": FAX_RECEIVED,
}
