"""POST /v2/orders/{orderId}/split (CF-21.4) and POST /v2/orders/{orderId}/messages (CF-21.5)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from alephee.http.context import AppContext
from alephee.marketplaces.models import OutboxMessage
from alephee.orders import messages as msg
from alephee.orders import shipping_rules as ship
from alephee.orders.messages import order_messages, record_buyer_reply
from alephee.orders.status_updates import order_history
from tests.fixtures.errors import assert_error
from tests.fixtures.orders import NFE_XML, PDF, AddOrder, order_info
from tests.fixtures.tenants import Tenant


def _outbox(ctx: AppContext, topic: str) -> list[OutboxMessage]:
    with ctx.db.reading() as session:
        return list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.topic == topic).order_by(OutboxMessage.id))
        )


def _cart(add_order: AddOrder, tenant: Tenant, pack: str, size: int = 2, **fields: Any) -> list[int]:
    shared = {"external_shipping_id": 41_000_000_000 + int(pack[-4:])}
    return [add_order(tenant, pack_id=pack, pack_size=size, **shared, **fields) for _ in range(size)]


# --- split ------------------------------------------------------------------------------------------------


def test_split_moves_the_order_to_its_own_cart(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    first, second, third = _cart(add_order, seller, "2000003000000101", 3, logistic_type=ship.ME2)
    response = client.post(f"/v2/orders/{first}/split", params=seller.q(splitReasonId=1))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"OrderId", "PackId", "SourcePackId", "ExternalShippingId"}
    assert body["OrderId"] == first and body["SourcePackId"] == "2000003000000101"
    assert body["PackId"] != "2000003000000101" and isinstance(body["ExternalShippingId"], int)
    [order] = client.get("/v2/orders", params=seller.q(idFrom=first, idTo=first)).json()["Results"]
    assert order["PackId"] == body["PackId"] and order["SourcePackId"] == "2000003000000101"
    assert order["Shipping"]["ExternalShippingId"] == body["ExternalShippingId"]
    assert order["IsCompletePackOrder"] is True
    pack = client.get("/v2/orders/packs/2000003000000101", params=seller.q()).json()
    assert [o["Id"] for o in pack["Orders"]] == [second, third] and pack["IsComplete"] is True
    [row] = _outbox(ctx, "order.split")
    assert row.marketplace_id == 100 and row.aggregate_id == first
    assert row.payload["PackId"] == "2000003000000101" and row.payload["SplitReasonId"] == 1
    assert row.payload["ExternalOrderId"] == order["ExternalOrderId"] and row.payload["NewPackId"] == body["PackId"]
    # Repeated after a timeout: the same answer, nothing queued again.
    again = client.post(f"/v2/orders/{first}/split", params=seller.q(splitReasonId=1))
    assert again.status_code == 200 and again.json() == body
    assert len(_outbox(ctx, "order.split")) == 1
    # The second order can still leave; then the last one is alone and cannot.
    assert client.post(f"/v2/orders/{second}/split", params=seller.q(splitReasonId=4)).status_code == 200
    assert_error(client.post(f"/v2/orders/{third}/split", params=seller.q(splitReasonId=4)), 412)
    with ctx.db.reading() as session:
        assert [h.action for h in order_history(session, first)] == ["split"]


def test_split_preconditions(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    def split(order_id: int, reason: Any = 2) -> Any:
        return client.post(f"/v2/orders/{order_id}/split", params=seller.q(splitReasonId=reason))

    ok = _cart(add_order, seller, "2000003000000201")[0]
    for reason in (None, "", 0, 5, "x"):
        params = seller.q() if reason is None else seller.q(splitReasonId=reason)
        assert_error(client.post(f"/v2/orders/{ok}/split", params=params), 400)
    assert_error(split(ok + 999), 404)
    amazon = _cart(add_order, seller, "2000003000000202", marketplace_id=20, logistic_type=ship.COURIER)[0]
    assert "Mercado Libre" in split(amazon).json()["Message"]
    assert_error(split(amazon), 412)
    alone = add_order(seller)
    assert_error(split(alone), 412)
    single = _cart(add_order, seller, "2000003000000203", 1)[0]
    assert_error(split(single), 412)
    delivered = _cart(add_order, seller, "2000003000000204", status=80)[0]
    assert_error(split(delivered), 412)
    cancelled = _cart(add_order, seller, "2000003000000205", status=90)[0]
    assert_error(split(cancelled), 412)
    for substatus in ("pending", "stale"):
        blocked = _cart(add_order, seller, f"200000300000030{len(substatus)}", shipment_substatus=substatus)[0]
        response = split(blocked)
        assert_error(response, 412)
        assert substatus.upper() in response.json()["Message"]
    assert split(ok).status_code == 200


# --- messages ---------------------------------------------------------------------------------------------


def _send(
    client: TestClient, tenant: Tenant, order_id: int, option: Any = 4, text: str | None = "Hola", **kw: Any
) -> Any:
    params = tenant.q(messageOptions=option)
    if text is not None:
        params["message"] = text
    return client.post(f"/v2/orders/{order_id}/messages", params=params, **kw)


def _reply(ctx: AppContext, tenant: Tenant, order_id: int) -> None:
    with ctx.db.writing() as session:
        record_buyer_reply(session, tenant.account_id, order_id, "Gracias!")


def test_message_is_stored_queued_and_waits_for_the_reply(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    order_id = add_order(seller, pack_id="2000003000000401", pack_size=1)
    response = _send(client, seller, order_id, 4, "Tu pedido sale hoy")
    assert response.status_code == 200 and response.json() == "OK"
    [row] = _outbox(ctx, "order.message")
    assert row.payload["Text"] == "Tu pedido sale hoy" and row.payload["MessageOption"] == 4
    assert row.payload["PackId"] == "2000003000000401" and row.payload["ExternalOrderId"]
    # The same message again (timeout retry): 200, nothing new. Another one before the reply: 409.
    assert _send(client, seller, order_id, 4, "Tu pedido sale hoy").json() == "OK"
    assert len(_outbox(ctx, "order.message")) == 1
    conflict = _send(client, seller, order_id, 4, "¿Recibiste mi mensaje?")
    assert_error(conflict, 409)
    _reply(ctx, seller, order_id)
    assert _send(client, seller, order_id, 5, "Llega el martes").status_code == 200
    with ctx.db.reading() as session:
        conversation = [(m.sender, m.text) for m in order_messages(session, order_id)]
    assert conversation == [("seller", "Tu pedido sale hoy"), ("buyer", "Gracias!"), ("seller", "Llega el martes")]


def test_message_rules(client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller, logistic_type=ship.ME2)
    assert_error(_send(client, seller, order_id, 4, "x" * 351), 400)
    assert_error(_send(client, seller, order_id, None), 400)
    assert_error(_send(client, seller, order_id, 9), 400)
    assert_error(_send(client, seller, order_id, "abc"), 400)
    assert_error(_send(client, seller, order_id, 4, None), 400)
    assert_error(_send(client, seller, order_id, 4, "   "), 400)
    assert_error(_send(client, seller, order_id + 999, 4), 404)
    assert_error(_send(client, seller, order_id, 1), 412)  # REQUEST_VARIANTS: only cross docking / drop off
    assert_error(_send(client, seller, order_id, 3, "https://factura.example/1"), 412)  # México only
    assert_error(_send(client, seller, add_order(seller, marketplace_id=20, logistic_type=ship.COURIER), 4), 412)
    assert_error(_send(client, seller, add_order(seller, origin="api", logistic_type=ship.CUSTOM), 4), 412)
    # Template option: the text sent is ignored, the country's template goes instead.
    response = _send(client, seller, order_id, 2, "texto que se ignora")
    assert response.status_code == 200
    with ctx.db.reading() as session:
        [sent] = order_messages(session, order_id)
    assert sent.text == msg.TEMPLATES[msg.REQUEST_BILLING_INFO]["AR"] and sent.message_option == 2
    cross = add_order(seller, logistic_type=ship.CROSS_DOCKING)
    assert _send(client, seller, cross, 1, None).status_code == 200
    exactly = add_order(seller)
    assert _send(client, seller, exactly, 4, "y" * 350).status_code == 200


def test_message_templates_by_country() -> None:
    text, problem = msg.message_text(msg.REQUEST_VARIANTS, "ignored", "BR")
    assert problem is None and text is not None and text.startswith("Olá!")
    assert msg.message_text(msg.REQUEST_VARIANTS, None, "PE") == (None, msg.NO_TEMPLATE.format(
        name="REQUEST_VARIANTS", country="PE"))  # fmt: skip
    assert msg.message_text(msg.SEND_INVOICE_LINK, "https://x", "MX") == ("https://x", None)
    assert msg.applicability(msg.REQUEST_VARIANTS, logistic_type=ship.DROP_OFF) is None


def test_attachments_only_after_a_reply_and_same_option_afterwards(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    order_id = add_order(seller)
    url = f"/v2/orders/{order_id}/messages"
    file = {"file": ("factura.pdf", PDF, "application/pdf")}
    # First message with an attachment: refused (412), nothing stored.
    assert_error(client.post(url, params=seller.q(messageOptions=4, message="Adjunto"), files=file), 412)
    assert _send(client, seller, order_id, 4, "Hola").status_code == 200
    _reply(ctx, seller, order_id)
    # Wrong attachment content (XML), base64 broken: 400.
    xml = {"file": ("nfe.xml", NFE_XML, "application/xml")}
    assert_error(client.post(url, params=seller.q(messageOptions=4, message="x"), files=xml), 400)
    broken = {"fileBase64": "%%%", "documentName": "f", "documentExtension": "pdf"}
    assert_error(client.post(url, params=seller.q(messageOptions=4, message="x"), json=broken), 400)
    # After the reply: a message with an attachment (JSON base64 mode, message and option in the body).
    body = {"fileBase64": base64.b64encode(PDF).decode(), "documentName": "../factura", "documentExtension": "pdf",
            "message": "Te adjunto la factura", "messageOptions": 5}  # fmt: skip
    response = client.post(url, params=seller.q(), json=body)
    assert response.status_code == 200, response.text
    rows = _outbox(ctx, "order.message")
    assert rows[-1].payload["AttachmentName"] == "factura.pdf" and rows[-1].payload["AttachmentStorageKey"]
    # Retry of that exact request: 200, nothing new.
    assert client.post(url, params=seller.q(), json=body).status_code == 200
    assert len(_outbox(ctx, "order.message")) == 2
    _reply(ctx, seller, order_id)
    assert_error(_send(client, seller, order_id, 4, "Otra cosa"), 409)  # must keep option 5
    assert _send(client, seller, order_id, 5, "Otra cosa").status_code == 200


def test_created_orders_cannot_be_messaged_or_split(
    client: TestClient, make_tenant: Callable[..., Tenant], ctx: AppContext
) -> None:
    tenant = make_tenant(marketplaces=(100,))
    created = client.post("/v2/orders", params=tenant.q(), json=order_info("API-1", marketplace_id=100)).json()["Id"]
    assert_error(_send(client, tenant, created, 4), 412)
    assert_error(client.post(f"/v2/orders/{created}/split", params=tenant.q(splitReasonId=1)), 412)


def test_outbox_payloads_parse_as_the_channels_read_them(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    from alephee.marketplaces import topics as channels

    a, b = _cart(add_order, seller, "2000003000000501", logistic_type=ship.ME1)
    external = client.get("/v2/orders", params=seller.q(idFrom=a, idTo=a)).json()["Results"][0]["ExternalOrderId"]
    client.post(f"/v2/orders/{a}/documents", params=seller.q(documentType=0, documentNumber="N-1"),
                files={"file": ("f.pdf", PDF)})  # fmt: skip
    _send(client, seller, a, 4, "Hola")
    client.put("/v2/orders", params=seller.q(), json=[{"OrderId": a, "Status": 20, "Tracking": {"Number": "T"}}])
    client.post(f"/v2/orders/{b}/split", params=seller.q(splitReasonId=2))
    [document] = _outbox(ctx, "order.document")
    parsed_doc = channels.document_upload(document.payload, document.aggregate_id)
    assert (parsed_doc.order.order_id, parsed_doc.order.external_order_id) == (a, external)
    assert parsed_doc.order.pack_id == "2000003000000501" and parsed_doc.document_number == "N-1"
    assert parsed_doc.storage_key == parsed_doc.sha256 and parsed_doc.extension == "pdf"
    [message] = _outbox(ctx, "order.message")
    parsed_msg = channels.buyer_message(message.payload, message.aggregate_id)
    assert (parsed_msg.message_option, parsed_msg.text, parsed_msg.order.external_order_id) == (4, "Hola", external)
    [status] = _outbox(ctx, "order.status")
    assert channels.order_status_push(status.payload, status.aggregate_id).order.external_order_id == external
    [split] = _outbox(ctx, "order.split")
    parsed_split = channels.split_request(split.payload, split.aggregate_id)
    assert parsed_split.split_reason_id == 2 and parsed_split.order.pack_id == "2000003000000501"
