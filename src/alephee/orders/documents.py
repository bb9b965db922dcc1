"""Order documents: what may be attached (CF-21.3.3), content sniffing, and the document store.

Files are identified by their content, never by their name: the type is sniffed from the first bytes (a PNG
renamed ``.pdf`` is refused), the size is capped, and the bytes are stored under their SHA-256 (the same
file attached twice is stored once). A client-supplied name is metadata only; it never becomes a path.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import tempfile
import xml.parsers.expat
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from fpdf import FPDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee.errors import InvalidInput, NotFound, PayloadTooLarge, PreconditionFailed
from alephee.http.params import query_int
from alephee.http.wire import format_utc
from alephee.orders import labels
from alephee.orders.access import order_row
from alephee.orders.models import OrderDocument
from alephee.orders.shipping_rules import FULFILLMENT as FULFILLMENT_LOGISTIC

INVOICE, RECEIPT, NFE, SHIPPING_LABEL = 0, 1, 2, 7
DOCUMENT_TYPES: dict[int, str] = {
    INVOICE: "Invoice",
    RECEIPT: "Receipt",
    NFE: "Electronic fiscal invoice",
    SHIPPING_LABEL: "Shipping label",
}

PDF, JPEG, PNG, XML = "pdf", "jpg", "png", "xml"
CONTENT_TYPES: dict[str, str] = {
    PDF: "application/pdf",
    JPEG: "image/jpeg",
    PNG: "image/png",
    XML: "application/xml",
}
# What a stored file of no known format would be served as (never rendered by a browser).
UNKNOWN_CONTENT_TYPE = "application/octet-stream"
# CF-21.3.3: which formats each type accepts.
ALLOWED_FORMATS: dict[int, frozenset[str]] = {
    INVOICE: frozenset({PDF, JPEG, PNG}),
    RECEIPT: frozenset({PDF, JPEG, PNG, XML}),
    NFE: frozenset({XML}),
}
EXTENSION_ALIASES = {"jpeg": JPEG, "jpg": JPEG, "pdf": PDF, "png": PNG, "xml": XML}


class EmptyDocument(InvalidInput):
    """The file is empty (400)."""

    message = "The document is empty"


class DocumentTooLarge(PayloadTooLarge):
    """The file is over the size cap (413)."""

    message = "The document is too large: {size} bytes, at most {cap} allowed"


class UnknownContent(InvalidInput):
    """The content is not a PDF, JPEG, PNG or XML file (400)."""

    message = "The document content is not a PDF, JPEG, PNG or XML file"


class BadXml(InvalidInput):
    """The XML is not well-formed or declares a DTD (400)."""

    message = "The XML document is not well-formed (or declares a DTD, which is not accepted)"


class FormatNotAllowed(InvalidInput):
    """The file's format is not allowed for its document type (400)."""

    message = "A {type_name} (documentType {doc_type}) cannot be a {fmt} file: allowed formats are {allowed}"


class NameMismatch(InvalidInput):
    """The declared extension disagrees with the content (400)."""

    message = "The document name says .{declared} but its content is {fmt}"


class UnknownDocumentType(InvalidInput):
    """documentType is not 0, 1 or 2 (400)."""

    message = "Invalid documentType {value}: use 0 (Invoice), 1 (Receipt) or 2 (Electronic fiscal invoice)"


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Sniffed:
    """What the bytes are."""

    fmt: str
    content_type: str
    sha256: str
    size: int


def _is_well_formed_xml(data: bytes) -> bool:
    # expat directly, refusing any DTD: no entity expansion, so no "billion laughs".
    parser = xml.parsers.expat.ParserCreate()

    def refuse(*_args: object) -> None:
        raise ValueError("DTD")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(data, True)
    except (xml.parsers.expat.ExpatError, ValueError):
        return False
    return True


