"""POST /v2/products batches of one account that arrive while another is being applied are applied together.

Every batch locks its products' rows until it commits, so batches of the same SKUs run one after the other;
with several ERP workers sending batches at once each waited for all the batches ahead of it. Here, per process
and per account (and price list), the first batch leads: it applies every batch waiting at that moment in one
transaction (``bulk_update.update_product_batches``: one locking read of all their rows in id order, then each
batch's elements in arrival order, each batch with its own ActionResult), commits, and hands each waiting
request its result. Batches arriving meanwhile wait for the next leader, the first of them (STK-15).

A batch waits at most for the group ahead of it and its own group instead of every batch ahead of it. If a
group fails as a whole (a database error), each of its batches is applied again alone, so every request gets
the answer it would have had without grouping.

Several server processes on one PostgreSQL database (``products_batch_group_lock``, off by default, STK-20): a
leader first takes a transaction-level advisory lock of its account, and only then the batches waiting in its
process, so one group per account runs at a time across the processes and the batches arriving in a process
while its leader waits for another process's group join that group. The reads and the validation before the
rows' lock then run under the account's lock too, and in the soak that cost as much as it saved.

``products_batch_queue_limit`` (STK-21) bounds an account's queue in a process: past it a batch is refused
with 429 at once instead of waiting for every group ahead of it. The waits are ``/metrics`` histograms
(``alephee_stock_batch_*``): per batch the queue, per group the lock, the apply (and its CPU) and the commit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy import text
from sqlalchemy.orm import Session

from alephee.config import Settings
from alephee.errors import TooManyRequests
from alephee.http.observe import REGISTRY
from alephee.http.results import ActionResult
from alephee.products.bulk_update import update_product_batches

# Namespace of the PostgreSQL advisory lock of an account's stock batch groups (any constant of our own; the
# documents' quota uses 0x0D0C).
_LOCK_NAMESPACE = 0x57B6
_LOCK_SQL = text("SELECT pg_advisory_xact_lock(:space, :account)")

_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
QUEUED = Histogram(
    "alephee_stock_batch_queue_seconds",
    "Time a POST /v2/products batch waited before its group started being applied: in its process's queue, "
    "and for the batches of a leader, the leader's wait for the account's lock too",
    buckets=_BUCKETS,
    registry=REGISTRY,
)
GROUP_PHASE = Histogram(
    "alephee_stock_batch_group_seconds",
    "Per group of POST /v2/products batches: lock (the account's advisory lock, PostgreSQL), apply (reads, "
    "the locking read of the rows, writes, listings and alerts), apply_cpu (the leader thread's CPU time of "
    "apply), commit",
    ["phase"],
    buckets=_BUCKETS,
    registry=REGISTRY,
)
GROUP_SIZE = Histogram(
    "alephee_stock_batch_group_batches",
    "Batches applied together in one group",
    buckets=(1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 40),
    registry=REGISTRY,
)

REFUSED = Counter(
    "alephee_stock_batch_refused_total",
    "POST /v2/products batches refused with 429: the account already had products_batch_queue_limit batches "
    "waiting in this process",
    registry=REGISTRY,
)


class BatchQueueFull(TooManyRequests):
    """The account's stock batches waiting in this process reached ``products_batch_queue_limit`` (429, nothing
    applied)."""

    message = "Too many product batches of this account are waiting to be applied; nothing was changed. Retry later"


def lock_account(session: Session, account_id: int) -> None:
    """Wait for, and hold until ``session``'s transaction ends, the account's stock batch lock (PostgreSQL: a
    transaction-level advisory lock; elsewhere nothing, SQLite serialises its writers already)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK_SQL, {"space": _LOCK_NAMESPACE, "account": account_id})


@dataclass(eq=False)
class _Waiting:
    """One request's batch in a group queue, and what its leader tells it."""

    items: list[Any]
    arrived: float = field(default_factory=time.perf_counter)
    woken: threading.Event = field(default_factory=threading.Event)
    # Set by the leader that applied and committed the batch.
    answer: tuple[ActionResult, bool] | None = None
    # False when woken to apply the batch itself: leading the next group, or alone after its group failed.
    applied: bool = False
    lead: bool = False


