"""Operator actions on tenants: ``alephee account``, ``key``, ``user``, ``marketplace``, ``pricelist``, ``store``,
and the audit log (``alephee audit``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import typer

from alephee.accounts import service as accounts
from alephee.accounts.schemas import AccountType
from alephee.cli.common import emit, fail, session_scope
from alephee.http.numbers import int_from_text

account_app = typer.Typer(help="Accounts (tenants).", no_args_is_help=True)
key_app = typer.Typer(help="API keys.", no_args_is_help=True)
user_app = typer.Typer(help="Users of an account.", no_args_is_help=True)
marketplace_app = typer.Typer(help="Marketplaces connected to accounts.", no_args_is_help=True)
pricelist_app = typer.Typer(help="Price lists.", no_args_is_help=True)
store_app = typer.Typer(help="Stores, branches and pickup points.", no_args_is_help=True)


@account_app.command("create")
def account_create(
    name: Annotated[str, typer.Option(help="Account name.")],
    type_: Annotated[AccountType, typer.Option("--type", help="Account type.")] = AccountType.SELLER,
    business_name: Annotated[str | None, typer.Option(help="Legal name.")] = None,
    doc_type: Annotated[str | None, typer.Option(help="Document type (CUIT, RUT, CNPJ, ...).")] = None,
    doc_number: Annotated[str | None, typer.Option(help="Document number.")] = None,
    own_code: Annotated[str | None, typer.Option(help="Your ERP code of the account.")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone of naive dates in request bodies.")] = None,
    b2b_portal: Annotated[bool, typer.Option(help="The account has an Alephee B2B portal.")] = False,
    b2b_portal_url: Annotated[str | None, typer.Option(help="Base URL (FQDN) of its B2B portal.")] = None,
) -> None:
    """Create an account; prints ``{"AccountId": n, ...}``."""
    with session_scope() as session:
        account = accounts.create_account(
            session,
            name=name,
            account_type=type_,
            business_name=business_name,
            doc_type=doc_type,
            doc_number=doc_number,
            own_code=own_code,
            timezone=timezone,
            b2b_portal=b2b_portal,
            b2b_portal_url=b2b_portal_url,
        )
        emit({"AccountId": account.id, "Name": account.name, "Type": account.account_type})


@account_app.command("set")
def account_set(
    account: Annotated[int, typer.Option(help="Account id.")],
    allow_pricelist_delete: Annotated[
        bool | None, typer.Option("--allow-pricelist-delete/--deny-pricelist-delete", help="DELETE products/prices.")
    ] = None,
    b2b_portal: Annotated[bool | None, typer.Option("--b2b-portal/--no-b2b-portal", help="B2B portal.")] = None,
    b2b_portal_url: Annotated[str | None, typer.Option(help="Base URL of the B2B portal ('' to clear).")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone ('' for the default).")] = None,
) -> None:
    """Change operator switches of an account."""
    with session_scope() as session:
        row = accounts.set_account_flags(
            session,
            account,
            allow_pricelist_delete=allow_pricelist_delete,
            b2b_portal=b2b_portal,
            b2b_portal_url=b2b_portal_url,
            timezone=timezone,
        )
        emit(
            {
                "AccountId": row.id,
                "AllowPricelistDelete": row.allow_pricelist_delete,
                "B2BPortal": row.b2b_portal_enabled,
                "B2BPortalUrl": row.b2b_portal_url,
                "Timezone": row.timezone,
            }
        )


@account_app.command("list")
def account_list() -> None:
    """Every account."""
    from sqlalchemy import select

    from alephee.accounts.models import Account

    with session_scope() as session:
        rows = session.scalars(select(Account).order_by(Account.id)).all()
        emit([{"AccountId": a.id, "Name": a.name, "Type": a.account_type} for a in rows])


@key_app.command("create")
def key_create(
    account: Annotated[list[int], typer.Option(help="Account id (repeat for several accounts).")],
    rate_limit: Annotated[int | None, typer.Option(help="Requests/minute for every endpoint.")] = None,
    label: Annotated[str | None, typer.Option(help="A note to recognise the key.")] = None,
) -> None:
    """Create an API key; the secret is printed only now (it is stored hashed)."""
    with session_scope() as session:
        key, secret = accounts.create_key(session, account, rate_limit=rate_limit, label=label)
        emit({"KeyId": key.id, "ApiKey": secret, "AccountIds": accounts.key_account_ids(session, key.id)})


def _key_json(key: Any, account_ids: list[int]) -> dict[str, Any]:
    return {
        "KeyId": key.id,
        "Prefix": key.key_prefix,
        "Label": key.label,
        "RateLimit": key.rate_limit,
        "AccountIds": account_ids,
        "CreatedAt": key.created_at.isoformat(),
        "RevokedAt": key.revoked_at.isoformat() if key.revoked_at else None,
    }


@key_app.command("list")
def key_list(account: Annotated[int, typer.Option(help="Account id.")]) -> None:
    """Keys of an account (never the secrets: only their first characters)."""
    with session_scope() as session:
        emit([_key_json(key, ids) for key, ids in accounts.list_keys(session, account)])


@key_app.command("revoke")
def key_revoke(key_id: Annotated[int, typer.Argument(help="Key id (from key list).")]) -> None:
    """Revoke a key: it gets 401 on the next request, on every server process."""
    with session_scope() as session:
        key = accounts.revoke_key(session, key_id)
        emit(_key_json(key, accounts.key_account_ids(session, key.id)))


@key_app.command("rotate")
def key_rotate(key_id: Annotated[int, typer.Argument(help="Key id (from key list).")]) -> None:
    """Revoke a key and create its replacement (same accounts and limit); prints the new secret once."""
    with session_scope() as session:
        key, secret = accounts.rotate_key(session, key_id)
        emit(
            {
                "KeyId": key.id,
                "ApiKey": secret,
                "AccountIds": accounts.key_account_ids(session, key.id),
                "Revoked": key_id,
            }
        )


def audit(
    account: Annotated[int | None, typer.Option(help="Account id (the account acted on or asked for).")] = None,
    limit: Annotated[int, typer.Option(help="How many entries (newest first).")] = 100,
    key: Annotated[int | None, typer.Option(help="Only this key id (alone: every account it touched).")] = None,
    security: Annotated[bool, typer.Option("--security", help="Only security events.")] = False,
) -> None:
    """The audit log: write requests of an account, and security events (a key asking for an account it
    does not serve). Needs --account, --key or both."""
    with session_scope() as session:
        rows = accounts.list_audit(session, account, limit=limit, key_id=key, security_only=security)
        emit(
            [
                {
                    "At": r.created_at.isoformat(),
                    "RequestId": r.request_id,
                    "KeyId": r.key_id,
                    "AccountId": r.account_id,
                    "Event": r.event,
                    "Method": r.method,
                    "Endpoint": r.endpoint,
                    "Path": r.path,
                    "Query": r.query,
                    "Status": r.status,
                    "Items": r.items,
                    "DurationMs": r.duration_ms,
                }
                for r in rows
            ]
        )


@user_app.command("create")
def user_create(
    account: Annotated[int, typer.Option(help="Account id.")],
    email: Annotated[str, typer.Option(help="E-mail (unique per account).")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    active: Annotated[bool, typer.Option("--active/--inactive", help="Whether the user may log in.")] = True,
) -> None:
    """Add a user to an account."""
    with session_scope() as session:
        user = accounts.create_user(session, account, email, name=name, active=active)
        emit({"UserId": user.id, "AccountId": user.account_id, "Email": user.email, "Active": user.active})


@marketplace_app.command("add")
def marketplace_add(
    account: Annotated[int, typer.Option(help="Account id.")],
    marketplace: Annotated[int, typer.Option(help="Marketplace id from the catalogue.")],
    seller_id: Annotated[str | None, typer.Option(help="The seller's id on the marketplace.")] = None,
) -> None:
    """Connect a marketplace to an account (idempotent)."""
    with session_scope() as session:
        link = accounts.add_marketplace(session, account, marketplace, external_seller_id=seller_id)
        emit({"AccountId": link.account_id, "MarketplaceId": link.marketplace_id})


@marketplace_app.command("list")
def marketplace_list() -> None:
    """The marketplace catalogue (ids usable with ``marketplace add``)."""
    from sqlalchemy import select

    from alephee.marketplaces.models import Marketplace

    with session_scope() as session:
        rows = session.scalars(select(Marketplace).order_by(Marketplace.id)).all()
        emit([{"Id": m.id, "Name": m.name, "Channel": m.channel, "Site": m.site_id} for m in rows])


@pricelist_app.command("create")
def pricelist_create(
    account: Annotated[int, typer.Option(help="Account id.")],
    name: Annotated[str, typer.Option(help="Price list name.")],
    currency: Annotated[str | None, typer.Option(help="Currency code, e.g. ARS.")] = None,
    default: Annotated[bool, typer.Option("--default", help="Make it the account's default list.")] = False,
    discount_rate: Annotated[str | None, typer.Option(help="B2B discount rate, percent.")] = None,
    b2b: Annotated[bool, typer.Option("--b2b", help="The list the B2B portal sells from.")] = False,
) -> None:
    """Create a price list (the account's first list becomes its default)."""
    rate = None
    if discount_rate is not None:
        try:
            rate = Decimal(discount_rate)
        except ArithmeticError:
            fail("discount-rate must be a number")
    with session_scope() as session:
        plist = accounts.create_price_list(
            session, account, name, currency=currency, is_default=default, discount_rate=rate, is_b2b=b2b
        )
        emit(
            {"PriceListId": plist.id, "AccountId": plist.account_id, "Name": plist.name, "IsDefault": plist.is_default}
        )


@store_app.command("create")
def store_create(
    account: Annotated[int, typer.Option(help="Account id.")],
    name: Annotated[str, typer.Option(help="Store name.")],
    business_name: Annotated[str | None, typer.Option(help="Legal name.")] = None,
    integration_code: Annotated[str | None, typer.Option(help="Your ERP code of the branch.")] = None,
    principal: Annotated[bool, typer.Option("--principal", help="Main store.")] = False,
    pickup: Annotated[bool, typer.Option("--pickup", help="Enabled as pick-up-in-store.")] = False,
    open_hours: Annotated[str | None, typer.Option(help="Opening hours label.")] = None,
    zone: Annotated[str | None, typer.Option(help="Zone label.")] = None,
    city: Annotated[str | None, typer.Option(help="Address: city.")] = None,
    street: Annotated[str | None, typer.Option(help="Address: street name.")] = None,
    number: Annotated[str | None, typer.Option(help="Address: street number.")] = None,
    zip_code: Annotated[str | None, typer.Option(help="Address: postal code.")] = None,
    country: Annotated[str | None, typer.Option(help="Address: country code.")] = None,
    pickup_seller_account: Annotated[int | None, typer.Option(help="AccountPickup: seller account id.")] = None,
    pickup_name: Annotated[str | None, typer.Option(help="AccountPickup: pickup point name.")] = None,
    external: Annotated[list[str] | None, typer.Option(help="MARKETPLACE_ID:EXTERNAL_ID[:NAME], repeatable.")] = None,
) -> None:
    """Create a store, branch or pickup point."""
    externals: list[tuple[int, str, str | None]] = []
    for spec in external or []:
        parts = spec.split(":", 2)
        marketplace_id = int_from_text(parts[0]) if len(parts) >= 2 and parts[1] else None
        if marketplace_id is None:
            fail(f"--external '{spec}' must be MARKETPLACE_ID:EXTERNAL_ID[:NAME]")
            return
        externals.append((marketplace_id, parts[1], parts[2] if len(parts) > 2 else None))
    address = {
        k: v
        for k, v in {
            "CountryId": country,
            "City": city,
            "StreetName": street,
            "StreetNumber": number,
            "ZipCode": zip_code,
        }.items()
        if v is not None
    } or None
    pickup_data = None
    if pickup_name or pickup_seller_account:
        pickup_data = {"name": pickup_name or name, "seller_account_id": pickup_seller_account}
    with session_scope() as session:
        store = accounts.create_store(
            session,
            account,
            name,
            business_name=business_name,
            integration_code=integration_code,
            is_principal=principal,
            allow_pickup_store=pickup,
            open_hours=open_hours,
            zone=zone,
            address=address,
            pickup=pickup_data,
            external_ids=externals,
        )
        emit({"StoreId": store.id, "AccountId": store.account_id, "Name": store.name})
