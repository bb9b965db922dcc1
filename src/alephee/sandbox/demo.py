"""The sandbox's demo step (``alephee demo``): the account's listing pushes reach the sandbox marketplaces at
once and simulated buyers purchase a few orders, so ``make run`` shows orders arriving with the first pull."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.marketplaces.contract import ChannelContext, DeliveryError
from alephee.marketplaces.models import OutboxMessage, SandboxOrder
from alephee.marketplaces.registry import get_channel
from alephee.marketplaces.topics import deliver_topic
from alephee.sandbox.buyers import sell
from alephee.sandbox.state import ensure_state
from alephee.sync.feeds import feeds

DEMO_SALES = 12
DEMO_SEED = 2024


def create_demo_sales(session: Session, settings: Any, account_id: int) -> None:
    """Demo step (``alephee demo``): the sandbox marketplaces receive the account's listing pushes at once and
    buyers purchase ``DEMO_SALES`` orders, which the worker of ``alephee serve --with-worker`` then pulls into
    the hub. Skipped when the sandbox already has orders of the account (idempotent)."""
    if session.scalar(select(SandboxOrder.id).where(SandboxOrder.account_id == account_id).limit(1)) is not None:
        return
    ensure_state(session, seed=settings.sandbox_seed)
    sandbox_feeds = {f.marketplace.id: f for f in feeds(session, account_id) if f.marketplace.connector == "sandbox"}
    if not sandbox_feeds:
        return
    channel = get_channel("sandbox")
    pending = (
        select(OutboxMessage)
        .where(
            OutboxMessage.account_id == account_id,
            OutboxMessage.marketplace_id.in_(sorted(sandbox_feeds)),
            OutboxMessage.status == "pending",
            OutboxMessage.topic.startswith("listing."),
        )
        .order_by(OutboxMessage.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        pending = pending.with_for_update(skip_locked=True)  # rows a running worker holds stay its own
    rows = session.scalars(pending).all()
    now = clock.precise_utcnow()
    for row in rows:
        feed = sandbox_feeds[row.marketplace_id or 0]
        ctx = ChannelContext(
            account_id=account_id,
            marketplace=feed.marketplace,
            session=session,
            message_id=row.id,
            idempotency_key=f"outbox:{row.id}",
            external_seller_id=feed.external_seller_id,
        )
        try:
            with session.begin_nested():  # a refused push undoes only its own writes
                deliver_topic(channel, ctx, row.topic, dict(row.payload or {}), row.aggregate_id)
        except DeliveryError:
            continue  # left pending: the worker delivers it and records the outcome
        row.status, row.attempts, row.delivered_at = "delivered", row.attempts + 1, now
    sell(session, account_id, orders=DEMO_SALES, seed=DEMO_SEED)
