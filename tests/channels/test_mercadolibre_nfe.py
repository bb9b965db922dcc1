"""Brazil's NF-e through the Mercado Libre channel against the local stand-in: the authorised ``<nfeProc>`` XML
attached to an MLB order is imported into its shipment (raw XML, ``siteId=MLB``), which releases the label; the
same access key twice is a permanent error saying so; an XML that is not an authorised NF-e is refused before
calling; and the stand-in's import endpoint over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from alephee.http.context import AppContext
from alephee.marketplaces.contract import DocumentUpload, MarketplaceRef, OrderRef, PermanentDeliveryError
from alephee.orders.documents import NFE, store_for
from alephee.sync.order_feed import OrderSync
from tests.channels.mercadolibre_standin_kit import Linked, linked_standin
from tests.fixtures.mercadolibre import BRAZIL, SELLER, StandIn, item_body
from tests.fixtures.tenants import Tenant

MLB = MarketplaceRef(id=2, name="Mercado Livre Brasil", family="mercadolibre", connector="mercadolibre",
                     site_id="MLB", country_id="BR")  # fmt: skip
KEY = "35231212345678000190550010000012341000012345"
NFE_XML = (
    '<?xml version="1.0" encoding="UTF-8"?><nfeProc xmlns="http://www.portalfiscal.inf.br/nfe" versao="4.00">'
    f'<NFe><infNFe Id="NFe{KEY}" versao="4.00"><ide><nNF>1234</nNF></ide></infNFe></NFe>'
    f"<protNFe><infProt><chNFe>{KEY}</chNFe><cStat>100</cStat></infProt></protNFe></nfeProc>"
).encode()


@pytest.fixture
def brazil(ctx: AppContext, tmp_path: Path, make_tenant: Callable[..., Tenant]) -> Iterator[Linked]:
    with linked_standin(ctx, tmp_path, make_tenant, seller=BRAZIL, marketplace=MLB) as kit:
        yield kit


def sold(ctx: AppContext, linked: Linked) -> tuple[int, int]:
    """A sale on the stand-in brought into the hub: the hub's order id and the shipment id."""
    item = linked.standin.create_item(item_body(category_id="MLB3530", currency_id="BRL"))
    order = linked.standin.buy(item["id"], 1)
    entry = next(
        o for o in linked.channel.pull_orders(linked.ctx, None).orders if o.external_order_id == str(order["id"])
    )
    with ctx.db.writing() as session:
        assert OrderSync(session, linked.tenant.account_id, MLB).apply(entry)
    return int(order["id"]), int(order["shipping"]["id"])


def nfe(linked: Linked, order_id: int, content: bytes = NFE_XML) -> DocumentUpload:
    assert linked.ctx.settings is not None
    key = store_for(linked.ctx.settings.documents_dir).put(content)
    return DocumentUpload(
        order=OrderRef(external_order_id=str(order_id)),
        document_type=NFE,
        extension="xml",
        content_type="application/xml",
        storage_key=key,
    )


def test_an_nfe_is_imported_into_the_shipment_once(ctx: AppContext, brazil: Linked) -> None:
    order_id, shipment_id = sold(ctx, brazil)
    with brazil.standin.store.begin() as tx:
        assert (tx.get("shipment", shipment_id) or {})["substatus"] == "invoice_pending"
    sent: list[httpx.Request] = []
    brazil.http.event_hooks["request"].append(sent.append)

    receipt = brazil.channel.upload_document(brazil.ctx, nfe(brazil, order_id))

    assert receipt.forwarded and receipt.external_document_id == KEY
    [post] = [r for r in sent if r.method == "POST"]
    assert (post.url.path, post.url.params["siteId"]) == (f"/shipments/{shipment_id}/invoice_data/", "MLB")
    assert post.headers["content-type"] == "application/xml" and post.content == NFE_XML
    with brazil.standin.store.begin() as tx:
        assert (tx.get("shipment", shipment_id) or {})["substatus"] == "ready_to_print"
    with pytest.raises(PermanentDeliveryError, match=r"already imported.*duplicated_fiscal_key"):
        brazil.channel.upload_document(brazil.ctx, nfe(brazil, order_id))


def test_an_xml_that_is_not_an_authorised_nfe_is_refused_before_calling(ctx: AppContext, brazil: Linked) -> None:
    order_id, _shipment = sold(ctx, brazil)
    sent: list[httpx.Request] = []
    brazil.http.event_hooks["request"].append(sent.append)
    with pytest.raises(PermanentDeliveryError, match="nfeProc"):
        brazil.channel.upload_document(brazil.ctx, nfe(brazil, order_id, b"<NFe><infNFe/></NFe>"))
    assert not [r for r in sent if r.method == "POST"]


def test_the_standin_imports_nfes_of_brazilian_shipments_only(ml: StandIn) -> None:
    brazilian = ml.standin.buy(ml.item(BRAZIL)["id"])
    url = f"/shipments/{brazilian['shipping']['id']}/invoice_data/"
    headers = ml.headers(BRAZIL, **{"Content-Type": "application/xml"})
    imported = ml.api.post(url, params={"siteId": "MLB"}, content=NFE_XML, headers=headers)
    assert imported.status_code == 200 and imported.json()["fiscal_key"] == KEY
    again = ml.api.post(url, params={"siteId": "MLB"}, content=NFE_XML, headers=headers)
    assert again.status_code == 400 and again.json()["error"] == "duplicated_fiscal_key"
    pdf = ml.api.post(url, params={"siteId": "MLB"}, content=b"%PDF-1.4", headers=ml.headers(BRAZIL))
    assert pdf.status_code == 400
    argentine = ml.standin.buy(ml.item(SELLER)["id"])
    elsewhere = ml.api.post(
        f"/shipments/{argentine['shipping']['id']}/invoice_data/",
        params={"siteId": "MLB"},
        content=NFE_XML,
        headers=ml.headers(SELLER, **{"Content-Type": "application/xml"}),
    )
    assert elsewhere.status_code == 400 and elsewhere.json()["error"] == "not_available_for_site"