def sniff_format(data: bytes) -> str | None:
    """The format of ``data`` from its magic bytes (None when unrecognised)."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return XML
    return None


def _checked_format(data: bytes, declared_extension: str | None, max_bytes: int) -> str:
    # Size first (413 before 400), then the content decides the format; a declared extension must agree.
    if len(data) > max_bytes:
        raise DocumentTooLarge(DocumentTooLarge.message.format(size=len(data), cap=max_bytes))
    if not data:
        raise EmptyDocument()
    fmt = sniff_format(data)
    if fmt is None:
        raise UnknownContent()
    if fmt == XML and not _is_well_formed_xml(data):
        raise BadXml()
    declared = (declared_extension or "").strip().lower().lstrip(".")
    if declared and EXTENSION_ALIASES.get(declared) != fmt:
        raise NameMismatch(NameMismatch.message.format(declared=declared, fmt=fmt.upper()))
    return fmt


def inspect(data: bytes, *, doc_type: int, declared_extension: str | None, max_bytes: int) -> Sniffed:
    """Validate an upload: size, sniffed format, format allowed for the type, declared name consistent."""
    if len(data) > max_bytes:
        raise DocumentTooLarge(DocumentTooLarge.message.format(size=len(data), cap=max_bytes))
    if doc_type not in ALLOWED_FORMATS:
        raise UnknownDocumentType(UnknownDocumentType.message.format(value=doc_type))
    fmt = _checked_format(data, declared_extension, max_bytes)
    allowed = ALLOWED_FORMATS[doc_type]
    if fmt not in allowed:
        raise FormatNotAllowed(
            FormatNotAllowed.message.format(
                type_name=DOCUMENT_TYPES[doc_type],
                doc_type=doc_type,
                fmt=fmt.upper(),
                allowed=", ".join(sorted(a.upper() for a in allowed)),
            )
        )
    return Sniffed(fmt=fmt, content_type=CONTENT_TYPES[fmt], sha256=hashlib.sha256(data).hexdigest(), size=len(data))


ATTACHMENT_FORMATS = frozenset({PDF, JPEG, PNG})


class AttachmentNotAllowed(InvalidInput):
    """A message attachment is not a PDF or an image (400)."""

    message = "A message attachment cannot be a {fmt} file: allowed formats are JPG, PDF, PNG"


def inspect_attachment(data: bytes, *, declared_extension: str | None, max_bytes: int) -> Sniffed:
    """Validate a buyer-message attachment (PDF or image, by content)."""
    fmt = _checked_format(data, declared_extension, max_bytes)
    if fmt not in ATTACHMENT_FORMATS:
        raise AttachmentNotAllowed(AttachmentNotAllowed.message.format(fmt=fmt.upper()))
    return Sniffed(fmt=fmt, content_type=CONTENT_TYPES[fmt], sha256=hashlib.sha256(data).hexdigest(), size=len(data))


class BadBase64(InvalidInput):
    """fileBase64 is not valid base64 (400)."""

    message = "fileBase64 is not valid base64"


_DATA_URI = re.compile(r"^data:[^,;]*(;[^,;]*)*;base64,", re.IGNORECASE)
_BLANKS = re.compile(r"\s+")


def decode_base64(text: str, *, max_bytes: int) -> bytes:
    """The bytes of a ``fileBase64`` value: blanks and a ``data:...;base64,`` prefix are tolerated, anything
    else that is not standard base64 is a 400; a payload over the cap is a 413 before it is decoded."""
    compact = _BLANKS.sub("", _DATA_URI.sub("", text.strip(), count=1))
    if len(compact) // 4 * 3 - 2 > max_bytes:
        raise DocumentTooLarge(DocumentTooLarge.message.format(size=len(compact) // 4 * 3, cap=max_bytes))
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise BadBase64() from None
    if not data:
        raise EmptyDocument()
    return data


# --- forwarding to the marketplace (CF-21.8.4) ---------------------------------------------------------


class NfeOnlyBrazil(PreconditionFailed):
    """An NF-e is only for Brazilian orders (412)."""

    message = "Electronic fiscal invoices (documentType 2) are only for Brazilian orders"


NFE_FORWARD_FAMILIES = frozenset({"mercadolibre", "b2w", "ecomm"})


def forwards(
    doc_type: int,
    *,
    marketplace_order: bool,
    family: str,
    country: str | None,
    logistic_type: int | None,
    ml_own_invoicing: bool,
) -> bool:
    """Whether an attached document goes to the order's marketplace (CF-21.8.4). Receipts never do; orders
    created through the API or the B2B portal have no marketplace to send to."""
    if not marketplace_order or doc_type == RECEIPT:
        return False
    if doc_type == INVOICE:
        # LATAM Mercado Libre (Brazil invoices with NF-e instead); Chile except Mercado Libre's own invoicing.
        if family != "mercadolibre" or country == "BR":
            return False
        return not (country == "CL" and ml_own_invoicing)
    if doc_type == NFE:
        if country != "BR" or family not in NFE_FORWARD_FAMILIES:
            return False
        # Mercado Livre invoices fulfillment shipments itself.
        return not (family == "mercadolibre" and logistic_type == FULFILLMENT_LOGISTIC)
    return False


def safe_name(name: str | None, default: str) -> str:
    """A display name for metadata (never a path): no directories, no control characters, bounded length."""
    text = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if ch.isprintable()).strip().strip(".")
    return (text or default)[:150]


class DocumentStore(Protocol):
    """Where document bytes live, addressed by their SHA-256."""

    def put(self, data: bytes) -> str:
        """Store ``data``; returns its key (the hex SHA-256)."""
        ...

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key`` (``NotFound`` when missing)."""
        ...


class MissingContent(NotFound):
    """The stored file of a document is gone (404)."""

    message = "The document content is no longer available"


