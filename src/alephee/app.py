"""The composition root: ``create_app()`` builds the FastAPI application (every domain router under ``/v2``, the
B2B portal, Swagger, health and metrics) and, with ``with_worker=True``, the outbox worker embedded in it with
the senders it delivers through (``registry.build_worker``)."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from alephee import __version__
from alephee.accounts.audit import write_audit
from alephee.accounts.auth import require_key
from alephee.accounts.routes import router as accounts
from alephee.channels.mercadolibre.routes import install as install_mercadolibre
from alephee.channels.models import ChannelConnection
from alephee.channels.tiendanube.routes import install as install_tiendanube
from alephee.config import Settings
from alephee.console.routes import install as install_console
from alephee.db import Database
from alephee.http import errors as http_errors
from alephee.http.body import EXTRA_SCHEMAS
from alephee.http.compression import CompressionMiddleware
from alephee.http.context import AppContext
from alephee.http.middleware import ApiMiddleware
from alephee.http.observe import (
    CHANNEL_CONNECTIONS,
    METRICS_TOKEN_REQUIRED,
    ORDER_CACHE,
    OUTBOX_DEPTH,
    TABLE_ROWS,
    metrics_allowed,
    render_metrics,
)
from alephee.http.openapi import finish as finish_openapi
from alephee.http.routing import CanonicalPaths
from alephee.http.waits import loop_monitor, tune_collector, watch
from alephee.http.wire import ErrorBody, error_response
from alephee.listings.routes import router as listings
from alephee.marketplaces.models import ChannelNotification, OutboxMessage
from alephee.memory import cap_malloc_arenas
from alephee.orders.rendering import cache_of
from alephee.orders.routes import router as orders
from alephee.portal.routes import install as install_portal
from alephee.products.routes import router as products
from alephee.registry import build_worker
from alephee.shipping.routes import router as shipping
from alephee.sync.worker import WorkerThread
from alephee.webhooks.models import WebhookEvent
from alephee.webhooks.routes import router as webhooks

OPENAPI_URL = "/swagger/docs/v2"
SWAGGER_URL = "/swagger/ui/index"

DESCRIPTION = """
Alephee-compatible public REST API v2, served by an open, self-hostable hub.

* Authenticate every call with the `API_KEY` query parameter; most calls also need `accountId`.
  Query-parameter names and JSON property names are matched case-insensitively.
* Every response carries `x-ratelimit-limit`, `x-ratelimit-remaining`, `x-ratelimit-reset` and
  `x-ratelimit-retryafter` (GCRA per key and endpoint, 1-minute window).
* Errors are `{"Status": int, "Message": str}`; lists use the `Total/Paging/SortBy/AvailableSorts/Results`
  envelope and answer 206 when `limit` is over the endpoint's cap.
"""


API_PREFIX = "/v2"

# The queue tables whose live and dead rows ``/metrics`` shows: those whose autovacuum migration 0034v tunes.
QUEUE_TABLES = (OutboxMessage.__tablename__, ChannelNotification.__tablename__, WebhookEvent.__tablename__)


def api_operations() -> list[tuple[str, str, str]]:
    """``(method, path, route name)`` of every public API operation (for tests and tooling)."""
    ops = []
    for router in _routers():
        for route in router.routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                ops.extend((method, API_PREFIX + route.path, route.name) for method in sorted(route.methods))
    return ops


def _api_paths() -> list[str]:
    """The path template of every API route (documented or not), for ``CanonicalPaths``."""
    return [API_PREFIX + route.path for router in _routers() for route in router.routes if isinstance(route, APIRoute)]


def _routers() -> list[APIRouter]:
    return [accounts, orders, products, listings, shipping, webhooks]


def create_app(
    settings: Settings | None = None, context: AppContext | None = None, *, with_worker: bool = False
) -> FastAPI:
    """Build the application for ``settings`` (read from the environment when not given); ``with_worker`` also
    runs one outbox worker in a thread that the application's lifespan starts and stops."""
    settings = settings or (context.settings if context else Settings())
    # Before this process starts a thread (the embedded worker's, the route threads): arenas made before stay.
    cap_malloc_arenas(settings.malloc_arenas)
    ctx = context or AppContext.build(settings)
    logging.getLogger("alephee").setLevel(settings.log_level.upper())

    app = FastAPI(
        title="Alephee API v2 (compatible hub)",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url=OPENAPI_URL,
        # Never a redirect to a URL built from the client's Host header: CanonicalPaths serves the route
        # with or without one trailing slash instead.
        redirect_slashes=False,
    )
    app.state.ctx = ctx
    http_errors.install(app)
    # The marketplaces' OAuth callbacks (HTML, no API key), their notifications and webhooks and, when enabled,
    # their local stand-ins: first, because the router tries routes in order and the notifications are the
    # busiest route of a marketplace's burst (matched after every /v2 route they cost more than their handler).
    install_mercadolibre(app, settings, ctx.db)
    install_tiendanube(app, settings, ctx.db)
    for router in _routers():
        app.include_router(router, prefix=API_PREFIX)
    # The B2B portal (HTML at /b2b): outside /v2, not in the OpenAPI document nor in the rate-limit table.
    install_portal(app)
    # The operator console (HTML at /console): outside /v2 like the portal.
    install_console(app)
    _install_docs(app)
    _install_health(app)
    app.add_middleware(CanonicalPaths, templates=_api_paths())
    if settings.compression:
        app.add_middleware(CompressionMiddleware, min_bytes=settings.compression_min_bytes)
    app.add_middleware(ApiMiddleware, ctx=ctx, audit=write_audit)
    _watch_waits(app, ctx)
    if with_worker:
        _embed_worker(app, ctx)
    return app


