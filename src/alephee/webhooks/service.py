"""Rules of the push-notification domain: subscriptions (add, list, remove, re-encrypt their secrets), the
per-account feed (list, acknowledge) and its purge. Functions work in the caller's transaction and only
flush: the request's write session, the CLI scope or the worker commits."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.models import Account
from alephee.config import Settings
from alephee.errors import Conflict, InvalidInput, NotFound
from alephee.http.numbers import to_int
from alephee.http.paging import Page
from alephee.webhooks import crypto, events
from alephee.webhooks.addresses import TargetRefused, check_url
from alephee.webhooks.models import ACKNOWLEDGED, OPEN, WebhookEvent, WebhookSubscription

# --- subscriptions ------------------------------------------------------------------------------------------

ERR_NO_TYPES = "EventTypes must name at least one event type"
ERR_UNKNOWN_TYPE = "Unknown event type '{value}'. Event types: {known}, or * for all"
ERR_SECRET = "Secret must be 16 to 200 printable characters without spaces"
ERR_DESCRIPTION = "Description must be at most 200 characters long"
ERR_TOO_MANY = "An account may have at most {max} webhooks; remove one first"
ERR_WEBHOOK_NOT_FOUND = "Webhook {id} not found"
ERR_UNKNOWN_ACCOUNT = "Account {id} does not exist"
SECRET_PREFIX = "whsec_"
SECRET_MIN, SECRET_MAX = 16, 200
DESCRIPTION_MAX = 200


def _nothing() -> None:
    """The default ``each_batch``: every batch stays in the caller's one transaction."""


class WebhookNotFound(NotFound):
    """No webhook with this Id in this account."""

    message = ERR_WEBHOOK_NOT_FOUND


class TooManyWebhooks(Conflict):
    """The account reached its webhook limit (``webhook_max_per_account``)."""

    message = ERR_TOO_MANY


class NoEventTypes(InvalidInput):
    """EventTypes names no event type."""

    message = ERR_NO_TYPES


class UnknownEventType(InvalidInput):
    """EventTypes names an event type that does not exist."""

    message = ERR_UNKNOWN_TYPE


class BadSecret(InvalidInput):
    """Secret is too short, too long or not printable."""

    message = ERR_SECRET


class DescriptionTooLong(InvalidInput):
    """Description is longer than allowed."""

    message = ERR_DESCRIPTION


class WebhookUrlRefused(InvalidInput):
    """Url is malformed or does not point to a public http(s) host; the message says why."""


class UnknownAccount(NotFound):
    """The account does not exist."""

    message = ERR_UNKNOWN_ACCOUNT


def normalize_types(raw: Sequence[Any]) -> list[str]:
    """Known event types (or ``*``), trimmed, case-insensitive, without duplicates, in the given order."""
    known = {t.lower(): t for t in (*events.EVENT_TYPES, events.ALL_TYPES)}
    out: list[str] = []
    for value in raw:
        name = known.get(str(value).strip().lower()) if isinstance(value, str) else None
        if name is None:
            raise UnknownEventType(UnknownEventType.message.format(value=value, known=", ".join(events.EVENT_TYPES)))
        if name not in out:
            out.append(name)
    if not out:
        raise NoEventTypes()
    return [events.ALL_TYPES] if events.ALL_TYPES in out else out


def new_secret() -> str:
    """A fresh signing secret (256 random bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _secret(value: str | None) -> str:
    if value is None or not value.strip():
        return new_secret()
    value = value.strip()
    if not (SECRET_MIN <= len(value) <= SECRET_MAX) or not all(33 <= ord(c) < 127 for c in value):
        raise BadSecret()
    return value


def create_subscription(
    session: Session,
    settings: Settings,
    account_id: int,
    *,
    url: str,
    event_types: Sequence[Any],
    secret: str | None = None,
    active: bool = True,
    description: str | None = None,
) -> tuple[WebhookSubscription, str]:
    """Add a webhook to the account; returns it with its secret (shown only now)."""
    if session.get(Account, account_id) is None:
        raise UnknownAccount(UnknownAccount.message.format(id=account_id))
    url = url.strip()
    try:
        check_url(url, settings)
    except TargetRefused as exc:
        raise WebhookUrlRefused(exc.message) from None
    types = normalize_types(event_types)
    signing_secret = _secret(secret)
    # Encrypted before anything is written: a key problem leaves no subscription behind.
    stored_secret = crypto.encrypt_secret(settings, signing_secret)
    if description is not None and len(description) > DESCRIPTION_MAX:
        raise DescriptionTooLong()
    cap = settings.webhook_max_per_account
    if cap > 0:
        count = session.scalar(
            select(func.count()).select_from(WebhookSubscription).where(WebhookSubscription.account_id == account_id)
        )
        if (count or 0) >= cap:
            raise TooManyWebhooks(TooManyWebhooks.message.format(max=cap))
    row = WebhookSubscription(
        account_id=account_id,
        url=url,
        event_types=types,
        secret=stored_secret,
        active=active,
        description=description.strip() if description else None,
        created_at=clock.utcnow(),
    )
    session.add(row)
    session.flush()
    events.forget_subscriptions(session)
    return row, signing_secret


def list_subscriptions(
    session: Session, account_id: int, page: Page | None = None
) -> tuple[int, list[WebhookSubscription]]:
    """The account's webhooks by id (a page of them when ``page`` is given)."""
    condition = WebhookSubscription.account_id == account_id
    query = select(WebhookSubscription).where(condition).order_by(WebhookSubscription.id)
    if page is None:
        rows = list(session.scalars(query))
        return len(rows), rows
    total = session.scalar(select(func.count()).select_from(WebhookSubscription).where(condition)) or 0
    return total, list(session.scalars(query.offset(page.offset).limit(page.limit)))


