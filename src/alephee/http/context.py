"""What a running hub holds: settings, database, rate limiter. One per app (or per CLI command)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from alephee.config import Settings
from alephee.db import Database
from alephee.http.ratelimit import RateLimiter


@dataclass
class AppContext:
    """Shared, process-wide objects; created by ``create_app`` and reachable from every request."""

    settings: Settings
    db: Database
    limiter: RateLimiter

    @classmethod
    def build(cls, settings: Settings) -> AppContext:
        """Create the engines and the limiter for ``settings``."""
        return cls(settings=settings, db=Database(settings), limiter=RateLimiter(settings))


async def get_context(request: Request) -> AppContext:
    """FastAPI dependency: the app's context (async: it does no I/O, so it needs no worker thread)."""
    ctx: AppContext = request.app.state.ctx
    return ctx
