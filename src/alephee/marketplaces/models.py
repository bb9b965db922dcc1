"""The catalogue of marketplace channels (loaded from a data file, ids configurable: spec 00 §4.3)."""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from alephee.db import Base


class Marketplace(Base):
    """One sales channel the hub knows (e.g. Mercado Libre Argentina, Amazon, the sandbox)."""

    __tablename__ = "marketplaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(120))
    # The `Channel` label shown next to the marketplace in orders (`MarketPlace.Channel`).
    channel: Mapped[str] = mapped_column(String(60))
    # Which channel rules apply: mercadolibre, amazon, shopee, b2w, ecomm, b2b, other.
    family: Mapped[str] = mapped_column(String(30))
    # Mercado Libre site prefix of external ids (MLA, MLB, ...), when there is one.
    site_id: Mapped[str | None] = mapped_column(String(8))
    country_id: Mapped[str | None] = mapped_column(String(2))
    # Which connector delivers to it: "sandbox" (built-in simulator) or "none" (no connector yet).
    connector: Mapped[str] = mapped_column(String(30), default="none")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
