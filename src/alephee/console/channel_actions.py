"""What the console's channels page does to a connection: start the OAuth flow of the channel's connector (the
state remembers the console page to come back to), disconnect it, and catch up with the marketplace ("sync
now": what ``alephee channel sync`` runs, started after the answer is sent, never inside a transaction)."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from alephee.channels import backstop, connections
from alephee.channels.models import CONNECTED
from alephee.clock import utcnow
from alephee.config import Settings
from alephee.db import Database
from alephee.errors import InvalidInput
from alephee.http.i18n import N_
from alephee.marketplaces.models import Marketplace

log = logging.getLogger("alephee.console")


class NotConnectable(InvalidInput):
    """The marketplace's channel is not linked through an authorization (the sandbox, or no connector)."""

    message = N_("This channel is not connected through an authorization")


class NotConnected(InvalidInput):
    """Sync asked of a channel that is not connected."""

    message = N_("This channel is not connected")


def connector_of(session: Session, marketplace_id: int) -> str:
    """The connector serving the marketplace (``NotConnectable`` when none links by authorization)."""
    marketplace = session.get(Marketplace, marketplace_id)
    if marketplace is None or marketplace.connector not in connections.AUTHORIZERS:
        raise NotConnectable()
    return marketplace.connector


def start_connect(session: Session, settings: Settings, account_id: int, marketplace_id: int, return_to: str) -> str:
    """Record an authorization attempt for the account's marketplace and return the URL the seller opens."""
    connector_of(session, marketplace_id)
    return connections.start_authorization(session, settings, account_id, marketplace_id, return_to=return_to)


def disconnect(session: Session, account_id: int, marketplace_id: int) -> None:
    """Forget the connection's tokens (as ``alephee channel disconnect``)."""
    connections.check_target(session, account_id, marketplace_id, connector_of(session, marketplace_id))
    connections.disconnect(session, account_id, marketplace_id, now=utcnow(), reason=None)


def check_syncable(session: Session, account_id: int, marketplace_id: int) -> None:
    """Refuse "sync now" unless the account's marketplace has a connected link."""
    row = connections.connection_of(session, account_id, marketplace_id)
    if row.status != CONNECTED:
        raise NotConnected()


def sync_later(db: Database, settings: Settings, account_id: int, marketplace_id: int) -> None:
    """Run ``alephee channel sync`` for the pair (called after the answer was sent). Its outcome is stamped on
    the connection (last sync, or last error), where the channels page shows it; nothing is raised."""
    try:
        backstop.sync_channel(db, settings, account_id, marketplace_id)
    except Exception:  # the connection's last error already says why; keep the log line for the operator
        log.warning("sync of account %s marketplace %s failed", account_id, marketplace_id, exc_info=True)
