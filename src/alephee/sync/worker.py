"""The outbox delivery worker (``alephee worker``; ``alephee serve --with-worker`` runs one in a thread).

One round:

1. **Claim** up to ``batch`` due rows in id order, in one short write transaction. A row is due when it is
   ``pending`` with ``available_at <= now``, or ``in_flight`` with an expired lease (its worker died). A row is
   skipped while an older row of the same ``(aggregate_type, aggregate_id)`` is still pending or in flight, so
   each aggregate's changes reach the marketplace in the order they were made. PostgreSQL selects with
   ``FOR UPDATE SKIP LOCKED`` (concurrent workers pass over each other's rows instead of waiting); SQLite's
   write transactions start with ``BEGIN IMMEDIATE``, so the select-and-lease is already exclusive (and a read
   asks first whether any row is due, so an idle round takes no write lock: ``sync.claims``). Claiming
   sets ``status=in_flight``, ``locked_by``, ``locked_until`` and counts the attempt (a worker that crashes
   mid-delivery still used one, so a row that kills workers ends up failed instead of looping forever).
2. **Deliver** each claimed row through its sender (the channel of its marketplace by default; other senders,
   e.g. webhooks, come as routes by topic prefix: given to the worker in its ``Dispatcher`` by the composition
   root, ``registry.build_worker``, or registered process-wide with ``marketplaces.delivery.register_sender``
   for a worker built without one). Channels that keep their state in the
   hub's database (the sandbox) are called inside the same transaction that marks the row delivered, so the
   effect and the mark commit together; remote channels are called outside any transaction. **Batches**: rows a
   ``BatchSender`` groups (``batch_key``: the channel sender groups the listing changes of one marketplace and
   account when the channel offers ``push_listings``) go to ``send_batch`` together, with the rows they cover
   read in one read transaction and every outcome recorded in one write transaction (below, row by row).
3. **Record** the outcome with an update conditional on still holding the lease (``locked_by = me``): delivered
   (``delivered_at``); transient failure → back to ``pending`` with exponential backoff and deterministic
   jitter, or ``failed`` after ``outbox_max_attempts``; permanent failure → ``failed`` at once. If the lease was
   lost (another worker reclaimed an expired lease), the in-database delivery is rolled back. In the worker's
   loop (``run_forever``) a round's groups are recorded by a thread of their own (``Recorder``) while the next
   round claims and sends; that round cannot take a newer row of a listing still being recorded (its older row
   is in flight), so order per listing and coalescing hold.

Rows without a marketplace, and topics starting with ``webhook.``, are left alone until the worker has a sender
for them (a route such as ``Route("webhook.", sender, without_marketplace=True)``).

Order topics (aggregate type ``order``) are completed at delivery time with the marketplace's ids of the order,
``ExternalOrderId`` and ``PackId``, read from the hub's ``orders`` table (``with_order_ids``) when the payload
lacks them: the domains write only the hub's ``OrderId``, and every connector needs the marketplace's number.

4. **Notices** (``sync/inbox.py``): a batch of the inbox of marketplace notifications is claimed, each resource
   read through its channel and applied (orders, listing states, buyer messages). When the round claimed rows,
   this step runs in a thread of its own while they are delivered (the round lasts the longer of the two, not
   their sum; PostgreSQL only: SQLite has one writer, and the two steps' transactions would wait on each
   other); the round ends when both have.

5. **Pull** (``sync/pull.py``), at most once per ``worker_interval_seconds``: every connected
   marketplace's order feed is read after its stored cursor and applied to the hub's orders (new orders, status,
   payment and shipment news, stock decremented or returned).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, not_, or_, select, update
from sqlalchemy.orm import Session, aliased

from alephee import clock
from alephee.config import Settings
from alephee.db import Database
from alephee.marketplaces.contract import DeliveryError, PermanentDeliveryError
from alephee.marketplaces.delivery import (
    DELIVERED,
    FAILED,
    IN_FLIGHT,
    PENDING,
    RESERVED_PREFIXES,
    BatchSender,
    OutboxItem,
    Route,
    Sender,
    current_routes,
)
from alephee.marketplaces.models import OutboxMessage, live_rows
from alephee.sync.background import Behind
from alephee.sync.backoff import backoff_delay
from alephee.sync.claims import worth_claiming
from alephee.sync.inbox import InboxReader
from alephee.sync.pull import FeedGate, Puller
from alephee.sync.senders import (
    ChannelSender,
    announce_outcome,
    covers_queued,
    record_answer,
    record_answers,
    with_order_ids,
)

log = logging.getLogger("alephee.worker")

MAX_ERROR_LENGTH = 2000


@dataclass
class Dispatcher:
    """Which sender handles a row, in Python (``sender_for``) and as a SQL filter (``claimable``) that agree."""

    channel_sender: Sender = field(default_factory=ChannelSender)
    routes: list[Route] = field(default_factory=list)

    @classmethod
    def current(cls) -> Dispatcher:
        """A dispatcher over the senders registered now."""
        return cls(routes=current_routes())

    def sender_for(self, item: OutboxItem) -> Sender | None:
        for route in self.routes:
            if item.topic.startswith(route.prefix):
                return route.sender
        if item.marketplace_id is None:
            return next((r.sender for r in self.routes if r.without_marketplace), None)
        if item.topic.startswith(RESERVED_PREFIXES):
            return None
        return self.channel_sender

    def claimable(self, table: Any) -> ColumnElement[bool]:
        """The SQL condition matching exactly the rows ``sender_for`` has a sender for."""
        taken = [table.topic.startswith(r.prefix, autoescape=True) for r in self.routes]
        reserved = [table.topic.startswith(p, autoescape=True) for p in RESERVED_PREFIXES]
        channel_rows = and_(table.marketplace_id.is_not(None), not_(or_(false(), *taken, *reserved)))
        conditions: list[ColumnElement[bool]] = [*taken, channel_rows]
        if any(r.without_marketplace for r in self.routes):
            conditions.append(table.marketplace_id.is_(None))
        return or_(*conditions)


# --- the worker -------------------------------------------------------------------------------------------


@dataclass
class RoundStats:
    """What one or more rounds did."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    lost: int = 0
    # Orders created or updated from the marketplaces' feeds.
    pulled: int = 0
    # Inbox notifications claimed (read and applied, retried or failed).
    notices: int = 0

    @property
    def busy(self) -> bool:
        """Whether the round found something to do (then the next one starts at once)."""
        return bool(self.claimed or self.pulled or self.notices)

    def count(self, outcomes: Sequence[str]) -> None:
        """Add deliveries' outcomes (``delivered``, ``retried``, ``failed``; anything else is a lost lease)."""
        for outcome in outcomes:
            if outcome == DELIVERED:
                self.delivered += 1
            elif outcome == "retried":
                self.retried += 1
            elif outcome == FAILED:
                self.failed += 1
            else:
                self.lost += 1

    def add(self, other: RoundStats) -> None:
        self.claimed += other.claimed
        self.delivered += other.delivered
        self.retried += other.retried
        self.failed += other.failed
        self.lost += other.lost
        self.pulled += other.pulled
        self.notices += other.notices

    def as_json(self) -> dict[str, int]:
        return {
            "Claimed": self.claimed,
            "Delivered": self.delivered,
            "Retried": self.retried,
            "Failed": self.failed,
            "LeaseLost": self.lost,
            "Pulled": self.pulled,
            "Notices": self.notices,
        }