def get_subscription(session: Session, webhook_id: int, account_id: int | None = None) -> WebhookSubscription:
    """One webhook (of ``account_id`` when given), or ``WebhookNotFound``."""
    row = session.get(WebhookSubscription, webhook_id)
    if row is None or (account_id is not None and row.account_id != account_id):
        raise WebhookNotFound(WebhookNotFound.message.format(id=webhook_id))
    return row


def update_subscription(
    session: Session,
    settings: Settings,
    webhook_id: int,
    account_id: int,
    *,
    url: str,
    event_types: Sequence[Any],
    active: bool,
    description: str | None = None,
) -> WebhookSubscription:
    """Change a webhook's URL, event types, switch and description (its secret stays): the same checks as
    ``create_subscription``; deliveries already queued go to the new URL."""
    row = get_subscription(session, webhook_id, account_id)
    url = url.strip()
    try:
        check_url(url, settings)
    except TargetRefused as exc:
        raise WebhookUrlRefused(exc.message) from None
    types = normalize_types(event_types)
    if description is not None and len(description) > DESCRIPTION_MAX:
        raise DescriptionTooLong()
    row.url = url
    row.event_types = types
    row.active = active
    row.description = description.strip() if description and description.strip() else None
    session.flush()
    events.forget_subscriptions(session)
    return row


def delete_subscription(session: Session, webhook_id: int, account_id: int | None = None) -> WebhookSubscription:
    """Remove a webhook; deliveries still queued for it fail and their events stay open in the feed."""
    row = get_subscription(session, webhook_id, account_id)
    session.delete(row)
    session.flush()
    events.forget_subscriptions(session)
    return row


@dataclass(slots=True)
class RekeyReport:
    """What ``rekey_secrets`` did: secrets moved from an older key to the first one, legacy secrets encrypted
    for the first time, secrets already under the first key, and webhooks whose secret no key decrypts."""

    key_source: str
    total: int = 0
    rekeyed: int = 0
    encrypted: int = 0
    unchanged: int = 0
    failed: list[int] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The CLI's JSON."""
        return {
            "Webhooks": self.total,
            "Rekeyed": self.rekeyed,
            "Encrypted": self.encrypted,
            "Unchanged": self.unchanged,
            "Failed": self.failed,
            "KeySource": self.key_source,
        }


def rekey_secrets(
    session: Session, settings: Settings, *, batch: int = 500, each_batch: Callable[[], None] = _nothing
) -> RekeyReport:
    """Re-encrypt every webhook secret with the first configured key (after a key rotation; also encrypts
    secrets still stored in clear). A secret no configured key decrypts is left as it is and reported in
    ``failed``. Each row is written only if it did not change meanwhile; ``each_batch`` runs after every batch
    (the caller's transaction owner commits there, so a long run does not hold one write transaction)."""
    ring = crypto.keyring(settings)
    report = RekeyReport(key_source=crypto.describe(settings)["KeySource"])
    last_id = 0
    while True:
        rows = session.execute(
            select(WebhookSubscription.id, WebhookSubscription.secret)
            .where(WebhookSubscription.id > last_id)
            .order_by(WebhookSubscription.id)
            .limit(batch)
        ).all()
        if not rows:
            return report
        for webhook_id, stored in rows:
            last_id = webhook_id
            report.total += 1
            if ring.is_current(stored):
                report.unchanged += 1
                continue
            try:
                plain = ring.decrypt(stored)
            except crypto.SecretDecryptError:
                report.failed.append(webhook_id)
                continue
            changed = session.execute(
                update(WebhookSubscription)
                .where(WebhookSubscription.id == webhook_id, WebhookSubscription.secret == stored)
                .values(secret=ring.encrypt(plain))
                .execution_options(synchronize_session=False)
            )
            # 0 rows: removed meanwhile (a subscription created meanwhile already uses the first key).
            if getattr(changed, "rowcount", 0):
                if crypto.is_encrypted(stored):
                    report.rekeyed += 1
                else:
                    report.encrypted += 1
        each_batch()


# --- the feed -------------------------------------------------------------------------------------------------

ERR_UNKNOWN_FILTER_TYPE = "Unknown type '{value}'. Event types: {known}"
ACK_OK = "Acknowledged"
ACK_ALREADY = "Already acknowledged"
ACK_NOT_FOUND = "Notification not found"
ACK_BAD_ID = "Each element must be a notification Id (integer)"


