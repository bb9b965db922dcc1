"""Stock alerts: ``product.stock_alert`` when a product's stock reaches its RedQty or YellowQty (a listener of
``products/hooks.py``), recorded with ``webhooks.events.emit`` in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from alephee import clock
from alephee.db import among
from alephee.products import hooks
from alephee.products.models import Product
from alephee.products.stock import stock_snapshots
from alephee.webhooks.events import PRODUCT_STOCK_ALERT, emit
from alephee.webhooks.models import WebhookStockAlert

RED, YELLOW = "red", "yellow"


def alert_level(quantity: int, red: int, yellow: int) -> str | None:
    """``red`` at or below RedQty, else ``yellow`` at or below YellowQty; a threshold of 0 is not set."""
    if red > 0 and quantity <= red:
        return RED
    if yellow > 0 and quantity <= yellow:
        return YELLOW
    return None


def on_catalog_change(session: Session, change: Any) -> None:
    """``product.stock_alert`` for each product whose stock reached a new alert level in this transaction
    (``products.hooks.CatalogChange``). A level is announced once; the product must go back above its
    thresholds (or reach the other level) to raise another alert."""
    ids = sorted(change.stock_product_ids)
    if not ids:
        return
    dialect = session.get_bind().dialect.name
    # Products the writer saw without thresholds cannot reach a level: only their announced level is cleared.
    candidates = {pid for pid in ids if pid not in change.unwatched_product_ids}
    if not candidates and hooks.without_probed(session, ALERTED_PROBE, ids) == set():
        return  # the writer's probe saw every product locked and without an announced level
    announced: dict[int, str] = {}
    watched: list[tuple[int, str, int, int]] = []
    if candidates:
        # One read: the thresholds of the candidates with their announced level, and the announced level of
        # every other product of the change.
        alert = aliased(WebhookStockAlert)
        rows = session.execute(
            select(Product.id, Product.sku, Product.alert_red, Product.alert_yellow, alert.level)
            .outerjoin(alert, alert.product_id == Product.id)
            .where(
                among(Product.id, ids, dialect),
                ((Product.alert_red > 0) | (Product.alert_yellow > 0)) & among(Product.id, sorted(candidates), dialect)
                | alert.product_id.is_not(None),
            )
        ).all()
        for product_id, sku, red, yellow, level in rows:
            if level is not None:
                announced[product_id] = level
            if product_id in candidates and ((red or 0) > 0 or (yellow or 0) > 0):
                watched.append((product_id, sku, red, yellow))
    else:
        announced = {
            row[0]: row[1]
            for row in session.execute(
                select(WebhookStockAlert.product_id, WebhookStockAlert.level).where(
                    among(WebhookStockAlert.product_id, ids, dialect)
                )
            )
        }
    snapshots = stock_snapshots(session, [row[0] for row in watched]) if watched else {}
    levels: dict[int, str | None] = {}
    for product_id, sku, red, yellow in watched:
        snapshot = snapshots.get(product_id)
        if snapshot is None:
            continue
        level = alert_level(snapshot.quantity, red or 0, yellow or 0)
        levels[product_id] = level
        if level is None or announced.get(product_id) == level:
            continue
        if _record_level(session, change.account_id, product_id, level, snapshot.quantity):
            emit(
                session,
                change.account_id,
                PRODUCT_STOCK_ALERT,
                {"ProductId": product_id},
                {"Sku": sku, "Quantity": snapshot.quantity, "Level": level, "RedQty": red, "YellowQty": yellow},
            )
    cleared = [pid for pid in announced if levels.get(pid) is None]
    if cleared:
        session.execute(delete(WebhookStockAlert).where(WebhookStockAlert.product_id.in_(cleared)))


ALERTED_PROBE = "alerted"


def alerted_probe(ids_sql: str) -> tuple[str, str]:
    """The products among ``ids_sql`` with an announced level (``hooks.AHEAD_PROBE_NAMES``): levels are
    recorded by writers holding the product's lock, so what this finds right after a writer's locking read
    holds until its commit."""
    return ALERTED_PROBE, f"SELECT product_id FROM webhook_stock_alerts WHERE product_id = ANY({ids_sql})"


def _record_level(session: Session, account_id: int, product_id: int, level: str, quantity: int) -> bool:
    """Store the announced level; False when a concurrent transaction already announced it (upsert that only
    changes a different level, so two writers never announce the same level twice)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(WebhookStockAlert).values(
        product_id=product_id, account_id=account_id, level=level, quantity=quantity, updated_at=clock.utcnow()
    )
    statement = statement.on_conflict_do_update(
        index_elements=[WebhookStockAlert.product_id],
        set_={"level": level, "quantity": quantity, "updated_at": clock.utcnow(), "account_id": account_id},
        where=WebhookStockAlert.level != level,
    ).returning(WebhookStockAlert.product_id)
    return session.execute(statement).first() is not None
