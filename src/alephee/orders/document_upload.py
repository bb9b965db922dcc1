"""POST /v2/orders/{orderId}/documents (CF-21.3, CF-21.8.4): validating and storing an attached document
(idempotent on the same bytes and type) and queueing invoices for the marketplace.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from alephee import clock
from alephee.config import Settings
from alephee.errors import InvalidInput
from alephee.http.params import query_int
from alephee.http.uploads import UploadedFile
from alephee.http.wire import format_utc
from alephee.marketplaces.outbox import enqueue
from alephee.orders import document_quota
from alephee.orders import documents as docs
from alephee.orders.access import lock_order, marketplace_country, marketplace_family, order_payload, parse_date_field
from alephee.orders.account_options import account_options
from alephee.orders.models import ORIGIN_MARKETPLACE, Order, OrderDocument, history_row, insert_history


@dataclass(frozen=True, slots=True)
class DocumentUpload:
    """A validated upload request."""

    doc_type: int
    data: bytes
    name: str | None
    extension: str | None
    document_number: str | None = None
    document_date: datetime | None = None
    fiscal_key: str | None = None
    series_number: str | None = None
    message_text: str | None = None


def store_document(
    session: Session, store: docs.DocumentStore, settings: Settings, order: Order, upload: DocumentUpload
) -> tuple[OrderDocument, bool]:
    """Validate and store a document for ``order`` (no commit). Returns ``(document, created)``; the same
    bytes attached again as the same type return the existing document (idempotent retry)."""
    sniffed = docs.inspect(
        upload.data,
        doc_type=upload.doc_type,
        declared_extension=upload.extension,
        max_bytes=settings.documents_max_bytes,
    )
    existing = session.scalar(
        select(OrderDocument).where(
            OrderDocument.order_id == order.id,
            OrderDocument.doc_type == upload.doc_type,
            OrderDocument.sha256 == sniffed.sha256,
        )
    )
    if existing is not None:
        return existing, False
    document_quota.reserve(session, settings, order.account_id, sniffed.size)
    store.put(upload.data)
    default_name = f"{docs.DOCUMENT_TYPES[upload.doc_type].lower().replace(' ', '-')}-{order.id}"
    document = OrderDocument(
        order_id=order.id,
        account_id=order.account_id,
        doc_type=upload.doc_type,
        name=docs.safe_name(upload.name, default_name),
        extension=sniffed.fmt,
        content_type=sniffed.content_type,
        size=sniffed.size,
        sha256=sniffed.sha256,
        document_number=upload.document_number,
        document_date=upload.document_date,
        fiscal_key=upload.fiscal_key,
        series_number=upload.series_number,
        message_text=upload.message_text,
        created_at=clock.utcnow(),
    )
    session.add(document)
    session.execute(
        update(Order)
        .where(Order.id == order.id)
        .values(
            document_count=Order.document_count + 1,
            updated_at=clock.utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return document, True


def _bounded(params: dict[str, str | None], name: str, limit: int) -> str | None:
    value = params.get(name)
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    if len(text) > limit:
        raise ParameterTooLong(ParameterTooLong.message.format(name=name, limit=limit))
    return text


class ParameterTooLong(InvalidInput):
    """A text parameter is too long (400)."""

    message = "'{name}' is too long (at most {limit} characters)"


def split_file_name(raw_name: str | None, extension: str | None) -> tuple[str | None, str | None]:
    """``(display name without extension, declared extension)``. The name is metadata only (no directories);
    the declared extension is the explicit one, else the name's own suffix."""
    if raw_name is None or not raw_name.strip():
        return None, (extension or None)
    base = raw_name.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, suffix = base.rpartition(".")
    if dot and stem and suffix.lower() in docs.EXTENSION_ALIASES:
        return stem, (extension or suffix)
    return base, (extension or None)


def _document_out(document: OrderDocument) -> dict[str, Any]:
    return {
        "Type": document.doc_type,
        "Name": document.name,
        "Extension": document.extension,
        "Fullfilename": f"{document.name}.{document.extension}",
        "Size": document.size,
        "DocumentDate": format_utc(document.document_date) if document.document_date else None,
        "DateCreated": format_utc(document.created_at),
    }


def attach_document(
    session: Session,
    store: docs.DocumentStore,
    settings: Settings,
    account_id: int,
    actor: str,
    order_id: int,
    params: dict[str, str | None],
    upload: UploadedFile,
    tz: Any,
) -> dict[str, Any]:
    """Attach a document (already size-checked); the same bytes as the same type again return the stored
    document and change nothing. Invoices are queued for the marketplace per CF-21.8.4.
    No commit: the caller owns the transaction."""
    doc_type = query_int(params.get("documentType"), "documentType")
    if doc_type is None:
        raise docs.DocumentTypeRequired()
    if doc_type not in docs.ALLOWED_FORMATS:
        raise docs.UnknownDocumentType(docs.UnknownDocumentType.message.format(value=doc_type))
    raw_date = params.get("documentDate")
    document_date = parse_date_field(raw_date, tz, "documentDate")
    name, extension = split_file_name(upload.name, upload.extension)
    request = DocumentUpload(
        doc_type=doc_type,
        data=upload.data,
        name=name,
        extension=extension,
        document_number=_bounded(params, "documentNumber", 60),
        document_date=document_date,
        fiscal_key=_bounded(params, "fiscalKey", 60),
        series_number=_bounded(params, "seriesNumber", 20),
        message_text=_bounded(params, "messageText", 500),
    )
    # Content checks before the order is locked: a bad file never waits for (or holds) a lock.
    docs.inspect(upload.data, doc_type=doc_type, declared_extension=extension, max_bytes=settings.documents_max_bytes)
    order = lock_order(session, account_id, order_id)
    country = marketplace_country(session, order.marketplace_id)
    if doc_type == docs.NFE and country != "BR":
        raise docs.NfeOnlyBrazil()
    document, created = store_document(session, store, settings, order, request)
    if created:
        now = clock.utcnow()
        insert_history(session, [history_row(order, actor, "document", now)])
        family = marketplace_family(session, order.marketplace_id)
        options = account_options(session, account_id)
        if docs.forwards(
            doc_type,
            marketplace_order=order.origin == ORIGIN_MARKETPLACE,
            family=family,
            country=country,
            logistic_type=order.logistic_type,
            ml_own_invoicing=bool(options and options.ml_own_invoicing),
        ):
            enqueue(
                session,
                account_id=account_id,
                topic="order.document",
                aggregate_type="order",
                aggregate_id=order.id,
                payload=order_payload(
                    order,
                    DocumentId=document.id,
                    DocumentType=doc_type,
                    DocumentNumber=document.document_number,
                    DocumentDate=format_utc(document.document_date) if document.document_date else None,
                    FileName=f"{document.name}.{document.extension}",
                    Extension=document.extension,
                    ContentType=document.content_type,
                    Size=document.size,
                    Sha256=document.sha256,
                    StorageKey=document.sha256,
                    FiscalKey=document.fiscal_key,
                    SeriesNumber=document.series_number,
                    MessageText=document.message_text,
                ),
                marketplace_id=order.marketplace_id,
            )
    out = _document_out(document)
    return out
