"""Contract tests of GET /v2/orders/{orderId}/shippinglabel and GET /v2/orders/{orderId}/documents (CF-20.4,
CF-20.5): real PDF/ZPL/ZIP labels read back, every blocked shipment status and substatus refused with 412."""

from __future__ import annotations

import base64
import io
import re
import zipfile

import pytest
from fastapi.testclient import TestClient

from alephee.http.context import AppContext
from alephee.orders import documents as docs
from alephee.orders import shipping_rules as ship
from alephee.orders.document_upload import DocumentUpload, store_document
from alephee.orders.models import Order
from tests.fixtures import pdfcheck
from tests.fixtures.errors import assert_error
from tests.fixtures.orders import AddOrder
from tests.fixtures.tenants import Tenant

SHIPMENT = 41297142475


def label(client: TestClient, tenant: Tenant, order_id: int, **params: str) -> object:
    return client.get(f"/v2/orders/{order_id}/shippinglabel", params=tenant.q(**params))


def test_pdf_label_has_barcode_addresses_order_and_pack(
    client: TestClient, seller: Tenant, add_order: AddOrder
) -> None:
    order_id = add_order(seller, external_shipping_id=SHIPMENT, pack_id="2000000000000777", pack_size=1)
    response = label(client, seller, order_id, format="PDF")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert "attachment" in response.headers["content-disposition"]
    pdf = response.content
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF") and pdfcheck.page_count(pdf) == 1
    assert pdfcheck.barcodes(pdf) == [str(SHIPMENT)]
    text = "\n".join(pdfcheck.texts(pdf))
    order = client.get("/v2/orders", params=seller.q(idFrom=order_id)).json()["Results"][0]
    address = order["Shipping"]["ReceiverAddress"]
    for expected in (
        f"Envío {SHIPMENT}",
        f"Pedido: {order_id}",
        f"Venta: {order['ExternalOrderId']}",
        "Pack: 2000000000000777",
        order["Shipping"]["Receiver"]["Name"],
        f"{address['StreetName']} {address['StreetNumber']}",
        "Vendedor S.A.",
        order["Items"][0]["Product"]["Sku"],
    ):
        assert expected in text, expected


def test_first_download_marks_the_label_printed(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller, shipment_status="ready_to_ship", shipment_substatus="ready_to_print")
    assert label(client, seller, order_id, format="pdf").status_code == 200  # format is case-insensitive
    order = client.get("/v2/orders", params=seller.q(idFrom=order_id)).json()["Results"][0]
    assert order["Shipping"]["ShippingLabels"]["SubStatus"] == "printed"
    assert label(client, seller, order_id, format="PDF").status_code == 200  # printed labels print again


def test_zpl_label_is_valid(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller, external_shipping_id=SHIPMENT)
    response = label(client, seller, order_id, format="TXT")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert_valid_zpl(response.text, order_id)


def assert_valid_zpl(zpl: str, order_id: int) -> None:
    lines = [line for line in zpl.splitlines() if line]
    assert lines[0] == "^XA" and lines[-1] == "^XZ" and zpl.count("^XA") == 1 and zpl.count("^XZ") == 1
    assert "^CI28" in lines  # UTF-8 field data
    for line in lines[1:-1]:
        # Every command is ^ + two letters/digits; every field (^FO...) ends with ^FS; ^FD data is closed.
        assert line.startswith("^"), line
        assert all(re.match(r"[A-Z0-9@]{2}", cmd) for cmd in line.split("^")[1:]), line
        if line.startswith("^FO"):
            assert line.endswith("^FS") and line.count("^FS") == 1, line
        assert line.count("^FD") <= line.count("^FS"), line
        data = re.findall(r"\^FD(.*?)\^FS", line)
        assert all("^" not in d and "~" not in d for d in data)
    assert f"^BCN,170,Y,N,N^FD{SHIPMENT}^FS" in zpl  # Code 128 of the shipment id
    assert f"Pedido: {order_id}" in zpl
    assert "^BQN" in zpl  # QR


def test_zip_holds_zpl_and_control_receipt(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller, external_shipping_id=SHIPMENT)
    response = label(client, seller, order_id, format="Zip")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = sorted(archive.namelist())
        assert names == [f"comprobante-{SHIPMENT}.pdf", f"etiqueta-{SHIPMENT}.txt"]
        assert_valid_zpl(archive.read(f"etiqueta-{SHIPMENT}.txt").decode(), order_id)
        receipt = archive.read(f"comprobante-{SHIPMENT}.pdf")
    assert receipt.startswith(b"%PDF-")
    assert pdfcheck.barcodes(receipt) == [str(SHIPMENT)]
    assert any("Comprobante de control" in t for t in pdfcheck.texts(receipt))


@pytest.mark.parametrize("fmt", ["PDF", "TXT", "ZIP"])
def test_base64_variant(client: TestClient, seller: Tenant, add_order: AddOrder, fmt: str) -> None:
    order_id = add_order(seller, external_shipping_id=SHIPMENT)
    raw = label(client, seller, order_id, format=fmt).content
    encoded = label(client, seller, order_id, format=fmt, base64="true")
    assert encoded.status_code == 200 and encoded.headers["content-type"].startswith("text/plain")
    decoded = base64.b64decode(encoded.text, validate=True)
    # Same file; only the "printed" timestamp may differ between two renderings.
    assert decoded[:4] == raw[:4] and abs(len(decoded) - len(raw)) < 64


