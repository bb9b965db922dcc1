"""The item as the marketplace last showed it, kept on the listing: the newer version wins, an empty state
forgets it, and a notification's listing state carries it in (``apply_state``)."""

from __future__ import annotations

from alephee.listings.marketplace_state import keep_state
from alephee.listings.models import Listing

OLD = {"version": "2026-12-04T13:00:00.000000+00:00", "id": "MLA1", "available_quantity": 5}
NEW = {"version": "2026-12-04T13:00:01.000000+00:00", "id": "MLA1", "available_quantity": 3}


def test_the_newer_version_wins_and_an_empty_state_forgets() -> None:
    listing = Listing(marketplace_state=None)
    assert keep_state(listing, None) is False and listing.marketplace_state is None
    assert keep_state(listing, OLD) is True and listing.marketplace_state == OLD
    assert keep_state(listing, NEW) is True and listing.marketplace_state == NEW
    # A notification read before the push but applied after it brings no older state back.
    assert keep_state(listing, OLD) is False and listing.marketplace_state == NEW
    assert keep_state(listing, NEW) is False
    assert keep_state(listing, {}) is True and listing.marketplace_state == {}
    assert keep_state(listing, {}) is False
    assert keep_state(listing, OLD) is True and listing.marketplace_state == OLD
