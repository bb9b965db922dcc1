"""The Audit page: the audit log of the accounts the operator sees — API writes, console actions and security
events — filtered by who (an operator's e-mail or id, or an API key id), what (an endpoint name or its start;
security events only), when (from/to dates, UTC) and account, newest first, paged. Sign-in attempts belong to no
account: only admins see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from alephee.console import operators, web
from alephee.console.audit_reads import AuditFilters, search_audit
from alephee.console.sessions import ConsoleViewer
from alephee.errors import DomainError

router = APIRouter()


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """The filter form as typed (shown back in the form) and what it means."""

    account: str
    who: str
    key: str
    what: str
    security: bool
    since: str
    until: str
    page: int


def _day(raw: str) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(raw.strip()[:10]), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        return None


def _operator_id(session: Session, who: str) -> int | None:
    if not who:
        return None
    try:
        return operators.find_operator(session, who[:254]).id
    except DomainError:
        return -1  # nobody: no rows


def _with_page(request: Request, page: int) -> str:
    """This page's query string for another page number."""
    kept = [(name, value) for name, value in request.query_params.multi_items() if name != "page"]
    return urlencode([*kept, ("page", str(page))])


@router.get("/audit")
def audit(request: Request) -> Response:
    """The audit log, filtered and paged."""
    params = request.query_params
    query = AuditQuery(
        account=(params.get("account") or "")[:20],
        who=(params.get("who") or "").strip()[:254],
        key=(params.get("key") or "").strip()[:20],
        what=(params.get("what") or "").strip()[:80],
        security=params.get("security") == "on",
        since=(params.get("since") or "")[:10],
        until=(params.get("until") or "")[:10],
        page=max(1, web.number(params.get("page"), 1, upper=web.MAX_PAGE)),
    )

    def build(session: Session, viewer: ConsoleViewer) -> Response:
        account_id = viewer.require(web.number(query.account) or None) if query.account else None
        until = _day(query.until)
        filters = AuditFilters(
            account_ids=viewer.account_ids,
            include_unbound=viewer.is_admin,
            account_id=account_id,
            key_id=web.number(query.key) or None if query.key else None,
            operator_id=_operator_id(session, query.who),
            endpoint=query.what or None,
            security_only=query.security,
            since=_day(query.since),
            until=until + timedelta(days=1) if until else None,
        )
        size = web.ctx(request).settings.console_page_size
        found = search_audit(session, filters, offset=(query.page - 1) * size, limit=size)
        pages = max(1, -(-found.total // size))
        return web.render(
            request,
            "audit.html",
            viewer,
            section="audit",
            query=query,
            found=found,
            pages=pages,
            account_id=account_id,
            pager_query=lambda page: _with_page(request, page),
        )

    return web.page(request, build)
