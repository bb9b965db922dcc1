"""Shipments read by the seller, their labels (a real PDF or ZPL, the first print moves
``ready_to_print`` to ``printed``), the fiscal documents of a pack (one PDF per pack, ≤ 1 MB, not MLB) and
Brazil's NF-e imported into a shipment (its access key once, releasing the label)."""

from __future__ import annotations

import base64
import re
import secrets
from typing import Any

from fpdf import FPDF

from alephee.channels.mercadolibre.standin import orders
from alephee.channels.mercadolibre.standin.common import MLError, as_int, now, public, refuse, utc_text
from alephee.channels.mercadolibre.standin.notify import Notifier
from alephee.channels.standin_store import Tx

MAX_LABEL_IDS = 50
PRINTABLE_SUBSTATUSES = {"ready_to_print", "printed"}
MAX_FISCAL_BYTES = 1024 * 1024
FISCAL_SITES_REFUSED = {"MLB"}
NFE_SITE = "MLB"
NFE_KEY = re.compile(rb"<(?:\w+:)?chNFe>\s*(\d{44})\s*</|Id=\"NFe(\d{44})\"")


def read(tx: Tx, shipment_id: int, seller_id: int, format_new: str | None) -> dict[str, Any]:
    """``GET /shipments/{id}`` in the new format; 400 without ``x-format-new: true``."""
    if (format_new or "").lower() != "true":
        raise refuse(400, "bad_request", "The header x-format-new: true is required")
    return public(orders.shipment(tx, shipment_id, seller_id))


def shipment_orders(tx: Tx, shipment_id: int, seller_id: int) -> list[dict[str, Any]]:
    """``GET /shipments/{id}/orders``: the shipment's order lines, ids as strings (as Mercado Libre sends them)."""
    found = orders.shipment(tx, shipment_id, seller_id)
    result = []
    for line in found["_orders"]:
        order = orders.order(tx, line["order_id"])
        result.append(
            {
                "order_id": str(line["order_id"]),
                "pack_id": str(order["pack_id"]),
                "item_id": line["item_id"],
                "variation_id": line["variation_id"],
                "user_product_id": line.get("user_product_id"),
                "seller_id": str(seller_id),
                "requested_quantity": {"value": line["quantity"], "measure": "unit"},
            }
        )
    return result


def history(tx: Tx, shipment_id: int, seller_id: int) -> list[dict[str, Any]]:
    """``GET /shipments/{id}/history``: every status the shipment went through."""
    return list(orders.shipment(tx, shipment_id, seller_id).get("_history", []))


def _label_error(error: str, message: str) -> MLError:
    return refuse(400, error, message)


def labels(tx: Tx, notifier: Notifier, seller_id: int, query: dict[str, str]) -> tuple[bytes, str]:
    """``GET /shipment_labels``: the labels of printable shipments as PDF or ZPL; the body and its media type."""
    raw = [value.strip() for value in query.get("shipment_ids", "").split(",") if value.strip()]
    ids = [as_int(value) for value in raw]
    if not ids or any(value is None for value in ids):
        raise refuse(404, "not_found", "Missing a valid shipment id value")
    if len(ids) > MAX_LABEL_IDS:
        raise _label_error("shipment_ids", f"The maximum number of shipment_ids is {MAX_LABEL_IDS}")
    response_type = query.get("response_type", "pdf")
    if response_type not in ("pdf", "zpl2"):
        raise _label_error("response_type", "response_type must be pdf or zpl2")
    found = []
    for shipment_id in ids:
        assert shipment_id is not None
        shipment = tx.get("shipment", shipment_id)
        if shipment is None or shipment["_seller_id"] != seller_id:
            raise _label_error("invalid_shipment_caller", f"The caller can not print the shipment {shipment_id}")
        if shipment["logistic"]["mode"] != "me2":
            raise _label_error("invalid_shipment_mode", f"The shipment {shipment_id} is not me2")
        if shipment["logistic"]["type"] == "fulfillment":
            raise _label_error(
                "invalid_shipment_ff_public", f"The shipment {shipment_id} is fulfilled by Mercado Libre"
            )
        if shipment["status"] != "ready_to_ship" or shipment["substatus"] not in PRINTABLE_SUBSTATUSES:
            message = f"The shipment {shipment_id} is {shipment['status']}/{shipment['substatus']}: not printable"
            raise _label_error("not_printable_status", message)
        found.append(shipment)
    moment = now()
    for shipment in found:
        if shipment["substatus"] == "ready_to_print":
            shipment["substatus"] = "printed"
            orders.save_shipment(tx, notifier, shipment, moment)
    if response_type == "zpl2":
        return "".join(_zpl(shipment) for shipment in found).encode(), "text/plain; charset=utf-8"
    return _pdf(found), "application/pdf"


def _zpl(shipment: dict[str, Any]) -> str:
    receiver = shipment["destination"]
    address = receiver["shipping_address"]
    return (
        "^XA^CI28\n"
        f"^FO40,40^A0N,36,36^FDMercado Envios - envio {shipment['id']}^FS\n"
        f"^FO40,100^A0N,30,30^FD{receiver['receiver_name']}^FS\n"
        f"^FO40,140^A0N,26,26^FD{address['address_line']} ({address['zip_code']})^FS\n"
        f"^FO40,200^BY3^BCN,120,Y,N,N^FD{shipment['tracking_number']}^FS\n"
        "^XZ\n"
    )