def create_app_with_worker() -> FastAPI:
    """``create_app(with_worker=True)`` for a server that takes a factory without arguments
    (``alephee serve --with-worker``: each server process gets its own worker loop)."""
    return create_app(with_worker=True)


def _watch_waits(app: FastAPI, ctx: AppContext) -> None:
    """The wait metrics of ``/metrics`` (``http/waits.py``): pool checkouts and GC pauses from now on, the event
    loop's lag while the application runs; and, as it starts, the collector tuned (``ALEPHEE_GC_FREEZE``,
    ``ALEPHEE_GC_THRESHOLD0``)."""
    watch(ctx.db)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> Any:
        tune_collector(freeze=ctx.settings.gc_freeze, threshold0=ctx.settings.gc_threshold0)
        async with loop_monitor(), inner(application) as state:
            yield state

    app.router.lifespan_context = lifespan


def _embed_worker(app: FastAPI, ctx: AppContext) -> None:
    """One worker thread started and stopped by the application's lifespan: uvicorn runs the shutdown (which
    waits for the round in progress) before the process exits on SIGTERM/SIGINT."""
    inner = app.router.lifespan_context
    worker = build_worker(ctx.db, ctx.settings)

    @asynccontextmanager
    async def lifespan(application: Any) -> Any:
        thread = WorkerThread(worker)
        app.state.outbox_worker = thread
        thread.start()
        try:
            async with inner(application) as state:
                yield state
        finally:
            await asyncio.to_thread(thread.stop)

    app.router.lifespan_context = lifespan


def _install_docs(app: FastAPI) -> None:
    static_dir = resources.files("fastapi_offline") / "static"
    app.mount("/swagger/static", StaticFiles(directory=str(static_dir)), name="swagger-static")

    @app.get(SWAGGER_URL, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title="Alephee API v2",
            swagger_js_url="/swagger/static/swagger-ui-bundle.js",
            swagger_css_url="/swagger/static/swagger-ui.css",
            swagger_favicon_url="/swagger/static/favicon.png",
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, body in EXTRA_SCHEMAS.items():
                components.setdefault(name, body)
            _document_400_not_422(schema, components)
            finish_openapi(schema, app.routes, key_only=require_key)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_400_not_422(schema: dict[str, Any], components: dict[str, Any]) -> None:
    """FastAPI documents 422 for every operation; this API answers invalid input with 400 and the error body.
    Paged lists also document their 206."""
    components.setdefault("ErrorBody", ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}"))
    error_400 = {
        "description": "Invalid parameters or body",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses") if isinstance(operation, dict) else None
            if responses is None:
                continue
            if "422" in responses:
                del responses["422"]
                responses.setdefault("400", error_400)
            ok = responses.get("200", {})
            ref = ok.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
            if ref.rsplit("/", 1)[-1].startswith("Paged") and "206" not in responses:
                # Every paged list answers 206 with the same envelope when `limit` is over its cap.
                responses["206"] = {
                    "description": "`limit` over the endpoint's cap: a capped page",
                    "content": ok["content"],
                }
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)


def _domain_gauges(session: Session) -> None:
    """The domains' gauges of ``/metrics``: outbox rows by status, channel connections by status, this process's
    rendered-orders cache and, on PostgreSQL, the queue tables' live and dead rows."""
    counts = dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    for status in ("pending", "in_flight", "delivered", "failed"):
        OUTBOX_DEPTH.labels(status).set(counts.get(status, 0))
    links = session.execute(
        select(ChannelConnection.connector, ChannelConnection.status, func.count()).group_by(
            ChannelConnection.connector, ChannelConnection.status
        )
    ).all()
    for connector, status, count in links:
        CHANNEL_CONNECTIONS.labels(connector, status).set(count)
    cache = cache_of(session)
    if cache is not None:
        for measure, value in (("hits", cache.hits), ("misses", cache.misses), ("entries", len(cache)),
                               ("bytes", cache.size)):  # fmt: skip
            ORDER_CACHE.labels(measure).set(value)
    _queue_table_rows(session.info["database"])


def _queue_table_rows(db: Database) -> None:
    """``alephee_table_rows{table,state}`` of the queue tables, read now (none on SQLite)."""
    rows = db.table_rows(QUEUE_TABLES)
    for table in QUEUE_TABLES:
        counts = rows.get(table)
        for index, state in enumerate(("live", "dead")):
            if counts is None:
                # One registry serves every database of the process: none of another's figures stay.
                TABLE_ROWS.remove(table, state)
            else:
                TABLE_ROWS.labels(table, state).set(counts[index])


def _install_health(app: FastAPI) -> None:
    @app.get("/health", include_in_schema=False)
    def health(request: Request) -> JSONResponse:
        ctx: AppContext = request.app.state.ctx
        with ctx.db.read_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        # Redis configured but not answering: "degraded" with 200, since this process still serves and limits
        # (per process); a 503 would take every process out of the load balancer at once.
        store = ctx.limiter.refresh()
        status = "degraded" if store == "memory-fallback" else "ok"
        return JSONResponse({"Status": status, "Version": __version__, "RateLimitStore": store})

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        ctx: AppContext = request.app.state.ctx
        token = ctx.settings.metrics_token
        if not metrics_allowed(request.headers.get("authorization"), token.get_secret_value() if token else None):
            refused = error_response(401, METRICS_TOKEN_REQUIRED)
            refused.headers["www-authenticate"] = 'Bearer realm="metrics"'
            return refused
        body, content_type = render_metrics(ctx.db, ctx.limiter, collect=_domain_gauges)
        return Response(content=body, media_type=content_type)
