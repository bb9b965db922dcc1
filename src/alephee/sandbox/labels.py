"""Shipping labels of the sandbox marketplace (TXT as ZPL, PDF, ZIP), drawn from the order alone."""

from __future__ import annotations

import io
import zipfile

from fpdf import FPDF

from alephee.marketplaces.contract import (
    ShippingLabel,
)
from alephee.marketplaces.models import SandboxOrder
from alephee.sandbox.state import LABEL_FORMATS


def _zpl(order: SandboxOrder, marketplace_name: str) -> str:
    shipment = order.external_shipping_id or order.external_order_id
    address = (order.detail or {}).get("shipping_address", {})
    lines = [
        "^XA",
        "^CI28",
        f"^CF0,36^FO40,30^FD{marketplace_name}^FS",
        f"^CF0,28^FO40,80^FDOrder {order.external_order_id}^FS",
        f"^FO40,120^FDPack {order.pack_id or '-'}^FS",
        f"^FO40,160^FDShipment {shipment}^FS",
        f"^FO40,200^FD{address.get('receiver_name', '')}^FS",
        f"^FO40,240^FD{address.get('street', '')} {address.get('city', '')} {address.get('zip_code', '')}^FS",
        f"^BY3^FO40,300^BCN,140,Y,N,N^FD{shipment}^FS",
        "^XZ",
    ]
    return "\n".join(lines) + "\n"


def _pdf(order: SandboxOrder, marketplace_name: str) -> bytes:
    pdf = FPDF(unit="mm", format=(100, 150))  # a 4x6" thermal label
    # A fixed creation date keeps the file byte-for-byte reproducible.
    pdf.set_creation_date(order.date_created)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, marketplace_name[:40], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    shipment = order.external_shipping_id or order.external_order_id
    address = (order.detail or {}).get("shipping_address", {})
    for text in (
        f"Order {order.external_order_id}",
        f"Pack {order.pack_id or '-'}",
        f"Shipment {shipment}",
        str(address.get("receiver_name", "")),
        f"{address.get('street', '')} {address.get('city', '')} {address.get('zip_code', '')}".strip(),
    ):
        pdf.cell(0, 6, text.encode("latin-1", "replace").decode("latin-1"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def render_label(order: SandboxOrder, marketplace_name: str, fmt: str) -> ShippingLabel:
    """The label of an order's shipment: ZPL (TXT), PDF, or both zipped (ZIP)."""
    name = f"label-{order.external_shipping_id or order.external_order_id}"
    if fmt == "TXT":
        content = _zpl(order, marketplace_name).encode("utf-8")
        return ShippingLabel(format=fmt, content=content, media_type=LABEL_FORMATS[fmt], file_name=f"{name}.txt")
    if fmt == "PDF":
        return ShippingLabel(
            format=fmt, content=_pdf(order, marketplace_name), media_type=LABEL_FORMATS[fmt], file_name=f"{name}.pdf"
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in (
            (f"{name}.txt", _zpl(order, marketplace_name).encode()),
            (f"{name}.pdf", _pdf(order, marketplace_name)),
        ):
            info = zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return ShippingLabel(format=fmt, content=buffer.getvalue(), media_type=LABEL_FORMATS[fmt], file_name=f"{name}.zip")
