"""The registry of channel connectors: which ``Channel`` serves a ``Marketplace.connector`` name.

Built-in connectors are imported on first use; others register at import (``register_channel``) or are
published as ``alephee.channels`` entry points.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib import import_module
from importlib.metadata import entry_points

from sqlalchemy.orm import Session

from alephee.marketplaces.contract import Channel, MarketplaceRef, PermanentDeliveryError, UnknownConnector
from alephee.marketplaces.models import Marketplace

# --- registry -------------------------------------------------------------------------------------------

ChannelFactory = Callable[[], Channel]

# connector name → "module:attribute" of a Channel class (or factory), imported on first use so that a
# connector's dependencies are only loaded when a marketplace uses it.
BUILTIN_CHANNELS: dict[str, str] = {
    "sandbox": "alephee.sandbox.channel:SandboxChannel",
    "b2b": "alephee.marketplaces.contract:LocalChannel",
    "api": "alephee.marketplaces.contract:ApiChannel",
    "mercadolibre": "alephee.channels.mercadolibre.channel:MercadoLibreChannel",
    "tiendanube": "alephee.channels.tiendanube.channel:TiendanubeChannel",
}
ENTRY_POINT_GROUP = "alephee.channels"

_registered: dict[str, ChannelFactory] = {}
# One instance per connector for the whole process (``shared_channel``); a registration changes what a
# connector resolves to, so it empties the cache.
_shared: dict[str, Channel] = {}
_lock = threading.Lock()


def register_channel(connector: str, factory: ChannelFactory) -> ChannelFactory | None:
    """Make ``connector`` resolve to ``factory()``; returns the factory it replaces (tests restore it)."""
    with _lock:
        previous = _registered.get(connector)
        _registered[connector] = factory
        _shared.clear()
        return previous


def unregister_channel(connector: str, previous: ChannelFactory | None = None) -> None:
    """Undo ``register_channel`` (restoring ``previous`` when given)."""
    with _lock:
        if previous is None:
            _registered.pop(connector, None)
        else:
            _registered[connector] = previous
        _shared.clear()


def _load(target: str) -> ChannelFactory:
    module, _, attribute = target.partition(":")
    factory: ChannelFactory = getattr(import_module(module), attribute)
    return factory


def _resolve(connector: str) -> ChannelFactory | None:
    with _lock:
        factory = _registered.get(connector)
    if factory is not None:
        return factory
    if connector in BUILTIN_CHANNELS:
        return _load(BUILTIN_CHANNELS[connector])
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == connector:
            loaded: ChannelFactory = entry.load()
            return loaded
    return None


def get_channel(connector: str) -> Channel:
    """A channel instance for ``connector`` (``Marketplace.connector``); ``UnknownConnector`` if none."""
    factory = _resolve(connector)
    if factory is None:
        raise UnknownConnector(f"no channel is registered for connector '{connector}'")
    channel = factory()
    if not isinstance(channel, Channel):
        raise UnknownConnector(f"connector '{connector}' does not implement the Channel interface")
    return channel


def shared_channel(connector: str) -> Channel:
    """The process's one instance of ``connector``'s channel (its connection pools are shared by every caller:
    the worker's senders and readers, the label route); ``UnknownConnector`` if none."""
    with _lock:
        found = _shared.get(connector)
    if found is not None:
        return found
    channel = get_channel(connector)
    with _lock:
        return _shared.setdefault(connector, channel)


def has_channel(connector: str | None) -> bool:
    """Whether a channel is registered for ``connector`` (built in, ``register_channel`` or an entry point):
    the one test of "this marketplace has a connector". Catalogue entries name the connector that serves them
    (``mercadolibre``, ``amazon``, ...) whether or not it exists yet, so a connector that registers later
    makes its marketplaces usable without touching the catalogue."""
    if not connector:
        return False
    return _resolve(connector) is not None


def known_connectors() -> list[str]:
    """Every connector name that resolves (registered, built in, or installed as an entry point)."""
    names = set(BUILTIN_CHANNELS) | set(_registered)
    names |= {entry.name for entry in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(names)


def marketplace_ref(session: Session, marketplace_id: int) -> MarketplaceRef:
    """The catalogue entry of a marketplace; ``PermanentDeliveryError`` when it is unknown or inactive."""
    row = session.get(Marketplace, marketplace_id)
    if row is None:
        raise PermanentDeliveryError(f"marketplace {marketplace_id} is not in the catalogue")
    if not row.active:
        raise PermanentDeliveryError(f"marketplace {marketplace_id} is not active")
    return MarketplaceRef(
        id=row.id,
        name=row.name,
        family=row.family,
        connector=row.connector,
        site_id=row.site_id,
        country_id=row.country_id,
    )