@pytest.mark.parametrize("status", sorted(ship.LABEL_BLOCKED_STATUSES))
def test_blocked_shipment_statuses_get_412(
    client: TestClient, seller: Tenant, add_order: AddOrder, status: str
) -> None:
    order_id = add_order(seller, shipment_status=status, shipment_substatus="ready_to_print")
    response = label(client, seller, order_id, format="PDF")
    assert_error(response, 412)
    assert f"'{status}'" in response.json()["Message"]


@pytest.mark.parametrize("substatus", sorted(ship.LABEL_BLOCKED_SUBSTATUSES))
def test_blocked_substatuses_get_412(client: TestClient, seller: Tenant, add_order: AddOrder, substatus: str) -> None:
    order_id = add_order(seller, shipment_status="ready_to_ship", shipment_substatus=substatus)
    response = label(client, seller, order_id, format="TXT")
    assert_error(response, 412)
    assert f"'{substatus}'" in response.json()["Message"]


def test_label_refusals_and_errors(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    fulfillment = add_order(seller, logistic_type=ship.FULFILLMENT, external_shipping_id=SHIPMENT)
    assert "fulfillment" in label(client, seller, fulfillment, format="PDF").json()["Message"]
    no_substatus = add_order(seller, shipment_status="ready_to_ship", shipment_substatus="")
    assert_error(label(client, seller, no_substatus, format="PDF"), 412)
    ok = add_order(seller)
    assert_error(label(client, seller, ok), 400)  # format is required
    assert_error(label(client, seller, ok, format="PNG"), 400)
    assert_error(label(client, seller, ok, format="PDF", base64="perhaps"), 400)
    assert_error(label(client, seller, 999999, format="PDF"), 404)
    assert_error(client.get("/v2/orders/abc/shippinglabel", params=seller.q(format="PDF")), 400)


def test_brazilian_label_needs_the_nfe(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    with ctx.db.writing() as session:
        from alephee.accounts import service as accounts

        accounts.add_marketplace(session, seller.account_id, 102)
    order_id = add_order(seller, marketplace_id=102)
    response = label(client, seller, order_id, format="PDF")
    assert_error(response, 412)
    assert "documentType 2" in response.json()["Message"]
    attach(ctx, order_id, docs.NFE, b'<?xml version="1.0"?><nfeProc><NFe/></nfeProc>', "nfe-1")
    assert label(client, seller, order_id, format="PDF").status_code == 200


def attach(ctx: AppContext, order_id: int, doc_type: int, data: bytes, name: str, **meta: object) -> None:
    with ctx.db.writing() as session:
        order = session.get(Order, order_id)
        assert order is not None
        store_document(
            session,
            docs.store_for(ctx.settings.documents_dir),
            ctx.settings,
            order,
            DocumentUpload(doc_type=doc_type, data=data, name=name, extension=None, **meta),  # type: ignore[arg-type]
        )


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
XML = b'<?xml version="1.0" encoding="UTF-8"?><nfeProc versao="4.00"><NFe/></nfeProc>'


def test_documents_download_by_type_and_format(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    order_id = add_order(seller)
    url = f"/v2/orders/{order_id}/documents"
    assert_error(client.get(url, params=seller.q(documentType=0)), 404)
    attach(ctx, order_id, docs.INVOICE, PDF, "factura-A")
    attach(ctx, order_id, docs.RECEIPT, PNG, "remito")
    attach(ctx, order_id, docs.NFE, XML, "nfe", fiscal_key="35240512345678000190550010000012341000012345")
    invoice = client.get(url, params=seller.q(documentType=0))
    assert invoice.status_code == 200 and invoice.content == PDF
    assert invoice.headers["content-type"] == "application/pdf"
    assert 'filename="factura-A.pdf"' in invoice.headers["content-disposition"]
    receipt = client.get(url, params=seller.q(documenttype="1"))
    assert receipt.content == PNG and receipt.headers["content-type"] == "image/png"
    xml = client.get(url, params=seller.q(documentType=2, documentFormat="xml"))
    assert xml.content == XML and xml.headers["content-type"] == "application/xml"
    danfe = client.get(url, params=seller.q(documentType=2, documentFormat="pdf"))
    assert danfe.headers["content-type"] == "application/pdf"
    assert pdfcheck.barcodes(danfe.content) == ["35240512345678000190550010000012341000012345"]
    # A later invoice of the same type wins; the first one stays listed in Documents.
    attach(ctx, order_id, docs.INVOICE, JPEG, "factura-B")
    latest = client.get(url, params=seller.q(documentType=0))
    assert latest.content == JPEG and latest.headers["content-type"] == "image/jpeg"
    listed = client.get("/v2/orders", params=seller.q(idFrom=order_id)).json()["Results"][0]
    assert [(d["Type"], d["Fullfilename"]) for d in listed["Documents"]] == [
        (0, "factura-A.pdf"),
        (1, "remito.png"),
        (2, "nfe.xml"),
        (0, "factura-B.jpg"),
    ]
    assert listed["Invoice"]["XmlUrl"].endswith("documentType=2&documentFormat=xml")
    assert_error(client.get(url, params=seller.q(documentType=0, documentFormat="xml")), 404)
    assert_error(client.get(url, params=seller.q()), 400)
    assert_error(client.get(url, params=seller.q(documentType=5)), 400)
    assert_error(client.get(url, params=seller.q(documentType=2, documentFormat="doc")), 400)
    assert_error(client.get(url, params=seller.q(documentType=7)), 412)
    assert_error(client.get("/v2/orders/424242/documents", params=seller.q(documentType=0)), 404)
