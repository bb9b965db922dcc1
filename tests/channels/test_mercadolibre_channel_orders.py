"""The Mercado Libre channel's orders and after-sale calls against a fake API: the order backstop (search window,
full orders with shipment and pack size, cursor and pages), notifications (orders, items, shipments, messages,
others ignored), the seller's listings, labels, fiscal documents and buyer messages."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from alephee.http.context import AppContext
from alephee.marketplaces.contract import (
    BuyerMessage,
    ChannelNotice,
    DocumentUpload,
    LabelRequest,
    NoticeResult,
    OrderRef,
    OrderStatusPush,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from alephee.orders.documents import store_for
from tests.channels.mercadolibre_fake import (
    BUYER_ID,
    SELLER_ID,
    FakeMercadoLibre,
    Linked,
    link,
    order_json,
    reply,
    shipment_json,
)
from tests.fixtures.tenants import Tenant

PACK = 2000006556183755
SHIPMENT = 44028792542


@pytest.fixture
def linked(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> Linked:
    tenant = make_tenant(marketplaces=(1,))
    fake = FakeMercadoLibre()
    first = order_json(2000009713473608)
    second = order_json(2000009713473609, item_id="MLA1000000002")
    second["last_updated"] = "2024-11-01T11:15:00.000-04:00"
    fake.orders = {first["id"]: first, second["id"]: second}
    fake.shipments = {SHIPMENT: shipment_json(SHIPMENT)}
    fake.packs = {
        PACK: {
            "id": PACK,
            "shipment": {"id": SHIPMENT},
            "orders": [{"id": first["id"]}, {"id": second["id"]}],
            "status": "released",
            "date_created": "2024-08-15T17:38:30.000-0400",
        }
    }
    return link(ctx, tenant.account_id, fake)


def test_pull_orders_searches_an_hour_truncated_window_and_pages(linked: Linked) -> None:
    channel, context, fake = linked.channel, linked.context, linked.fake

    first = channel.pull_orders(context, "2024-11-01T14:37:20+00:00", limit=1)
    [search] = fake.sent("GET", "/orders/search")
    assert dict(search.url.params) == {
        "seller": str(SELLER_ID),
        "order.date_last_updated.from": "2024-11-01T13:00:00.000+00:00",
        "sort": "date_asc",
        "offset": "0",
        "limit": "1",
    }
    [order] = first.orders
    assert (order.external_order_id, order.pack_size, order.shipping_status) == ("2000009713473608", 2, "ready_to_ship")
    assert fake.sent("GET", f"/shipments/{SHIPMENT}")[0].headers["x-format-new"] == "true"
    assert first.has_more and first.cursor is not None

    second = channel.pull_orders(context, first.cursor, limit=1)
    assert fake.sent("GET", "/orders/search")[-1].url.params["offset"] == "1"
    assert fake.sent("GET", "/orders/search")[-1].url.params["order.date_last_updated.from"] == (
        "2024-11-01T13:00:00.000+00:00"
    )
    [later] = second.orders
    assert later.external_order_id == "2000009713473609" and not second.has_more
    # The cursor is the latest change seen; the next pull starts an hour before it.
    assert second.cursor == datetime(2024, 11, 1, 15, 15, tzinfo=UTC).isoformat()
    channel.pull_orders(context, second.cursor)
    assert fake.sent("GET", "/orders/search")[-1].url.params["order.date_last_updated.from"] == (
        "2024-11-01T14:00:00.000+00:00"
    )
    assert fake.sent("GET", "/orders/search")[-1].url.params["limit"] == "50"


def test_order_and_shipment_notices_read_the_orders(linked: Linked) -> None:
    channel, context = linked.channel, linked.context
    result = channel.read_notice(context, ChannelNotice(topic="orders_v2", resource="/orders/2000009713473608"))
    [order] = result.orders
    assert order.external_order_id == "2000009713473608" and order.pack_size == 2 and result.ignored is None

    result = channel.read_notice(context, ChannelNotice(topic="shipments", resource=f"/shipments/{SHIPMENT}"))
    assert [o.external_order_id for o in result.orders] == ["2000009713473608", "2000009713473609"]
    assert all(o.shipping_substatus == "ready_to_print" for o in result.orders)
    assert len(linked.fake.sent("GET", f"/packs/{PACK}")) == 2  # once per notice, not once per order

    ignored = channel.read_notice(context, ChannelNotice(topic="payments", resource="/collections/1"))
    assert ignored.ignored == "topic payments not followed" and linked.fake.sent("GET", "/collections") == []


def test_item_notice_and_the_sellers_listings(linked: Linked) -> None:
    fake = linked.fake
    for n in range(25):
        item_id = f"MLA{2000000000 + n}"
        attributes = [{"id": "SELLER_SKU", "value_name": f"SKU-{n}"}]
        fake.items[item_id] = {"id": item_id, "status": "active", "attributes": attributes, "price": 10}
    fake.items["MLA2000000003"]["variations"] = [
        {"id": 1, "attributes": [{"id": "SELLER_SKU", "value_name": "SKU-3-RED"}]}
    ]

    result = linked.channel.read_notice(linked.context, ChannelNotice(topic="items", resource="/items/MLA2000000003"))
    [state] = result.listings
    assert (state.external_id, state.sku, state.variations) == ("MLA2000000003", "SKU-3", (("1", "SKU-3-RED"),))

    page = linked.channel.list_listings(linked.context, None, limit=22)
    [search] = fake.sent("GET", f"/users/{SELLER_ID}/items/search")
    assert search.url.params["search_type"] == "scan" and "scroll_id" not in search.url.params
    assert [len(r.url.params["ids"].split(",")) for r in fake.sent("GET", "/items/bulk")] == [20, 2]
    assert len(page.listings) == 22 and page.has_more and page.cursor == "22"
    rest = linked.channel.list_listings(linked.context, page.cursor, limit=22)
    assert fake.sent("GET", f"/users/{SELLER_ID}/items/search")[-1].url.params["scroll_id"] == "22"
    assert [s.sku for s in rest.listings] == ["SKU-22", "SKU-23", "SKU-24"]
    end = linked.channel.list_listings(linked.context, rest.cursor, limit=22)
    assert end.listings == () and not end.has_more and end.cursor is None


def test_labels_in_each_format(linked: Linked) -> None:
    ref = OrderRef(external_order_id="2000009713473608")
    pdf = linked.channel.fetch_label(linked.context, LabelRequest(ref, "PDF", str(SHIPMENT)))
    assert (pdf.format, pdf.media_type, pdf.content) == ("PDF", "application/pdf", b"%PDF-1.4 label")
    [call] = linked.fake.sent("GET", "/shipment_labels")
    assert dict(call.url.params) == {"shipment_ids": str(SHIPMENT), "response_type": "pdf"}

    zpl = linked.channel.fetch_label(linked.context, LabelRequest(ref, "TXT", str(SHIPMENT)))
    assert zpl.content.startswith(b"^XA") and linked.fake.sent("GET", "/shipment_labels")[-1].url.params[
        "response_type"
    ] == ("zpl2")

    both = linked.channel.fetch_label(linked.context, LabelRequest(ref, "ZIP", str(SHIPMENT)))
    with zipfile.ZipFile(io.BytesIO(both.content)) as archive:
        assert sorted(archive.namelist()) == [f"label-{SHIPMENT}.pdf", f"label-{SHIPMENT}.txt"]
        assert archive.read(f"label-{SHIPMENT}.pdf") == b"%PDF-1.4 label"

    linked.fake.shipments[SHIPMENT]["status"] = "shipped"
    with pytest.raises(
        PermanentDeliveryError, match=r"cannot be printed in its current status: .*not_printable_status"
    ):
        linked.channel.fetch_label(linked.context, LabelRequest(ref, "PDF", str(SHIPMENT)))


def test_invoices_go_to_the_pack_as_multipart(linked: Linked) -> None:
    key = store_for(linked.settings.documents_dir).put(b"%PDF-1.4 factura B")
    upload = DocumentUpload(
        order=OrderRef(external_order_id="2000009713473608", pack_id=str(PACK)),
        document_type=0,
        document_number="0001-00000042",
        extension="pdf",
        content_type="application/pdf",
        storage_key=key,
    )
    receipt = linked.channel.upload_document(linked.context, upload)
    assert receipt.forwarded and receipt.external_document_id == f"{SELLER_ID}_doc-{PACK}"
    [post] = linked.fake.sent("POST", f"/packs/{PACK}/fiscal_documents")
    assert post.headers["content-type"].startswith("multipart/form-data")
    assert b'name="fiscal_document"; filename="0001-00000042.pdf"' in post.content
    assert b"%PDF-1.4 factura B" in post.content

    # Without a pack, the order id stands in the same path; receipts stay in the hub.
    no_pack = DocumentUpload(order=OrderRef(external_order_id="2000009713473608"), document_type=0, storage_key=key)
    assert linked.channel.upload_document(linked.context, no_pack).forwarded
    assert linked.fake.sent("POST", "/packs/2000009713473608/fiscal_documents")
    receipt_doc = DocumentUpload(order=OrderRef(external_order_id="1"), document_type=1, storage_key=key)
    assert linked.channel.upload_document(linked.context, receipt_doc).forwarded is False
    assert len(linked.fake.sent("POST", "/packs/")) == 2


def test_brazil_keeps_pdf_invoices_in_the_hub(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    tenant = make_tenant(marketplaces=(1,))
    brazil = link(ctx, tenant.account_id, FakeMercadoLibre(), site_id="MLB")
    upload = DocumentUpload(
        order=OrderRef(external_order_id="1", pack_id="2"), document_type=0, extension="pdf", storage_key="x"
    )
    assert brazil.channel.upload_document(brazil.context, upload).forwarded is False
    assert brazil.fake.requests == []


def test_buyer_messages(linked: Linked) -> None:
    order = OrderRef(external_order_id="2000009713473608", pack_id=str(PACK))
    linked.channel.send_buyer_message(linked.context, BuyerMessage(order, 1, "¡Hola! Tu paquete fue despachado."))
    [post] = linked.fake.sent("POST", f"/messages/packs/{PACK}/sellers/{SELLER_ID}")
    assert post.url.params["tag"] == "post_sale"
    assert post.read() and linked.fake.messages[str(PACK)][0] == {
        "id": "m1",
        "from": {"user_id": str(SELLER_ID)},
        "to": {"user_id": str(BUYER_ID)},
        "text": "¡Hola! Tu paquete fue despachado.",
    }

    # Longer than 350 characters: refused before calling.
    calls = len(linked.fake.requests)
    with pytest.raises(PermanentDeliveryError, match="at most 350 characters"):
        linked.channel.send_buyer_message(linked.context, BuyerMessage(order, 1, "x" * 351))
    assert len(linked.fake.requests) == calls

    # A blocked conversation (cancelled order) is a permanent refusal saying so.
    blocked = {"status_code": 403, "code": "forbidden", "message": "blocked_conversation_send_message_forbidden"}
    linked.fake.fail("POST", "/messages/", reply(403, blocked))
    with pytest.raises(PermanentDeliveryError, match=r"conversation with the buyer is blocked.*blocked_conversation"):
        linked.channel.send_buyer_message(linked.context, BuyerMessage(order, 1, "¿Recibiste el paquete?"))


def test_message_notice_reads_the_conversation(linked: Linked) -> None:
    linked.fake.messages[str(PACK)] = [
        {
            "id": "a1",
            "from": {"user_id": BUYER_ID},
            "text": "¿Cuándo llega?",
            "status": "available",
            "message_date": {"created": "2020-12-05T20:01:46.000Z"},
        },
        {
            "id": "a2",
            "from": {"user_id": SELLER_ID},
            "text": "Mañana",
            "status": "available",
            "message_date": {"created": "2020-12-05T21:00:00.000Z"},
        },
    ]
    result = linked.channel.read_notice(linked.context, ChannelNotice(topic="messages", resource="a1"))
    assert [(m.external_message_id, m.from_buyer, m.pack_id) for m in result.messages] == [
        ("a1", True, str(PACK)),
        ("a2", False, str(PACK)),
    ]
    reads = linked.fake.sent("GET", f"/messages/packs/{PACK}/sellers/{SELLER_ID}")
    assert reads[0].url.params["tag"] == "post_sale" and reads[0].url.params["mark_as_read"] == "false"


def test_order_status_writes_are_no_ops(linked: Linked) -> None:
    update = OrderStatusPush(order=OrderRef(external_order_id="1"), status=20, tracking_number="0999-111111111")
    assert linked.channel.push_order_status(linked.context, update) is None
    assert linked.fake.requests == []


def test_a_batch_of_notices_reads_items_twenty_at_a_time_and_orders_each(linked: Linked) -> None:
    fake = linked.fake
    for n in range(22):
        item_id = f"MLA{2000000000 + n}"
        attributes = [{"id": "SELLER_SKU", "value_name": f"SKU-{n}"}]
        fake.items[item_id] = {"id": item_id, "status": "active", "attributes": attributes, "price": 10}
    items = [ChannelNotice(topic="items", resource=f"/items/MLA{2000000000 + n}") for n in range(22)]
    notices = [
        *items[:10],
        ChannelNotice(topic="orders_v2", resource="/orders/2000009713473608"),
        ChannelNotice(topic="items", resource="/items/MLA404"),
        *items[10:],
        ChannelNotice(topic="items", resource="/items/MLA2000000001"),
        ChannelNotice(topic="orders_v2", resource="/orders/1"),
        ChannelNotice(topic="payments", resource="/collections/1"),
    ]
    fake.fail("GET", "/orders/1", reply(404, {"message": "order not found", "error": "not_found", "status": 404}))
    answers = linked.channel.read_notices(linked.context, notices, concurrency=4)
    assert len(answers) == len(notices)
    # 23 distinct items: two multigets (20 + 3), none read alone.
    assert [len(r.url.params["ids"].split(",")) for r in fake.sent("GET", "/items/bulk")] == [20, 3]
    assert fake.sent("GET", "/items/MLA") == []
    skus = [a.listings[0].sku for a in answers if isinstance(a, NoticeResult) and a.listings]
    assert skus == [f"SKU-{n}" for n in range(22)] + ["SKU-1"]
    order = answers[10]
    assert isinstance(order, NoticeResult) and order.orders[0].external_order_id == "2000009713473608"
    missing = answers[11]
    assert isinstance(missing, PermanentDeliveryError) and "MLA404" in missing.message
    assert isinstance(answers[-2], PermanentDeliveryError)  # no such order: only that notice fails
    assert answers[-1] == NoticeResult(ignored="topic payments not followed")


def test_a_failed_multiget_fails_only_its_items(linked: Linked) -> None:
    fake = linked.fake
    fake.items["MLA1"] = {"id": "MLA1", "status": "active", "attributes": [], "price": 10}
    fake.fail("GET", "/items/bulk", reply(503, {"message": "unavailable", "error": "service_unavailable"}))
    notices = [
        ChannelNotice(topic="items", resource="/items/MLA1"),
        ChannelNotice(topic="orders_v2", resource="/orders/2000009713473608"),
    ]
    failed, order = linked.channel.read_notices(linked.context, notices)
    assert isinstance(failed, TransientDeliveryError)
    assert isinstance(order, NoticeResult) and len(order.orders) == 1


def test_a_batch_of_notices_reads_a_cart_once(linked: Linked) -> None:
    notices = [
        ChannelNotice(topic="orders_v2", resource="/orders/2000009713473608"),
        ChannelNotice(topic="orders_v2", resource="/orders/2000009713473609"),
    ]
    answers = linked.channel.read_notices(linked.context, notices)
    sizes = [a.orders[0].pack_size for a in answers if isinstance(a, NoticeResult)]
    assert sizes == [2, 2]
    assert len(linked.fake.sent("GET", f"/packs/{PACK}")) == 1


def test_an_order_alone_in_its_pack_is_read_without_its_pack(linked: Linked) -> None:
    alone = order_json(2000009713473700, pack_id=2000006556183999, tags=("paid", "not_delivered"))
    linked.fake.orders[alone["id"]] = alone
    [result] = linked.channel.read_notices(linked.context, [ChannelNotice("orders_v2", f"/orders/{alone['id']}")])
    assert isinstance(result, NoticeResult)
    [order] = result.orders
    assert (order.pack_id, order.pack_size) == ("2000006556183999", 1)
    assert linked.fake.sent("GET", "/packs/") == []
