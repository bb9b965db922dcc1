"""Routes of the operator console (server-rendered HTML under ``/console``; not part of the API: no ``/v2``
prefix, not in the OpenAPI document, no rate-limit row): sign-in, sign-out, the language switch, and the page
modules assembled. Thin: read the cookie and the form, call one service function, render or redirect."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from alephee.console import (
    audit_pages,
    channel_pages,
    delivery_pages,
    key_pages,
    listing_pages,
    operators,
    order_pages,
    overview_pages,
    post_sale_pages,
    sessions,
    web,
)
from alephee.http import i18n
from alephee.http.i18n import N_
from alephee.http.pages import clear_cookie, csrf_matches, form_field, new_secret, safe_next, set_cookie

# The sign-in form's own CSRF token (no session yet): a cookie the form must echo.
LOGIN_COOKIE = "alephee_console_login"
LOGIN_ENDPOINT = "console.login"
WRONG_CREDENTIALS = N_("Wrong e-mail or password")
TOO_MANY_ATTEMPTS = N_("Too many sign-in attempts: wait a minute and try again")
FORM_EXPIRED = N_("The form expired: reload the page and try again")
PAGE_NOT_FOUND = N_("This page does not exist")

router = APIRouter(prefix=web.PREFIX, include_in_schema=False)


def _login_form(
    request: Request, *, status: int = 200, message: str | None = None, email: str = "", next_path: str = ""
) -> Response:
    token = new_secret()
    target = safe_next(next_path or request.query_params.get("next"), web.HOME)
    with web.reading(request) as session:
        first_run = operators.count_operators(session) == 0
    response = web.render(
        request,
        "login.html",
        None,
        status,
        login_csrf=token,
        message=web.translate(request, message) if message else None,
        email=email,
        next=target,
        first_run=first_run,
    )
    set_cookie(request, response, LOGIN_COOKIE, token, max_age=3600, path=web.prefix(request))
    return response


@router.get("/login")
def login_page(request: Request) -> Response:
    """The sign-in form (a signed-in operator goes to the console instead)."""
    with web.reading(request) as session:
        viewer = sessions.authenticate(session, request.cookies.get(web.COOKIE))
    if viewer is not None:
        return web.redirect(request, safe_next(request.query_params.get("next"), web.HOME))
    return _login_form(request)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the e-mail and password (rate-limited per address and per e-mail; every failure audited, never the
    password) and open a session."""
    form = await request.form()
    email = (form_field(form, "email") or "").strip()[:254]
    password = form_field(form, "password") or ""
    target = safe_next(form_field(form, "next"), web.HOME)
    await form.close()
    cookie_token = request.cookies.get(LOGIN_COOKIE) or ""
    if not csrf_matches(cookie_token, form_field(form, "csrf")):
        return _login_form(request, status=403, message=FORM_EXPIRED, email=email, next_path=target)
    context = web.ctx(request)
    address = request.client.host if request.client is not None else "-"
    by_address = context.limiter.hit_source(address, LOGIN_ENDPOINT, context.settings.console_login_per_minute_ip)
    by_email = context.limiter.hit_subject(
        email.lower() or "-", LOGIN_ENDPOINT, context.settings.console_login_per_minute_email
    )
    audited_email = f"email={email.lower()}"

    def run() -> Response:
        with web.writing(request) as session:
            if not (by_address.allowed and by_email.allowed):
                web.audit(
                    request,
                    session,
                    None,
                    LOGIN_ENDPOINT,
                    status=429,
                    event=operators.LOGIN_THROTTLED,
                    query=audited_email,
                )
                return _login_form(request, status=429, message=TOO_MANY_ATTEMPTS, email=email, next_path=target)
            operator = operators.check_credentials(session, email, password)
            if operator is None:
                web.audit(
                    request,
                    session,
                    None,
                    LOGIN_ENDPOINT,
                    status=401,
                    event=operators.LOGIN_FAILED,
                    query=audited_email,
                )
                return _login_form(request, status=401, message=WRONG_CREDENTIALS, email=email, next_path=target)
            opened = sessions.open_session(
                session, context.settings, operator, previous=request.cookies.get(web.COOKIE)
            )
            web.audit(
                request, session, None, LOGIN_ENDPOINT, status=303, event=operators.LOGIN_OK, operator_id=operator.id
            )
        response = web.redirect(request, target)
        set_cookie(request, response, web.COOKIE, opened.cookie, max_age=opened.ttl_seconds, path=web.prefix(request))
        return clear_cookie(request, response, LOGIN_COOKIE, path=web.prefix(request))

    return await run_in_threadpool(run)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session (CSRF-protected) and go to the sign-in form."""
    form = await request.form()
    token = form_field(form, "csrf")
    await form.close()

    def run() -> Response:
        cookie = request.cookies.get(web.COOKIE)
        with web.writing(request) as session:
            viewer = sessions.authenticate(session, cookie)
            if viewer is not None:
                try:
                    sessions.check_csrf(viewer, token)
                except sessions.CsrfFailed as exc:
                    return web.error_page(request, exc, viewer)
                sessions.end_session(session, cookie)
        return clear_cookie(request, web.redirect(request, web.LOGIN), web.COOKIE, path=web.prefix(request))

    return await run_in_threadpool(run)


@router.get("/language")
def switch_language(request: Request) -> Response:
    """The language switch: remember ``lang`` (es, en) for the whole site and go back to ``next``."""
    chosen = request.query_params.get("lang")
    response = web.redirect(request, safe_next(request.query_params.get("next"), web.HOME))
    if chosen in i18n.LANGUAGES:
        root = str(request.scope.get("root_path", "")) or "/"
        set_cookie(request, response, i18n.COOKIE, str(chosen), max_age=i18n.COOKIE_MAX_AGE, path=root)
    return response


@router.get("")
@router.get("/")
def home(request: Request) -> Response:
    """The console's first page (the sign-in form without a session)."""
    with web.reading(request) as session:
        viewer = sessions.authenticate(session, request.cookies.get(web.COOKIE))
    return web.redirect(request, web.HOME if viewer is not None else web.LOGIN)


# The pages, each module with its own router (included before the catch-all below).
PAGE_MODULES = (
    overview_pages,
    channel_pages,
    post_sale_pages,
    listing_pages,
    order_pages,
    delivery_pages,
    key_pages,
    audit_pages,
)
for _module in PAGE_MODULES:
    router.include_router(_module.router)


@router.get("/{rest:path}")
def not_found(request: Request, rest: str) -> Response:
    """Any other console address."""
    with web.reading(request) as session:
        viewer = sessions.authenticate(session, request.cookies.get(web.COOKIE))
    message = web.translate(request, PAGE_NOT_FOUND)
    return web.render(request, "message.html", viewer, 404, message=message, status=404)


def console_operations() -> list[tuple[str, str]]:
    """``(method, path)`` of every console route, pages included (for the isolation tests and tooling)."""
    routes = [*router.routes, *(route for module in PAGE_MODULES for route in module.router.routes)]
    found = set()
    for route in routes:
        if isinstance(route, APIRoute):
            path = route.path if route.path.startswith(web.PREFIX) else web.PREFIX + route.path
            found.update((method, path) for method in route.methods)
    return sorted(found)


def install(app: FastAPI) -> None:
    """Serve the console from ``app`` at ``/console`` (static files first: the router ends with a catch-all)."""
    app.mount(f"{web.PREFIX}/static", StaticFiles(directory=str(web.PACKAGE / "static")), name="console-static")
    app.include_router(router)
