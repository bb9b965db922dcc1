"""Business rules of the accounts domain: reads for the API, login tokens, fiscal tax rules, and the
operator actions behind the CLI (accounts, keys, users, marketplaces, price lists, stores)."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.auth import AccountNotLinked, Caller, hash_key
from alephee.accounts.models import (
    Account,
    AccountMarketplace,
    ApiKey,
    ApiKeyAccount,
    FiscalTaxRule,
    LoginToken,
    PriceList,
    Store,
    StoreExternalId,
    User,
)
from alephee.accounts.schemas import AccountType, FiscalTaxRuleIn
from alephee.config import Settings
from alephee.errors import InvalidInput, NotFound, PreconditionFailed, Unauthorized
from alephee.http.numbers import int_from_text
from alephee.http.paging import Page
from alephee.http.results import ActionResult, ActionResultBuilder, validate_element
from alephee.marketplaces.models import Marketplace
from alephee.marketplaces.registry import has_channel

# --- login tokens (spec 10 §5) -------------------------------------------------------------------------

MODULE_B2B = 1
MODULE_WEBAPI = 2
MODULES = (MODULE_B2B, MODULE_WEBAPI)

BAD_MODULE = "module must be 1 (Alephee B2B portal) or 2 (WebAPI)"
BAD_TTL = "ttl must be an integer between {lo} and {hi} seconds"
EMAIL_REQUIRED = "userEmail is required for module 1 (Alephee B2B portal)"
BAD_EMAIL = "userEmail is not a valid e-mail address"
USER_NOT_ALLOWED = "The user does not exist, is not active or is not linked to this account"
NO_B2B_PORTAL = "The account has no Alephee B2B portal"
TOKEN_INVALID = "Invalid confirmation token"
TOKEN_EXPIRED = "The confirmation token has expired"
TOKEN_USED = "The confirmation token was already used"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly issued login token (the secret is only known here)."""

    token: str
    url: str | None
    module: int
    ttl: int
    expires_at: datetime


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.strip().lower().encode()).hexdigest()


def _parse_int(value: str | None, default: int, message: str) -> int:
    if value is None or value.strip() == "":
        return default
    number = int_from_text(value)
    if number is None:
        raise InvalidInput(message)
    return number


def issue_login_token(
    session: Session,
    settings: Settings,
    *,
    account_id: int,
    key_id: int | None,
    user_email: str | None,
    module: str | None,
    ttl: str | None,
) -> IssuedToken:
    """Validate the request (spec 10 §5.2) and store a token that expires after ``ttl`` s (a module 1 login
    token is single-use: ``consume_login_token``; a module 2 one confirms calls until then:
    ``check_confirmation_token``)."""
    lo, hi = settings.login_token_min_ttl, settings.login_token_max_ttl
    mod = _parse_int(module, MODULE_B2B, BAD_MODULE)
    if mod not in MODULES:
        raise InvalidInput(BAD_MODULE)
    seconds = _parse_int(ttl, settings.login_token_default_ttl, BAD_TTL.format(lo=lo, hi=hi))
    if not lo <= seconds <= hi:
        raise InvalidInput(BAD_TTL.format(lo=lo, hi=hi))
    email = (user_email or "").strip()
    if mod == MODULE_B2B and not email:
        raise InvalidInput(EMAIL_REQUIRED)
    if email and not _EMAIL.match(email):
        raise InvalidInput(BAD_EMAIL)
    account = session.get(Account, account_id)
    if account is None:  # the key was linked to it a moment ago; treat a race like an unknown account
        raise Unauthorized(USER_NOT_ALLOWED)
    user_id: int | None = None
    if email:
        user = session.scalar(
            select(User).where(User.account_id == account_id, func.lower(User.email) == email.lower())
        )
        if user is None or not user.active or user.deleted_at is not None:
            raise Unauthorized(USER_NOT_ALLOWED)
        user_id = user.id
    if mod == MODULE_B2B and not account.b2b_portal_enabled:
        raise PreconditionFailed(NO_B2B_PORTAL)
    token = str(uuid.uuid4())
    now = clock.precise_utcnow()
    expires = now + timedelta(seconds=seconds)
    session.add(
        LoginToken(
            token_hash=_hash_token(token),
            account_id=account_id,
            user_id=user_id,
            module=mod,
            key_id=key_id,
            created_at=now,
            expires_at=expires,
        )
    )
    session.commit()
    url = None
    if mod == MODULE_B2B:
        base = (account.b2b_portal_url or settings.b2b_portal_base_url).rstrip("/")
        url = f"{base}/login/token?token={token}"
    return IssuedToken(token=token, url=url, module=mod, ttl=seconds, expires_at=expires)


