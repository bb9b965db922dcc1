"""Synchronous calls to a channel, made inside the caller's session (``GET /v2/orders/{id}/shippinglabel``
asking for the label), with the seller's id on the marketplace in the context."""

from __future__ import annotations

from sqlalchemy.orm import Session

from alephee.accounts.models import AccountMarketplace
from alephee.marketplaces.contract import Channel, ChannelContext
from alephee.marketplaces.registry import get_channel, marketplace_ref


def channel_for(session: Session, marketplace_id: int, account_id: int) -> tuple[Channel, ChannelContext]:
    """The channel of a marketplace and a context for a synchronous call made inside ``session``
    (e.g. ``GET /v2/orders/{id}/shippinglabel`` asking for the label)."""
    ref = marketplace_ref(session, marketplace_id)
    channel = get_channel(ref.connector)
    ctx = ChannelContext(
        account_id=account_id,
        marketplace=ref,
        session=session if channel.in_database else None,
        external_seller_id=_external_seller_id(session, account_id, marketplace_id),
    )
    return channel, ctx


def _external_seller_id(session: Session, account_id: int, marketplace_id: int) -> str | None:
    link = session.get(AccountMarketplace, (account_id, marketplace_id))
    return link.external_seller_id if link is not None else None
