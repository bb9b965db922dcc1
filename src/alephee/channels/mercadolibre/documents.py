"""Order documents on Mercado Libre: the stored file of a document the hub forwards, and Brazil's NF-e imported
into the order's shipment (``POST /shipments/{id}/invoice_data/?siteId=MLB``)."""

from __future__ import annotations

from alephee.channels.mercadolibre.calls import Api, delivery_error
from alephee.channels.mercadolibre.client import MercadoLibreError
from alephee.channels.mercadolibre.facts import OrderFacts
from alephee.config import Settings
from alephee.errors import DomainError
from alephee.marketplaces.contract import DocumentReceipt, DocumentUpload, PermanentDeliveryError
from alephee.orders.documents import store_for

BRAZIL = "MLB"
# Mercado Livre's error for an NF-e already imported into the shipment.
DUPLICATED_NFE = "duplicated_fiscal_key"


def stored_content(settings: Settings, document: DocumentUpload) -> bytes:
    """The stored file of a document (permanent errors when there is none or it cannot be read)."""
    if not document.storage_key:
        raise PermanentDeliveryError("the document has no stored file")
    try:
        return store_for(settings.documents_dir).get(document.storage_key)
    except (DomainError, ValueError) as exc:
        raise PermanentDeliveryError(f"the document's file cannot be read: {exc}") from None


def import_nfe(api: Api, facts: OrderFacts, xml: bytes) -> DocumentReceipt:
    """Brazil: the authorised NF-e (``<nfeProc>``) imported into the order's shipment, as sent
    (``POST /shipments/{id}/invoice_data/?siteId=MLB``); an NF-e already imported is a permanent error."""
    if b"<nfeProc" not in xml[:4096] and b":nfeProc" not in xml[:4096]:
        raise PermanentDeliveryError(
            "Mercado Livre takes the authorised NF-e (the <nfeProc> XML with its protocol), not this XML"
        )
    shipment_id = facts.external_shipping_id
    if not shipment_id:
        raise PermanentDeliveryError(f"order {facts.external_order_id} has no Mercado Envios shipment for the NF-e")
    try:
        answer = api.raw(lambda c, t: c.import_invoice(t, shipment_id, xml, BRAZIL))
    except MercadoLibreError as exc:
        if DUPLICATED_NFE in f"{exc.error} {exc.description} {exc.refusal()}":
            raise PermanentDeliveryError(
                f"the NF-e was already imported on Mercado Livre (shipment {shipment_id}): {exc.refusal()}"
            ) from None
        raise delivery_error(exc, "import the NF-e") from None
    key = answer.get("fiscal_key") or answer.get("id")
    return DocumentReceipt(forwarded=True, external_document_id=str(key) if key else shipment_id)