def _pdf(found: list[dict[str, Any]]) -> bytes:
    document = FPDF(unit="mm", format=(100, 150))
    document.set_auto_page_break(False)
    for shipment in found:
        receiver = shipment["destination"]
        address = receiver["shipping_address"]
        document.add_page()
        document.set_font("Helvetica", "B", 14)
        document.text(8, 14, "Mercado Envios")
        document.set_font("Helvetica", size=10)
        document.text(8, 24, f"Envio {shipment['id']}")
        document.text(8, 32, f"Para: {receiver['receiver_name']}")
        document.text(8, 38, f"{address['address_line']} - CP {address['zip_code']}")
        document.code39(f"*{shipment['id']}*", x=8, y=50, w=0.8, h=20)
        document.text(8, 80, f"Tracking {shipment['tracking_number']}")
    return bytes(document.output())


def upload_fiscal(tx: Tx, seller_id: int, pack_id: int, files: list[tuple[str, str, bytes]]) -> dict[str, list[str]]:
    """``POST /packs/{id}/fiscal_documents``: one PDF (and optionally its XML) per pack; the new ids."""
    pack = orders.pack(tx, pack_id, seller_id)
    if pack["_site_id"] in FISCAL_SITES_REFUSED:
        raise refuse(400, "not_available_for_site", f"Fiscal documents upload is not available for {pack['_site_id']}")
    if tx.get("fiscal", pack_id) is not None:
        raise refuse(409, "conflict", f"The pack {pack_id} already has a fiscal document")
    if not files:
        raise refuse(400, "bad_request", "The file fiscal_document is required")
    kinds = []
    for _name, _type, content in files:
        if len(content) > MAX_FISCAL_BYTES:
            raise refuse(400, "file_too_large", "The fiscal document exceeds 1 MB")
        if content.startswith(b"%PDF-"):
            kinds.append("application/pdf")
        elif content.lstrip().startswith(b"<"):
            kinds.append("application/xml")
        else:
            raise refuse(400, "invalid_file_type", "The fiscal document must be a PDF (and optionally its XML)")
    if len(files) > 2 or kinds.count("application/pdf") != 1:
        raise refuse(400, "invalid_file_type", "Send one PDF, optionally with one XML")
    moment = utc_text(now())
    stored = []
    for (name, _type, content), kind in zip(files, kinds, strict=True):
        stored.append(
            {
                "id": f"{seller_id}_{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}-"
                f"{secrets.token_hex(2)}-{secrets.token_hex(6)}",
                "file_type": kind,
                "filename": name.rsplit("/", 1)[-1][:120],
                "date_created": moment,
                "_content": base64.b64encode(content).decode(),
            }
        )
    tx.put("fiscal", pack_id, {"documents": stored}, owner=seller_id)
    return {"ids": [entry["id"] for entry in stored]}


def fiscal_documents(tx: Tx, seller_id: int, pack_id: int) -> dict[str, Any]:
    """``GET /packs/{id}/fiscal_documents``: the pack's documents (no content)."""
    orders.pack(tx, pack_id, seller_id)
    stored = tx.get("fiscal", pack_id) or {"documents": []}
    return {"fiscal_documents": [public(entry) for entry in stored["documents"]]}


def fiscal_file(tx: Tx, seller_id: int, pack_id: int, document_id: str) -> tuple[bytes, str]:
    """``GET /packs/{id}/fiscal_documents/{doc}``: the file's bytes and media type."""
    orders.pack(tx, pack_id, seller_id)
    stored = tx.get("fiscal", pack_id) or {"documents": []}
    for entry in stored["documents"]:
        if entry["id"] == document_id:
            return base64.b64decode(entry["_content"]), entry["file_type"]
    raise refuse(404, "not_found", f"Fiscal document {document_id} not found")


def import_invoice(
    tx: Tx, notifier: Notifier, seller_id: int, shipment_id: int, site_id: str | None, content_type: str, xml: bytes
) -> dict[str, Any]:
    """``POST /shipments/{id}/invoice_data/?siteId=MLB``: the authorised NF-e (raw ``<nfeProc>`` XML) of a
    Brazilian shipment, each access key once (400 ``duplicated_fiscal_key``); a shipment waiting for it
    (``invoice_pending``) becomes ``ready_to_print``."""
    found = orders.shipment(tx, shipment_id, seller_id)
    if site_id != NFE_SITE or found["source"]["site_id"] != NFE_SITE:
        raise refuse(400, "not_available_for_site", "The NF-e import is only available for MLB shipments")
    if "xml" not in content_type.lower():
        raise refuse(400, "bad_request", "Content-Type application/xml is expected")
    if b"nfeProc" not in xml[:4096]:
        raise refuse(400, "invalid_fiscal_document", "The body must be the authorised NF-e (nfeProc) XML")
    match = NFE_KEY.search(xml)
    if match is None:
        raise refuse(400, "invalid_fiscal_key", "The NF-e has no 44-digit access key")
    key = (match.group(1) or match.group(2)).decode()
    if tx.get("nfe", key) is not None:
        raise refuse(400, "duplicated_fiscal_key", f"The fiscal key {key} was already imported")
    moment = now()
    tx.put("nfe", key, {"shipment_id": shipment_id, "date_created": utc_text(moment)}, owner=seller_id)
    found["_fiscal_key"] = key
    if found["substatus"] == "invoice_pending":
        found["substatus"] = "ready_to_print"
    orders.save_shipment(tx, notifier, found, moment)
    return {"shipment_id": shipment_id, "fiscal_key": key, "status": "imported"}
