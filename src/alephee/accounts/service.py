"""Operator actions on tenants, behind the CLI: accounts, keys, users, marketplaces, price lists, stores, and the
audit log. The API's reads are in ``accounts.reads``, fiscal tax rules in ``accounts.tax_rules``, login tokens in
``accounts.tokens``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from importlib import import_module
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.auth import hash_key
from alephee.accounts.models import (
    Account,
    AccountMarketplace,
    ApiKey,
    ApiKeyAccount,
    AuditEntry,
    PriceList,
    Store,
    StoreExternalId,
    User,
)
from alephee.accounts.schemas import AccountType
from alephee.accounts.tokens import EMAIL_PATTERN, BadEmail
from alephee.errors import InvalidInput, NotFound
from alephee.marketplaces.models import Marketplace
from alephee.marketplaces.registry import has_channel

UNKNOWN_ACCOUNT = "Account {id} does not exist"
UNKNOWN_MARKETPLACE = "Marketplace {id} does not exist in the catalogue"
EMPTY_NAME = "name must not be empty"
UNKNOWN_TIME_ZONE = "Unknown time zone '{timezone}'"
KEY_WITHOUT_ACCOUNTS = "a key needs at least one account"
RATE_LIMIT_TOO_LOW = "rate limit must be at least 1 request per minute"
USER_EXISTS = "User {email} already exists in account {account_id}"
UNKNOWN_KEY = "API key {id} does not exist"
KEY_REVOKED = "API key {id} is already revoked"
AUDIT_NEEDS_ACCOUNT_OR_KEY = "Give --account, --key or both"


class UnknownAccount(NotFound):
    """The account does not exist (404)."""

    message = UNKNOWN_ACCOUNT

    def __init__(self, account_id: int) -> None:
        super().__init__(UNKNOWN_ACCOUNT.format(id=account_id))


class UnknownMarketplace(NotFound):
    """The marketplace is not in the catalogue (404)."""

    message = UNKNOWN_MARKETPLACE

    def __init__(self, marketplace_id: int) -> None:
        super().__init__(UNKNOWN_MARKETPLACE.format(id=marketplace_id))


class EmptyName(InvalidInput):
    """A name is empty (400)."""

    message = EMPTY_NAME


class UnknownTimeZone(InvalidInput):
    """The time zone is not a known IANA name (400)."""

    message = UNKNOWN_TIME_ZONE

    def __init__(self, timezone: str) -> None:
        super().__init__(UNKNOWN_TIME_ZONE.format(timezone=timezone))


class KeyWithoutAccounts(InvalidInput):
    """A key must serve at least one account (400)."""

    message = KEY_WITHOUT_ACCOUNTS


class RateLimitTooLow(InvalidInput):
    """A key's own rate limit is below 1 request per minute (400)."""

    message = RATE_LIMIT_TOO_LOW


class UserExists(InvalidInput):
    """The account already has a user with that e-mail (400)."""

    message = USER_EXISTS

    def __init__(self, email: str, account_id: int) -> None:
        super().__init__(USER_EXISTS.format(email=email, account_id=account_id))


class UnknownKey(NotFound):
    """The API key does not exist (404)."""

    message = UNKNOWN_KEY

    def __init__(self, key_id: int) -> None:
        super().__init__(UNKNOWN_KEY.format(id=key_id))


class KeyAlreadyRevoked(InvalidInput):
    """The API key is already revoked (400)."""

    message = KEY_REVOKED

    def __init__(self, key_id: int) -> None:
        super().__init__(KEY_REVOKED.format(id=key_id))


class AuditNeedsAccountOrKey(InvalidInput):
    """The audit log is read by account, by key or both (400)."""

    message = AUDIT_NEEDS_ACCOUNT_OR_KEY


def require_account_row(session: Session, account_id: int) -> Account:
    """The account, or ``NotFound``."""
    account = session.get(Account, account_id)
    if account is None:
        raise UnknownAccount(account_id)
    return account


def create_account(
    session: Session,
    *,
    name: str,
    account_type: AccountType,
    business_name: str | None = None,
    doc_type: str | None = None,
    doc_number: str | None = None,
    own_code: str | None = None,
    pickup_code: str | None = None,
    timezone: str | None = None,
    b2b_portal: bool = False,
    b2b_portal_url: str | None = None,
) -> Account:
    """Create an account (flushes; the caller commits)."""
    if not name.strip():
        raise EmptyName
    if timezone is not None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise UnknownTimeZone(timezone) from None
    account = Account(
        name=name.strip(),
        account_type=AccountType(account_type).value,
        business_name=business_name,
        doc_type=doc_type,
        doc_number=doc_number,
        own_code=own_code,
        pickup_code=pickup_code,
        timezone=timezone,
        b2b_portal_enabled=b2b_portal,
        b2b_portal_url=b2b_portal_url,
        allow_pricelist_delete=False,
    )
    session.add(account)
    session.flush()
    return account


