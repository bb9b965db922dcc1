"""The order feeds: every (account, marketplace) link that has something to pull, and its cursor row."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from alephee.accounts.models import AccountMarketplace
from alephee.marketplaces.contract import MarketplaceRef
from alephee.marketplaces.models import Marketplace, PullCursor
from alephee.marketplaces.registry import has_channel


@dataclass(frozen=True, slots=True)
class Feed:
    """One order feed: an account on a marketplace that has a connector."""

    account_id: int
    marketplace: MarketplaceRef
    external_seller_id: str | None = None


def feeds(session: Session, account_id: int | None = None) -> list[Feed]:
    """Every (account, marketplace) link whose marketplace is active and has a connector."""
    query = (
        select(AccountMarketplace.account_id, AccountMarketplace.external_seller_id, Marketplace)
        .join(Marketplace, Marketplace.id == AccountMarketplace.marketplace_id)
        .where(Marketplace.active.is_(True))
        .order_by(AccountMarketplace.account_id, AccountMarketplace.marketplace_id)
    )
    if account_id is not None:
        query = query.where(AccountMarketplace.account_id == account_id)
    rows = session.execute(query).all()
    # Links made before a marketplace needed a connector to be connected have nothing to pull from.
    usable = {connector: has_channel(connector) for connector in {m.connector for _, _, m in rows}}
    return [
        Feed(
            account_id=account_id,
            marketplace=MarketplaceRef(
                id=m.id, name=m.name, family=m.family, connector=m.connector, site_id=m.site_id, country_id=m.country_id
            ),
            external_seller_id=seller,
        )
        for account_id, seller, m in rows
        if usable[m.connector]
    ]


def lock_cursor(session: Session, account_id: int, marketplace_id: int) -> PullCursor | None:
    """The feed's cursor row, created on first use and locked; None when another worker holds it."""
    postgres = session.get_bind().dialect.name == "postgresql"
    query = (
        select(PullCursor)
        .where(PullCursor.account_id == account_id, PullCursor.marketplace_id == marketplace_id)
        .execution_options(populate_existing=True)
    )
    locking = query.with_for_update(skip_locked=True) if postgres else query
    row = session.scalar(locking)
    if row is not None:
        return row
    exists = session.scalar(
        select(PullCursor.account_id).where(
            PullCursor.account_id == account_id, PullCursor.marketplace_id == marketplace_id
        )
    )
    if exists is not None:
        return None  # locked by another worker's pull
    statement = (postgresql.insert if postgres else sqlite.insert)(PullCursor).values(
        account_id=account_id, marketplace_id=marketplace_id, cursor=None, applied=0, skipped=0
    )
    session.execute(statement.on_conflict_do_nothing(index_elements=["account_id", "marketplace_id"]))
    return session.scalar(locking)
