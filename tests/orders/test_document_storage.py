"""Stored documents: served only as downloads with a fixed, safe content type, and a per-account storage quota
(ALEPHEE_DOCUMENTS_QUOTA_BYTES) that refuses an upload with 413 and stores nothing."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from alephee.http.context import AppContext
from alephee.orders import document_quota
from alephee.orders.messages import record_buyer_reply
from alephee.orders.models import Order, OrderDocument, OrderMessage
from tests.fixtures.errors import assert_error
from tests.fixtures.orders import PDF, AddOrder
from tests.fixtures.tenants import Tenant

# Well-formed XML (no DTD), accepted as a receipt, that a browser would run as SVG if it rendered it.
SVG_RECEIPT = (
    b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script>'
    b'<html:script xmlns:html="http://www.w3.org/1999/xhtml">alert(1)</html:script></svg>'
)


def _pdf(tag: str) -> bytes:
    """A small PDF of its own (a content hash no other test or run stored)."""
    return PDF + f"% {tag} {uuid.uuid4().hex}\n".encode()


def _upload(client: TestClient, tenant: Tenant, order_id: int, name: str, data: bytes, doc_type: int = 0) -> Any:
    return client.post(
        f"/v2/orders/{order_id}/documents",
        params=tenant.q(documentType=doc_type),
        files={"file": (name, data, "application/octet-stream")},
    )


def _stored(ctx: AppContext, data: bytes) -> bool:
    key = hashlib.sha256(data).hexdigest()
    return (Path(ctx.settings.documents_dir) / key[:2] / key[2:4] / key).exists()


def test_documents_are_downloads_with_a_safe_type(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller)
    assert _upload(client, seller, order_id, "recibo.xml", SVG_RECEIPT, doc_type=1).status_code == 200
    response = client.get(f"/v2/orders/{order_id}/documents", params=seller.q(documentType=1))
    assert response.status_code == 200 and response.content == SVG_RECEIPT
    assert response.headers["content-type"] == "application/xml"
    assert response.headers["content-disposition"] == 'attachment; filename="recibo.xml"'
    assert response.headers["x-content-type-options"] == "nosniff"
    # Even a browser that rendered it would run no script.
    assert response.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert _upload(client, seller, order_id, "f.pdf", _pdf("safe"), doc_type=0).status_code == 200
    pdf = client.get(f"/v2/orders/{order_id}/documents", params=seller.q(documentType=0))
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("attachment;")
    assert pdf.headers["content-security-policy"] == "default-src 'none'; sandbox"


def test_the_served_type_comes_from_the_sniffed_format_not_the_stored_text(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    order_id = add_order(seller)
    assert _upload(client, seller, order_id, "recibo.xml", SVG_RECEIPT, doc_type=1).status_code == 200
    # A row written by an older version (or by hand) with a dangerous type is still served as its format.
    with ctx.db.writing() as session:
        session.execute(OrderDocument.__table__.update().values(content_type="image/svg+xml"))
    response = client.get(f"/v2/orders/{order_id}/documents", params=seller.q(documentType=1))
    assert response.headers["content-type"] == "application/xml"


def _usage(ctx: AppContext, account_id: int) -> tuple[int, int]:
    with ctx.db.reading() as session:
        documents = session.scalar(
            select(func.count()).select_from(OrderDocument).where(OrderDocument.account_id == account_id)
        )
        count = session.scalar(select(func.sum(Order.document_count)).where(Order.account_id == account_id))
    return int(documents or 0), int(count or 0)


def test_upload_over_the_account_quota_is_413_and_stores_nothing(
    make_client: Callable[..., TestClient],
    ctx: AppContext,
    make_tenant: Callable[..., Tenant],
    seller: Tenant,
    add_order: AddOrder,
) -> None:
    first, second, third = _pdf("quota-1"), _pdf("quota-2"), _pdf("quota-3")
    quota = len(first) + len(second)
    client = make_client(documents_quota_bytes=quota)
    order_a, order_b = add_order(seller), add_order(seller)
    assert _upload(client, seller, order_a, "a.pdf", first).status_code == 200
    assert _upload(client, seller, order_b, "b.pdf", second).status_code == 200
    assert _usage(ctx, seller.account_id) == (2, 2)
    # Full: a third file is refused in the documented shape, on any order of the account, in both modes.
    refused = _upload(client, seller, order_a, "c.pdf", third)
    assert_error(refused, 413)
    assert refused.json()["Message"] == document_quota.QuotaExceeded.message.format(
        used=quota, quota=quota, size=len(third)
    )
    body = {"fileBase64": base64.b64encode(third).decode(), "documentExtension": "pdf"}
    assert_error(client.post(f"/v2/orders/{order_b}/documents", params=seller.q(documentType=0), json=body), 413)
    assert _usage(ctx, seller.account_id) == (2, 2)
    assert not _stored(ctx, third)
    # Repeating an upload already stored costs nothing and still answers 200 (idempotent retry).
    assert _upload(client, seller, order_a, "a.pdf", first).status_code == 200
    # The quota is per account: another account still has its own.
    other = make_tenant(marketplaces=(100,))
    assert _upload(client, other, add_order(other), "c.pdf", third).status_code == 200
    # 0 means no quota.
    unlimited = make_client(documents_quota_bytes=0)
    assert _upload(unlimited, seller, order_a, "c.pdf", third).status_code == 200


def test_message_attachments_count_toward_the_quota(
    make_client: Callable[..., TestClient], ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    document, attachment = _pdf("quota-doc"), _pdf("quota-attachment")
    client = make_client(documents_quota_bytes=len(document) + len(attachment) - 1)
    order_id = add_order(seller)
    assert _upload(client, seller, order_id, "a.pdf", document).status_code == 200
    url = f"/v2/orders/{order_id}/messages"
    assert client.post(url, params=seller.q(messageOptions=4, message="Hola")).status_code == 200
    with ctx.db.writing() as session:
        record_buyer_reply(session, seller.account_id, order_id, "Gracias")
    file = {"file": ("factura.pdf", attachment, "application/pdf")}
    assert_error(client.post(url, params=seller.q(messageOptions=4, message="Adjunto"), files=file), 413)
    with ctx.db.reading() as session:
        sent = select(func.count()).select_from(OrderMessage).where(OrderMessage.sender == "seller")
        assert session.scalar(sent) == 1
    assert not _stored(ctx, attachment)
    # Within the quota the attachment goes, and then counts: a document of the same size no longer fits.
    roomy = make_client(documents_quota_bytes=len(document) + len(attachment))
    assert roomy.post(url, params=seller.q(messageOptions=4, message="Adjunto"), files=file).status_code == 200
    assert_error(_upload(roomy, seller, order_id, "b.pdf", _pdf("quota-doc-2")), 413)