class BatchGroups:
    """The group queues of one process (``GROUPS``), one per account and price list."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._queues: dict[Hashable, list[_Waiting]] = {}

    def apply(
        self,
        session: Session,
        settings: Settings,
        account_id: int,
        raw_price_list: str | None,
        items: list[Any],
        commit: Callable[[Session], None],
    ) -> tuple[ActionResult, bool]:
        """Apply ``items`` (one request's batch) with the batches waiting with it and commit; the request's
        ActionResult and whether anything was processed. ``commit`` commits ``session`` (the request's)."""

        def apply_batches(batches: list[list[Any]]) -> list[tuple[ActionResult, bool]]:
            return update_product_batches(session, settings, account_id, raw_price_list, batches)

        def alone() -> tuple[ActionResult, bool]:
            (answer,) = apply_batches([items])
            commit(session)
            return answer

        cap = settings.products_batch_group_items
        if cap <= 0 or not items:
            return alone()
        key = (account_id, raw_price_list)
        me = _Waiting(items)
        limit = settings.products_batch_queue_limit
        with self._mutex:
            queue = self._queues.get(key)
            full = queue is not None and 0 < limit <= len(queue)
            if queue is None:
                self._queues[key] = []
                me.lead = True
            elif not full:
                queue.append(me)
        if full:
            # A bounded queue: past it a batch would wait for more groups than the client should (STK-21).
            REFUSED.inc()
            raise BatchQueueFull()
        if not me.lead:
            me.woken.wait()
            if me.applied:
                assert me.answer is not None
                return me.answer
            if not me.lead:  # its group failed: alone, as without grouping
                return alone()
        try:
            if settings.products_batch_group_lock:
                began = time.perf_counter()
                lock_account(session, account_id)
                GROUP_PHASE.labels("lock").observe(time.perf_counter() - began)
            # Taken once the account's lock is held: the batches that arrived while it was awaited join.
            group = [me, *self._take(key, cap - len(items))]
            answers = self._group(session, group, apply_batches, commit)
        finally:
            self._hand_over(key)
        if answers is None:
            return alone()
        return answers

    def _take(self, key: Hashable, room: int) -> list[_Waiting]:
        """The batches waiting now, in arrival order, while their elements fit in ``room``."""
        taken: list[_Waiting] = []
        with self._mutex:
            queue = self._queues[key]
            while queue and len(queue[0].items) <= room:
                room -= len(queue[0].items)
                taken.append(queue.pop(0))
        return taken

    def _hand_over(self, key: Hashable) -> None:
        """Wake the first batch that waited meanwhile to lead the next group, or close the queue."""
        with self._mutex:
            queue = self._queues[key]
            if not queue:
                del self._queues[key]
                return
            following = queue.pop(0)
            following.lead = True
        following.woken.set()

    @staticmethod
    def _group(
        session: Session,
        group: list[_Waiting],
        apply_batches: Callable[[list[list[Any]]], list[tuple[ActionResult, bool]]],
        commit: Callable[[Session], None],
    ) -> tuple[ActionResult, bool] | None:
        """Apply and commit ``group`` (the leader first); wake the others with their answers. None when the
        group failed and has more than the leader: each batch then runs alone (the others are woken to)."""
        others = group[1:]
        began, cpu = time.perf_counter(), time.thread_time()
        for waiting in group:
            QUEUED.observe(began - waiting.arrived)
        GROUP_SIZE.observe(len(group))
        try:
            answers = apply_batches([w.items for w in group])
            applied = time.perf_counter()
            # The leader thread's own CPU while applying: the rest of the wall time is the database, the other
            # threads holding the interpreter, and the machine's other processes.
            GROUP_PHASE.labels("apply_cpu").observe(time.thread_time() - cpu)
            commit(session)
            GROUP_PHASE.labels("apply").observe(applied - began)
            GROUP_PHASE.labels("commit").observe(time.perf_counter() - applied)
        except BaseException:
            session.rollback()
            for waiting in others:
                waiting.woken.set()
            if not others:
                raise
            return None
        for waiting, answer in zip(others, answers[1:], strict=True):
            waiting.answer, waiting.applied = answer, True
            waiting.woken.set()
        return answers[0]


# The process's queues: batches group only with batches of the same server process.
GROUPS = BatchGroups()
