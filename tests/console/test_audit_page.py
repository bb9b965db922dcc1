"""The Audit page: API writes, console actions and security events of the accounts the operator sees, filtered
by who, what, when and account, newest first, paged; sign-in attempts (no account) only for admins."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import event

from alephee import clock
from alephee.accounts.models import ApiKey, AuditEntry
from alephee.console import operators
from alephee.console.audit_reads import AuditFilters, search_audit
from alephee.http.context import AppContext
from tests.fixtures.console import ConsoleOperator, console_login
from tests.fixtures.tenants import Tenant


def _row(ctx: AppContext, **values: object) -> None:
    base: dict[str, object] = {
        "request_id": "r",
        "key_id": 0,
        "method": "POST",
        "endpoint": "products.post",
        "path": "/v2/products",
        "status": 200,
    }
    with ctx.db.writing() as session:
        session.add(AuditEntry(**{**base, **values}))


def _ids(html: str) -> list[str]:
    import re

    return re.findall(r'data-label="(?:Details|Detalles)" class="wrap">([^<]*)<', html)


def test_filters_and_visibility(
    ctx: AppContext,
    client: TestClient,
    make_tenant: Callable[..., Tenant],
    make_operator: Callable[..., ConsoleOperator],
) -> None:
    mine, other = make_tenant(), make_tenant()
    now = clock.utcnow()
    # Newest first is by id (rows are written in time order).
    _row(ctx, account_id=mine.account_id, key_id=mine.key_id, query="q=mine-old", created_at=now - timedelta(days=10))
    _row(ctx, account_id=mine.account_id, key_id=mine.key_id, query="q=mine-write")
    _row(ctx, account_id=mine.account_id, key_id=mine.key_id, event="account_not_linked", query="q=mine-event")
    _row(ctx, account_id=other.account_id, key_id=other.key_id, query="q=other-write")
    _row(ctx, account_id=None, event=operators.LOGIN_FAILED, endpoint="console.login", query="q=attempt")
    operator = make_operator([mine.account_id])
    console_login(client, operator)

    def shown(**params: object) -> list[str]:
        response = client.get("/console/audit", params={**params})
        assert response.status_code == 200
        return _ids(response.text)

    assert shown() == ["q=mine-event", "q=mine-write", "q=mine-old"]  # newest first, own accounts only
    assert shown(security="on") == ["q=mine-event"]
    assert shown(key=mine.key_id, since=(now - timedelta(days=1)).date().isoformat()) == [
        "q=mine-event",
        "q=mine-write",
    ]
    assert shown(until=(now - timedelta(days=5)).date().isoformat()) == ["q=mine-old"]
    assert shown(what="products") == ["q=mine-event", "q=mine-write", "q=mine-old"]
    assert shown(what="orders") == []
    assert shown(who="nobody@example.com") == []
    assert shown(since="garbage", key="x") == ["q=mine-event", "q=mine-write", "q=mine-old"]  # ignored, not a 500
    assert client.get("/console/audit", params={"account": other.account_id}).status_code == 404

    admin = make_operator(admin=True)
    client.cookies.clear()
    console_login(client, admin)
    everything = shown()
    assert "q=attempt" in everything and "q=other-write" in everything
    # The operator's own sign-in is there too, and "who" finds it by e-mail or id.
    assert shown(who=operator.email) == [""]  # the sign-in (no details)
    assert shown(who=str(operator.id)) == [""]


def test_paging(
    ctx: AppContext,
    make_client: Callable[..., TestClient],
    make_tenant: Callable[..., Tenant],
    make_operator: Callable[..., ConsoleOperator],
) -> None:
    tenant = make_tenant()
    for n in range(5):
        _row(ctx, account_id=tenant.account_id, key_id=tenant.key_id, query=f"n={n}")
    client = make_client(console_page_size=2)
    console_login(client, make_operator([tenant.account_id]))
    first = client.get("/console/audit", params={"key": tenant.key_id})
    assert _ids(first.text) == ["n=4", "n=3"]
    assert "Página 1 de 3" in first.text and "page=2" in first.text
    last = client.get("/console/audit", params={"key": tenant.key_id, "page": 3})
    assert _ids(last.text) == ["n=0"]
    beyond = client.get("/console/audit", params={"key": tenant.key_id, "page": 99})
    assert beyond.status_code == 200 and _ids(beyond.text) == []


def _who(html: str) -> list[str]:
    import re

    cells = re.findall(r'data-label="(?:Who|Quién)">(.*?)</td>', html)
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells]


def test_who_names_the_operator_and_the_key(
    ctx: AppContext,
    client: TestClient,
    make_tenant: Callable[..., Tenant],
    make_operator: Callable[..., ConsoleOperator],
) -> None:
    tenant, unlabelled = make_tenant(), make_tenant()
    with ctx.db.writing() as session:
        key = session.get(ApiKey, tenant.key_id)
        assert key is not None
        key.label = "Integración ERP"
        prefix = key.key_prefix
        bare = session.get(ApiKey, unlabelled.key_id)
        assert bare is not None
        bare.label = None
        bare_prefix = bare.key_prefix
    operator = make_operator([tenant.account_id], email="auditoria@example.com")
    _row(ctx, account_id=tenant.account_id, key_id=tenant.key_id, query="q=api")
    _row(ctx, account_id=tenant.account_id, key_id=unlabelled.key_id, query="q=bare")
    _row(ctx, account_id=tenant.account_id, operator_id=operator.id, endpoint="console.keys.create", query="q=op")
    _row(ctx, account_id=tenant.account_id, operator_id=2_000_000_000, endpoint="console.keys.create", query="q=gone")
    _row(ctx, account_id=tenant.account_id, key_id=2_000_000_000, query="q=gone-key")
    console_login(client, operator)
    page = client.get("/console/audit", params={"account": tenant.account_id}).text
    shown = dict(zip(_ids(page), _who(page), strict=True))
    assert shown["q=api"] == f"Integración ERP {prefix}…"
    assert shown["q=bare"] == f"clave {bare_prefix}…"
    assert shown["q=op"] == "auditoria@example.com"
    assert shown["q=gone"] == "operador 2000000000"
    assert shown["q=gone-key"] == "clave 2000000000"
    # The names come with the rows: one statement for the count, one for the page, however many rows.
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    with ctx.db.reading() as session:
        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", record)
        try:
            found = search_audit(session, AuditFilters(account_ids=[tenant.account_id]), offset=0, limit=50)
        finally:
            event.remove(engine, "before_cursor_execute", record)
    assert len(found.rows) == 5 and len(statements) == 2, statements
