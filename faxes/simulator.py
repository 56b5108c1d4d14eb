"""The simulated carrier: the embedded default, and what every test-mode fax goes through.

It answers like Telnyx and then reports the events Telnyx would over a few seconds (queued, media
processed, sending started, delivered or failed), built as `CarrierEvent`s and applied by the
same service as Telnyx's webhook; if those event tasks are lost, the sweeper's poll gets the
outcome from `get_fax`, as it would from Telnyx. The destination number chooses the outcome:

    +15550000002  busy                   +15550000005  transmission error after 1 page
    +15550000003  no answer              +15550000007  delivered, but only after 60 seconds
    +15550000004  invalid number         any other     delivered
    +15550000006  busy on the first call, delivered on the next (a redial)

A simulated fax can be canceled until its final step is due, as a Telnyx fax can until it is
past `sending`: the cancel is answered at once and reported half a second later as a failure.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import current_app

from faxes.carrier import CarrierFax, CarrierRejected, decode_client_state, encode_client_state
from faxes.events import EVENT_STATUS, CarrierEvent
from faxes.selectors import fax_by_carrier_id, fax_with_attempts


@dataclass(frozen=True)
class Outcome:
    event_type: str
    failure_reason: str | None = None
    pages: int | None = None  # pages delivered; None: all of them
    after_seconds: float = 4.0


OUTCOMES: dict[str, Outcome] = {
    "+15550000002": Outcome("fax.failed", "user_busy", pages=0),
    "+15550000003": Outcome("fax.failed", "receiver_no_answer", pages=0),
    "+15550000004": Outcome("fax.failed", "receiver_unallocated_number", pages=0),
    "+15550000005": Outcome("fax.failed", "fax_signaling_error", pages=1),
    "+15550000007": Outcome("fax.delivered", after_seconds=60.0),
}
DELIVERED = Outcome("fax.delivered")


@dataclass(frozen=True)
class Step:
    after_seconds: float
    event_type: str
    extra: dict[str, Any] = field(default_factory=dict)


# Busy on the first call only: what automatic redial is for.
BUSY_ONCE = "+15550000006"


def outcome_for(to: str, *, call: int = 1) -> Outcome:
    """The outcome of the `call`-th call to `to` (the busy number stays busy on every call)."""
    if to == BUSY_ONCE:
        return OUTCOMES["+15550000002"] if call == 1 else DELIVERED
    return OUTCOMES.get(to, DELIVERED)


def script(to: str, *, page_count: int | None, call: int = 1) -> list[Step]:
    """The events the `call`-th call of a simulated fax to `to` produces, with their delay
    after the send."""
    outcome = outcome_for(to, call=call)
    pages = page_count if outcome.pages is None else outcome.pages
    final: dict[str, Any] = {"page_count": pages}
    if outcome.failure_reason:
        final["failure_reason"] = outcome.failure_reason
    else:
        final["call_duration_secs"] = 20 + 15 * (pages or 1)
    steps = [Step(0.5, "fax.queued"), Step(1.0, "fax.media.processed")]
    if outcome.event_type == "fax.delivered" or outcome.pages:
        steps.append(Step(2.0, "fax.sending.started", {"status": "sending"}))
    steps.append(Step(outcome.after_seconds, outcome.event_type, final))
    return steps


def simulated_event(
    *,
    carrier_fax_id: str,
    index: int,
    to: str,
    from_: str,
    client_state: str,
    page_count: int | None,
    call: int = 1,
) -> CarrierEvent:
    """Step `index` of the script of a simulated fax of `page_count` pages to `to`, as the event
    Telnyx would report, with the payload it would carry. The event id is derived from the fax
    and step, so a replayed step is a duplicate, as a Telnyx retry would be."""
    step = script(to, page_count=page_count, call=call)[index]
    status = step.extra.get("status", step.event_type.removeprefix("fax.").replace(".", "_"))
    return CarrierEvent(
        event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{carrier_fax_id}/{index}")),
        event_type=step.event_type,
        occurred_at=datetime.now(UTC),
        carrier_fax_id=carrier_fax_id,
        client_state=client_state,
        status=EVENT_STATUS.get(step.event_type),
        page_count=step.extra.get("page_count"),
        failure_reason=step.extra.get("failure_reason"),
        payload={
            "fax_id": carrier_fax_id,
            "status": status,
            "to": to,
            "from": from_,
            "client_state": client_state,
            **{k: v for k, v in step.extra.items() if k != "status"},
        },
    )


def canceled_event(*, carrier_fax_id: str, to: str, from_: str, client_state: str) -> CarrierEvent:
    """The failure Telnyx reports once it has stopped a fax it was asked to cancel."""
    return CarrierEvent(
        event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{carrier_fax_id}/cancel")),
        event_type="fax.failed",
        occurred_at=datetime.now(UTC),
        carrier_fax_id=carrier_fax_id,
        client_state=client_state,
        status=EVENT_STATUS["fax.failed"],
        page_count=0,
        failure_reason=CANCELED_REASON,
        payload={
            "fax_id": carrier_fax_id,
            "status": "failed",
            "to": to,
            "from": from_,
            "client_state": client_state,
            "page_count": 0,
            "failure_reason": CANCELED_REASON,
        },
    )


CANCELED_REASON = "user_canceled"


def _call_number(client_state: str) -> int:
    """Which call of our fax this send is: one more than the calls it has finished."""
    fax = fax_with_attempts(fax_id=decode_client_state(client_state))
    return len(fax.attempts) + 1 if fax is not None else 1


class SimulatorCarrier:
    """Has the methods of TelnyxClient that the pipeline uses; dials no one."""

    name = "simulator"

    def upload_media(self, *, name: str, content: bytes, ttl_secs: int = 3600) -> str:
        return name

    def send_fax(
        self,
        *,
        to: str,
        from_: str,
        media_name: str,
        client_state: str,
        webhook_url: str,
    ) -> CarrierFax:
        carrier_fax_id = f"sim-{uuid.uuid4()}"
        call = _call_number(client_state)
        for index, step in enumerate(script(to, page_count=None, call=call)):
            # By task name: the simulator must not import the task module (it imports services).
            current_app.send_task(
                "faxes.tasks.simulator_step_task",
                kwargs={
                    "carrier_fax_id": carrier_fax_id,
                    "index": index,
                    "to": to,
                    "from_": from_,
                    "client_state": client_state,
                    "call": call,
                },
                countdown=step.after_seconds,
            )
        return CarrierFax(
            id=carrier_fax_id,
            status="queued",
            to=to,
            from_=from_,
            client_state=client_state,
            created_at=datetime.now(UTC).isoformat(),
            page_count=None,
            failure_reason=None,
        )

    def get_fax(self, fax_id: str) -> CarrierFax:
        """Where the simulated fax's script has got to, for the sweeper's poll when its event
        tasks were lost: `sending` until the final step is due, then the scripted outcome.

        The simulator's record of its faxes is our own row, found by the id it gave.
        """
        fax = fax_by_carrier_id(carrier_fax_id=fax_id)
        if fax is None:
            raise CarrierRejected(
                "The simulator has no such fax.", status_code=404, detail="Fax not found."
            )
        final = script(fax.to_number, page_count=fax.page_count, call=len(fax.attempts) + 1)[-1]
        sent_at = fax.submitted_at or fax.created_at
        done = datetime.now(UTC) >= sent_at + timedelta(seconds=final.after_seconds)
        return CarrierFax(
            id=fax_id,
            status=final.event_type.removeprefix("fax.") if done else "sending",
            to=fax.to_number,
            from_=fax.from_number,
            client_state=encode_client_state(fax.id),
            created_at=sent_at.isoformat(),
            page_count=final.extra["page_count"] if done else None,
            failure_reason=final.extra.get("failure_reason") if done else None,
        )

    def cancel_fax(self, fax_id: str) -> None:
        """Accept the cancel of a simulated fax whose final step is not yet due, and report the
        failure that follows; else refuse it with a 422, as Telnyx does past `sending`."""
        fax = fax_by_carrier_id(carrier_fax_id=fax_id)
        if fax is None:
            raise CarrierRejected(
                "The simulator has no such fax.", status_code=404, detail="Fax not found."
            )
        final = script(fax.to_number, page_count=fax.page_count, call=len(fax.attempts) + 1)[-1]
        sent_at = fax.submitted_at or fax.created_at
        if datetime.now(UTC) >= sent_at + timedelta(seconds=final.after_seconds):
            raise CarrierRejected(
                "The simulated fax is past sending.",
                status_code=422,
                detail="The fax can no longer be canceled.",
            )
        current_app.send_task(
            "faxes.tasks.simulator_cancel_task",
            kwargs={
                "carrier_fax_id": fax_id,
                "to": fax.to_number,
                "from_": fax.from_number,
                "client_state": encode_client_state(fax.id),
            },
            countdown=0.5,
        )

    def find_faxes(self, *, to: str, created_after: datetime) -> list[CarrierFax]:
        return []