class FileSystemStore:
    """Content-addressed files under one directory: ``<root>/ab/cd/abcd...``; writes are atomic renames."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not _HEX64.match(key):
            raise ValueError("not a content key")
        return self.root / key[:2] / key[2:4] / key

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        path = self._path(key)
        if path.exists():
            return key
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return key

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise MissingContent() from None


def store_for(documents_dir: str) -> DocumentStore:
    """The configured store (the filesystem; another backend would plug in here)."""
    return FileSystemStore(documents_dir)


class DocumentTypeRequired(InvalidInput):
    """documentType is missing (400)."""

    message = "documentType is required: 0 (Invoice), 1 (Receipt) or 2 (Electronic fiscal invoice)"


class BadDocumentFormat(InvalidInput):
    """documentFormat is not pdf or xml (400)."""

    message = "Invalid documentFormat '{value}': use pdf or xml"


FORMAT_ONLY_FOR_NFE = "documentFormat applies only to documentType 2 (Electronic fiscal invoice); omit it"


class LabelNotADocument(PreconditionFailed):
    """Shipping labels are served by the shippinglabel route (412)."""

    message = "Shipping labels (documentType 7) are served by GET /v2/orders/{orderId}/shippinglabel"


class NoDocument(NotFound):
    """The order has no document of that type (404)."""

    message = "The order has no document of type {doc_type}"


class NoDocumentInFormat(NotFound):
    """The order has no document of that type in that format (404)."""

    message = "The order has no document of type {doc_type} in format {fmt}"


@dataclass(frozen=True, slots=True)
class FileOut:
    """A file to send."""

    content: bytes
    media_type: str
    filename: str


def get_document(
    session: Session,
    store: DocumentStore,
    account_id: int,
    order_id: int,
    doc_type_raw: str | None,
    doc_format_raw: str | None,
) -> FileOut:
    """The latest document of a type (CF-20.4). Type 2 with ``pdf`` renders a DANFE-style summary."""
    doc_type = query_int(doc_type_raw, "documentType")
    if doc_type is None:
        raise DocumentTypeRequired()
    if doc_type == SHIPPING_LABEL:
        raise LabelNotADocument()
    if doc_type not in ALLOWED_FORMATS:
        raise UnknownDocumentType(UnknownDocumentType.message.format(value=doc_type))
    fmt = (doc_format_raw or "").strip().lower() or None
    if fmt is not None and fmt not in (PDF, XML):
        raise BadDocumentFormat(BadDocumentFormat.message.format(value=doc_format_raw))
    order_row(session, account_id, order_id)
    query = (
        select(OrderDocument)
        .where(OrderDocument.order_id == order_id, OrderDocument.doc_type == doc_type)
        .order_by(OrderDocument.id.desc())
    )
    if doc_type == NFE and fmt == PDF:
        nfe = session.scalars(query.limit(1)).first()
        if nfe is None:
            raise NoDocument(NoDocument.message.format(doc_type=doc_type))
        return FileOut(danfe_pdf(nfe), CONTENT_TYPES[PDF], f"{nfe.name}.pdf")
    if fmt is not None and doc_type != NFE:
        # Types 0 and 1 come back as uploaded; a matching format narrows, another one finds nothing.
        query = query.where(OrderDocument.extension == fmt)
    document = session.scalars(query.limit(1)).first()
    if document is None:
        if fmt:
            raise NoDocumentInFormat(NoDocumentInFormat.message.format(doc_type=doc_type, fmt=fmt))
        raise NoDocument(NoDocument.message.format(doc_type=doc_type))
    # The type is the one of the sniffed format, never text from the row: a stored file is served only as
    # one of the formats it was accepted as.
    content_type = CONTENT_TYPES.get(document.extension, UNKNOWN_CONTENT_TYPE)
    return FileOut(store.get(document.sha256), content_type, f"{document.name}.{document.extension}")


def danfe_pdf(nfe: OrderDocument) -> bytes:
    """A DANFE-style summary of an attached NF-e (its key as a Code 128 barcode)."""
    pdf = FPDF(unit="mm", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 10, "DANFE - Documento Auxiliar da Nota Fiscal Eletronica", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for text in (
        f"Numero: {nfe.document_number or '-'}    Serie: {nfe.series_number or '-'}",
        f"Chave de acesso: {nfe.fiscal_key or '-'}",
        f"Emissao: {format_utc(nfe.document_date) if nfe.document_date else '-'}",
        f"Arquivo XML: {nfe.name}.{nfe.extension} ({nfe.size} bytes, SHA-256 {nfe.sha256[:16]}...)",
    ):
        pdf.cell(0, 7, labels._latin1(text), new_x="LMARGIN", new_y="NEXT")
    if nfe.fiscal_key and nfe.fiscal_key.isascii() and nfe.fiscal_key.isdigit():
        labels._draw_code128(pdf, nfe.fiscal_key, 10, pdf.get_y() + 4, 150, 18)
    return bytes(pdf.output())
