"""The Overview page: per account and channel, whether it is connected (and why not), token expiry, last sync,
orders of the last 24 hours, listings by state, outbox queue and failures and the inbox lag; and the charts of
orders per day per marketplace and of the sync latency (p50/p99) over the last 30 days."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from alephee import clock
from alephee.channels import connections
from alephee.console import charts, health, web
from alephee.console.sessions import ConsoleViewer
from alephee.http.i18n import N_

# Why a channel is not connected, as the pages say it (a marketplace's own error is shown as it came).
REASONS = {
    health.REASON_NEVER: N_("Never connected"),
    health.REASON_DISCONNECTED: N_("Disconnected by an operator"),
    health.REASON_NO_CONNECTOR: N_("No connector for this channel"),
}
ORDERS_CHART = N_("Orders per day per marketplace")
LATENCY_CHART = N_("Sync latency per day (seconds)")
NO_DATA = N_("No data in the last 30 days")

router = APIRouter()


def duration(seconds: float | None) -> str:
    """A wait in seconds, short (``45 s``, ``12 min``, ``3 h``, ``2 d``); ``—`` for none."""
    if seconds is None:
        return "—"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


web.templates.env.filters["duration"] = duration


def reason_text(request: Request, reason: str | None) -> str | None:
    """A channel's not-connected reason in the request's language."""
    if reason is None:
        return None
    known = REASONS.get(reason)
    return web.translate(request, known) if known else reason


@router.get("/overview")
def overview(request: Request) -> Response:
    """The state of every channel of the operator's accounts, and the 30-day charts."""

    def build(session: Session, viewer: ConsoleViewer) -> Response:
        now = clock.utcnow()
        accounts = web.accounts_shown(viewer, request.query_params.get("account"))
        rows = health.channel_health(session, accounts, now, connectors=connections.AUTHORIZERS)
        days = health.chart_days(now)
        empty = web.translate(request, NO_DATA)
        orders_chart = charts.line_chart(
            web.translate(request, ORDERS_CHART), days, health.orders_per_day(session, accounts, now), empty=empty
        )
        latency_chart = charts.line_chart(
            web.translate(request, LATENCY_CHART), days, health.sync_latency(session, accounts, now), empty=empty
        )
        return web.render(
            request,
            "overview.html",
            viewer,
            section="overview",
            rows=rows,
            now=now,
            reason=lambda r: reason_text(request, r),
            orders_chart=orders_chart,
            latency_chart=latency_chart,
        )

    return web.page(request, build)
