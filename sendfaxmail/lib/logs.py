"""Log records that carry the request id, as plain text or (LOG_FORMAT=json) one JSON object a
line. Settings name these by dotted path in LOGGING."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from sendfaxmail.lib import request_id

# The fields of the one line per request (sendfaxmail.lib.middleware), kept as JSON keys.
REQUEST_FIELDS = ("method", "route", "status", "duration_ms")


class RequestIdFilter(logging.Filter):
    """Give every record a `request_id`: the one of the request being answered, or `-`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.current() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, request_id, the request
    line's fields when present, and the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id.current(),
        }
        for name in REQUEST_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)
