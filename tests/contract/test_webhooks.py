"""Contract tests of the push notifications over HTTP: /v2/webhooks (create with the secret shown once, list
without secrets, delete by path or query, 404 across accounts, SSRF refusal) and /v2/notifications (paged
feed, filters, acknowledge), end to end with a real receiver."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alephee import clock
from alephee.webhooks import events
from tests.fixtures.errors import assert_error, assert_rate_headers
from tests.fixtures.tenants import Tenant
from tests.fixtures.webhooks import Hooks, Receiver, load_example

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
WEBHOOK_KEYS = {"Id", "Url", "EventTypes", "Active", "Description", "DateCreated"}
NOTIFICATION_KEYS = {
    "Id",
    "Type",
    "AccountId",
    "OccurredAt",
    "Data",
    "Delivered",
    "DeliveredAt",
    "Acknowledged",
    "AcknowledgedAt",
}
ENVELOPE_KEYS = {"Total", "Paging", "SortBy", "AvailableSorts", "Results"}
PUBLIC_URL = "https://93.184.216.34/hooks"


@pytest.fixture
def local(make_client: Callable[..., TestClient]) -> TestClient:
    """A client on an app whose settings allow 127.0.0.1 receivers (as the tests' receiver is)."""
    return make_client(webhook_allow_private_targets=True)


def _create(client: TestClient, tenant: Tenant, body: Any) -> Any:
    return client.post("/v2/webhooks", params=tenant.q(), json=body)


def test_create_shows_the_secret_once_and_list_never(client: TestClient, tenant: Tenant) -> None:
    response = _create(client, tenant, {"Url": PUBLIC_URL, "EventTypes": ["order.created", "order.status_changed"]})
    assert response.status_code == 201, response.text
    assert_rate_headers(response)
    created = response.json()
    assert set(created) == WEBHOOK_KEYS | {"Secret"}
    assert created["Secret"].startswith("whsec_") and len(created["Secret"]) > 40
    assert created["EventTypes"] == ["order.created", "order.status_changed"] and created["Active"] is True
    assert TIMESTAMP.match(created["DateCreated"])
    # Lower-case property names, a chosen secret, an inactive webhook, every type.
    chosen = _create(
        client,
        tenant,
        {"url": PUBLIC_URL + "/2", "eventtypes": ["*"], "secret": "my-own-secret-0123456789", "active": False},
    ).json()
    assert (
        chosen["Secret"] == "my-own-secret-0123456789" and chosen["Active"] is False and chosen["EventTypes"] == ["*"]
    )

    listed = client.get("/v2/webhooks", params=tenant.q())
    assert listed.status_code == 200
    body = listed.json()
    assert set(body) == ENVELOPE_KEYS and body["Total"] == 2
    assert [set(w) for w in body["Results"]] == [WEBHOOK_KEYS, WEBHOOK_KEYS]
    assert [w["Id"] for w in body["Results"]] == [created["Id"], chosen["Id"]]
    assert "whsec_" not in listed.text and "my-own-secret" not in listed.text
    page = client.get("/v2/webhooks", params=tenant.q(offset=1, limit=1)).json()
    assert [w["Id"] for w in page["Results"]] == [chosen["Id"]] and page["Paging"] == {
        "Limit": 1,
        "Offset": 1,
        "Total": 2,
    }


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"Url": "ftp://files.example/in", "EventTypes": ["*"]}, 400, "http:// or https://"),
        ({"Url": "http://127.0.0.1:8080/hooks", "EventTypes": ["*"]}, 400, "private, loopback"),
        ({"Url": "http://localhost/hooks", "EventTypes": ["*"]}, 400, "private, loopback"),
        ({"Url": "http://169.254.169.254/latest/meta-data", "EventTypes": ["*"]}, 400, "private, loopback"),
        ({"Url": "http://[::1]/", "EventTypes": ["*"]}, 400, "private, loopback"),
        ({"Url": "http://10.0.0.8/", "EventTypes": ["*"]}, 400, "private, loopback"),
        ({"Url": "https://u:p@93.184.216.34/", "EventTypes": ["*"]}, 400, "user name or password"),
        ({"Url": PUBLIC_URL + "/" + "x" * 2100, "EventTypes": ["*"]}, 400, "at most 2000"),
        ({"Url": PUBLIC_URL, "EventTypes": []}, 400, "at least one event type"),
        ({"Url": PUBLIC_URL, "EventTypes": ["order.teleported"]}, 400, "Unknown event type"),
        ({"Url": PUBLIC_URL, "EventTypes": "order.created"}, 400, "EventTypes"),
        ({"Url": PUBLIC_URL, "EventTypes": [1]}, 400, "EventTypes"),
        ({"Url": PUBLIC_URL, "EventTypes": ["*"], "Secret": "short"}, 400, "Secret must be"),
        ({"Url": PUBLIC_URL, "EventTypes": ["*"], "Secret": "has spaces in the middle"}, 400, "Secret must be"),
        ({"Url": PUBLIC_URL, "EventTypes": ["*"], "Description": "d" * 201}, 400, "Description"),
        ({"EventTypes": ["*"]}, 400, "Url"),
        ({"Url": 5, "EventTypes": ["*"]}, 400, "Url"),
        ([{"Url": PUBLIC_URL, "EventTypes": ["*"]}] * 2, 413, "Too many"),
        ("not an object", 400, "JSON object"),
    ],
)
def test_bad_webhooks_are_refused(client: TestClient, tenant: Tenant, body: Any, status: int, fragment: str) -> None:
    response = _create(client, tenant, body)
    assert_error(response, status)
    assert fragment in response.json()["Message"]
    assert client.get("/v2/webhooks", params=tenant.q()).json()["Total"] == 0


