"""Request logs without query strings: `GET /v1/faxes?to=+15551234567` names a patient's fax
number, which is PHI and must not reach a log. Both the access log of gunicorn (production) and
that of `manage.py runserver` (the `django.server` logger, `make run`) keep the path only.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger

# A query string runs from "?" to the end of the URL: the next space or quote.
_QUERY = re.compile(r"""\?[^\s"']*""")


def without_query(text: str) -> str:
    """Drop every query string in `text` (a URL, a request line, a log message):
    `GET /v1/faxes?to=%2B15551234567 HTTP/1.1` -> `GET /v1/faxes HTTP/1.1`."""
    return _QUERY.sub("", text)


class QueryFreeLogger(Logger):
    """gunicorn's logger with query strings cleaned out of every access-log atom: the request
    line, the Referer, any header or environ atom; the query itself (`%(q)s`) is `-`."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        for name, value in atoms.items():
            if isinstance(value, str):
                atoms[name] = without_query(value)
        atoms["q"] = atoms["{query_string}e"] = "-"
        return atoms


class QueryFreeRequestLines(logging.Filter):
    """A logging filter for `django.server`: its records carry the request line as an arg."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                without_query(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True