def set_account_flags(
    session: Session,
    account_id: int,
    *,
    allow_pricelist_delete: bool | None = None,
    b2b_portal: bool | None = None,
    b2b_portal_url: str | None = None,
    timezone: str | None = None,
) -> Account:
    """Change operator-managed switches of an account."""
    account = require_account_row(session, account_id)
    if allow_pricelist_delete is not None:
        account.allow_pricelist_delete = allow_pricelist_delete
    if b2b_portal is not None:
        account.b2b_portal_enabled = b2b_portal
    if b2b_portal_url is not None:
        account.b2b_portal_url = b2b_portal_url or None
    if timezone is not None:
        account.timezone = timezone or None
    session.flush()
    return account


def new_key_secret() -> str:
    """A new API key in the documented GUID form (8-4-4-4-12, upper case)."""
    return str(uuid.uuid4()).upper()


def create_key(
    session: Session,
    account_ids: Sequence[int],
    *,
    rate_limit: int | None = None,
    label: str | None = None,
    secret: str | None = None,
) -> tuple[ApiKey, str]:
    """Create a key for ``account_ids``; returns the row and the secret (shown only now)."""
    if not account_ids:
        raise KeyWithoutAccounts
    if rate_limit is not None and rate_limit < 1:
        raise RateLimitTooLow
    for account_id in account_ids:
        require_account_row(session, account_id)
    secret = secret or new_key_secret()
    key = ApiKey(key_hash=hash_key(secret), key_prefix=secret[:8], rate_limit=rate_limit, label=label)
    session.add(key)
    session.flush()
    for account_id in dict.fromkeys(account_ids):
        session.add(ApiKeyAccount(key_id=key.id, account_id=account_id))
    session.flush()
    return key, secret


def key_account_ids(session: Session, key_id: int) -> list[int]:
    """Accounts linked to a key."""
    return list(
        session.scalars(
            select(ApiKeyAccount.account_id).where(ApiKeyAccount.key_id == key_id).order_by(ApiKeyAccount.account_id)
        )
    )


def create_user(session: Session, account_id: int, email: str, *, name: str | None = None, active: bool = True) -> User:
    """Add a user to an account (e-mails are unique per account, case-insensitively)."""
    require_account_row(session, account_id)
    email = email.strip()
    if not EMAIL_PATTERN.match(email):
        raise BadEmail
    clash = session.scalar(select(User).where(User.account_id == account_id, func.lower(User.email) == email.lower()))
    if clash is not None:
        raise UserExists(email, account_id)
    user = User(account_id=account_id, email=email, name=name, active=active)
    session.add(user)
    session.flush()
    return user


MARKETPLACE_WITHOUT_CONNECTOR = (
    "Marketplace {id} ({name}) has no connector yet (connector '{connector}' is not installed): it cannot be "
    "connected to an account"
)


class MarketplaceWithoutConnector(InvalidInput):
    """The marketplace has no installed connector, so it cannot be connected (400)."""

    message = MARKETPLACE_WITHOUT_CONNECTOR

    def __init__(self, marketplace: Marketplace) -> None:
        super().__init__(
            MARKETPLACE_WITHOUT_CONNECTOR.format(
                id=marketplace.id, name=marketplace.name, connector=marketplace.connector
            )
        )


def add_marketplace(
    session: Session, account_id: int, marketplace_id: int, *, external_seller_id: str | None = None
) -> AccountMarketplace:
    """Connect a catalogue marketplace to an account (idempotent). Only a marketplace with a connector can be
    connected: the hub could publish nothing there (every push would fail)."""
    require_account_row(session, account_id)
    marketplace = session.get(Marketplace, marketplace_id)
    if marketplace is None:
        raise UnknownMarketplace(marketplace_id)
    if not has_channel(marketplace.connector):
        raise MarketplaceWithoutConnector(marketplace)
    link = session.get(AccountMarketplace, (account_id, marketplace_id))
    if link is None:
        link = AccountMarketplace(
            account_id=account_id, marketplace_id=marketplace_id, external_seller_id=external_seller_id
        )
        session.add(link)
        session.flush()
    return link


# f(session, account_id) -> None, called in the same transaction when an account's default price list changes
# ("module:function", imported lazily: the domains built on accounts register here). Listings that name no
# price list follow the default one.
DEFAULT_PRICE_LIST_LISTENER_NAMES: list[str] = ["alephee.listings.propagation:on_default_price_list_change"]


