"""``alephee demo``: the demo tenant."""

from __future__ import annotations

from typing import Annotated

import typer

from alephee.cli.common import emit, session_scope
from alephee.config import Settings


def demo(
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Only create it when there is no account yet.")] = False,
) -> None:
    """Create (idempotently) the demo tenant; prints ``{"AccountId": n, "ApiKey": "..."}``."""
    from sqlalchemy import func, select

    from alephee.accounts.models import Account
    from alephee.demo import ensure_demo, find_demo_account

    settings = Settings()
    with session_scope(settings) as session:
        if if_empty and (session.scalar(select(func.count()).select_from(Account)) or 0) > 0:
            existing = find_demo_account(session)
            if existing is None:
                emit({"Status": "skipped", "Message": "the database already has accounts"})
                return
        result = ensure_demo(session, settings)
        emit({"AccountId": result.account_id, "ApiKey": result.api_key, "Created": result.created})
