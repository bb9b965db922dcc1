"""POST /v2/orders/{orderId}/documents (CF-21.3, CF-21.8.4): both upload modes, validation by content, the size
cap, safe names, idempotency by content hash, and forwarding to the marketplace through the outbox."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from alephee.http.context import AppContext
from alephee.marketplaces.models import OutboxMessage
from alephee.orders import documents as docs
from alephee.orders import shipping_rules as ship
from alephee.orders.account_options import set_account_options
from alephee.orders.models import OrderDocument
from alephee.orders.status_updates import order_history
from tests.fixtures.errors import assert_error
from tests.fixtures.orders import NFE_XML, PDF, PNG, AddOrder
from tests.fixtures.tenants import Tenant

DOCUMENT_KEYS = {"Type", "Name", "Extension", "Fullfilename", "Size", "DocumentDate", "DateCreated"}


def _outbox(ctx: AppContext, topic: str) -> list[OutboxMessage]:
    with ctx.db.reading() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.topic == topic)))


def _upload(client: TestClient, tenant: Tenant, order_id: int, name: str, data: bytes, **params: Any) -> Any:
    return client.post(
        f"/v2/orders/{order_id}/documents",
        params=tenant.q(**params),
        files={"file": (name, data, "application/octet-stream")},
    )


def test_multipart_invoice_is_listed_downloadable_forwarded_and_idempotent(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    order_id = add_order(seller, marketplace_id=100, pack_id="2000003000000001", pack_size=1)
    params = {"documentType": 0, "documentNumber": "A-0001-00001234", "documentDate": "2024-05-10T10:00:00"}
    response = _upload(client, seller, order_id, "factura.pdf", PDF, **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert set(document) == DOCUMENT_KEYS
    assert (
        document["Name"] == "factura" and document["Extension"] == "pdf" and document["Fullfilename"] == "factura.pdf"
    )
    assert document["Size"] == len(PDF) and document["DocumentDate"] == "2024-05-10T13:00:00Z"
    [order] = client.get("/v2/orders", params=seller.q(idFrom=order_id, idTo=order_id)).json()["Results"]
    assert order["Documents"] == [document]
    download = client.get(f"/v2/orders/{order_id}/documents", params=seller.q(documentType=0))
    assert download.status_code == 200 and download.content == PDF
    [row] = _outbox(ctx, "order.document")
    assert row.marketplace_id == 100 and row.aggregate_id == order_id
    assert row.payload["ExternalOrderId"] == order["ExternalOrderId"] and row.payload["PackId"] == "2000003000000001"
    assert row.payload["DocumentType"] == 0 and row.payload["DocumentNumber"] == "A-0001-00001234"
    assert row.payload["Sha256"] == row.payload["StorageKey"] and row.payload["Size"] == len(PDF)
    # The same file again (a retry after a timeout): the same answer, no second document, nothing re-sent.
    again = _upload(client, seller, order_id, "factura.pdf", PDF, **params)
    assert again.status_code == 200 and again.json() == document
    assert len(_outbox(ctx, "order.document")) == 1
    with ctx.db.reading() as session:
        assert len(session.scalars(select(OrderDocument.id)).all()) == 1
        assert [h.action for h in order_history(session, order_id)] == ["document"]


def test_base64_mode_receipt_is_kept_in_the_hub(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    order_id = add_order(seller, marketplace_id=100)
    body = {"fileBase64": base64.b64encode(NFE_XML).decode(), "documentName": "remito-1", "documentExtension": "xml"}
    response = client.post(f"/v2/orders/{order_id}/documents", params=seller.q(documentType=1), json=body)
    assert response.status_code == 200, response.text
    assert response.json()["Fullfilename"] == "remito-1.xml" and response.json()["Type"] == 1
    assert _outbox(ctx, "order.document") == []  # receipts are never forwarded
    # Lenient: documentType in the body, a data: URI prefix and line breaks in the base64 text.
    encoded = base64.encodebytes(PNG).decode()
    body = {"FILEBASE64": "data:image/png;base64," + encoded, "documentType": "0"}
    response = client.post(f"/v2/orders/{order_id}/documents", params=seller.q(), json=body)
    assert response.status_code == 200, response.text
    assert response.json()["Extension"] == "png" and response.json()["Name"] == f"invoice-{order_id}"


def test_upload_validation(
    client: TestClient, make_client: Callable[..., TestClient], seller: Tenant, add_order: AddOrder
) -> None:
    order_id = add_order(seller, marketplace_id=100)
    url = f"/v2/orders/{order_id}/documents"
    # Wrong format for the type (XML invoice), content against name (PNG renamed .pdf), unknown content.
    assert_error(_upload(client, seller, order_id, "nfe.xml", NFE_XML, documentType=0), 400)
    renamed = _upload(client, seller, order_id, "factura.pdf", PNG, documentType=0)
    assert_error(renamed, 400)
    assert "PNG" in renamed.json()["Message"]
    assert_error(_upload(client, seller, order_id, "x.pdf", b"MZ\x90\x00 not a document", documentType=0), 400)
    assert_error(_upload(client, seller, order_id, "x.xml", b"<a><b></a>", documentType=1), 400)
    assert_error(_upload(client, seller, order_id, "empty.pdf", b"", documentType=0), 400)
    # Bad or missing parameters.
    assert_error(_upload(client, seller, order_id, "f.pdf", PDF), 400)
    assert_error(_upload(client, seller, order_id, "f.pdf", PDF, documentType=7), 400)
    assert_error(_upload(client, seller, order_id, "f.pdf", PDF, documentType="x"), 400)
    assert_error(_upload(client, seller, order_id, "f.pdf", PDF, documentType=0, documentDate="mañana"), 400)
    assert_error(_upload(client, seller, order_id, "f.pdf", PDF, documentType=0, documentNumber="9" * 61), 400)
    # Bad base64, no file at all, a non-file part, an unsupported content type.
    assert_error(client.post(url, params=seller.q(documentType=0), json={"fileBase64": "%%% not base64 %%%"}), 400)
    assert_error(client.post(url, params=seller.q(documentType=0), json={"fileBase64": "QUJD="}), 400)
    assert_error(client.post(url, params=seller.q(documentType=0), json={"documentName": "x"}), 400)
    assert_error(client.post(url, params=seller.q(documentType=0)), 400)
    text_part = {"data": {"file": "just text"}, "files": {"other": ("x.pdf", PDF)}}
    assert_error(client.post(url, params=seller.q(documentType=0), **text_part), 400)  # type: ignore[arg-type]
    assert_error(client.post(url, params=seller.q(documentType=0), files={"other": ("x.pdf", PDF)}), 400)
    assert_error(client.post(url, params=seller.q(documentType=0), data={"file": "urlencoded"}), 415)
    assert_error(client.post(url, params=seller.q(documentType=0), content=PDF, headers={"content-type": "x/y"}), 415)
    # NF-e only for Brazilian orders; unknown and foreign orders.
    assert_error(_upload(client, seller, order_id, "nfe.xml", NFE_XML, documentType=2), 412)
    assert_error(_upload(client, seller, order_id + 999, "f.pdf", PDF, documentType=0), 404)
    # Size cap (413), in both modes, checked before the parameters (no documentType here).
    small = make_client(documents_max_bytes=len(PDF) - 1)
    assert_error(small.post(url, params=seller.q(), files={"file": ("f.pdf", PDF)}), 413)
    assert_error(small.post(url, params=seller.q(), json={"fileBase64": base64.b64encode(PDF * 3).decode()}), 413)
    # Check order: 401 before anything else.
    assert_error(small.post(url, params={"API_KEY": seller.api_key}, files={"file": ("f.pdf", PDF)}), 401)
    assert_error(small.post(url, files={"file": ("f.pdf", PDF)}), 401)


def test_check_order_401_429_413_400(
    client: TestClient, make_tenant: Callable[..., Tenant], add_order: AddOrder
) -> None:
    tenant = make_tenant(marketplaces=(100,), rate_limit=1)
    order_id = add_order(tenant, marketplace_id=100)
    url = f"/v2/orders/{order_id}/documents"
    assert_error(client.post(url, params={"API_KEY": "nope"}, json={"fileBase64": "%%%"}), 401)
    assert_error(client.post(url, params=tenant.q(), json={"fileBase64": "%%%"}), 400)  # uses the one request
    assert_error(client.post(url, params=tenant.q(), json={"fileBase64": "%%%"}), 429)


def test_file_names_never_become_paths(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder, tmp_path: Path
) -> None:
    order_id = add_order(seller, marketplace_id=100)
    root = Path(ctx.settings.documents_dir).resolve()
    for n, name in enumerate(("../../etc/passwd", "..\\..\\windows\\evil.pdf", "/tmp/abs.pdf", "..", "a\x00b.pdf")):
        data = PDF + f"% {n}\n".encode()
        response = _upload(client, seller, order_id, name, data, documentType=0)
        assert response.status_code == 200, (name, response.text)
        stored = response.json()["Name"]
        assert "/" not in stored and "\\" not in stored and "\x00" not in stored and not stored.startswith(".")
        key = docs.FileSystemStore(root)._path(hashlib.sha256(data).hexdigest())
        assert key.resolve().is_relative_to(root) and key.read_bytes() == data
    assert not Path("/etc/passwd.pdf").exists()
    names = [d["Name"] for d in client.get("/v2/orders", params=seller.q()).json()["Results"][0]["Documents"]]
    assert names[:3] == ["passwd", "evil", "abs"]
    download = client.get(f"/v2/orders/{order_id}/documents", params=seller.q(documentType=0))
    assert download.status_code == 200
    assert os.sep not in download.headers["content-disposition"].split("filename=")[1]


def test_nfe_forwarding_in_brazil(
    client: TestClient, ctx: AppContext, make_tenant: Callable[..., Tenant], add_order: AddOrder
) -> None:
    tenant = make_tenant(marketplaces=(102,))
    normal = add_order(tenant, marketplace_id=102, logistic_type=ship.ME2)
    full = add_order(tenant, marketplace_id=102, logistic_type=ship.FULFILLMENT)
    for order_id in (normal, full):
        response = _upload(
            client, tenant, order_id, "nfe.xml", NFE_XML, documentType=2, fiscalKey="3524" * 11, seriesNumber="1"
        )
        assert response.status_code == 200, response.text
    [row] = _outbox(ctx, "order.document")  # Mercado Livre invoices fulfillment shipments itself
    assert row.aggregate_id == normal and row.payload["FiscalKey"] == "3524" * 11
    assert row.payload["SeriesNumber"] == "1" and row.payload["DocumentType"] == 2
    # An invoice (type 0) is not how Brazil invoices: kept in the hub.
    assert _upload(client, tenant, normal, "f.pdf", PDF, documentType=0).status_code == 200
    assert len(_outbox(ctx, "order.document")) == 1


@pytest.mark.parametrize(
    ("doc_type", "origin", "family", "country", "logistic", "own", "expected"),
    [
        (docs.RECEIPT, True, "mercadolibre", "AR", ship.ME2, False, False),
        (docs.INVOICE, True, "mercadolibre", "AR", ship.ME2, False, True),
        (docs.INVOICE, True, "mercadolibre", "CL", ship.ME2, False, True),
        (docs.INVOICE, True, "mercadolibre", "CL", ship.ME2, True, False),
        (docs.INVOICE, True, "mercadolibre", "BR", ship.ME2, False, False),
        (docs.INVOICE, True, "amazon", None, ship.COURIER, False, False),
        (docs.INVOICE, False, "mercadolibre", "AR", ship.ME2, False, False),
        (docs.NFE, True, "mercadolibre", "BR", ship.ME2, False, True),
        (docs.NFE, True, "mercadolibre", "BR", ship.FULFILLMENT, False, False),
        (docs.NFE, True, "b2w", "BR", None, False, True),
        (docs.NFE, True, "ecomm", "BR", None, False, True),
        (docs.NFE, False, "b2w", "BR", None, False, False),
    ],
)
def test_forwarding_table(
    doc_type: int, origin: bool, family: str, country: str | None, logistic: int | None, own: bool, expected: bool
) -> None:
    assert (
        docs.forwards(
            doc_type,
            marketplace_order=origin,
            family=family,
            country=country,
            logistic_type=logistic,
            ml_own_invoicing=own,
        )
        is expected
    )


def test_chilean_own_invoicing_is_not_forwarded(
    client: TestClient, ctx: AppContext, make_tenant: Callable[..., Tenant], add_order: AddOrder
) -> None:
    tenant = make_tenant(marketplaces=(101,))
    order_id = add_order(tenant, marketplace_id=101)
    with ctx.db.writing() as session:
        set_account_options(session, tenant.account_id, ml_own_invoicing=True)
    assert _upload(client, tenant, order_id, "f.pdf", PDF, documentType=0).status_code == 200
    assert _outbox(ctx, "order.document") == []