def create_price_list(
    session: Session,
    account_id: int,
    name: str,
    *,
    currency: str | None = None,
    is_default: bool = False,
    discount_rate: Any = None,
    is_b2b: bool = False,
) -> PriceList:
    """Create a price list; the first list of an account becomes its default."""
    require_account_row(session, account_id)
    if not name.strip():
        raise EmptyName
    has_lists = session.scalar(select(func.count()).where(PriceList.account_id == account_id)) or 0
    if is_default or has_lists == 0:
        session.execute(update(PriceList).where(PriceList.account_id == account_id).values(is_default=False))
        is_default = True
    price_list = PriceList(
        account_id=account_id,
        name=name.strip(),
        currency=currency,
        is_default=is_default,
        discount_rate=discount_rate,
        is_b2b=is_b2b,
    )
    session.add(price_list)
    session.flush()
    if is_default and has_lists:
        for listener in DEFAULT_PRICE_LIST_LISTENER_NAMES:
            module, _, function = listener.partition(":")
            getattr(import_module(module), function)(session, account_id)
    return price_list


def create_store(
    session: Session,
    account_id: int,
    name: str,
    *,
    business_name: str | None = None,
    integration_code: str | None = None,
    is_principal: bool = False,
    open_hours: str | None = None,
    availability_time_in_hours: int | None = None,
    additional_time_in_hours: int | None = None,
    allow_pickup_store: bool = False,
    allow_shipments: bool | None = True,
    logistic_tags_exclude: list[str] | None = None,
    zone: str | None = None,
    address: dict[str, Any] | None = None,
    pickup: dict[str, Any] | None = None,
    external_ids: Sequence[tuple[int, str, str | None]] = (),
    created_at: datetime | None = None,
) -> Store:
    """Create a store; ``pickup`` fills ``AccountPickup``; ``external_ids`` are (marketplace, id, name)."""
    require_account_row(session, account_id)
    if not name.strip():
        raise EmptyName
    pickup = pickup or {}
    store = Store(
        account_id=account_id,
        name=name.strip(),
        business_name=business_name,
        integration_code=integration_code,
        is_principal=is_principal,
        open_hours=open_hours,
        availability_time_in_hours=availability_time_in_hours,
        additional_time_in_hours=additional_time_in_hours,
        allow_pickup_store=allow_pickup_store,
        allow_shipments=allow_shipments,
        logistic_tags_exclude=logistic_tags_exclude or [],
        zone=zone,
        address=address,
        pickup_name=pickup.get("name"),
        pickup_business_name=pickup.get("business_name"),
        pickup_external_id=pickup.get("external_id"),
        pickup_integration_code=pickup.get("integration_code"),
        pickup_seller_account_id=pickup.get("seller_account_id"),
        created_at=created_at or clock.utcnow(),
    )
    session.add(store)
    session.flush()
    for marketplace_id, external_id, ext_name in external_ids:
        if session.get(Marketplace, marketplace_id) is None:
            raise UnknownMarketplace(marketplace_id)
        session.add(
            StoreExternalId(store_id=store.id, marketplace_id=marketplace_id, external_id=external_id, name=ext_name)
        )
    session.flush()
    return store


def list_keys(session: Session, account_id: int) -> list[tuple[ApiKey, list[int]]]:
    """Keys linked to an account (revoked ones included), with every account each key serves."""
    require_account_row(session, account_id)
    keys = session.scalars(
        select(ApiKey)
        .join(ApiKeyAccount, ApiKeyAccount.key_id == ApiKey.id)
        .where(ApiKeyAccount.account_id == account_id)
        .order_by(ApiKey.id)
    ).all()
    return [(key, key_account_ids(session, key.id)) for key in keys]


def revoke_key(session: Session, key_id: int) -> ApiKey:
    """Revoke a key: the next request with it gets 401 on every process (keys are checked per request)."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise UnknownKey(key_id)
    if key.revoked_at is not None:
        raise KeyAlreadyRevoked(key_id)
    key.revoked_at = clock.utcnow()
    session.flush()
    return key


def rotate_key(session: Session, key_id: int) -> tuple[ApiKey, str]:
    """Replace a key by a new one with the same accounts and limit; the old key is revoked at once."""
    old = revoke_key(session, key_id)
    label = f"rotated from key {old.id}" if not old.label else old.label
    return create_key(session, key_account_ids(session, old.id), rate_limit=old.rate_limit, label=label)


def list_audit(
    session: Session,
    account_id: int | None,
    *,
    limit: int = 100,
    key_id: int | None = None,
    security_only: bool = False,
) -> list[Any]:
    """The most recent audit entries of an account and/or a key (at least one), newest first;
    ``security_only``: only security events."""
    if account_id is None and key_id is None:
        raise AuditNeedsAccountOrKey
    stmt = select(AuditEntry)
    if account_id is not None:
        stmt = stmt.where(AuditEntry.account_id == account_id)
    if key_id is not None:
        stmt = stmt.where(AuditEntry.key_id == key_id)
    if security_only:
        stmt = stmt.where(AuditEntry.event.is_not(None))
    return list(session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit)))
