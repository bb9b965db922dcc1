"""Logging of the long-running commands (``alephee serve``, ``alephee worker``): handlers, formats and levels
from the settings, as a ``logging.config.dictConfig`` mapping (uvicorn applies it in every server process).

* ``alephee.access``: one line per request on stdout (method, path without the query string, status,
  duration, key id, account, request id; never the key, the query string or a body), at INFO whatever
  ``ALEPHEE_LOG_LEVEL`` says; ``ALEPHEE_ACCESS_LOG=false`` turns it off.
* everything else (``alephee.*``, uvicorn, libraries) on stderr at ``ALEPHEE_LOG_LEVEL``.
* ``ALEPHEE_LOG_FORMAT=json``: one JSON object per line, ``time``, ``level``, ``logger``, ``message`` and, for
  access lines, the fields above (``method``, ``path``, ``status``, ``duration_ms``, ``key_id``,
  ``account_id``, ``request_id``); a traceback goes in ``exception``.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from alephee.config import Settings

ACCESS_LOGGER = "alephee.access"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record; structured fields given as ``extra={"fields": {...}}`` are merged in."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            data.update(fields)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def log_config(settings: Settings) -> dict[str, Any]:
    """The ``dictConfig`` of a server or worker process for ``settings``."""
    level = settings.log_level.upper()
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if settings.log_format == "json" else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"},
            "access": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "alephee": {"handlers": ["stderr"], "level": level, "propagate": False},
            ACCESS_LOGGER: {"handlers": ["access"], "level": "INFO", "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            # Ours is the access log (uvicorn's would print the query string, hence the key).
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }
