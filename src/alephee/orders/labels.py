"""Shipping labels: a printable PDF (Code 128 barcode of the shipment id, QR, addresses, order and pack
numbers), the same label in ZPL for Zebra printers, and a ZIP of the ZPL plus a control-receipt PDF
(CF-20.5). Barcodes are drawn as vector bars so they scan at any printer resolution.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from datetime import datetime

import barcode
import segno
from fpdf import FPDF

from alephee.http.wire import format_utc


@dataclass(frozen=True, slots=True)
class LabelItem:
    """One line of the label's content summary."""

    quantity: int
    sku: str
    title: str


@dataclass(frozen=True, slots=True)
class LabelOrder:
    """An order travelling in the shipment (a cart ships several orders in one parcel)."""

    order_id: int
    external_order_id: str
    items: list[LabelItem]


@dataclass(frozen=True, slots=True)
class LabelData:
    """Everything printed on a label."""

    shipment_id: int
    marketplace: str
    logistic: str
    pack_id: str | None
    sender_name: str
    sender_lines: list[str]
    receiver_name: str
    receiver_phone: str
    receiver_lines: list[str]
    orders: list[LabelOrder]
    printed_at: datetime
    notes: list[str] = field(default_factory=list)

    @property
    def barcode_text(self) -> str:
        """What the barcode encodes: the marketplace shipment id."""
        return str(self.shipment_id)


def _latin1(text: object) -> str:
    # The PDF core fonts are Latin-1; anything else prints as "?" rather than failing the label.
    return str(text).encode("latin-1", "replace").decode("latin-1")


def code128_modules(text: str) -> str:
    """The Code 128 module pattern ("1" bar, "0" space) of ``text``, start/check/stop included."""
    return str(barcode.get("code128", text).build()[0])


def _draw_code128(pdf: FPDF, text: str, x: float, y: float, width: float, height: float) -> None:
    modules = code128_modules(text)
    quiet = 10
    module = width / (len(modules) + 2 * quiet)
    run_start: int | None = None
    for i, bit in enumerate(modules + "0"):
        if bit == "1" and run_start is None:
            run_start = i
        elif bit == "0" and run_start is not None:
            pdf.rect(x + (quiet + run_start) * module, y, (i - run_start) * module, height, style="F")
            run_start = None


def _draw_qr(pdf: FPDF, data: str, x: float, y: float, size: float) -> None:
    matrix = segno.make(data, error="m", micro=False).matrix
    cell = size / len(matrix)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                pdf.rect(x + c * cell, y + r * cell, cell, cell, style="F")


def _qr_payload(data: LabelData) -> str:
    return f'{{"id":"{data.shipment_id}","order":"{data.orders[0].order_id if data.orders else ""}"}}'


def _new_pdf(width: float, height: float) -> FPDF:
    pdf = FPDF(unit="mm", format=(width, height))
    pdf.set_margins(5, 5, 5)
    pdf.set_auto_page_break(auto=False)
    pdf.set_creator("alephee hub")
    pdf.set_title("Shipping label")
    pdf.add_page()
    return pdf


def _line(pdf: FPDF, text: str, size: float = 8, style: str = "", height: float = 4) -> None:
    pdf.set_font("Helvetica", style, size)
    pdf.set_x(pdf.l_margin)
    pdf.cell(pdf.epw, height, _latin1(text), new_x="LMARGIN", new_y="NEXT")


def label_pdf(data: LabelData) -> bytes:
    """A 100 x 150 mm label for ordinary printers."""
    pdf = _new_pdf(100, 150)
    _line(pdf, f"{data.marketplace} - {data.logistic}", 10, "B", 5)
    _line(pdf, f"Impreso: {format_utc(data.printed_at)}", 7)
    _draw_code128(pdf, data.barcode_text, 5, 17, 90, 22)
    pdf.set_y(40)
    _line(pdf, f"Envío {data.shipment_id}", 11, "B", 5)
    orders = ", ".join(str(o.order_id) for o in data.orders)
    sales = ", ".join(o.external_order_id for o in data.orders)
    _line(pdf, f"Pedido: {orders}", 8)
    _line(pdf, f"Venta: {sales}", 8)
    _line(pdf, f"Pack: {data.pack_id or '-'}", 8)
    pdf.ln(1)
    _line(pdf, "DESTINATARIO", 8, "B")
    _line(pdf, data.receiver_name, 11, "B", 5)
    for text in data.receiver_lines:
        _line(pdf, text, 9)
    if data.receiver_phone:
        _line(pdf, f"Tel: {data.receiver_phone}", 8)
    pdf.ln(1)
    _line(pdf, "REMITENTE", 8, "B")
    _line(pdf, data.sender_name, 9, "B")
    for text in data.sender_lines:
        _line(pdf, text, 8)
    pdf.ln(1)
    _line(pdf, "CONTENIDO", 8, "B")
    lines = [item for order in data.orders for item in order.items]
    for item in lines[:6]:
        _line(pdf, f"{item.quantity} x {item.sku} {item.title}"[:70], 7, height=3.5)
    if len(lines) > 6:
        _line(pdf, f"... y {len(lines) - 6} ítems más", 7, height=3.5)
    _draw_qr(pdf, _qr_payload(data), 72, 122, 23)
    return bytes(pdf.output())


def control_receipt_pdf(data: LabelData) -> bytes:
    """The marketplace-style control receipt that goes with the ZPL label (A4)."""
    pdf = _new_pdf(210, 297)
    pdf.set_margins(15, 15, 15)
    pdf.set_y(15)
    _line(pdf, "Comprobante de control de despacho", 16, "B", 9)
    _line(pdf, f"{data.marketplace} - {data.logistic}", 11, height=6)
    _line(pdf, f"Emitido: {format_utc(data.printed_at)}", 9, height=5)
    _draw_code128(pdf, data.barcode_text, 15, 45, 100, 20)
    pdf.set_y(68)
    _line(pdf, f"Envío {data.shipment_id}    Pack: {data.pack_id or '-'}", 12, "B", 7)
    _line(pdf, f"Destinatario: {data.receiver_name}", 10, height=5)
    for text in data.receiver_lines:
        _line(pdf, f"    {text}", 9, height=5)
    _line(pdf, f"Remitente: {data.sender_name}", 10, height=6)
    pdf.ln(3)
    _line(pdf, "Pedido      Venta              Cant.  SKU / Producto", 9, "B", 6)
    for order in data.orders:
        for item in order.items:
            text = f"{order.order_id:<11} {order.external_order_id:<18} {item.quantity:>5}  {item.sku} {item.title}"
            _line(pdf, text[:110], 8, height=5)
    pdf.ln(12)
    _line(pdf, "Firma y aclaración del transportista: ______________________________", 10, height=8)
    _line(pdf, "Fecha y hora de retiro: ______________________________", 10, height=8)
    return bytes(pdf.output())


def _zpl_text(text: object) -> str:
    # ^ and ~ start ZPL commands; they can never appear inside field data.
    return str(text).replace("^", " ").replace("~", " ").replace("\n", " ")


def label_zpl(data: LabelData) -> str:
    """The label in ZPL II (UTF-8 via ^CI28), 4 x 6 inches at 203 dpi."""
    out = ["^XA", "^CI28", "^PW812", "^LL1218", "^LH0,0"]

    def text(x: int, y: int, size: int, value: object) -> None:
        out.append(f"^FO{x},{y}^A0N,{size},{size}^FD{_zpl_text(value)}^FS")

    text(30, 30, 36, f"{data.marketplace} - {data.logistic}")
    out.append(f"^FO60,90^BY3^BCN,170,Y,N,N^FD{_zpl_text(data.barcode_text)}^FS")
    text(30, 310, 40, f"Envio {data.shipment_id}")
    text(30, 360, 26, "Pedido: " + ", ".join(str(o.order_id) for o in data.orders))
    text(30, 395, 26, "Venta: " + ", ".join(o.external_order_id for o in data.orders))
    text(30, 430, 26, f"Pack: {data.pack_id or '-'}")
    out.append("^FO30,470^GB752,2,2^FS")
    text(30, 485, 24, "DESTINATARIO")
    text(30, 515, 34, data.receiver_name)
    y = 560
    for line in data.receiver_lines[:4]:
        text(30, y, 26, line)
        y += 34
    if data.receiver_phone:
        text(30, y, 24, f"Tel: {data.receiver_phone}")
    out.append("^FO30,730^GB752,2,2^FS")
    text(30, 745, 24, "REMITENTE")
    text(30, 775, 28, data.sender_name)
    y = 810
    for line in data.sender_lines[:2]:
        text(30, y, 24, line)
        y += 30
    text(30, 880, 24, "CONTENIDO")
    y = 910
    items = [item for order in data.orders for item in order.items]
    for item in items[:5]:
        text(30, y, 22, f"{item.quantity} x {item.sku} {item.title}"[:60])
        y += 28
    out.append(f"^FO560,960^BQN,2,5^FDLA,{_zpl_text(_qr_payload(data))}^FS")
    out.append("^PQ1")
    out.append("^XZ")
    return "\n".join(out) + "\n"


def label_zip(data: LabelData) -> bytes:
    """A ZIP with the ZPL label and the control-receipt PDF."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"etiqueta-{data.shipment_id}.txt", label_zpl(data))
        archive.writestr(f"comprobante-{data.shipment_id}.pdf", control_receipt_pdf(data))
    return buffer.getvalue()
