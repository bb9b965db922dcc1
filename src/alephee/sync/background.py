"""One job at a time in a thread of its own, its result collected later: how the worker's loop overlaps a step
with the next round (recording a round's deliveries behind the next one, reading the inbox's next batch ahead)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")


class Behind(Generic[T]):
    """At most one job in flight; ``take`` waits for it and returns its result (its failure is raised there)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future[T] | None = None

    def start(self, job: Callable[[], T]) -> None:
        """Run ``job`` in the thread; the job before it must have been taken."""
        assert self._pending is None, "the job before must be taken first"
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix=self._name)
        self._pending = self._pool.submit(job)

    def take(self) -> T | None:
        """Wait for the job in flight, if any, and return its result (None when there is none)."""
        pending, self._pending = self._pending, None
        return pending.result() if pending is not None else None

    def close(self) -> None:
        """Stop the thread (after the job in flight, which the caller should have taken)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