@dataclass(frozen=True, slots=True)
class SentGroup:
    """A delivered group not recorded yet: its rows, each row's answer (or error) and the rows each one covers."""

    items: list[OutboxItem]
    answers: list[Any]
    covered: dict[int, list[int]]


class Recorder:
    """Records a round's delivered groups in a thread of its own while the worker's next round claims and sends
    (one recording at a time: a round waits for the one before it to end before handing over its own)."""

    def __init__(self) -> None:
        self._behind: Behind[list[str]] = Behind("alephee-outbox-record")

    def record(self, job: Callable[[], list[str]]) -> list[str]:
        """Start ``job`` (a round's recording); returns the outcomes of the recording before it."""
        try:
            return self.finish()
        finally:  # started even when the recording before it failed
            self._behind.start(job)

    def finish(self) -> list[str]:
        """Wait for the recording in progress, if any; its outcomes (its failure is raised here)."""
        return self._behind.take() or []

    def close(self) -> None:
        self._behind.close()


class LeaseLost(Exception):
    """Our lease on a row expired and another worker took it: our outcome must not be recorded."""


def default_worker_id() -> str:
    """``host:pid:random`` — unique per worker, readable in ``outbox list``."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Claims, delivers and records outbox rows. Several may run at once, in threads or processes."""

    def __init__(
        self,
        db: Database,
        settings: Settings | None = None,
        *,
        worker_id: str | None = None,
        dispatcher: Dispatcher | None = None,
        pull: bool = True,
        inbox: bool = True,
        gate: FeedGate | None = None,
    ) -> None:
        self.db = db
        self.settings = settings or db.settings
        self.worker_id = worker_id or default_worker_id()
        self.puller: Puller | None = Puller(db, self.settings, gate=gate) if pull else None
        self.inbox: InboxReader | None = InboxReader(db, self.settings, worker_id=self.worker_id) if inbox else None
        self._next_pull = 0.0
        # Without an explicit dispatcher the routes are re-read every round, so a sender registered after the
        # worker started (e.g. by a module imported later) is used from the next round on.
        self._follow_registry = dispatcher is None
        self.dispatcher = dispatcher or Dispatcher.current()
        sender = self.dispatcher.channel_sender
        if isinstance(sender, ChannelSender) and sender.db is None:
            # Remote channels read tokens and current state through the worker's database.
            sender.db, sender.settings = db, self.settings

    # --- claiming

    @staticmethod
    def _due(now: datetime) -> ColumnElement[bool]:
        """Pending and available, or in flight under an expired lease."""
        return or_(
            and_(OutboxMessage.status == PENDING, OutboxMessage.available_at <= now),
            and_(OutboxMessage.status == IN_FLIGHT, OutboxMessage.locked_until < now),
        )

    def candidates(self, batch: int, now: datetime) -> Select[tuple[int]]:
        """The ids a claim at ``now`` takes: due rows this worker has a sender for, in id order, each only when no
        older row of its aggregate is still live. Both the scan and the probe read only the live rows
        (``live_rows``: the outbox's partial indexes), never the delivered history."""
        outbox = OutboxMessage
        older = aliased(OutboxMessage)
        blocked = (
            select(older.id)
            .where(
                older.aggregate_type == outbox.aggregate_type,
                older.aggregate_id == outbox.aggregate_id,
                older.id < outbox.id,
                live_rows(older.status),
            )
            .exists()
        )
        candidates = (
            select(outbox.id)
            .where(live_rows(outbox.status), self._due(now), self.dispatcher.claimable(outbox), ~blocked)
            .order_by(outbox.id)
            .limit(batch)
        )
        if self.db.dialect == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True, of=outbox)
        return candidates

    def claim(self, batch: int) -> list[OutboxItem]:
        """Lease up to ``batch`` due rows (see the module docstring) and return them in id order."""
        if self._follow_registry:
            self.dispatcher.routes = Dispatcher.current().routes
        now = clock.precise_utcnow()
        lease_until = now + timedelta(seconds=self.settings.outbox_lease_seconds)
        outbox = OutboxMessage
        due = self._due(now)
        candidates = self.candidates(batch, now)
        if not worth_claiming(self.db, candidates):
            return []
        with self.db.writing() as session:
            ids = list(session.scalars(candidates))
            if not ids:
                return []
            # Conditional: only rows still due are leased (belt and braces; the transaction is exclusive
            # on SQLite and the rows are locked on PostgreSQL).
            claimed = session.scalars(
                update(outbox)
                .where(outbox.id.in_(ids), due)
                .values(
                    status=IN_FLIGHT,
                    locked_by=self.worker_id,
                    locked_until=lease_until,
                    attempts=outbox.attempts + 1,
                )
                .returning(outbox.id)
                .execution_options(synchronize_session=False)
            ).all()
            rows = session.scalars(select(outbox).where(outbox.id.in_(claimed)).order_by(outbox.id)).all()
            return [OutboxItem.of(row) for row in rows]

    # --- recording

    def _mine(self, item: OutboxItem) -> ColumnElement[bool]:
        return and_(
            OutboxMessage.id == item.id,
            OutboxMessage.status == IN_FLIGHT,
            OutboxMessage.locked_by == self.worker_id,
        )

    def _mark_delivered(self, session: Session, item: OutboxItem) -> None:
        result = session.execute(
            update(OutboxMessage)
            .where(self._mine(item))
            .values(
                status=DELIVERED,
                delivered_at=clock.precise_utcnow(),
                locked_by=None,
                locked_until=None,
                last_error=None,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost(item.id)

    def _failure(self, item: OutboxItem, error: BaseException) -> tuple[dict[str, Any], str, str]:
        """What a failure writes on the row, ``retried`` or ``failed``, and the error's text."""
        transient = error.transient if isinstance(error, DeliveryError) else True
        text = error.message if isinstance(error, DeliveryError) else f"{type(error).__name__}: {error}"
        text = text[:MAX_ERROR_LENGTH]
        values: dict[str, Any] = {"locked_by": None, "locked_until": None, "last_error": text}
        if isinstance(error, DeliveryError) and error.held:
            # Held, not failed: the attempt is given back and the row waits for the connection to return.
            delay = self.settings.outbox_held_retry_seconds
            values.update(
                status=PENDING,
                attempts=OutboxMessage.attempts - 1,
                available_at=clock.precise_utcnow() + timedelta(seconds=delay),
            )
            return values, "retried", text
        if transient and item.attempts < self.settings.outbox_max_attempts:
            delay = backoff_delay(self.settings, item.id, item.attempts)
            # The marketplace said when to come back (Retry-After): never sooner than that.
            wait = getattr(error, "retry_after", None)
            if isinstance(wait, int | float) and wait > delay:
                delay = min(float(wait), self.settings.outbox_backoff_max_seconds)
            values.update(status=PENDING, available_at=clock.precise_utcnow() + timedelta(seconds=delay))
            return values, "retried", text
        values["status"] = FAILED
        return values, "failed", text

    def _write_failure(self, session: Session, item: OutboxItem, error: BaseException) -> str:
        """Write the failure in ``session``; returns ``retried``, ``failed`` or ``lost``."""
        values, outcome, text = self._failure(item, error)
        result = session.execute(
            update(OutboxMessage).where(self._mine(item)).values(**values).execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return "lost"
        if outcome == "failed":
            announce_outcome(session, item, delivered=False, reason=text)
        level = logging.WARNING if outcome == "failed" else logging.INFO
        log.log(level, "outbox %s %s (%s, attempt %s): %s", item.id, outcome, item.topic, item.attempts, text)
        return outcome

    def _record_failure(self, item: OutboxItem, error: BaseException) -> str:
        """Write the failure in a transaction of its own; returns ``retried``, ``failed`` or ``lost``."""
        with self.db.writing() as session:
            return self._write_failure(session, item, error)

    # --- delivering

    def _deliver(self, item: OutboxItem) -> str:
        """Deliver one claimed row; returns ``delivered``, ``retried``, ``failed`` or ``lost``."""
        sender = self.dispatcher.sender_for(item)
        try:
            if sender is None:  # the SQL filter and sender_for agree, so only a registry change gets here
                raise PermanentDeliveryError(f"no sender for topic '{item.topic}'")
            with self.db.reading() as session:
                item = with_order_ids(session, item)
                in_database = sender.in_database(session, item)
                # Rows of this listing queued before now are delivered by this one when its channel sends the
                # listing's state as read at delivery time (which includes their changes).
                covered = self._covered_rows(session, item) if not in_database else []
            if in_database:
                # The effect and the "delivered" mark commit together (or not at all); the covered rows are read
                # first, in the same transaction, so the state the channel reads includes their changes.
                with self.db.writing() as session:
                    covered = self._covered_rows(session, item)
                    answer = sender.send(session, item)
                    self._mark_delivered(session, item)
                    record_answer(session, item, answer)
                    announce_outcome(session, item, delivered=True)
                    self._mark_coalesced(session, covered if covers_queued(answer) else [])
                return DELIVERED
            answer = sender.send(None, item)
            with self.db.writing() as session:
                self._mark_delivered(session, item)
                record_answer(session, item, answer)
                announce_outcome(session, item, delivered=True)
                self._mark_coalesced(session, covered if covers_queued(answer) else [])
            return DELIVERED
        except LeaseLost:
            log.warning("outbox %s: lease lost to another worker; outcome not recorded", item.id)
            return "lost"
        except Exception as exc:  # every failure is recorded on the row, none stops the worker
            if not isinstance(exc, DeliveryError):
                log.exception("outbox %s: unexpected error from the sender", item.id)
            return self._record_failure(item, exc)

    def _deliver_group(self, sender: BatchSender, items: list[OutboxItem]) -> list[str]:
        """Deliver rows of one ``batch_key`` group at once (``_send_group``) and record every outcome
        (``_record_sent``). Returns each row's outcome, in order."""
        return self._record_sent(self._send_group(sender, items))

    def _send_group(self, sender: BatchSender, items: list[OutboxItem]) -> SentGroup:
        """The rows a group covers read in one read transaction, then the group handed to ``send_batch`` with no
        transaction open: what ``_record_sent`` records (a failure of the whole group is each row's answer)."""
        try:
            with self.db.reading() as session:
                covered = self._covered_by(session, items)
            answers = sender.send_batch(items)
            if len(answers) != len(items):
                raise RuntimeError(f"the sender answered {len(answers)} of {len(items)} rows")
        except Exception as exc:  # the whole group's failure: recorded on each of its rows
            if not isinstance(exc, DeliveryError):
                log.exception("outbox %s..%s: unexpected error from the sender", items[0].id, items[-1].id)
            covered, answers = {}, [exc] * len(items)
        return SentGroup(items, answers, covered)

    def _record_sent(self, sent: SentGroup) -> list[str]:
        """Every outcome of a sent group recorded in one write transaction (a row whose lease was lost records
        nothing); if that fails, each row's failure alone. Returns each row's outcome, in order."""
        items, answers, covered = sent.items, sent.answers, sent.covered
        try:
            with self.db.writing() as session:
                return self._record_group(session, items, answers, covered)
        except Exception as exc:  # the record failed (database down): each row retried on its own
            log.exception("outbox %s..%s: recording the group failed", items[0].id, items[-1].id)
            return [self._record_failure(item, exc) for item in items]

    def _record_group(
        self, session: Session, items: list[OutboxItem], answers: list[Any], covered: dict[int, list[int]]
    ) -> list[str]:
        """Every outcome of a group in ``session``: the delivered rows marked with one conditional update (those
        still ours get their answers recorded and their covered rows coalesced), each failure on its own row."""
        delivered = [
            item.id for item, answer in zip(items, answers, strict=True) if not isinstance(answer, BaseException)
        ]
        mine: set[int] = set()
        if delivered:
            mine = set(
                session.scalars(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id.in_(delivered),
                        OutboxMessage.status == IN_FLIGHT,
                        OutboxMessage.locked_by == self.worker_id,
                    )
                    .values(
                        status=DELIVERED,
                        delivered_at=clock.precise_utcnow(),
                        locked_by=None,
                        locked_until=None,
                        last_error=None,
                    )
                    .returning(OutboxMessage.id)
                    .execution_options(synchronize_session=False)
                )
            )
        outcomes: list[str] = []
        coalesced: list[int] = []
        record_answers(session, [(i, a) for i, a in zip(items, answers, strict=True) if i.id in mine])
        for item, answer in zip(items, answers, strict=True):
            if isinstance(answer, BaseException):
                outcomes.append(self._write_failure(session, item, answer))
            elif item.id in mine:
                announce_outcome(session, item, delivered=True)
                if covers_queued(answer):
                    coalesced += covered.get(item.id, [])
                outcomes.append(DELIVERED)
            else:
                log.warning("outbox %s: lease lost to another worker; outcome not recorded", item.id)
                outcomes.append("lost")
        self._mark_coalesced(session, coalesced)
        return outcomes

    def _covered_rows(self, session: Session, item: OutboxItem) -> list[int]:
        """Pending rows of the same listing and topic queued after ``item`` (committed before the channel reads
        the listing, so the state it sends includes them)."""
        return self._covered_by(session, [item]).get(item.id, [])

    def _covered_by(self, session: Session, items: Sequence[OutboxItem]) -> dict[int, list[int]]:
        """``_covered_rows`` of every row of ``items`` whose channel coalesces, read with one query."""
        sender = self.dispatcher.channel_sender
        if not isinstance(sender, ChannelSender):
            return {}
        coalescing = {
            (i.aggregate_type, i.aggregate_id, i.marketplace_id, i.topic): i
            for i in items
            if sender.coalesces(session, i)
        }
        if not coalescing:
            return {}
        later = session.execute(
            select(
                OutboxMessage.id,
                OutboxMessage.aggregate_type,
                OutboxMessage.aggregate_id,
                OutboxMessage.marketplace_id,
                OutboxMessage.topic,
            ).where(
                OutboxMessage.aggregate_type.in_({key[0] for key in coalescing}),
                OutboxMessage.aggregate_id.in_({key[1] for key in coalescing}),
                live_rows(OutboxMessage.status),
                OutboxMessage.status == PENDING,
            )
        )
        covered: dict[int, list[int]] = {}
        for row_id, *key in later:
            item = coalescing.get(tuple(key))  # type: ignore[arg-type]
            if item is not None and row_id > item.id:
                covered.setdefault(item.id, []).append(row_id)
        return covered

    def _mark_coalesced(self, session: Session, ids: list[int]) -> None:
        """Rows delivered by a later state push of their listing: delivered now, without a call of their own
        (conditional on still pending, so a row another worker took meanwhile is left to it)."""
        if not ids:
            return
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == PENDING)
            .values(status=DELIVERED, delivered_at=clock.precise_utcnow(), last_error=None)
            .execution_options(synchronize_session=False)
        )

    def pull(self, force: bool = False) -> int:
        """The pull step (at most once per ``worker_interval_seconds`` unless ``force``); returns how many
        orders it created or updated."""
        if self.puller is None or (not force and time.monotonic() < self._next_pull):
            return 0
        self._next_pull = time.monotonic() + self.settings.worker_interval_seconds
        stats = self.puller.run()
        if stats.changed or stats.skipped or stats.failed:
            log.info("pull: %s", stats.as_json())
        return stats.changed

    def read_notices(self, batch: int | None = None) -> int:
        """The inbox step: read and apply a batch of marketplace notifications; returns how many it claimed."""
        if self.inbox is None:
            return 0
        stats = self.inbox.run(batch or self.settings.worker_batch_size)
        if stats.claimed:
            log.info("inbox: %s", stats.as_json())
        return stats.claimed

    def _tasks(self, items: list[OutboxItem], *, defer: bool = False) -> list[Callable[[], list[str] | SentGroup]]:
        """A round's deliveries: one per group of rows a ``BatchSender`` takes together (recorded, or with ``defer``
        sent only: its ``SentGroup`` is recorded later), one per other row (always recorded)."""
        groups: dict[tuple[int, Hashable], tuple[BatchSender, list[OutboxItem]]] = {}
        singles: list[OutboxItem] = []
        batching = [(item, self.dispatcher.sender_for(item)) for item in items]
        if any(isinstance(sender, BatchSender) for _item, sender in batching):
            with self.db.reading() as session:
                for item, sender in batching:
                    key = sender.batch_key(session, item) if isinstance(sender, BatchSender) else None
                    if key is None or not isinstance(sender, BatchSender):
                        singles.append(item)
                    else:
                        groups.setdefault((id(sender), key), (sender, []))[1].append(item)
        else:
            singles = items
        group_step = self._send_group if defer else self._deliver_group
        tasks: list[Callable[[], list[str] | SentGroup]] = [
            lambda sender=sender, rows=rows: group_step(sender, rows) for sender, rows in groups.values()
        ]
        tasks += [lambda item=item: [self._deliver(item)] for item in singles]
        return tasks

    def run_once(self, batch: int | None = None, *, pull: bool | None = None) -> RoundStats:
        """One round: claim a batch and deliver it, read a batch of notifications, then pull the order feeds
        (when due, or if ``pull``). Every outcome is recorded when it returns."""
        return self._round(batch, pull=pull, recorder=None)

    def _round(self, batch: int | None, *, pull: bool | None, recorder: Recorder | None) -> RoundStats:
        """``run_once``; with a ``recorder`` (``run_forever``'s), the groups' outcomes are recorded by it while the
        next round claims and sends (SYNC-29), and the round counts the outcomes of the recording before it."""
        stats = RoundStats()
        items = self.claim(batch or self.settings.worker_batch_size)
        stats.claimed = len(items)
        # A batch holds at most one row per aggregate (a row waits for the older ones of its aggregate), so its
        # rows may be delivered at once: a remote marketplace's latency then does not set the worker's pace.
        outcomes: list[str] = []
        sent: list[SentGroup] = []
        tasks = self._tasks(items, defer=recorder is not None)
        # The inbox's batch is read and applied while the rows are delivered (SYNC-20): both wait mostly on
        # calls and round trips, and one after the other a round took their sum, which on PostgreSQL left the
        # outbox behind 100 changes a second. They share no rows (the kept copies follow their version rule).
        # Not on SQLite: one writer, so the two steps' transactions would wait on each other's write lock (at
        # 100 changes a second the round's latency tripled).
        alongside = tasks and self.inbox is not None and self.db.write_engine.dialect.name == "postgresql"
        side = ThreadPoolExecutor(1, thread_name_prefix="alephee-inbox") if alongside else None
        notices = side.submit(self.read_notices, batch) if side is not None else None
        try:
            senders = max(1, min(self.settings.outbox_delivery_concurrency, len(tasks)))
            if senders > 1:
                with ThreadPoolExecutor(senders, thread_name_prefix="alephee-outbox") as pool:
                    done = list(pool.map(lambda task: task(), tasks))
            else:
                done = [task() for task in tasks]
            for result in done:
                if isinstance(result, SentGroup):
                    sent.append(result)
                else:
                    outcomes += result
            if recorder is not None:
                job = lambda: [o for group in sent for o in self._record_sent(group)]  # noqa: E731
                outcomes += recorder.record(job) if sent else recorder.finish()
        finally:
            if side is not None:
                side.shutdown(wait=True)
        stats.count(outcomes)
        stats.notices = notices.result() if notices is not None else self.read_notices(batch)
        if pull is not False:
            stats.pulled = self.pull(force=bool(pull))
        return stats

    def drain(self, batch: int | None = None, max_rounds: int | None = None) -> RoundStats:
        """Rounds until nothing is due (``alephee worker --once``)."""
        total = RoundStats()
        rounds = 0
        while max_rounds is None or rounds < max_rounds:
            stats = self.run_once(batch, pull=True)
            total.add(stats)
            rounds += 1
            if not stats.busy:
                break
        return total

    def run_forever(
        self,
        stop: threading.Event,
        *,
        interval: float | None = None,
        batch: int | None = None,
        on_round: Callable[[RoundStats], None] | None = None,
    ) -> RoundStats:
        """Rounds until ``stop`` is set; sleeps ``interval`` only when a round found nothing to do. A round that
        fails (database down) is logged and retried after the interval: the loop never dies on its own."""
        interval = self.settings.worker_interval_seconds if interval is None else interval
        total = RoundStats()
        recorder = Recorder() if self.settings.worker_record_behind else None
        log.info("outbox worker %s started", self.worker_id)
        if self.inbox is not None:  # the inbox's next batch is read while this one is applied; closed below
            self.inbox.read_ahead = self.settings.inbox_read_ahead
        try:
            while not stop.is_set():
                try:
                    stats = self._round(batch, pull=None, recorder=recorder)
                except Exception:  # a failed round (database down) must not end the loop
                    log.exception("outbox worker %s: round failed", self.worker_id)
                    stop.wait(interval)
                    continue
                total.add(stats)
                if stats.busy and on_round is not None:
                    on_round(stats)
                if not stats.busy:
                    stop.wait(interval)
        finally:
            if recorder is not None:
                try:
                    total.count(recorder.finish())  # the last round's outcomes are recorded before leaving
                except Exception:  # the database is gone: the rows' leases expire and they are delivered again
                    log.exception("outbox worker %s: recording the last round failed", self.worker_id)
                recorder.close()
            if self.inbox is not None:
                self.inbox.close()
                self.inbox.read_ahead = False
        log.info("outbox worker %s stopped", self.worker_id)
        return total


class WorkerThread:
    """One worker loop in a background thread of a server process (``serve --with-worker``). The worker is
    built by the caller (with its senders and its database, which the caller keeps and disposes of)."""

    def __init__(self, worker: Worker, *, interval: float | None = None, batch: int | None = None) -> None:
        self.worker = worker
        self.interval = interval
        self.batch = batch
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the loop (a daemon thread: it never keeps a dying process alive)."""
        self._thread = threading.Thread(
            target=self.worker.run_forever,
            args=(self.stop_event,),
            kwargs={"interval": self.interval, "batch": self.batch},
            name="alephee-outbox-worker",
            daemon=True,
        )
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to stop after its current round and wait for it."""
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("outbox worker thread still busy after %.0fs; leaving it", timeout)
