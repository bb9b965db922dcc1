"""Listing statuses: the provisional code table of CF-50.5.1 and the transitions, in one place.

The real Alephee codes are not documented, so rows store the status *name*; the wire code comes from this
table and can be renumbered with ``ALEPHEE_LISTING_STATUS_CODES`` (JSON ``{"active": 1, ...}``) without
touching data. Transitions mirror Mercado Libre items (what the sandbox marketplaces accept).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from alephee.config import Settings

ACTIVE = "active"
PAUSED = "paused"
FINISHED = "finished"
UNDER_REVIEW = "under_review"
INACTIVE = "inactive"

# name → (default code, display name). CF-50.5.1 (inferred, provisional).
DEFAULT_TABLE: dict[str, tuple[int, str]] = {
    ACTIVE: (1, "Active"),
    PAUSED: (2, "Paused"),
    FINISHED: (3, "Finished"),
    UNDER_REVIEW: (4, "UnderReview"),
    INACTIVE: (5, "Inactive"),
}

# Who paused a listing, and why. The hub's own pauses (stock, no price) are undone when the cause goes away;
# a seller's pause (user) and the marketplace's are never undone automatically.
REASON_USER = "user"
REASON_STOCK = "stock"
REASON_MARKETPLACE = "marketplace"
# The product has no price in the listing's price list: never sellable (a marketplace would sell it for nothing).
REASON_NO_PRICE = "no_price"
AUTOMATIC_REASONS = frozenset({REASON_STOCK, REASON_NO_PRICE})


def automatic_pause_reason(*, priced: bool, publish_quantity: int) -> str | None:
    """Why the hub must keep a listing paused, or None when it may be active: no price first (it needs the
    seller's action), then nothing to publish."""
    if not priced:
        return REASON_NO_PRICE
    if publish_quantity <= 0:
        return REASON_STOCK
    return None


# Target statuses a client may request per current status (PUT update-status). Finished is final; listings
# under review or inactive are held by the marketplace and only closing them is accepted.
USER_TRANSITIONS: dict[str, frozenset[str]] = {
    ACTIVE: frozenset({PAUSED, FINISHED}),
    PAUSED: frozenset({ACTIVE, FINISHED}),
    UNDER_REVIEW: frozenset({FINISHED}),
    INACTIVE: frozenset({FINISHED}),
    FINISHED: frozenset(),
}
# Statuses a client may ask for at all (others are set by the marketplace only).
USER_TARGETS = frozenset({ACTIVE, PAUSED, FINISHED})
# Statuses whose listings still follow the product's stock and price.
FOLLOWS_CATALOG = frozenset({ACTIVE, PAUSED, UNDER_REVIEW, INACTIVE})


@dataclass(frozen=True, slots=True)
class StatusTable:
    """Codes and display names of the listing statuses for one configuration."""

    code_by_name: dict[str, int]
    name_by_code: dict[int, str]

    def code(self, name: str) -> int:
        """Wire code of a status name."""
        return self.code_by_name[name]

    def label(self, name: str) -> str:
        """Display name (``Status.Name``) of a status."""
        return DEFAULT_TABLE[name][1]

    def from_code(self, code: int) -> str | None:
        """Status name of a wire code, or None when unknown."""
        return self.name_by_code.get(code)


@cache
def _build(overrides: tuple[tuple[str, int], ...]) -> StatusTable:
    codes = {name: code for name, (code, _) in DEFAULT_TABLE.items()}
    for name, code in overrides:
        if name not in codes:
            raise ValueError(f"unknown listing status '{name}' in ALEPHEE_LISTING_STATUS_CODES")
        codes[name] = int(code)
    if len(set(codes.values())) != len(codes):
        raise ValueError("ALEPHEE_LISTING_STATUS_CODES gives two statuses the same code")
    return StatusTable(code_by_name=codes, name_by_code={c: n for n, c in codes.items()})


def table(settings: Settings) -> StatusTable:
    """The status table for ``settings`` (defaults merged with the configured codes)."""
    return _build(tuple(sorted((k.lower(), int(v)) for k, v in settings.listing_status_codes.items())))