@dataclass(frozen=True, slots=True)
class ConsumedToken:
    """What a consumed token was bound to."""

    account_id: int
    user_id: int | None
    module: int


def consume_login_token(
    session: Session, token: str | None, *, module: int, account_id: int | None = None
) -> ConsumedToken:
    """Use a token once: it must exist, be for ``module`` (and ``account_id``), be unexpired and unused.

    The check and the marking are one conditional UPDATE, so two concurrent uses cannot both succeed.
    Raises ``Unauthorized`` with a message saying which condition failed. The caller commits.
    """
    if not token or not token.strip():
        raise Unauthorized(TOKEN_INVALID)
    digest = _hash_token(token)
    row = session.scalar(select(LoginToken).where(LoginToken.token_hash == digest))
    if row is None or row.module != module or (account_id is not None and row.account_id != account_id):
        raise Unauthorized(TOKEN_INVALID)
    now = clock.precise_utcnow()
    if row.used_at is not None:
        raise Unauthorized(TOKEN_USED)
    if row.expires_at <= now:
        raise Unauthorized(TOKEN_EXPIRED)
    claimed = session.execute(
        update(LoginToken)
        .where(LoginToken.id == row.id, LoginToken.used_at.is_(None), LoginToken.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise Unauthorized(TOKEN_USED)
    return ConsumedToken(account_id=row.account_id, user_id=row.user_id, module=row.module)


def check_confirmation_token(session: Session, token: str | None, *, account_id: int) -> None:
    """Accept a WebAPI (module 2) confirmation token for ``account_id`` during its whole life (``ttl``).

    Unlike a B2B login token, it is not single-use: a client removing prices in several chunks confirms each
    call with the same token (spec 40 §5.2 only asks for a valid token, "obsolete" after its ttl). The first
    use is recorded (``used_at``). Raises ``Unauthorized`` saying which condition failed. The caller commits.
    """
    if not token or not token.strip():
        raise Unauthorized(TOKEN_INVALID)
    row = session.scalar(select(LoginToken).where(LoginToken.token_hash == _hash_token(token)))
    if row is None or row.module != MODULE_WEBAPI or row.account_id != account_id:
        raise Unauthorized(TOKEN_INVALID)
    now = clock.precise_utcnow()
    if row.expires_at <= now:
        raise Unauthorized(TOKEN_EXPIRED)
    if row.used_at is None:
        session.execute(
            update(LoginToken)
            .where(LoginToken.id == row.id, LoginToken.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )


# --- reads --------------------------------------------------------------------------------------------


def _paged(session: Session, stmt: Any, order: Sequence[Any], page: Page) -> tuple[int, list[Any]]:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.scalars(stmt.order_by(*order).offset(page.offset).limit(page.limit)).all()
    return total, list(rows)


def list_accounts(
    session: Session, caller: Caller, page: Page, *, document_number: str | None, account_id: str | None
) -> tuple[int, list[Account]]:
    """Accounts linked to the key, optionally narrowed by ``DocNumber`` or one ``accountId``."""
    ids = caller.account_ids
    if account_id is not None and account_id.strip():
        wanted = int_from_text(account_id)
        if wanted is None:
            raise AccountNotLinked(None)
        if wanted not in caller.accounts:
            raise AccountNotLinked(wanted)
        ids = [wanted]
    stmt = select(Account).where(Account.id.in_(ids))
    if document_number is not None and document_number.strip():
        stmt = stmt.where(Account.doc_number == document_number.strip())
    return _paged(session, stmt, [Account.id], page)


def list_marketplaces(session: Session, account_id: int, page: Page) -> tuple[int, list[Marketplace]]:
    """Marketplaces connected to the account."""
    stmt = (
        select(Marketplace)
        .join(AccountMarketplace, AccountMarketplace.marketplace_id == Marketplace.id)
        .where(AccountMarketplace.account_id == account_id)
    )
    order = [Marketplace.name, Marketplace.id] if page.sort.id == "Name" else [Marketplace.id]
    return _paged(session, stmt, order, page)


def list_price_lists(session: Session, account_id: int, page: Page) -> tuple[int, list[PriceList]]:
    """Price lists of the account."""
    stmt = select(PriceList).where(PriceList.account_id == account_id)
    order = [PriceList.name, PriceList.id] if page.sort.id == "Name" else [PriceList.id]
    return _paged(session, stmt, order, page)


@dataclass(frozen=True, slots=True)
class StoreFilters:
    """Filters of GET .../stores (spec 10 §4.1); None = no filtering."""

    allow_pickup_in_stores: bool | None = None
    with_account_pickup: bool | None = None
    marketplace: int | None = None


def list_stores(
    session: Session, account_id: int, filters: StoreFilters, page: Page
) -> tuple[int, list[tuple[Store, list[StoreExternalId]]]]:
    """Stores of the account matching every given filter, with their marketplace ids."""
    stmt = select(Store).where(Store.account_id == account_id)
    if filters.allow_pickup_in_stores is not None:
        stmt = stmt.where(Store.allow_pickup_store.is_(filters.allow_pickup_in_stores))
    if filters.with_account_pickup is not None:
        has_pickup = Store.pickup_name.is_not(None)
        stmt = stmt.where(has_pickup if filters.with_account_pickup else Store.pickup_name.is_(None))
    if filters.marketplace is not None:
        stmt = stmt.where(
            exists().where(StoreExternalId.store_id == Store.id, StoreExternalId.marketplace_id == filters.marketplace)
        )
    order = [Store.created_at, Store.id] if page.sort.id == "dateCreated" else [Store.id]
    total, stores = _paged(session, stmt, order, page)
    externals: dict[int, list[StoreExternalId]] = {s.id: [] for s in stores}
    if stores:
        for ext in session.scalars(
            select(StoreExternalId).where(StoreExternalId.store_id.in_(list(externals))).order_by(StoreExternalId.id)
        ):
            externals[ext.store_id].append(ext)
    return total, [(s, externals[s.id]) for s in stores]


# --- fiscal tax rules (our design, spec 10 §6) ---------------------------------------------------------

RULE_CREATED = "Tax rule created"
RULE_UPDATED = "Tax rule updated"
DUPLICATE_CODE = "The same Code appears more than once in the request; only the first was applied"


def upsert_fiscal_tax_rules(session: Session, account_id: int, raw_items: list[Any]) -> ActionResult:
    """Create or update rules by ``Code``; each element validated and applied on its own."""
    result = ActionResultBuilder("Code")
    existing = {
        r.code.lower(): r for r in session.scalars(select(FiscalTaxRule).where(FiscalTaxRule.account_id == account_id))
    }
    seen: set[str] = set()
    now = clock.utcnow()
    for number, raw in enumerate(raw_items):
        outcome, rule = validate_element(result, number, raw, FiscalTaxRuleIn, "Code")
        if rule is None:
            continue
        code = rule.Code.strip()
        if code.lower() in seen:
            outcome.error(DUPLICATE_CODE, code)
            continue
        seen.add(code.lower())
        row = existing.get(code.lower())
        if row is None:
            row = FiscalTaxRule(account_id=account_id, code=code)
            session.add(row)
            existing[code.lower()] = row
            outcome.info(RULE_CREATED, code)
        else:
            outcome.info(RULE_UPDATED, code)
        row.name = rule.Name
        row.tax_type = rule.TaxType
        row.percentage = rule.Percentage
        row.state_code = rule.StateCode
        row.active = rule.Active
        row.date_updated = now
    session.commit()
    return result.build()


def list_fiscal_tax_rules(session: Session, account_id: int, page: Page) -> tuple[int, list[FiscalTaxRule]]:
    """The account's tax rules ordered by code."""
    stmt = select(FiscalTaxRule).where(FiscalTaxRule.account_id == account_id)
    return _paged(session, stmt, [FiscalTaxRule.code, FiscalTaxRule.id], page)


# --- operator actions (CLI) ---------------------------------------------------------------------------

UNKNOWN_ACCOUNT = "Account {id} does not exist"
UNKNOWN_MARKETPLACE = "Marketplace {id} does not exist in the catalogue"


def require_account_row(session: Session, account_id: int) -> Account:
    """The account, or ``NotFound``."""
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(UNKNOWN_ACCOUNT.format(id=account_id))
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
        raise InvalidInput("name must not be empty")
    if timezone is not None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"Unknown time zone '{timezone}'") from None
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
        raise InvalidInput("a key needs at least one account")
    if rate_limit is not None and rate_limit < 1:
        raise InvalidInput("rate limit must be at least 1 request per minute")
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
    if not _EMAIL.match(email):
        raise InvalidInput(BAD_EMAIL)
    clash = session.scalar(select(User).where(User.account_id == account_id, func.lower(User.email) == email.lower()))
    if clash is not None:
        raise InvalidInput(f"User {email} already exists in account {account_id}")
    user = User(account_id=account_id, email=email, name=name, active=active)
    session.add(user)
    session.flush()
    return user


MARKETPLACE_WITHOUT_CONNECTOR = (
    "Marketplace {id} ({name}) has no connector yet (connector '{connector}' is not installed): it cannot be "
    "connected to an account"
)


def add_marketplace(
    session: Session, account_id: int, marketplace_id: int, *, external_seller_id: str | None = None
) -> AccountMarketplace:
    """Connect a catalogue marketplace to an account (idempotent). Only a marketplace with a connector can be
    connected: the hub could publish nothing there (every push would fail)."""
    require_account_row(session, account_id)
    marketplace = session.get(Marketplace, marketplace_id)
    if marketplace is None:
        raise NotFound(UNKNOWN_MARKETPLACE.format(id=marketplace_id))
    if not has_channel(marketplace.connector):
        raise InvalidInput(
            MARKETPLACE_WITHOUT_CONNECTOR.format(
                id=marketplace.id, name=marketplace.name, connector=marketplace.connector
            )
        )
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
        raise InvalidInput("name must not be empty")
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
        raise InvalidInput("name must not be empty")
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
            raise NotFound(UNKNOWN_MARKETPLACE.format(id=marketplace_id))
        session.add(
            StoreExternalId(store_id=store.id, marketplace_id=marketplace_id, external_id=external_id, name=ext_name)
        )
    session.flush()
    return store


UNKNOWN_KEY = "API key {id} does not exist"
KEY_REVOKED = "API key {id} is already revoked"


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
        raise NotFound(UNKNOWN_KEY.format(id=key_id))
    if key.revoked_at is not None:
        raise InvalidInput(KEY_REVOKED.format(id=key_id))
    key.revoked_at = clock.utcnow()
    session.flush()
    return key


def rotate_key(session: Session, key_id: int) -> tuple[ApiKey, str]:
    """Replace a key by a new one with the same accounts and limit; the old key is revoked at once."""
    old = revoke_key(session, key_id)
    label = f"rotated from key {old.id}" if not old.label else old.label
    return create_key(session, key_account_ids(session, old.id), rate_limit=old.rate_limit, label=label)


AUDIT_NEEDS_ACCOUNT_OR_KEY = "Give --account, --key or both"


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
    from alephee.accounts.models import AuditEntry

    if account_id is None and key_id is None:
        raise InvalidInput(AUDIT_NEEDS_ACCOUNT_OR_KEY)
    stmt = select(AuditEntry)
    if account_id is not None:
        stmt = stmt.where(AuditEntry.account_id == account_id)
    if key_id is not None:
        stmt = stmt.where(AuditEntry.key_id == key_id)
    if security_only:
        stmt = stmt.where(AuditEntry.event.is_not(None))
    return list(session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit)))
