"""The worker's loop records a round's delivered groups while its next round claims and sends
(``worker_record_behind``): every outcome is still recorded (the last round's before the loop returns), a
listing's newer change waits until the older one is recorded, and without the setting a round is recorded before
the next claim."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from alephee.http.context import AppContext
from alephee.marketplaces.delivery import DELIVERED, OutboxItem
from alephee.sync.worker import SentGroup, Worker
from tests.fixtures.marketplaces import put
from tests.marketplaces.test_worker import row
from tests.marketplaces.test_worker_batches import channel_of

WAIT = 10.0  # seconds a step waits for the other thread (never reached when the worker behaves)


class Rounds:
    """Counts the worker's claims, stops its loop after ``last`` of them, and remembers what each claim took
    and how many claims had ended when each group's recording began (``behind``: it first waits for the end of
    a next claim, so the test fails by a missing overlap, not by a hang)."""

    def __init__(self, worker: Worker, stop: threading.Event, *, last: int, behind: bool) -> None:
        self.claims: list[list[int]] = []
        self.at_record: list[int] = []
        self.next_claim = threading.Event()
        claim, record = worker.claim, worker._record_sent

        def counted_claim(batch: int) -> list[OutboxItem]:
            items = claim(batch)
            self.claims.append([item.aggregate_id for item in items])
            if len(self.claims) >= last:
                stop.set()
            if len(self.claims) > 1:
                self.next_claim.set()
            return items

        def watched_record(sent: SentGroup) -> list[str]:
            if behind:
                self.next_claim.wait(WAIT)
            self.at_record.append(len(self.claims))
            self.next_claim.clear()
            return record(sent)

        worker.claim = counted_claim  # type: ignore[method-assign]
        worker._record_sent = watched_record  # type: ignore[method-assign]


def run(worker: Worker, *, last: int, behind: bool) -> tuple[Rounds, Any]:
    stop = threading.Event()
    rounds = Rounds(worker, stop, last=last, behind=behind)
    return rounds, worker.run_forever(stop, interval=0.01)


def test_the_next_round_claims_while_the_last_one_is_recorded(
    ctx: AppContext, make_worker: Callable[..., Worker], use_channel: Callable[[str, Any], None]
) -> None:
    channel = channel_of(use_channel)
    ids = [put(ctx, aggregate_id=n) for n in (1, 2)]

    rounds, total = run(make_worker(), last=2, behind=True)

    assert channel.batches == [[1, 2]]
    # The first round's recording began once the second round had claimed.
    assert rounds.at_record == [2]
    assert (total.claimed, total.delivered) == (2, 2)
    assert all(row(ctx, i).status == DELIVERED for i in ids)


def test_a_newer_change_of_a_listing_waits_for_the_older_one_to_be_recorded(
    ctx: AppContext, make_worker: Callable[..., Worker], use_channel: Callable[[str, Any], None]
) -> None:
    newer: list[int] = []
    # Queued while the first change is in flight: not covered by it (read before the push), so sent on its own.
    channel = channel_of(use_channel, during=lambda: newer.append(put(ctx, aggregate_id=1)) if not newer else None)
    older = put(ctx, aggregate_id=1)

    rounds, total = run(make_worker(), last=3, behind=True)

    # The second claim ran while the first change was being recorded: it left the newer change for later.
    assert rounds.claims[:3] == [[1], [], [1]]
    assert channel.batches == [[1], [1]]
    assert (total.claimed, total.delivered) == (2, 2)
    assert row(ctx, older).delivered_at <= row(ctx, newer[0]).delivered_at
    assert row(ctx, newer[0]).status == DELIVERED


def test_the_last_round_is_recorded_before_the_loop_returns(
    ctx: AppContext, make_worker: Callable[..., Worker], use_channel: Callable[[str, Any], None]
) -> None:
    channel_of(use_channel)
    only = put(ctx, aggregate_id=1)

    rounds, total = run(make_worker(), last=1, behind=False)

    assert rounds.claims == [[1]]
    assert total.delivered == 1
    assert row(ctx, only).status == DELIVERED


def test_without_the_setting_a_round_is_recorded_before_the_next_claim(
    ctx: AppContext, make_worker: Callable[..., Worker], use_channel: Callable[[str, Any], None]
) -> None:
    channel_of(use_channel)
    only = put(ctx, aggregate_id=1)

    rounds, total = run(make_worker(worker_record_behind=False), last=2, behind=False)

    assert rounds.at_record == [1]
    assert total.delivered == 1
    assert row(ctx, only).status == DELIVERED
