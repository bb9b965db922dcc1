"""Contract tests of CF-10 (accounts section) over HTTP."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from alephee import clock
from alephee.accounts import service, tokens
from alephee.http.context import AppContext
from tests.fixtures.errors import assert_error
from tests.fixtures.tenants import Tenant

ENVELOPE = {"Total", "Paging", "SortBy", "AvailableSorts", "Results"}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def test_get_accounts_lists_only_the_keys_accounts(
    client: TestClient, ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    other = make_tenant(name="Other")
    with ctx.db.writing() as session:
        a = service.create_account(
            session,
            name="Distribuidora",
            account_type="distributor",
            business_name="Dist SA",
            doc_type="CUIT",
            doc_number="30-1",
            own_code="D1",
        )
        b = service.create_account(session, name="Vendedor", account_type="seller", doc_number="30-2")
        _, secret = service.create_key(session, [a.id, b.id])
    response = client.get("/v2/accounts", params={"API_KEY": secret})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == ENVELOPE
    assert body["Total"] == 2 and body["Paging"] == {"Limit": 100, "Offset": 0, "Total": 2}
    assert [r["Id"] for r in body["Results"]] == [a.id, b.id]
    assert other.account_id not in [r["Id"] for r in body["Results"]]
    assert body["Results"][0] == {
        "Id": a.id,
        "Name": "Distribuidora",
        "BusinessName": "Dist SA",
        "DocType": "CUIT",
        "DocNumber": "30-1",
        "PickupCode": None,
        "OwnCode": "D1",
    }
    filtered = client.get("/v2/accounts", params={"API_KEY": secret, "documentNumber": "30-2"}).json()
    assert [r["Id"] for r in filtered["Results"]] == [b.id]
    only = client.get("/v2/accounts", params={"API_KEY": secret, "accountId": b.id}).json()
    assert [r["Id"] for r in only["Results"]] == [b.id]
    paged = client.get("/v2/accounts", params={"API_KEY": secret, "offset": 1, "limit": 1}).json()
    assert [r["Id"] for r in paged["Results"]] == [b.id] and paged["Total"] == 2


def test_marketplaces_of_the_account(client: TestClient, make_tenant: Callable[..., Tenant]) -> None:
    tenant = make_tenant(marketplaces=(30, 1, 100))
    body = client.get(f"/v2/accounts/{tenant.account_id}/marketplaces", params=tenant.key()).json()
    assert set(body) == ENVELOPE
    assert [r["Id"] for r in body["Results"]] == [1, 30, 100]
    assert body["Results"][0] == {"Id": 1, "Name": "Mercado Libre Argentina", "Channel": "Mercado Libre"}
    by_name = client.get(f"/v2/accounts/{tenant.account_id}/marketplaces", params=tenant.key(sort="name")).json()
    assert [r["Name"] for r in by_name["Results"]] == sorted(r["Name"] for r in body["Results"])
    lonely = make_tenant()
    assert client.get(f"/v2/accounts/{lonely.account_id}/marketplaces", params=lonely.key()).json()["Total"] == 0


def test_price_lists(client: TestClient, ctx: AppContext, tenant: Tenant) -> None:
    with ctx.db.writing() as session:
        first = service.create_price_list(session, tenant.account_id, "General", currency="ARS")
        second = service.create_price_list(session, tenant.account_id, "Mayorista", currency="ARS", is_default=True)
    body = client.get(f"/v2/accounts/{tenant.account_id}/pricelists", params=tenant.q()).json()
    assert body["Results"] == [
        {"Id": first.id, "Name": "General", "Currency": "ARS", "IsDefault": False},
        {"Id": second.id, "Name": "Mayorista", "Currency": "ARS", "IsDefault": True},
    ]


@pytest.fixture
def stores(ctx: AppContext, tenant: Tenant) -> dict[str, int]:
    with ctx.db.writing() as session:
        base = clock.utcnow()
        plain = service.create_store(session, tenant.account_id, "Depósito", created_at=base)
        pickup = service.create_store(
            session,
            tenant.account_id,
            "Centro",
            allow_pickup_store=True,
            is_principal=True,
            external_ids=[(1, "5501", "Centro ML")],
            created_at=base - timedelta(days=2),
            address={"CountryId": "AR", "City": "CABA", "StreetNumber": "1234"},
        )
        point = service.create_store(
            session,
            tenant.account_id,
            "Kiosco",
            allow_pickup_store=True,
            pickup={"name": "Kiosco", "seller_account_id": tenant.account_id, "external_id": 77},
            external_ids=[(100, "77", None)],
            created_at=base - timedelta(days=1),
        )
        return {"plain": plain.id, "pickup": pickup.id, "point": point.id}


def _ids(client: TestClient, tenant: Tenant, **params: object) -> list[int]:
    response = client.get(f"/v2/accounts/{tenant.account_id}/stores", params=tenant.key(**params))
    assert response.status_code == 200, response.text
    return [r["Id"] for r in response.json()["Results"]]


def test_store_filters_combine(client: TestClient, tenant: Tenant, stores: dict[str, int]) -> None:
    assert _ids(client, tenant) == sorted(stores.values())
    assert _ids(client, tenant, allowPickupInStores="true") == sorted([stores["pickup"], stores["point"]])
    assert _ids(client, tenant, allowPickupInStores="false") == [stores["plain"]]
    assert _ids(client, tenant, withAccountPickup="true") == [stores["point"]]
    assert _ids(client, tenant, withAccountPickup="False") == sorted([stores["plain"], stores["pickup"]])
    assert _ids(client, tenant, marketplace=1) == [stores["pickup"]]
    assert _ids(client, tenant, marketplace=100, allowPickupInStores="true") == [stores["point"]]
    assert _ids(client, tenant, marketplace=100, withAccountPickup="false") == []
    assert _ids(client, tenant, sort="dateCreated") == [stores["pickup"], stores["point"], stores["plain"]]
    assert_error(
        client.get(f"/v2/accounts/{tenant.account_id}/stores", params=tenant.key(allowPickupInStores="maybe")), 400
    )


def test_store_shape(client: TestClient, tenant: Tenant, stores: dict[str, int]) -> None:
    results = {
        r["Id"]: r
        for r in client.get(f"/v2/accounts/{tenant.account_id}/stores", params=tenant.key()).json()["Results"]
    }
    centro = results[stores["pickup"]]
    assert set(centro) == {
        "Id",
        "Name",
        "BusinessName",
        "ExternalStoreId",
        "IntegrationCode",
        "IsPrincipal",
        "OpenHours",
        "AvailabilityTimeInHours",
        "AdditionalTimeInHours",
        "AllowPickUpStore",
        "AllowShipments",
        "AccountPickup",
        "LogisticTagsExclude",
        "Zone",
        "Address",
        "DateCreated",
    }
    assert centro["ExternalStoreId"] == [
        {"Id": 5501, "ExternalId": "5501", "Name": "Centro ML", "MarketplaceID": 1, "MarketPlaceId": 1}
    ]
    assert centro["AccountPickup"] is None and centro["IsPrincipal"] is True
    assert centro["Address"]["City"] == "CABA" and centro["Address"]["StreetNumber"] == "1234"
    assert TIMESTAMP.match(centro["DateCreated"])
    pickup = results[stores["point"]]["AccountPickup"]
    assert pickup["SellerAccountID"] == pickup["SellerAccountId"] == tenant.account_id
    assert pickup["ExternalPickupId"] == 77 and pickup["Name"] == "Kiosco"


# --- login token ---------------------------------------------------------------------------------------


@pytest.fixture
def b2b_tenant(make_tenant: Callable[..., Tenant], ctx: AppContext) -> Tenant:
    tenant = make_tenant(b2b_portal=True, b2b_portal_url="https://b2b.mitienda.example")
    with ctx.db.writing() as session:
        service.create_user(session, tenant.account_id, "compras@cliente.example")
        service.create_user(session, tenant.account_id, "old@cliente.example", active=False)
    return tenant


def _token(client: TestClient, tenant: Tenant, **params: object):  # type: ignore[no-untyped-def]
    return client.get(f"/v2/accounts/{tenant.account_id}/logintoken", params=tenant.key(**params))


def test_login_token_module_1(client: TestClient, b2b_tenant: Tenant) -> None:
    response = _token(client, b2b_tenant, userEmail="COMPRAS@cliente.example", module=1, ttl=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"Token", "Url", "Module", "TTL", "ExpirationDate"}
    assert body["Url"] == f"https://b2b.mitienda.example/login/token?token={body['Token']}"
    assert body["Module"] == 1 and body["TTL"] == 30 and TIMESTAMP.match(body["ExpirationDate"])
    default = _token(client, b2b_tenant, userEmail="compras@cliente.example").json()
    assert default["Module"] == 1 and default["TTL"] == 30 and default["Token"] != body["Token"]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"userEmail": "compras@cliente.example", "ttl": 4}, 400),
        ({"userEmail": "compras@cliente.example", "ttl": 61}, 400),
        ({"userEmail": "compras@cliente.example", "ttl": "abc"}, 400),
        ({"userEmail": "compras@cliente.example", "module": 3}, 400),
        ({"module": 1}, 400),
        ({"userEmail": "not-an-email"}, 400),
        ({"userEmail": "nobody@cliente.example"}, 401),
        ({"userEmail": "old@cliente.example"}, 401),
    ],
)
def test_login_token_validation(client: TestClient, b2b_tenant: Tenant, params: dict[str, object], status: int) -> None:
    assert_error(_token(client, b2b_tenant, **params), status)


def test_login_token_module_1_without_portal_is_412(client: TestClient, ctx: AppContext, tenant: Tenant) -> None:
    with ctx.db.writing() as session:
        service.create_user(session, tenant.account_id, "u@x.example")
    assert_error(_token(client, tenant, userEmail="u@x.example", module=1), 412)
    module2 = _token(client, tenant, module=2, ttl=5)
    assert module2.status_code == 200 and module2.json()["Url"] is None


def test_login_tokens_are_single_use_and_expire(client: TestClient, ctx: AppContext, tenant: Tenant) -> None:
    from alephee.errors import Unauthorized

    token = _token(client, tenant, module=2, ttl=10).json()["Token"]
    with ctx.db.writing() as session:
        used = tokens.consume_login_token(session, token, module=2, account_id=tenant.account_id)
        assert used.account_id == tenant.account_id
    with ctx.db.writing() as session, pytest.raises(Unauthorized, match="already used"):
        tokens.consume_login_token(session, token, module=2, account_id=tenant.account_id)
    late = _token(client, tenant, module=2, ttl=5).json()["Token"]
    clock.advance(timedelta(seconds=6))
    with ctx.db.writing() as session, pytest.raises(Unauthorized, match="expired"):
        tokens.consume_login_token(session, late, module=2, account_id=tenant.account_id)
    other = _token(client, tenant, module=2).json()["Token"]
    with ctx.db.writing() as session, pytest.raises(Unauthorized, match="Invalid"):
        tokens.consume_login_token(session, other, module=1, account_id=tenant.account_id)
    with ctx.db.writing() as session, pytest.raises(Unauthorized, match="Invalid"):
        tokens.consume_login_token(session, other, module=2, account_id=tenant.account_id + 1)


# --- fiscal tax rules ----------------------------------------------------------------------------------


def test_fiscal_tax_rules_upsert_and_read(client: TestClient, tenant: Tenant) -> None:
    path = f"/v2/accounts/{tenant.account_id}/fiscaltaxrules"
    body = [
        {"code": "IVA21", "name": "IVA 21", "percentage": 21, "taxType": "VAT"},
        {"Code": "IIBB", "Name": "IIBB", "Percentage": 3.5, "StateCode": "C", "TaxType": "GrossIncome"},
        {"Code": "BAD", "Name": "x", "Percentage": 101},
        {"Code": "IVA21", "Name": "dup", "Percentage": 10},
        "not an object",
    ]
    response = client.put(path, params=tenant.key(), json=body)
    assert response.status_code == 200
    result = response.json()
    assert result["Quantities"] == {"Ok": 0, "Error": 3, "Warning": 0, "Info": 2, "Total": 5}
    assert [i["ItemNumber"] for i in result["Items"]] == [0, 1, 2, 3, 4]
    assert [i["ValidationLevel"]["Id"] for i in result["Items"]] == [2, 2, 0, 0, 0]
    assert (
        result["Items"][0]["KeyField"] == "Code"
        and result["Items"][0]["KeyValue"] == result["Items"][0]["keyValue"] == "IVA21"
    )
    rules = client.get(path, params=tenant.key()).json()["Results"]
    assert [(r["Code"], r["Percentage"]) for r in rules] == [("IIBB", 3.5), ("IVA21", 21)]
    # Update in place via the alias path.
    client.put(
        f"/v2/accounts/{tenant.account_id}/taxrules",
        params=tenant.key(),
        json=[{"Code": "IVA21", "Name": "IVA", "Percentage": 10.5}],
    )
    rules = client.get(f"/v2/accounts/{tenant.account_id}/taxrules", params=tenant.key()).json()["Results"]
    assert [(r["Code"], r["Name"], r["Percentage"]) for r in rules][1] == ("IVA21", "IVA", 10.5)


def test_fiscal_tax_rules_all_failing_is_412(client: TestClient, tenant: Tenant) -> None:
    response = client.put(f"/v2/accounts/{tenant.account_id}/fiscaltaxrules", params=tenant.key(), json=[{"Code": "X"}])
    assert response.status_code == 412
    assert response.json()["Quantities"]["Error"] == 1


def test_tenant_isolation_on_every_account_route(client: TestClient, make_tenant: Callable[..., Tenant]) -> None:
    mine, other = make_tenant(), make_tenant()
    for suffix in ("marketplaces", "pricelists", "stores", "logintoken", "fiscaltaxrules", "taxrules"):
        response = client.get(f"/v2/accounts/{other.account_id}/{suffix}", params=mine.key())
        assert_error(response, 401)
    assert_error(client.put(f"/v2/accounts/{other.account_id}/fiscaltaxrules", params=mine.key(), json=[]), 401)
