"""Fixtures of the orders tests: a seller with the demo marketplaces and a factory of realistic orders."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alephee import clock
from alephee.http.context import AppContext
from alephee.orders import demo
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.ingest import ingest_order
from tests.conftest import Tenant

MARKETPLACES = (100, 1, 20, 30)
_counter = itertools.count(1)


@pytest.fixture
def seller(make_tenant: Callable[..., Tenant]) -> Tenant:
    """A seller account connected to the sandbox Mercado Libre (100), Mercado Libre (1), Amazon and B2B."""
    return make_tenant(marketplaces=MARKETPLACES, business_name="Vendedor S.A.", own_code="V-1")


AddOrder = Callable[..., int]


@pytest.fixture
def add_order(ctx: AppContext) -> AddOrder:
    """``add_order(tenant, **fields) -> order id``: ingest one realistic order (deterministic content)."""

    def add(
        tenant: Tenant,
        *,
        marketplace_id: int = 100,
        status: int = st.READY_TO_SHIP,
        sale_date: datetime | None = None,
        created_at: datetime | None = None,
        status_date: datetime | None = None,
        integrated: bool = False,
        integrated_order_id: str | None = None,
        erp_status: str | None = None,
        payment_pending: bool = False,
        pack_id: str | None = None,
        pack_size: int | None = None,
        logistic_type: int = ship.ME2,
        shipment_status: str | None = None,
        shipment_substatus: str | None = None,
        external_shipping_id: int | None = None,
        external_order_id: str | None = None,
        lines: list[tuple[int, int]] | None = None,
        origin: str = "marketplace",
        cancelled_line: int | None = None,
        shared: dict[str, Any] | None = None,
    ) -> int:
        n = next(_counter)
        rng = random.Random(n)
        now = clock.utcnow()
        sale = sale_date or now - timedelta(hours=1)
        with ctx.db.writing() as session:
            new = demo.build_order(
                rng,
                seller=demo.seller_of(session, tenant.account_id),
                channel=demo.channel_of(session, marketplace_id),
                external_order_id=external_order_id or f"{2_000_000_000 + n}",
                sale_date=sale,
                status=status,
                lines=lines,
                logistic_type=logistic_type,
                shipment_status=shipment_status,
                shipment_substatus=shipment_substatus,
                external_shipping_id=external_shipping_id,
                payment_pending=payment_pending,
                pack_id=pack_id,
                pack_size=pack_size,
                origin=origin,
                cancelled_line=cancelled_line,
                shared=shared,
            )
            new.created_at = created_at or sale
            new.status_date = status_date or new.created_at
            new.integrated = integrated
            new.integrated_order_id = integrated_order_id
            new.erp_status = erp_status
            return ingest_order(session, new).id

    return add


def utc(*args: int) -> datetime:
    """An aware UTC datetime."""
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
NFE_XML = b'<?xml version="1.0" encoding="UTF-8"?><nfeProc><NFe><infNFe Id="NFe3524"/></NFe></nfeProc>'


def order_info(external: str = "WEB-0001", *, marketplace_id: int = 24, **overrides: Any) -> dict[str, Any]:
    """A complete POST /v2/orders body (spec 21 §6.4) with one item; ``overrides`` replace top-level keys."""
    address = {"CountryId": "AR", "State": "Buenos Aires", "City": "La Plata", "StreetName": "Calle 7",
               "StreetNumber": "1020", "ZipCode": "1900"}  # fmt: skip
    body: dict[str, Any] = {
        "MarketplaceId": marketplace_id,
        "ExternalOrderId": external,
        "Integrated": False,
        "ErpStatus": "new",
        "DateCreated": "2024-05-10T10:00:00-03:00",
        "Items": [
            {
                "Product": {"Sku": "ABC-1", "Brand": "ACME", "Title": "Taladro"},
                "Quantity": 2,
                "StockMovement": True,
                "UnitPrice": 1500.00,
                "UnitPriceCost": 900.00,
                "Status": 10,
            }
        ],
        "Buyer": {
            "Name": "Juan Pérez",
            "Email": "juan@mail.example",
            "DocType": "DNI",
            "DocNumber": "30111222",
            "Address": address,
        },
        "Payments": [{"ExternalPaymentId": "P-1", "Amount": 3000.00, "Method": "credit_card", "Installments": 1}],
        "Shipping": {
            "LogisticType": "custom",
            "Cost": 0,
            "Receiver": {"Name": "Juan Pérez", "Phone": "11-4000-1000"},
            "ReceiverAddress": address,
        },
    }
    body.update(overrides)
    return body
