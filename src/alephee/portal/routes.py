"""Routes of the B2B portal (server-rendered HTML under ``/b2b``; not part of the API: no ``/v2`` prefix, not in
the OpenAPI document, no rate-limit row). Thin: read the cookie and the form, call one service function,
render a template or redirect (post/redirect/get).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from decimal import Decimal
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from alephee import __version__
from alephee.errors import DomainError
from alephee.http import i18n
from alephee.http.context import AppContext
from alephee.http.errors import status_for
from alephee.http.i18n import N_
from alephee.http.pages import clear_cookie, form_field, int_param, safe_next, secure, set_cookie
from alephee.portal import cart as carts
from alephee.portal import catalog as portal_catalog
from alephee.portal import checkout, sessions
from alephee.portal import orders as buyer_orders
from alephee.portal.formatting import buyer_status, format_money, format_rate, plural

PREFIX = "/b2b"
COOKIE = "alephee_b2b_session"
SIGNED_OUT = "/signed-out"
MAX_PAGE = 100_000
MAX_ID = 2**62

_PACKAGE = resources.files("alephee.portal")
templates = Jinja2Templates(directory=str(_PACKAGE / "templates"))
router = APIRouter(prefix=PREFIX, include_in_schema=False)


# --- formatting for the templates -------------------------------------------------------------------------

templates.env.filters["money"] = format_money
templates.env.filters["rate"] = format_rate
templates.env.filters["buyer_status"] = pass_context(lambda context, status: buyer_status(status, context["language"]))
templates.env.globals["plural"] = plural
i18n.install(templates.env)
PAGE_NOT_FOUND = N_("This page does not exist.")


# --- plumbing ----------------------------------------------------------------------------------------------


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def _prefix(request: Request) -> str:
    return str(request.scope.get("root_path", "")) + PREFIX


def _write(request: Request) -> AbstractContextManager[Session]:
    # The request's one transaction: committed when the block ends (a refusal shown as a page included: what
    # the refused step already did, e.g. a consumed login link, stays done), rolled back when it raises.
    return _ctx(request).db.writing()


@contextmanager
def _read(request: Request) -> Iterator[Session]:
    # Pages read from the primary when a replica is configured: a session or cart written a moment ago must be
    # there on the very next page (a lagging replica would sign the buyer out after the login redirect).
    ctx = _ctx(request)
    session = ctx.db.read_session() if ctx.settings.database_read_url is None else ctx.db.write_session()
    try:
        yield session
    finally:
        session.close()


def _local_time(viewer: sessions.Viewer | None, request: Request) -> Callable[[datetime], str]:
    zone_name = (viewer.timezone if viewer else None) or _ctx(request).settings.default_timezone
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = _ctx(request).settings.tz

    def show(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%d/%m/%Y %H:%M")

    return show


def _language(request: Request) -> str:
    return i18n.language_of(request, sessions.DEFAULT_LANGUAGE, negotiate=False)


def _translate(request: Request, text: str) -> str:
    """A message in the page's language (itself when the catalogs do not hold it)."""
    return i18n.translations(_language(request)).gettext(text)


def _render(
    request: Request,
    template: str,
    viewer: sessions.Viewer | None,
    status_code: int = 200,
    **values: Any,
) -> Response:
    prefix = _prefix(request)
    here = request.url.path[len(prefix) :] or "/"
    context = {
        "prefix": prefix,
        "here": here + (f"?{request.url.query}" if request.url.query else ""),
        "viewer": viewer,
        "flash": viewer.flash if viewer else None,
        "version": __version__,
        "local_time": _local_time(viewer, request),
        **i18n.gettext_context(_language(request)),
        **values,
    }
    return secure(templates.TemplateResponse(request, template, context, status_code=status_code))


def _redirect(request: Request, path: str) -> Response:
    return secure(RedirectResponse(_prefix(request) + path, status_code=303))


def _clear_cookie(request: Request, response: Response) -> Response:
    return clear_cookie(request, response, COOKIE, path=_prefix(request))


def _error_page(request: Request, exc: DomainError, viewer: sessions.Viewer | None = None) -> Response:
    status = status_for(exc)
    if isinstance(exc, sessions.LoginLinkRefused) and exc.expired:
        status = 410
    kind = "message"
    if viewer is None:
        if isinstance(exc, sessions.LoginLinkRefused):
            kind = "link"
        elif isinstance(exc, sessions.AccessDisabled):
            kind = "disabled"
        elif isinstance(exc, sessions.SessionRequired):
            kind = "session"
    template = "message.html" if kind == "message" else "access.html"
    response = _render(
        request, template, viewer, status, message=_translate(request, exc.message), status=status, kind=kind
    )
    if viewer is None and status in (401, 403, 410):
        _clear_cookie(request, response)
    return response


