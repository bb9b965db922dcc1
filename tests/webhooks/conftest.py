"""Fixtures of the webhook tests: a real local receiver and the in-process worker harness."""

from tests.webhooks.helpers import hooks, receiver

__all__ = ["hooks", "receiver"]
