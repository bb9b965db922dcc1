"""``alephee channel category``: an account maps the hub's product categories to a marketplace's categories
(``set``, ``list``, ``delete``); ``mapped_category`` is what a connector asks. Cached predictions are listed but
only removed when named."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from alephee.channels import categories
from alephee.channels.models import ChannelCategoryMapping
from alephee.clock import utcnow
from alephee.http.context import AppContext
from tests.fixtures.tenants import Tenant

HIDRO = "Herramientas > Hidrolavadoras"


def _error(result: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(result.stderr)
    assert set(body) == {"Status", "Message"}
    return body


def test_set_list_delete(cli: Callable[..., Any], make_tenant: Callable[..., Tenant]) -> None:
    tenant = make_tenant(marketplaces=(1, 100))
    account = str(tenant.account_id)
    row = cli(
        "channel", "category", "set", "--account", account, "--marketplace", "1",
        "--category", HIDRO, "--external", "MLA30840", "--name", "Hidrolavadoras",
    )  # fmt: skip
    assert set(row) == {
        "MarketplaceId",
        "Category",
        "ExternalCategoryId",
        "ExternalCategoryName",
        "Source",
        "UpdatedAt",
    }
    assert (row["Category"], row["ExternalCategoryId"], row["ExternalCategoryName"], row["Source"]) == (
        HIDRO,
        "MLA30840",
        "Hidrolavadoras",
        "seller",
    )
    assert row["UpdatedAt"].endswith("Z") and "." not in row["UpdatedAt"]
    # Setting it again replaces the choice; spaces in the category and the id's case do not matter.
    again = cli(
        "channel", "category", "set", "--account", account, "--marketplace", "1",
        "--category", "  Herramientas >  Hidrolavadoras", "--external", "mla1234",
    )  # fmt: skip
    assert (again["Category"], again["ExternalCategoryId"], again["ExternalCategoryName"]) == (HIDRO, "MLA1234", None)
    cli(
        "channel", "category", "set", "--account", account, "--marketplace", "100",
        "--category", "Jardín", "--external", "MLA5000",
    )  # fmt: skip
    listed = cli("channel", "category", "list", "--account", account)
    assert [(r["MarketplaceId"], r["Category"], r["ExternalCategoryId"]) for r in listed] == [
        (1, HIDRO, "MLA1234"),
        (100, "Jardín", "MLA5000"),
    ]
    only = cli("channel", "category", "list", "--account", account, "--marketplace", "100")
    assert [r["Category"] for r in only] == ["Jardín"]
    gone = cli("channel", "category", "delete", "--account", account, "--marketplace", "1", "--category", HIDRO)
    assert (gone["Category"], gone["ExternalCategoryId"]) == (HIDRO, "MLA1234")
    assert [r["Category"] for r in cli("channel", "category", "list", "--account", account)] == ["Jardín"]
    missing = cli(
        "channel", "category", "delete", "--account", account, "--marketplace", "1", "--category", HIDRO, ok=False
    )
    assert _error(missing)["Status"] == 404


@pytest.mark.parametrize(
    ("marketplace", "category", "external", "status", "fragment"),
    [
        ("1", HIDRO, "MLB30840", 400, "is not a category of site MLA: expected MLA followed by digits"),
        ("1", HIDRO, "MLA30840X", 400, "is not a category of site MLA"),
        ("1", HIDRO, "30840", 400, "is not a category of site MLA"),
        ("20", HIDRO, "two words", 400, "one word of at most 40 characters"),
        ("1", "   ", "MLA30840", 400, "The category must be 1 to 300 characters"),
        ("1", "title:hidrolavadora", "MLA30840", 400, "must not start with 'title:'"),
        ("1", "c" * 301, "MLA30840", 400, "The category must be 1 to 300 characters"),
        ("2", HIDRO, "MLB30840", 400, "is not linked to marketplace 2"),
        ("999", HIDRO, "MLA30840", 404, "999"),
    ],
    ids=["other-site", "suffix", "no-site", "spaces", "blank", "reserved", "long", "not-linked", "no-marketplace"],
)
def test_set_refusals(
    cli: Callable[..., Any],
    make_tenant: Callable[..., Tenant],
    marketplace: str,
    category: str,
    external: str,
    status: int,
    fragment: str,
) -> None:
    tenant = make_tenant(marketplaces=(1, 20))
    result = cli(
        "channel", "category", "set", "--account", str(tenant.account_id), "--marketplace", marketplace,
        "--category", category, "--external", external, ok=False,
    )  # fmt: skip
    body = _error(result)
    assert body["Status"] == status and fragment in body["Message"], body
    assert cli("channel", "category", "list", "--account", str(tenant.account_id)) == []


def test_unknown_account(cli: Callable[..., Any]) -> None:
    result = cli("channel", "category", "list", "--account", "987654", ok=False)
    assert _error(result)["Status"] == 404


def test_other_marketplaces_take_one_word_ids(cli: Callable[..., Any], make_tenant: Callable[..., Tenant]) -> None:
    tenant = make_tenant(marketplaces=(20,))
    row = cli(
        "channel", "category", "set", "--account", str(tenant.account_id), "--marketplace", "20",
        "--category", HIDRO, "--external", "tools-pressure_washers",
    )  # fmt: skip
    assert row["ExternalCategoryId"] == "tools-pressure_washers"


def test_mapped_category_and_predictions(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    tenant = make_tenant(marketplaces=(1,))
    other = make_tenant(marketplaces=(1,))
    prediction = "title:hidrolavadora karcher k2"
    with ctx.db.writing() as session:
        categories.set_mapping(session, tenant.account_id, 1, HIDRO, "MLA30840", "Hidrolavadoras")
        session.add(
            ChannelCategoryMapping(
                account_id=tenant.account_id,
                marketplace_id=1,
                category=prediction,
                external_category_id="MLA1000",
                external_category_name="Lavadoras",
                source=categories.PREDICTED,
                updated_at=utcnow(),
            )
        )
    with ctx.db.reading() as session:
        assert categories.mapped_category(session, tenant.account_id, 1, "Herramientas >   Hidrolavadoras ") == (
            "MLA30840",
            "Hidrolavadoras",
        )
        assert categories.mapped_category(session, tenant.account_id, 1, prediction) == ("MLA1000", "Lavadoras")
        assert categories.mapped_category(session, tenant.account_id, 1, "Jardín") is None
        assert categories.mapped_category(session, tenant.account_id, 1, "  ") is None
        assert categories.mapped_category(session, tenant.account_id, 2, HIDRO) is None
        assert categories.mapped_category(session, other.account_id, 1, HIDRO) is None
        listed = categories.list_mappings(session, tenant.account_id)
    assert [(r["Category"], r["Source"]) for r in listed] == [(HIDRO, "seller"), (prediction, "predicted")]
    # Deleting the seller's choice leaves the prediction; a prediction goes only when named.
    with ctx.db.writing() as session:
        categories.delete_mapping(session, tenant.account_id, 1, HIDRO)
        assert [r["Source"] for r in categories.list_mappings(session, tenant.account_id, 1)] == ["predicted"]
        categories.delete_mapping(session, tenant.account_id, 1, prediction)
        assert categories.list_mappings(session, tenant.account_id, 1) == []
