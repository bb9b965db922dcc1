"""The local Mercado Libre for contract tests: a stand-in on a fresh SQLite file with three sellers (two in MLA,
one in MLB), served alone over a TestClient, with a token for each seller and a valid item body."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alephee.channels.mercadolibre.standin.app import MercadoLibreStandIn, create_app
from alephee.channels.mercadolibre.standin.auth import StandInSeller

SELLER = StandInSeller()
OTHER = StandInSeller(id=241461055, nickname="OTHERSELLER")
BRAZIL = StandInSeller(id=241461056, nickname="BRSELLER", site_id="MLB", country_id="BR")


def item_body(**overrides: Any) -> dict[str, Any]:
    """A ``POST /items`` body Mercado Libre accepts (§3.1's example)."""
    body: dict[str, Any] = {
        "title": "Item de test - No Ofertar",
        "category_id": "MLA3530",
        "price": 350,
        "currency_id": "ARS",
        "available_quantity": 10,
        "buying_mode": "buy_it_now",
        "condition": "new",
        "listing_type_id": "gold_special",
        "pictures": [{"source": "http://pictures.example/968521-MLA.jpg"}],
        "attributes": [{"id": "BRAND", "value_name": "Marca"}, {"id": "SELLER_SKU", "value_name": "SKU-1"}],
        "shipping": {"mode": "me2", "local_pick_up": False, "free_shipping": False, "free_methods": []},
    }
    return body | overrides


@dataclass
class StandIn:
    """The stand-in, its HTTP client and a bearer header per seller."""

    standin: MercadoLibreStandIn
    api: TestClient
    path: Path

    def headers(self, seller: StandInSeller = SELLER, **extra: str) -> dict[str, str]:
        """``Authorization: Bearer`` with a fresh token of ``seller``."""
        token = self.standin.issue_token(seller.id)["access_token"]
        return {"Authorization": f"Bearer {token}"} | extra

    def item(self, seller: StandInSeller = SELLER, **overrides: Any) -> dict[str, Any]:
        """An item published through the Python API."""
        if seller.site_id == "MLB":
            overrides = {"category_id": "MLB3530", "currency_id": "BRL"} | overrides
        return self.standin.create_item(item_body(**overrides), seller.id)


def open_standin(path: Path, **options: Any) -> MercadoLibreStandIn:
    """A stand-in on ``path`` with the three test sellers."""
    return MercadoLibreStandIn(path, client_id="5503910054141466", sellers=[SELLER, OTHER, BRAZIL], **options)


@pytest.fixture
def ml(tmp_path: Path) -> Iterator[StandIn]:
    """A stand-in served alone, without notifications pushed."""
    path = tmp_path / "ml.sqlite3"
    standin = open_standin(path)
    with TestClient(create_app(standin)) as api:
        yield StandIn(standin, api, path)
    standin.close()
