"""How long a row that failed waits before its next attempt (the outbox and the inbox of notifications)."""

from __future__ import annotations

import random

from alephee.config import Settings


def backoff_delay(settings: Settings, message_id: int, attempts: int) -> float:
    """Seconds to wait before attempt ``attempts + 1``: exponential, capped, with "equal jitter" (half fixed,
    half random) drawn from a generator seeded by (seed, row, attempt) so a run is reproducible."""
    exponent = min(max(attempts - 1, 0), 30)
    ceiling = min(settings.outbox_backoff_max_seconds, settings.outbox_backoff_base_seconds * (2**exponent))
    rng = random.Random(f"{settings.outbox_jitter_seed}:{message_id}:{attempts}")
    return ceiling / 2 + rng.random() * ceiling / 2
