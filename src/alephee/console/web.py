"""The plumbing every console page shares: the templates (with the language of the request), rendering, the
signed-in operator of a GET page or a POST form (a missing session goes to the sign-in form), CSRF, the flash
message, and the audit row of an operator's action. Page modules hold the routes; this one holds no route."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from alephee import __version__
from alephee.console import operators, sessions
from alephee.console.sessions import ConsoleViewer
from alephee.errors import DomainError, NotFound
from alephee.http import i18n
from alephee.http.context import AppContext
from alephee.http.errors import status_for
from alephee.http.pages import clear_cookie, form_field, int_param, secure

PREFIX = "/console"
COOKIE = "alephee_console_session"
# Where a signed-in operator lands (the sign-in form's default ``next``).
HOME = "/overview"
LOGIN = "/login"
MAX_ID = 2**62
MAX_PAGE = 100_000

PACKAGE = resources.files("alephee.console")
_env = Environment(loader=FileSystemLoader(str(PACKAGE / "templates")), autoescape=select_autoescape(default=True))
i18n.install(_env)
templates = Jinja2Templates(env=_env)

Act = Callable[[Session, ConsoleViewer, FormData], "str | Response"]


def ctx(request: Request) -> AppContext:
    """The app's context."""
    context: AppContext = request.app.state.ctx
    return context


def prefix(request: Request) -> str:
    """The console's base path as the browser sees it."""
    return str(request.scope.get("root_path", "")) + PREFIX


def language(request: Request) -> str:
    """The language of this request's pages."""
    return i18n.language_of(request, ctx(request).settings.console_default_language)


def translate(request: Request, text: str) -> str:
    """``text`` (a catalog msgid) in the language of the request (itself when the catalog lacks it)."""
    return i18n.translations(language(request)).gettext(text)


def writing(request: Request) -> AbstractContextManager[Session]:
    """The request's one write transaction (committed when the block ends, rolled back when it raises)."""
    return ctx(request).db.writing()


@contextmanager
def reading(request: Request) -> Iterator[Session]:
    """A read session on the primary: a session written a moment ago must be there on the next page."""
    context = ctx(request)
    session = context.db.read_session() if context.settings.database_read_url is None else context.db.write_session()
    try:
        yield session
    finally:
        session.close()


def show_time(moment: datetime | None) -> str:
    """A UTC moment as the console shows it."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else "—"


_env.filters["when"] = show_time


def render(
    request: Request, template: str, viewer: ConsoleViewer | None, status_code: int = 200, **values: Any
) -> Response:
    """A page in the request's language, with the security headers."""
    base = prefix(request)
    # Where the language switch comes back to: this page, or the home page after a form's answer.
    here = (request.url.path[len(base) :] or "/") + (f"?{request.url.query}" if request.url.query else "")
    context = {
        "prefix": base,
        "here": here if request.method == "GET" else HOME,
        "viewer": viewer,
        "flash": viewer.flash if viewer else None,
        "version": __version__,
        **i18n.gettext_context(language(request)),
        **values,
    }
    return secure(templates.TemplateResponse(request, template, context, status_code=status_code))


def redirect(request: Request, path: str) -> Response:
    """Post/redirect/get to a console path."""
    return secure(RedirectResponse(prefix(request) + path, status_code=303))


def to_login(request: Request) -> Response:
    """No session: the sign-in form, coming back here afterwards (a GET page) or to the home page."""
    here = request.url.path[len(prefix(request)) :] or HOME
    if request.url.query:
        here += "?" + request.url.query
    target = here if request.method == "GET" else HOME
    response = redirect(request, f"{LOGIN}?next={quote(target, safe='/')}")
    return clear_cookie(request, response, COOKIE, path=prefix(request))


def error_page(request: Request, exc: DomainError, viewer: ConsoleViewer | None) -> Response:
    """A refusal as a page with its status (its message in the request's language)."""
    status = status_for(exc)
    return render(request, "message.html", viewer, status, message=translate(request, exc.message), status=status)


def page(request: Request, build: Callable[[Session, ConsoleViewer], Response]) -> Response:
    """A GET page for a signed-in operator (the flash message is shown once)."""
    with reading(request) as session:
        viewer = sessions.authenticate(session, request.cookies.get(COOKIE))
        if viewer is None:
            return to_login(request)
        try:
            response = build(session, viewer)
        except DomainError as exc:
            response = error_page(request, exc, viewer)
    if viewer.flash is not None:
        with writing(request) as session:
            sessions.pop_flash(session, viewer)
    return response


async def action(request: Request, act: Act, *, failure_path: Callable[[FormData], str] | str) -> Response:
    """A POST form: signed-in operator, CSRF token, then ``act`` (the console path to go to next, or a page of
    its own). A domain error becomes the flash message of the page at ``failure_path``."""
    form = await request.form()

    def run() -> Response:
        with writing(request) as session:
            viewer = sessions.authenticate(session, request.cookies.get(COOKIE))
            if viewer is None:
                return to_login(request)
            try:
                sessions.check_csrf(viewer, form_field(form, "csrf"))
            except DomainError as exc:
                return error_page(request, exc, viewer)
            try:
                outcome = act(session, viewer, form)
            except NotFound as exc:
                session.rollback()  # another account's object, or none: the same 404 page as a GET, nothing applied
                return error_page(request, exc, viewer)
            except DomainError as exc:
                session.rollback()  # the refused action leaves nothing behind but its message
                sessions.set_flash(session, viewer, "error", translate(request, exc.message))
                target = failure_path if isinstance(failure_path, str) else failure_path(form)
                return redirect(request, target)
            return outcome if isinstance(outcome, Response) else redirect(request, outcome)

    try:
        return await run_in_threadpool(run)
    finally:
        await form.close()


def flash(request: Request, session: Session, viewer: ConsoleViewer, text: str, level: str = "ok") -> None:
    """Leave ``text`` (a msgid, translated now) for the next page."""
    sessions.set_flash(session, viewer, level, translate(request, text))


def audit(
    request: Request,
    session: Session,
    viewer: ConsoleViewer | None,
    what: str,
    *,
    account_id: int | None = None,
    status: int = 200,
    event: str | None = None,
    query: str = "",
    operator_id: int | None = None,
) -> None:
    """The audit row of an operator's action (``what``: ``console.<page>.<verb>``)."""
    operators.record(
        session,
        request_id=str(getattr(request.state, "request_id", "") or ""),
        operator_id=viewer.operator_id if viewer else operator_id,
        account_id=account_id,
        method=request.method,
        endpoint=what,
        path=request.url.path,
        status=status,
        event=event,
        query=query,
    )


def number(raw: str | None, default: int = 0, *, upper: int = MAX_ID) -> int:
    """A positive id or page number from a query or form value (``default`` when it is not one)."""
    return int_param(raw, default, upper=upper)


def accounts_shown(viewer: ConsoleViewer, raw: str | None) -> tuple[int, ...]:
    """The accounts a page or an action covers: every account of the operator, or only the one ``raw`` (the
    ``account`` of the query or form) names: 404 when it is not visible."""
    if not raw:
        return viewer.account_ids
    return (viewer.require(number(raw) or None),)


def chosen_account(request: Request, viewer: ConsoleViewer, raw: str | None = None) -> int | None:
    """The account a page shows: ``account`` of the query (404 when not visible), else the first visible one."""
    text = raw if raw is not None else request.query_params.get("account")
    if text:
        return viewer.require(number(text, 0) or None)
    return viewer.account_ids[0] if viewer.account_ids else None