def _page(request: Request, render: Callable[[Session, sessions.Viewer], Response]) -> Response:
    """A GET page for a signed-in viewer (the flash message is shown once)."""
    with _read(request) as session:
        try:
            viewer = sessions.require_viewer(session, request.cookies.get(COOKIE), _language(request))
        except DomainError as exc:
            return _error_page(request, exc)
        try:
            response = render(session, viewer)
        except DomainError as exc:
            response = _error_page(request, exc, viewer)
    if viewer.flash is not None:
        with _write(request) as session:
            sessions.pop_flash(session, viewer)
    return response


async def _action(
    request: Request,
    act: Callable[[Session, sessions.Viewer, FormData], str],
    *,
    failure_path: Callable[[FormData], str] | str,
) -> Response:
    """A POST form: signed-in viewer, CSRF token, then ``act`` (which returns the portal path to go to next). A
    domain error becomes the flash message of the page at ``failure_path``."""
    form = await request.form()

    def run() -> Response:
        with _write(request) as session:
            try:
                viewer = sessions.require_viewer(session, request.cookies.get(COOKIE), _language(request))
            except DomainError as exc:
                return _error_page(request, exc)
            try:
                sessions.check_csrf(viewer, form_field(form, "csrf"))
            except DomainError as exc:
                return _error_page(request, exc, viewer)
            try:
                return _redirect(request, act(session, viewer, form))
            except DomainError as exc:
                session.rollback()  # the refused action leaves nothing behind but its message
                sessions.set_flash(session, viewer, "error", _translate(request, exc.message))
                return _redirect(request, failure_path if isinstance(failure_path, str) else failure_path(form))

    try:
        return await run_in_threadpool(run)
    finally:
        await form.close()


def _int(raw: str | None, default: int, *, upper: int = MAX_PAGE) -> int:
    return int_param(raw, default, upper=upper)


def _product_id(raw: str | None) -> int:
    value = _int(raw, 0, upper=MAX_ID)
    if value <= 0:
        raise portal_catalog.ProductNotFound
    return value


# --- sign-in and sign-out ----------------------------------------------------------------------------------


