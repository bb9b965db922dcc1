"""The one source of "now" for the hub, so tests (and the sandbox) can move time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_offset = timedelta(0)
_frozen: datetime | None = None


def utcnow() -> datetime:
    """The current UTC time, aware, with whole seconds (the wire format has no fractions)."""
    base = _frozen if _frozen is not None else datetime.now(UTC) + _offset
    return base.replace(microsecond=0)


def precise_utcnow() -> datetime:
    """The current UTC time with microseconds (for ordering and expiry checks)."""
    return _frozen if _frozen is not None else datetime.now(UTC) + _offset


@contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """Freeze the clock at ``at`` inside the block (tests)."""
    global _frozen
    previous = _frozen
    _frozen = at
    try:
        yield
    finally:
        _frozen = previous


def advance(delta: timedelta) -> None:
    """Move the process clock forward (tests and the sandbox's simulated time)."""
    global _offset, _frozen
    if _frozen is not None:
        _frozen = _frozen + delta
    else:
        _offset += delta


def reset() -> None:
    """Back to real time."""
    global _offset, _frozen
    _offset = timedelta(0)
    _frozen = None
