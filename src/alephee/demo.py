"""The demo tenant: an account with marketplaces, price lists, stores and a user, created idempotently.

Later domains add their own demo data through ``DEMO_STEPS`` (catalogue, listings, orders...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from importlib import import_module

from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee.accounts import service as accounts
from alephee.accounts.auth import hash_key
from alephee.accounts.models import Account, ApiKey, FiscalTaxRule
from alephee.accounts.schemas import AccountType
from alephee.config import Settings

DEMO_ACCOUNT_NAME = "Demo Store"
# A fixed, documented key so `make run` can print it on every start. Only for local evaluation:
# never run `alephee demo` on a production database.
DEMO_API_KEY = "DE300000-0000-4000-8000-000000000001"
DEMO_USER_EMAIL = "compras@demo.example"
# Marketplaces that work on one machine: the sandbox Mercado Libre sites and the Alephee B2B portal; "Mercado
# Libre Argentina" (1) is added by its demo step, connected to the local stand-in the hub serves.
DEMO_MARKETPLACES = (100, 101, 102, 30)


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What `alephee demo` prints."""

    account_id: int
    api_key: str
    created: bool


# Demo steps of the other domains, run in this order after the tenant exists: "module:function" names of
# f(session, settings, account_id) -> None. Each step must be idempotent (skip what already exists).
DEMO_STEP_NAMES: list[str] = [
    "alephee.products.demo:create_demo_catalog",
    "alephee.portal.demo:create_demo_portal",
    "alephee.listings.demo:create_demo_listings",
    "alephee.orders.demo:create_demo_orders",
    "alephee.sandbox.demo:create_demo_sales",
    "alephee.channels.mercadolibre.demo:connect_demo_seller",
    "alephee.channels.tiendanube.demo:connect_demo_store",
]


def demo_steps() -> list[Callable[[Session, Settings, int], None]]:
    """The registered steps, imported by name when the demo runs."""
    steps = []
    for name in DEMO_STEP_NAMES:
        module, _, function = name.partition(":")
        steps.append(getattr(import_module(module), function))
    return steps


def find_demo_account(session: Session) -> Account | None:
    """The demo account if it exists."""
    return session.scalar(select(Account).where(Account.name == DEMO_ACCOUNT_NAME).order_by(Account.id).limit(1))


def ensure_demo(session: Session, settings: Settings) -> DemoResult:
    """Create the demo tenant if missing (and re-run every registered step, which must be idempotent)."""
    account = find_demo_account(session)
    created = account is None
    if account is None:
        account = _create_tenant(session)
    if session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(DEMO_API_KEY))) is None:
        accounts.create_key(session, [account.id], label="demo", secret=DEMO_API_KEY, rate_limit=600)
    for step in demo_steps():
        step(session, settings, account.id)
    session.flush()
    return DemoResult(account_id=account.id, api_key=DEMO_API_KEY, created=created)


def _create_tenant(session: Session) -> Account:
    account = accounts.create_account(
        session,
        name=DEMO_ACCOUNT_NAME,
        account_type=AccountType.SELLER,
        business_name="Demo Store S.A.",
        doc_type="CUIT",
        doc_number="30-71234567-9",
        own_code="C-0001",
        b2b_portal=True,
    )
    for marketplace_id in DEMO_MARKETPLACES:
        accounts.add_marketplace(session, account.id, marketplace_id, external_seller_id=f"DEMO{marketplace_id}")
    accounts.create_price_list(session, account.id, "Lista general", currency="ARS", is_default=True)
    accounts.create_price_list(
        session, account.id, "Lista mayorista", currency="ARS", discount_rate=Decimal("10"), is_b2b=True
    )
    accounts.create_user(session, account.id, DEMO_USER_EMAIL, name="Compras Demo")
    address = {
        "CountryId": "AR",
        "StateCode": "C",
        "State": "Capital Federal",
        "City": "CABA",
        "Neighborhood": "San Nicolás",
        "StreetName": "Corrientes",
        "StreetNumber": "1234",
        "ZipCode": "1043",
        "Phone": "011-4444-5555",
    }
    accounts.create_store(
        session,
        account.id,
        "Sucursal Centro",
        business_name="Demo Store S.A.",
        integration_code="SUC-01",
        is_principal=True,
        open_hours="Lun a Vie 9 a 18",
        availability_time_in_hours=24,
        additional_time_in_hours=0,
        allow_pickup_store=True,
        zone="CABA",
        address=address,
        external_ids=[(100, "5501", "Centro"), (101, "5501", "Centro")],
    )
    accounts.create_store(
        session,
        account.id,
        "Depósito Norte",
        integration_code="DEP-01",
        allow_pickup_store=False,
        logistic_tags_exclude=["self_service_in"],
        zone="GBA Norte",
        address={**address, "City": "Vicente López", "StreetName": "Av. Maipú", "StreetNumber": "2500"},
    )
    accounts.create_store(
        session,
        account.id,
        "Punto de retiro Palermo",
        allow_pickup_store=True,
        zone="CABA",
        pickup={
            "name": "Kiosco Palermo",
            "business_name": "Kiosco Palermo S.R.L.",
            "external_id": 7788,
            "integration_code": "PK-77",
            "seller_account_id": account.id,
        },
        external_ids=[(100, "7788", "Palermo")],
    )
    session.add_all(
        [
            FiscalTaxRule(account_id=account.id, code="IVA21", name="IVA 21%", tax_type="VAT", percentage=Decimal(21)),
            FiscalTaxRule(
                account_id=account.id,
                code="IIBB-CABA",
                name="Ingresos Brutos CABA",
                tax_type="GrossIncome",
                percentage=Decimal("3.5"),
                state_code="C",
            ),
        ]
    )
    session.flush()
    return account