@router.get("/login/token")
def login_with_token(request: Request) -> Response:
    """The ``Url`` of GET /v2/accounts/{id}/logintoken (module 1): consume the token, open a session."""
    token = request.query_params.get("token")
    with _write(request) as session:
        try:
            opened = sessions.sign_in(session, _ctx(request).settings, token, previous=request.cookies.get(COOKIE))
        except DomainError as exc:
            return _error_page(request, exc)
    response = _redirect(request, "/catalog")
    set_cookie(request, response, COOKIE, opened.cookie, max_age=opened.ttl_seconds, path=_prefix(request))
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session (CSRF-protected), then go to the signed-out page (post/redirect/get)."""
    form = await request.form()

    def run() -> Response:
        cookie = request.cookies.get(COOKIE)
        with _write(request) as session:
            viewer = sessions.authenticate(session, cookie)
            if viewer is not None:
                try:
                    sessions.check_csrf(viewer, form_field(form, "csrf"))
                except DomainError as exc:
                    return _error_page(request, exc, viewer)
                sessions.end_session(session, cookie)
        # Without a valid session there is nothing to end: the browser is signed out already.
        return _clear_cookie(request, _redirect(request, SIGNED_OUT))

    try:
        return await run_in_threadpool(run)
    finally:
        await form.close()


@router.get(SIGNED_OUT)
def signed_out(request: Request) -> Response:
    """Where logging out lands: how to come back (a signed-in browser goes to the catalog instead)."""
    with _read(request) as session:
        viewer = sessions.authenticate(session, request.cookies.get(COOKIE))
    if viewer is not None:
        return _redirect(request, "/catalog")
    return _render(request, "access.html", None, 200, kind="signed_out", status=200)


@router.get("")
@router.get("/")
def home(request: Request) -> Response:
    """Signed in: the catalog. Otherwise: how to get in (through the seller's system only)."""
    with _read(request) as session:
        viewer = sessions.authenticate(session, request.cookies.get(COOKIE))
    if viewer is None:
        return _error_page(request, sessions.SessionRequired())
    return _redirect(request, "/catalog")


# --- catalog -----------------------------------------------------------------------------------------------


@router.get("/catalog")
def catalog(request: Request) -> Response:
    """Search by SKU, brand or name, paged."""
    query = request.query_params.get("q")
    page = _int(request.query_params.get("page"), 1)

    def render(session: Session, viewer: sessions.Viewer) -> Response:
        result = portal_catalog.search_catalog(session, _ctx(request).settings, viewer, query, page)
        return _render(request, "catalog.html", viewer, result=result)

    return _page(request, render)


@router.get("/products/{product_id}")
def product(request: Request, product_id: str) -> Response:
    """A product's detail (kits with their components)."""

    def render(session: Session, viewer: sessions.Viewer) -> Response:
        detail = portal_catalog.product_detail(session, viewer, _product_id(product_id))
        return _render(request, "product.html", viewer, detail=detail)

    return _page(request, render)


# --- cart --------------------------------------------------------------------------------------------------


@router.get("/cart")
def cart(request: Request) -> Response:
    """The cart with today's prices and stock."""

    def render(session: Session, viewer: sessions.Viewer) -> Response:
        return _render(request, "cart.html", viewer, cart=carts.cart_view(session, viewer))

    return _page(request, render)


@router.post("/cart/add")
async def cart_add(request: Request) -> Response:
    """Add units of a product (never above its B2B stock)."""

    def act(session: Session, viewer: sessions.Viewer, form: FormData) -> str:
        product_id = _product_id(form_field(form, "product_id"))
        carts.add_to_cart(session, _ctx(request).settings, viewer, product_id, form_field(form, "quantity"))
        return _back(form)

    return await _action(request, act, failure_path=_back)


def _back(form: FormData) -> str:
    """The portal page a form was on (its ``next`` field, a path under the portal), else the cart."""
    return safe_next(form_field(form, "next"), "/cart")


def _quantities(form: FormData) -> dict[int, str | None]:
    out: dict[int, str | None] = {}
    for key, value in form.multi_items():
        if key.startswith("qty-") and isinstance(value, str):
            product_id = _int(key[4:], 0, upper=MAX_ID)
            if product_id > 0:
                out[product_id] = value
    return out


def _shown(form: FormData) -> carts.ShownCart:
    """What the confirmation form says its page showed: the cart version and each line's unit price (a missing
    or garbled version never matches the cart's)."""
    prices: dict[int, Decimal | None] = {}
    for key, value in form.multi_items():
        if key.startswith("price-") and isinstance(value, str):
            product_id = _int(key[6:], 0, upper=MAX_ID)
            if product_id > 0:
                prices[product_id] = carts.shown_price(value)
    return carts.ShownCart(_int(form_field(form, "cart_version"), -1, upper=MAX_ID), prices)


@router.post("/cart/update")
async def cart_update(request: Request) -> Response:
    """Set line quantities (0 removes a line; each capped at the B2B stock)."""

    def act(session: Session, viewer: sessions.Viewer, form: FormData) -> str:
        carts.update_cart(session, viewer, _quantities(form))
        return "/cart"

    return await _action(request, act, failure_path="/cart")


@router.post("/cart/remove")
async def cart_remove(request: Request) -> Response:
    """Remove a line."""

    def act(session: Session, viewer: sessions.Viewer, form: FormData) -> str:
        carts.remove_from_cart(session, viewer, _product_id(form_field(form, "product_id")))
        return "/cart"

    return await _action(request, act, failure_path="/cart")


@router.post("/cart/place")
async def cart_place(request: Request) -> Response:
    """Apply the quantities on screen, then (when none had to be lowered) place the cart exactly as the page showed
    it: a cart changed elsewhere or a price that moved sends the buyer back to the cart with a message."""

    def act(session: Session, viewer: sessions.Viewer, form: FormData) -> str:
        shown = checkout.apply_shown_quantities(session, viewer, _shown(form), _quantities(form))
        if shown is None:
            return "/cart"
        session.commit()  # the quantities on screen stay applied even when placing the cart is refused
        order_id = checkout.place_order(session, _ctx(request).settings, viewer, shown, form_field(form, "notes"))
        return f"/orders/{order_id}"

    return await _action(request, act, failure_path="/cart")


# --- the buyer's orders ------------------------------------------------------------------------------------


@router.get("/orders")
def orders(request: Request) -> Response:
    """The orders the user placed, with their status."""
    page = _int(request.query_params.get("page"), 1)

    def render(session: Session, viewer: sessions.Viewer) -> Response:
        return _render(request, "orders.html", viewer, result=buyer_orders.my_orders(session, viewer, page))

    return _page(request, render)


@router.get("/orders/{order_id}")
def order(request: Request, order_id: str) -> Response:
    """One order as the hub holds it."""

    def render(session: Session, viewer: sessions.Viewer) -> Response:
        number = _int(order_id, 0, upper=MAX_ID)
        if number <= 0:
            raise buyer_orders.OrderNotFound
        return _render(request, "order.html", viewer, detail=buyer_orders.my_order(session, viewer, number))

    return _page(request, render)


@router.get("/{rest:path}")
def not_found(request: Request, rest: str) -> Response:
    """Any other portal address."""
    with _read(request) as session:
        viewer = sessions.authenticate(session, request.cookies.get(COOKIE))
    return _render(request, "message.html", viewer, 404, message=_translate(request, PAGE_NOT_FOUND), status=404)


def install(app: FastAPI) -> None:
    """Serve the portal from ``app`` at ``/b2b`` (static files first: the router ends with a catch-all)."""
    app.mount(f"{PREFIX}/static", StaticFiles(directory=str(_PACKAGE / "static")), name="portal-static")
    app.include_router(router)
