"""Typed dependencies of the routes, written once (``Annotated`` aliases).

A route says what it needs by type: ``session: WriteSession`` (the request's transaction, committed before the
response is sent), ``session: ReadSession``, ``ctx: Context``; the caller's scope comes from
``accounts.auth`` (``Account``, ``PathAccount``, ``Key``). Each alias carries the dependency, its scope and its
documentation, so the same ``Depends(...)`` is not repeated on every route.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio.to_thread
from fastapi import Depends
from sqlalchemy.orm import Session

from alephee.http.context import AppContext, get_context


async def read_session(ctx: AppContext = Depends(get_context)) -> AsyncIterator[Session]:
    """A read-only session for the request.

    Async on purpose: creating a session does no I/O (it connects on its first query, in the route's worker
    thread), so FastAPI needs no worker thread to open it; closing one that still holds a connection does.
    """
    session = ctx.db.read_session()
    try:
        yield session
    finally:
        await _close(session, rollback=False)


async def write_session(ctx: AppContext = Depends(get_context)) -> AsyncIterator[Session]:
    """The request's one transaction: committed when the route returns, rolled back when it raises.

    Services only ``flush()``; this dependency (like the CLI's ``session_scope`` and the worker's loop) owns the
    transaction. Declare it with ``scope="function"`` (the ``WriteSession`` alias of ``http.deps`` does), so the
    commit happens before the response is sent: a client never reads 200 for a write that did not commit.
    """
    session = ctx.db.write_session()
    try:
        yield session
    except BaseException:
        await _close(session, rollback=True)
        raise
    if session.in_transaction():
        await anyio.to_thread.run_sync(_commit_and_close, session)
    else:
        session.close()


def commit_now(session: Session) -> None:
    """Commit the request's transaction in the route's own worker thread, before the route returns (the
    dependency then only closes the session). For routes that hold row locks other requests queue on: the
    dependency's commit runs only once the event loop has taken the route's return and handed the commit to
    another worker thread, and on a busy server every step of that hand-over holds the locks longer. A failed
    commit raises from the route, which rolls back as any error does."""
    session.commit()


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


async def _close(session: Session, *, rollback: bool) -> None:
    if not session.in_transaction():
        session.close()  # no connection held: nothing to send to the database
        return

    def close() -> None:
        if rollback:
            session.rollback()
        session.close()

    await anyio.to_thread.run_sync(close)


Context = Annotated[AppContext, Depends(get_context)]
ReadSession = Annotated[Session, Depends(read_session)]
WriteSession = Annotated[Session, Depends(write_session, scope="function")]
