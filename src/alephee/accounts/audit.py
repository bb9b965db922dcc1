"""The audit log of authenticated writes and security events: one row per request the middleware judged worth
keeping (``http.observe.needs_audit``), written after the response with its own transaction."""

from __future__ import annotations

import logging

from alephee.accounts.models import AuditEntry
from alephee.db import Database
from alephee.http.observe import RequestRecord

log = logging.getLogger("alephee.audit")


def write_audit(db: Database, record: RequestRecord, query: str = "") -> None:
    """Insert the audit row; a failure is logged, never surfaced to the client (the response is sent)."""
    try:
        with db.writing() as session:
            session.add(
                AuditEntry(
                    request_id=record.request_id,
                    key_id=record.key_id,
                    account_id=record.account_id,
                    method=record.method,
                    endpoint=record.endpoint[:80],
                    path=record.path[:300],
                    status=record.status,
                    items=record.items,
                    duration_ms=int(record.duration * 1000),
                    event=record.event,
                    query=query,
                )
            )
    except Exception:
        log.exception("could not write the audit entry of request %s", record.request_id)