@dataclass(frozen=True, slots=True)
class FeedFilters:
    """Filters of ``GET /v2/notifications``: ``acknowledged`` False = open events (neither delivered nor
    acknowledged), True = the others; ``type``; events at or after ``date_from``."""

    acknowledged: bool = False
    type: str | None = None
    date_from: datetime | None = None


class UnknownFeedType(InvalidInput):
    """The ``type`` filter names an event type that does not exist."""

    message = ERR_UNKNOWN_FILTER_TYPE


def feed_type(value: str | None) -> str | None:
    """A ``type`` filter value, checked against the known event types (case-insensitive)."""
    if value is None or not value.strip():
        return None
    known = {t.lower(): t for t in events.EVENT_TYPES}
    found = known.get(value.strip().lower())
    if found is None:
        raise UnknownFeedType(UnknownFeedType.message.format(value=value.strip(), known=", ".join(events.EVENT_TYPES)))
    return found


def list_notifications(
    session: Session, account_id: int, filters: FeedFilters, page: Page
) -> tuple[int, list[WebhookEvent]]:
    """A page of the account's feed, by Id."""
    conditions: list[Any] = [WebhookEvent.account_id == account_id]
    if filters.acknowledged:
        conditions.append(WebhookEvent.state != OPEN)
    else:
        conditions.append(WebhookEvent.state == OPEN)
    if filters.type is not None:
        conditions.append(WebhookEvent.type == filters.type)
    if filters.date_from is not None:
        conditions.append(WebhookEvent.occurred_at >= filters.date_from)
    total = session.scalar(select(func.count()).select_from(WebhookEvent).where(*conditions)) or 0
    if total <= page.offset:
        return total, []
    rows = session.scalars(
        select(WebhookEvent).where(*conditions).order_by(WebhookEvent.id).offset(page.offset).limit(page.limit)
    )
    return total, list(rows)


def _ack_id(raw: Any) -> int | None:
    number = to_int(raw)
    return number if number is not None and 0 < number <= 2**63 - 1 else None


def acknowledge(session: Session, account_id: int, raw_ids: list[Any]) -> dict[str, Any]:
    """Acknowledge feed events by id: ``{"Total", "Results": [{"Id", "Status", "Message"}]}`` in request order
    (200 acknowledged or already, 404 unknown or another account's, 400 not an id)."""
    wanted = {i for i in (_ack_id(raw) for raw in raw_ids) if i is not None}
    found: dict[int, datetime | None] = {}
    if wanted:
        found = {
            row[0]: row[1]
            for row in session.execute(
                select(WebhookEvent.id, WebhookEvent.acknowledged_at).where(
                    WebhookEvent.account_id == account_id, WebhookEvent.id.in_(sorted(wanted))
                )
            )
        }
    fresh = sorted(i for i, at in found.items() if at is None)
    if fresh:
        session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id.in_(fresh), WebhookEvent.acknowledged_at.is_(None))
            .values(state=ACKNOWLEDGED, acknowledged_at=clock.utcnow())
            .execution_options(synchronize_session=False)
        )
    results: list[dict[str, Any]] = []
    done: set[int] = set()
    for raw in raw_ids:
        event_id = _ack_id(raw)
        if event_id is None:
            results.append({"Id": raw, "Status": 400, "Message": ACK_BAD_ID})
        elif event_id not in found:
            results.append({"Id": event_id, "Status": 404, "Message": ACK_NOT_FOUND})
        elif event_id in fresh and event_id not in done:
            done.add(event_id)
            results.append({"Id": event_id, "Status": 200, "Message": ACK_OK})
        else:
            results.append({"Id": event_id, "Status": 200, "Message": ACK_ALREADY})
    return {"Total": len(results), "Results": results}


# --- purge ------------------------------------------------------------------------------------------------


def purge_cutoff(settings: Settings) -> datetime:
    """Events that occurred before this instant are purged."""
    return clock.utcnow() - timedelta(days=settings.notifications_retention_days)


def purge_batch(session: Session, settings: Settings, *, limit: int) -> int:
    """Delete up to ``limit`` feed events older than the retention (oldest first); no commit."""
    old = select(WebhookEvent.id).where(WebhookEvent.occurred_at < purge_cutoff(settings))
    ids = list(session.scalars(old.order_by(WebhookEvent.occurred_at).limit(limit)))
    if not ids:
        return 0
    session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(ids)).execution_options(synchronize_session=False))
    return len(ids)


def purge(
    session: Session, settings: Settings, *, batch: int = 10_000, each_batch: Callable[[], None] = _nothing
) -> int:
    """Delete every feed event older than the retention; returns how many. ``each_batch`` runs after every
    batch (where the caller's transaction owner commits)."""
    total = 0
    while True:
        deleted = purge_batch(session, settings, limit=batch)
        each_batch()
        total += deleted
        if deleted < batch:
            return total