def test_non_json_bodies_are_refused(client: TestClient, tenant: Tenant) -> None:
    assert_error(client.post("/v2/webhooks", params=tenant.q(), content=b"{bad"), 400)
    assert_error(
        client.post("/v2/webhooks", params=tenant.q(), content=b"x", headers={"Content-Type": "text/plain"}), 415
    )
    assert_error(client.post("/v2/notifications/ack", params=tenant.q(), json={"Ids": [1]}), 400)


def test_the_webhook_cap_per_account(make_client: Callable[..., TestClient], tenant: Tenant) -> None:
    capped = make_client(webhook_max_per_account=1)
    assert _create(capped, tenant, {"Url": PUBLIC_URL, "EventTypes": ["*"]}).status_code == 201
    response = _create(capped, tenant, {"Url": PUBLIC_URL, "EventTypes": ["*"]})
    assert_error(response, 409)


def test_delete_by_path_and_query_and_isolation(client: TestClient, make_tenant: Callable[..., Tenant]) -> None:
    mine, other = make_tenant(), make_tenant()
    first = _create(client, mine, {"Url": PUBLIC_URL, "EventTypes": ["*"]}).json()["Id"]
    second = _create(client, mine, {"Url": PUBLIC_URL, "EventTypes": ["*"]}).json()["Id"]
    theirs = _create(client, other, {"Url": PUBLIC_URL, "EventTypes": ["*"]}).json()["Id"]

    assert_error(client.delete(f"/v2/webhooks/{theirs}", params=mine.q()), 404)
    assert_error(client.delete("/v2/webhooks", params=mine.q(webhookId=theirs)), 404)
    assert client.get("/v2/webhooks", params=other.q()).json()["Total"] == 1
    assert other.account_id not in [
        w.get("AccountId") for w in client.get("/v2/webhooks", params=mine.q()).json()["Results"]
    ]

    gone = client.delete(f"/v2/webhooks/{first}", params=mine.q())
    assert gone.status_code == 204 and gone.content == b""
    assert_error(client.delete(f"/v2/webhooks/{first}", params=mine.q()), 404)
    assert client.delete("/v2/webhooks", params=mine.q(WEBHOOKID=second)).status_code == 204
    assert client.get("/v2/webhooks", params=mine.q()).json()["Total"] == 0

    assert_error(client.delete("/v2/webhooks", params=mine.q()), 400)
    for bad in ("abc", "-1", "0", "99999999999", "1.5", "²", "١٢"):
        assert_error(client.delete(f"/v2/webhooks/{bad}", params=mine.q()), 400)
        assert_error(client.delete("/v2/webhooks", params=mine.q(webhookId=bad)), 400)
    assert_error(client.delete("/v2/webhooks/2147483647", params=mine.q()), 404)


def test_every_route_needs_the_key_and_an_own_account(client: TestClient, make_tenant: Callable[..., Tenant]) -> None:
    mine, other = make_tenant(), make_tenant()
    calls = [
        ("GET", "/v2/webhooks", None),
        ("POST", "/v2/webhooks", {"Url": PUBLIC_URL, "EventTypes": ["*"]}),
        ("DELETE", "/v2/webhooks/1", None),
        ("DELETE", "/v2/webhooks", None),
        ("GET", "/v2/notifications", None),
        ("POST", "/v2/notifications/ack", [1]),
    ]
    for method, path, body in calls:
        assert_error(client.request(method, path, json=body), 401)
        assert_error(client.request(method, path, params={"API_KEY": mine.api_key}, json=body), 401)
        foreign = {"API_KEY": mine.api_key, "accountId": other.account_id}
        assert_error(client.request(method, path, params=foreign, json=body), 401)
    assert client.get("/v2/webhooks", params=other.q()).json()["Total"] == 0


