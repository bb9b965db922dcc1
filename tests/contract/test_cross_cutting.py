"""CF-00 rules that every route follows: auth, case-insensitive names, rate-limit headers, caps, errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.errors import assert_error, assert_rate_headers
from tests.fixtures.tenants import Tenant


def test_missing_and_unknown_key_get_401(client: TestClient, tenant: Tenant) -> None:
    assert_error(client.get("/v2/accounts"), 401)
    assert_error(client.get("/v2/accounts", params={"API_KEY": "00000000-0000-0000-0000-000000000000"}), 401)
    assert_error(client.get(f"/v2/accounts/{tenant.account_id}/stores", params={"API_KEY": ""}), 401)


def test_account_not_linked_to_key_gets_401(client: TestClient, make_tenant: Callable[..., Tenant]) -> None:
    mine, other = make_tenant(), make_tenant()
    response = client.get(f"/v2/accounts/{other.account_id}/stores", params=mine.key())
    assert_error(response, 401)
    assert response.json()["Message"] == "The accountId is not associated with the given API_KEY"
    assert_error(client.get("/v2/accounts/abc/stores", params=mine.key()), 401)
    # GET /v2/accounts with a foreign accountId filter is refused too.
    assert_error(client.get("/v2/accounts", params=mine.key(accountId=other.account_id)), 401)


def test_query_parameter_names_are_case_insensitive(client: TestClient, tenant: Tenant) -> None:
    for name in ("API_KEY", "api_key", "Api_Key"):
        response = client.get(f"/v2/accounts/{tenant.account_id}/stores", params={name: tenant.api_key})
        assert response.status_code == 200, (name, response.text)
    response = client.get(
        "/v2/accounts", params={"api_key": tenant.api_key, "ACCOUNTID": tenant.account_id, "LIMIT": "1"}
    )
    assert response.status_code == 200
    assert response.json()["Paging"]["Limit"] == 1


def test_keys_are_matched_without_regard_to_case(client: TestClient, tenant: Tenant) -> None:
    assert client.get("/v2/accounts", params={"API_KEY": tenant.api_key.lower()}).status_code == 200


def test_unknown_query_parameters_are_ignored(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/v2/accounts", params=tenant.key(integratd="false", foo="bar", sortt="x"))
    assert response.status_code == 200


def test_path_and_query_account_must_agree(client: TestClient, make_tenant: Callable[..., Tenant]) -> None:
    tenant = make_tenant()
    ok = client.get(f"/v2/accounts/{tenant.account_id}/stores", params=tenant.q())
    assert ok.status_code == 200
    assert_error(client.get(f"/v2/accounts/{tenant.account_id}/stores", params=tenant.q(accountId=999999)), 400)


def test_rate_limit_headers_on_every_response(client: TestClient, tenant: Tenant) -> None:
    responses = [
        client.get("/v2/accounts", params=tenant.key()),
        client.get("/v2/accounts"),
        client.get("/v2/no/such/route"),
        client.get(f"/v2/accounts/{tenant.account_id}/stores", params=tenant.key(sort="nope")),
        client.put(f"/v2/accounts/{tenant.account_id}/fiscaltaxrules", params=tenant.key(), content=b"{bad"),
    ]
    for response in responses:
        assert_rate_headers(response)
    allowed = responses[0]
    assert allowed.headers["x-ratelimit-retryafter"] == "-1"
    assert int(allowed.headers["x-ratelimit-limit"]) == 100_000
    assert int(allowed.headers["x-ratelimit-remaining"]) == 100_000 - 1


def test_429_when_over_the_per_minute_limit_and_nothing_processed(
    client: TestClient, make_tenant: Callable[..., Tenant]
) -> None:
    tenant = make_tenant(rate_limit=3)
    path = f"/v2/accounts/{tenant.account_id}/fiscaltaxrules"
    body = [{"Code": "R1", "Name": "rule", "Percentage": 1}]
    for _ in range(3):
        assert client.get(path, params=tenant.key()).status_code == 200
    refused = client.put(path, params=tenant.key(), json=body)
    # The PUT is another endpoint: its own bucket.
    assert refused.status_code == 200
    over = client.get(path, params=tenant.key())
    assert_error(over, 429)
    assert over.headers["x-ratelimit-remaining"] == "0"
    assert int(over.headers["x-ratelimit-retryafter"]) >= 1
    assert int(over.headers["x-ratelimit-limit"]) == 3
    # Another endpoint still has its budget; a 401 does not count.
    assert client.get("/v2/accounts", params=tenant.key()).status_code == 200


def test_rate_limited_write_changes_nothing(client: TestClient, make_tenant: Callable[..., Tenant]) -> None:
    tenant = make_tenant(rate_limit=1)
    path = f"/v2/accounts/{tenant.account_id}/fiscaltaxrules"
    assert client.put(path, params=tenant.key(), json=[{"Code": "A", "Name": "a", "Percentage": 1}]).status_code == 200
    refused = client.put(path, params=tenant.key(), json=[{"Code": "B", "Name": "b", "Percentage": 2}])
    assert_error(refused, 429)
    rows = client.get(path, params=tenant.key()).json()["Results"]
    assert [r["Code"] for r in rows] == ["A"]


def test_endpoint_default_limits_come_from_the_table(make_client: Callable[..., TestClient], tenant: Tenant) -> None:
    from alephee.accounts import service  # noqa: F401  (the tenant key has its own limit; use a plain key)

    api = make_client(limits={"accounts.stores": {"rpm": 2}})
    # Keys with their own limit override the table; check with a key without one.
    from alephee.accounts.service import create_key

    ctx = api.app.state.ctx  # type: ignore[attr-defined]
    with ctx.db.writing() as session:
        _, secret = create_key(session, [tenant.account_id])
    path = f"/v2/accounts/{tenant.account_id}/stores"
    statuses = [api.get(path, params={"API_KEY": secret}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert api.get(path, params={"API_KEY": secret}).headers["x-ratelimit-limit"] == "2"


def test_413_over_the_write_cap_applies_nothing(make_client: Callable[..., TestClient], tenant: Tenant) -> None:
    api = make_client(limits={"accounts.fiscaltaxrules.put": {"cap": 3}})
    path = f"/v2/accounts/{tenant.account_id}/fiscaltaxrules"
    body = [{"Code": f"R{i}", "Name": "r", "Percentage": 1} for i in range(4)]
    assert_error(api.put(path, params=tenant.key(), json=body), 413)
    assert api.get(path, params=tenant.key()).json()["Total"] == 0
    assert api.put(path, params=tenant.key(), json=body[:3]).status_code == 200


def test_global_body_cap_413_before_parsing(make_client: Callable[..., TestClient], tenant: Tenant) -> None:
    api = make_client(max_body_bytes=1000)
    response = api.put(
        f"/v2/accounts/{tenant.account_id}/fiscaltaxrules",
        params=tenant.key(),
        content=b"[" + b" " * 2000 + b"]",
        headers={"content-type": "application/json"},
    )
    assert_error(response, 413)
    assert_rate_headers(response)


def test_206_when_limit_over_the_list_cap(make_client: Callable[..., TestClient], tenant: Tenant) -> None:
    api = make_client(limits={"accounts.stores": {"cap": 2}})
    from alephee.accounts.service import create_store

    ctx = api.app.state.ctx  # type: ignore[attr-defined]
    with ctx.db.writing() as session:
        for i in range(3):
            create_store(session, tenant.account_id, f"S{i}")
    path = f"/v2/accounts/{tenant.account_id}/stores"
    partial = api.get(path, params=tenant.key(limit=50))
    assert partial.status_code == 206
    body = partial.json()
    assert body["Paging"] == {"Limit": 2, "Offset": 0, "Total": 3}
    assert len(body["Results"]) == 2
    assert api.get(path, params=tenant.key(limit=2)).status_code == 200


@pytest.mark.parametrize(("params", "status"), [({"offset": "-1"}, 416), ({"limit": "0"}, 416), ({"limit": "x"}, 400)])
def test_bad_paging(client: TestClient, tenant: Tenant, params: dict[str, str], status: int) -> None:
    assert_error(client.get(f"/v2/accounts/{tenant.account_id}/stores", params=tenant.key(**params)), status)


def test_unknown_sort_is_400_and_sorts_are_case_insensitive(client: TestClient, tenant: Tenant) -> None:
    path = f"/v2/accounts/{tenant.account_id}/stores"
    assert_error(client.get(path, params=tenant.key(sort="price")), 400)
    body = client.get(path, params=tenant.key(sort="DATECREATED")).json()
    assert body["SortBy"] == {"Id": "dateCreated", "Name": "Order by date created asc"}


def test_error_shapes_for_bad_bodies(client: TestClient, tenant: Tenant) -> None:
    path = f"/v2/accounts/{tenant.account_id}/fiscaltaxrules"
    assert_error(
        client.put(path, params=tenant.key(), content=b"{not json", headers={"content-type": "application/json"}), 400
    )
    assert_error(client.put(path, params=tenant.key(), content=b"", headers={"content-type": "application/json"}), 400)
    assert_error(client.put(path, params=tenant.key(), json={"Code": "x"}), 400)
    assert_error(client.put(path, params=tenant.key(), content=b"a=b", headers={"content-type": "text/plain"}), 415)
    assert_error(
        client.put(path, params=tenant.key(), content=b"[NaN]", headers={"content-type": "application/json"}), 400
    )
    huge = b"[" + b"9" * 10_000 + b"]"
    assert_error(client.put(path, params=tenant.key(), content=huge, headers={"content-type": "application/json"}), 400)
    invalid_utf8 = b'[{"Code": "\xff\xfe"}]'
    assert_error(
        client.put(path, params=tenant.key(), content=invalid_utf8, headers={"content-type": "application/json"}), 400
    )


def test_unknown_route_and_method_are_json_errors(client: TestClient, tenant: Tenant) -> None:
    assert_error(client.get("/v2/nothing/here", params=tenant.key()), 404)
    assert_error(client.delete("/v2/accounts", params=tenant.key()), 405)


def test_swagger_needs_no_key(client: TestClient) -> None:
    spec = client.get("/swagger/docs/v2")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert "/v2/accounts" in paths and "/v2/accounts/{accountId}/stores" in paths
    stores = paths["/v2/accounts/{accountId}/stores"]["get"]
    params = {p["name"] for p in stores["parameters"]}
    # The key is the document's apiKey security scheme (a query parameter named API_KEY), not a parameter.
    assert stores["security"] == [{"ApiKey": []}]
    assert spec.json()["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "query",
        "name": "API_KEY",
        "description": spec.json()["components"]["securitySchemes"]["ApiKey"]["description"],
    }
    assert {
        "accountId",
        "allowPickupInStores",
        "withAccountPickup",
        "marketplace",
        "offset",
        "limit",
        "sort",
    } <= params
    ui = client.get("/swagger/ui/index")
    assert ui.status_code == 200 and "swagger-ui" in ui.text
    assert client.get("/swagger/static/swagger-ui-bundle.js").status_code == 200


def test_unexpected_errors_are_plain_text_500_with_request_id(
    client: TestClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alephee.accounts import reads as service

    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(service, "list_stores", boom)
    response = client.get(f"/v2/accounts/{tenant.account_id}/stores", params=tenant.key())
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["x-request-id"] in response.text
    assert_rate_headers(response)
