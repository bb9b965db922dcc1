"""Signing in to the console: the form, the session cookie and its flags, CSRF on every form, rate-limited and
audited attempts (never the password), sign-out, a disabled operator, and pages without a session."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from alephee.accounts.models import AuditEntry
from alephee.console import operators
from alephee.console.models import ConsoleSession
from alephee.console.routes import LOGIN_COOKIE
from alephee.console.web import COOKIE
from alephee.http.context import AppContext
from tests.fixtures.console import ConsoleOperator, console_login, form_token
from tests.fixtures.tenants import Tenant

PAGES = ["/console/keys", "/console/webhooks", "/console/audit"]


@pytest.fixture
def operator(make_tenant: Callable[..., Tenant], make_operator: Callable[..., ConsoleOperator]) -> ConsoleOperator:
    return make_operator([make_tenant().account_id])


def _audit(ctx: AppContext) -> list[AuditEntry]:
    with ctx.db.reading() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def _attempt(client: TestClient, email: str, password: str, **extra: str) -> object:
    token = form_token(client.get("/console/login").text)
    data = {"email": email, "password": password, "csrf": token, **extra}
    return client.post("/console/login", data=data, follow_redirects=False)


def test_the_sign_in_form(client: TestClient) -> None:
    page = client.get("/console/login")
    assert page.status_code == 200
    assert 'name="email"' in page.text and 'name="password"' in page.text and 'type="password"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert "alephee operator create" in page.text  # no operator yet: how to create the first one


def test_signing_in_opens_a_session_with_safe_cookie_flags(
    ctx: AppContext, client: TestClient, operator: ConsoleOperator
) -> None:
    response = _attempt(client, operator.email.upper(), operator.password, next="/audit")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/audit"
    cookie = next(value for value in response.headers.get_list("set-cookie") if value.startswith(f"{COOKIE}="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert "Max-Age=28800" in cookie and "Secure" not in cookie
    assert client.get("/console/audit").status_code == 200
    with ctx.db.reading() as session:
        stored = session.scalars(select(ConsoleSession.token_hash)).one()
    assert stored != client.cookies[COOKIE] and len(stored) == 64  # only the hash is kept
    events = [(row.event, row.operator_id) for row in _audit(ctx)]
    assert (operators.LOGIN_OK, operator.id) in events


def test_an_https_request_gets_a_secure_cookie(
    make_client: Callable[..., TestClient], operator: ConsoleOperator
) -> None:
    client = make_client()
    client.base_url = client.base_url.copy_with(scheme="https")
    response = _attempt(client, operator.email, operator.password)
    assert response.status_code == 303
    assert any("Secure" in value for value in response.headers.get_list("set-cookie"))


def test_a_wrong_password_is_refused_and_audited_without_the_password(
    ctx: AppContext, client: TestClient, operator: ConsoleOperator
) -> None:
    response = _attempt(client, operator.email, "guessed password 1")
    assert response.status_code == 401
    assert "Correo o contraseña incorrectos" in response.text
    assert COOKIE not in client.cookies
    unknown = _attempt(client, "nobody@example.com", "guessed password 2")
    assert unknown.status_code == 401 and "Correo o contraseña incorrectos" in unknown.text  # same answer
    failures = [row for row in _audit(ctx) if row.event == operators.LOGIN_FAILED]
    assert [row.query for row in failures] == [f"email={operator.email}", "email=nobody@example.com"]
    for row in _audit(ctx):
        text = " ".join(str(value) for value in vars(row).values())
        assert "guessed password" not in text


def test_attempts_are_rate_limited_per_email(ctx: AppContext, client: TestClient, operator: ConsoleOperator) -> None:
    limit = ctx.settings.console_login_per_minute_email
    statuses = [_attempt(client, operator.email, f"wrong password {n}").status_code for n in range(limit + 2)]
    assert statuses[:limit] == [401] * limit and 429 in statuses[limit:]
    # Even the right password waits: the limit is on the e-mail, not on failures.
    assert _attempt(client, operator.email, operator.password).status_code == 429
    assert any(row.event == operators.LOGIN_THROTTLED for row in _audit(ctx))


def test_attempts_are_rate_limited_per_address(
    make_client: Callable[..., TestClient], operator: ConsoleOperator
) -> None:
    client = make_client(console_login_per_minute_ip=3, console_login_per_minute_email=100)
    statuses = [_attempt(client, f"user{n}@example.com", "wrong password").status_code for n in range(5)]
    assert statuses[:3] == [401] * 3 and statuses[3:] == [429, 429]


def test_the_sign_in_form_needs_its_token(client: TestClient, operator: ConsoleOperator) -> None:
    client.get("/console/login")
    response = client.post(
        "/console/login", data={"email": operator.email, "password": operator.password}, follow_redirects=False
    )
    assert response.status_code == 403
    assert COOKIE not in client.cookies


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "\\\\evil", "keys"])
def test_next_never_leaves_the_console(client: TestClient, operator: ConsoleOperator, target: str) -> None:
    response = _attempt(client, operator.email, operator.password, next=target)
    assert response.headers["location"] == "/console/overview"


@pytest.mark.parametrize("path", PAGES)
def test_a_page_without_a_session_goes_to_the_sign_in_form(client: TestClient, path: str) -> None:
    response = client.get(path + "?account=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login?next=")
    assert path.removeprefix("/console") in response.headers["location"]


@pytest.mark.parametrize(
    "path",
    [
        "/console/keys/create",
        "/console/keys/1/revoke",
        "/console/keys/1/rotate",
        "/console/webhooks/create",
        "/console/webhooks/1/edit",
        "/console/webhooks/1/delete",
        "/console/webhooks/1/test",
    ],
)
def test_a_form_without_a_session_goes_to_the_sign_in_form(client: TestClient, path: str) -> None:
    response = client.post(path, data={"csrf": "x", "account": "1"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/overview"


def test_signing_in_again_ends_the_previous_session(
    ctx: AppContext, client: TestClient, operator: ConsoleOperator
) -> None:
    console_login(client, operator)
    first = client.cookies[COOKIE]
    # The form's token is any value its cookie also holds (a signed-in browser is sent past the form).
    client.cookies.set(LOGIN_COOKIE, "token-of-another-tab", path="/console")
    data = {"email": operator.email, "password": operator.password, "csrf": "token-of-another-tab"}
    assert client.post("/console/login", data=data, follow_redirects=False).status_code == 303
    assert client.cookies[COOKIE] != first
    with ctx.db.reading() as session:
        assert len(session.scalars(select(ConsoleSession.id)).all()) == 1


def test_sign_out_needs_the_token_and_ends_the_session(
    ctx: AppContext, client: TestClient, operator: ConsoleOperator
) -> None:
    csrf = console_login(client, operator)
    refused = client.post("/console/logout", data={"csrf": "forged"}, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/console/keys", follow_redirects=False).status_code == 200
    response = client.post("/console/logout", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/login"
    assert client.get("/console/keys", follow_redirects=False).status_code == 303
    with ctx.db.reading() as session:
        assert session.scalars(select(ConsoleSession.id)).all() == []


def test_a_disabled_operator_is_signed_out_at_the_next_page(
    ctx: AppContext, client: TestClient, operator: ConsoleOperator
) -> None:
    console_login(client, operator)
    with ctx.db.writing() as session:
        operators.disable_operator(session, operator.email)
    assert client.get("/console/keys", follow_redirects=False).status_code == 303
    assert _attempt(client, operator.email, operator.password).status_code == 401


def test_unknown_console_addresses_are_404(client: TestClient, operator: ConsoleOperator) -> None:
    assert client.get("/console/nothing/here").status_code == 404
    console_login(client, operator)
    assert client.get("/console/nothing/here").status_code == 404
    assert client.get("/console", follow_redirects=False).headers["location"] == "/console/overview"