def test_the_feed_lists_filters_and_acknowledges(
    client: TestClient, make_tenant: Callable[..., Tenant], hooks: Hooks
) -> None:
    mine, other = make_tenant(), make_tenant()
    with clock.frozen(clock.utcnow() - timedelta(days=2)):
        old = hooks.emit(mine.account_id, events.ORDER_CREATED, {"OrderId": 1}, {"Status": 0})
    status = hooks.emit(mine.account_id, events.ORDER_STATUS_CHANGED, {"OrderId": 1}, {"Status": 10})
    listing = hooks.emit(mine.account_id, events.LISTING_STATUS_CHANGED, {"ListingId": 4}, {"Status": "paused"})
    theirs = hooks.emit(other.account_id, events.ORDER_CREATED, {"OrderId": 2})

    response = client.get("/v2/notifications", params=mine.q())
    assert response.status_code == 200
    assert_rate_headers(response)
    body = response.json()
    assert set(body) == ENVELOPE_KEYS and body["Total"] == 3
    assert body["SortBy"]["Id"] == "Id" and [s["Id"] for s in body["AvailableSorts"]] == ["Id"]
    assert [n["Id"] for n in body["Results"]] == [old, status, listing]
    first = body["Results"][0]
    assert set(first) == NOTIFICATION_KEYS
    assert first["Type"] == "order.created" and first["AccountId"] == mine.account_id
    assert first["Data"] == {"OrderId": 1, "Status": 0} and TIMESTAMP.match(first["OccurredAt"])
    assert (first["Delivered"], first["Acknowledged"], first["DeliveredAt"], first["AcknowledgedAt"]) == (
        False,
        False,
        None,
        None,
    )

    def ids(**query: Any) -> list[int]:
        result = client.get("/v2/notifications", params=mine.q(**query))
        assert result.status_code == 200, result.text
        return [n["Id"] for n in result.json()["Results"]]

    assert ids(type="listing.status_changed") == [listing]
    assert ids(TYPE="ORDER.CREATED") == [old]
    assert ids(dateFrom=(clock.utcnow() - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")) == [status, listing]
    assert ids(offset=1, limit=1) == [status]
    assert ids(acknowledged="true") == []
    for bad in ({"acknowledged": "maybe"}, {"type": "order.teleported"}, {"dateFrom": "yesterday"}, {"sort": "Type"}):
        assert_error(client.get("/v2/notifications", params=mine.q(**bad)), 400)
    assert_error(client.get("/v2/notifications", params=mine.q(offset=-1)), 416)
    capped = client.get("/v2/notifications", params=mine.q(limit=500))
    assert capped.status_code == 206 and capped.json()["Paging"]["Limit"] == 100

    ack = client.post(
        "/v2/notifications/ack", params=mine.q(), json=[old, str(status), theirs, old, "x", 2**63, True, "²"]
    )
    assert ack.status_code == 200, ack.text
    assert ack.json() == {
        "Total": 8,
        "Results": [
            {"Id": old, "Status": 200, "Message": "Acknowledged"},
            {"Id": status, "Status": 200, "Message": "Acknowledged"},
            {"Id": theirs, "Status": 404, "Message": "Notification not found"},
            {"Id": old, "Status": 200, "Message": "Already acknowledged"},
            {"Id": "x", "Status": 400, "Message": "Each element must be a notification Id (integer)"},
            {"Id": 2**63, "Status": 400, "Message": "Each element must be a notification Id (integer)"},
            {"Id": True, "Status": 400, "Message": "Each element must be a notification Id (integer)"},
            {"Id": "²", "Status": 400, "Message": "Each element must be a notification Id (integer)"},
        ],
    }
    assert ids() == [listing]
    assert ids(acknowledged="true") == [old, status]
    acked = client.get("/v2/notifications", params=mine.q(acknowledged="true")).json()["Results"][0]
    assert acked["Acknowledged"] is True and TIMESTAMP.match(acked["AcknowledgedAt"]) and acked["Delivered"] is False
    # The other account's event was not touched.
    assert [n["Id"] for n in client.get("/v2/notifications", params=other.q()).json()["Results"]] == [theirs]
    assert_error(client.post("/v2/notifications/ack", params=mine.q(), json=list(range(1, 102))), 413)


def test_end_to_end_over_http_with_a_real_receiver(
    local: TestClient, tenant: Tenant, hooks: Hooks, receiver: Receiver
) -> None:
    created = local.post(
        "/v2/webhooks", params=tenant.q(), json={"Url": receiver.url, "EventTypes": ["order.status_changed"]}
    )
    assert created.status_code == 201, created.text
    secret = created.json()["Secret"]
    delivered = hooks.emit(tenant.account_id, events.ORDER_STATUS_CHANGED, {"OrderId": 3}, {"Status": 20})
    unsubscribed = hooks.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 3})
    receiver.answer(502)
    hooks.drain()
    assert [r.status for r in receiver.requests] == [502, 200]
    request = receiver.requests[-1]
    load_example().verify(secret, request.headers, request.body, now=clock.utcnow().timestamp())
    assert request.json["Id"] == delivered

    # Delivered events leave the default feed; the one nobody subscribed to stays until acknowledged.
    open_ids = [n["Id"] for n in local.get("/v2/notifications", params=tenant.q()).json()["Results"]]
    assert open_ids == [unsubscribed]
    done = local.get("/v2/notifications", params=tenant.q(acknowledged="true")).json()["Results"]
    assert [(n["Id"], n["Delivered"], n["Acknowledged"]) for n in done] == [(delivered, True, True)]
    assert TIMESTAMP.match(done[0]["DeliveredAt"]) and done[0]["AcknowledgedAt"] is None
