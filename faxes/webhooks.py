"""POST /webhooks/telnyx: the only place that hears from Telnyx.

The signature is checked on the raw bytes before anything is parsed. Then the event is stored
once (its id is unique) and applied; a duplicate or an event for a fax we do not know answers
200, so Telnyx stops retrying. The work is a few indexed queries, well under Telnyx's 2 s.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from faxes.events import EventError, parse_event
from faxes.services.carrier_events import fax_apply_carrier_event
from sendfaxmail.lib.signing import InvalidTimestamp, SignatureError, verify_telnyx_signature

logger = logging.getLogger(__name__)


def _answer(status: int, message: str) -> JsonResponse:
    return JsonResponse({"status": message}, status=status)


def _refuse_constant(name: str) -> None:
    # NaN and Infinity parse in Python but are not JSON, and PostgreSQL refuses them in jsonb.
    raise ValueError(f"{name} is not JSON")


@csrf_exempt
@require_POST
def telnyx_webhook(request: HttpRequest) -> JsonResponse:
    if not settings.TELNYX_PUBLIC_KEY:
        # Never accept an unsigned event: without a key nothing can be verified.
        logger.error("Telnyx webhook refused: TELNYX_PUBLIC_KEY is not configured")
        return _answer(403, "webhook signing key not configured")
    try:
        verify_telnyx_signature(
            body=request.body,
            timestamp=request.headers.get("telnyx-timestamp"),
            signature=request.headers.get("telnyx-signature-ed25519"),
            public_key=settings.TELNYX_PUBLIC_KEY,
        )
    except InvalidTimestamp as error:
        logger.warning("Telnyx webhook refused: %s", error)
        return _answer(400, "invalid timestamp")
    except SignatureError as error:
        logger.warning("Telnyx webhook refused: %s", error)
        return _answer(401, "invalid signature")
    except ValueError:
        # The configured key is unusable (`manage.py check --deploy` says so): Telnyx retries a
        # 503, so no event is lost once it is fixed, and the log says why once per webhook.
        logger.error("Telnyx webhook refused: TELNYX_PUBLIC_KEY is not base64 of 32 bytes")
        return _answer(503, "webhook signing key unusable")
    try:
        event = parse_event(json.loads(request.body, parse_constant=_refuse_constant))
    except (EventError, ValueError, RecursionError) as error:
        logger.warning("Telnyx webhook body not understood: %s", error)
        return _answer(400, "unreadable event")
    outcome = fax_apply_carrier_event(event=event, source="carrier")
    return _answer(200, outcome)
