"""The channel interface: registry, payload parsing (liberal in what it accepts), error classification."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from alephee.http.context import AppContext
from alephee.marketplaces import topics
from alephee.marketplaces.contract import (
    BaseChannel,
    Channel,
    ChannelContext,
    LocalChannel,
    MarketplaceRef,
    PermanentDeliveryError,
    TransientDeliveryError,
    UnknownConnector,
    UnsupportedOperation,
)
from alephee.marketplaces.registry import (
    get_channel,
    known_connectors,
    register_channel,
    shared_channel,
    unregister_channel,
)
from alephee.marketplaces.topics import deliver_topic, listing_push, listing_status_name
from alephee.sandbox.channel import SandboxChannel
from alephee.sync.calls import channel_for

REF = MarketplaceRef(id=100, name="Sandbox", family="mercadolibre", connector="sandbox", site_id="MLA")


def test_builtin_connectors_resolve_to_channels() -> None:
    sandbox = get_channel("sandbox")
    assert isinstance(sandbox, SandboxChannel) and isinstance(sandbox, Channel)
    assert sandbox.in_database is True
    assert isinstance(get_channel("b2b"), LocalChannel)
    assert {"sandbox", "b2b"} <= set(known_connectors())


def test_unknown_connector_is_a_permanent_error() -> None:
    with pytest.raises(UnknownConnector) as info:
        get_channel("mercadolibre-real")
    assert info.value.transient is False


def test_a_connector_is_one_registration() -> None:
    class Acme(BaseChannel):
        connector = "acme"

    previous = register_channel("acme", Acme)
    try:
        channel = get_channel("acme")
        assert isinstance(channel, Acme) and "acme" in known_connectors()
        # What the connector does not implement is a permanent "not supported", never a crash.
        with pytest.raises(UnsupportedOperation):
            deliver_topic(
                channel,
                ChannelContext(account_id=1, marketplace=REF),
                "order.split",
                {"order_id": 1, "split_reason_id": 1},
                1,
            )
        assert channel.pull_orders(ChannelContext(account_id=1, marketplace=REF), "7").cursor == "7"
    finally:
        unregister_channel("acme", previous)
    with pytest.raises(UnknownConnector):
        get_channel("acme")


def test_registered_object_must_implement_the_interface() -> None:
    previous = register_channel("broken", lambda: object())  # type: ignore[arg-type,return-value]
    try:
        with pytest.raises(UnknownConnector):
            get_channel("broken")
    finally:
        unregister_channel("broken", previous)


def test_error_classes_say_whether_to_retry() -> None:
    assert TransientDeliveryError("x").transient is True
    assert PermanentDeliveryError("x").transient is False
    assert UnsupportedOperation("x").transient is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "active"),
        ("2", "paused"),
        ("Finished", "closed"),
        ("finished", "closed"),
        ("UnderReview", "under_review"),
        ("under_review", "under_review"),
        ({"Key": 5, "Name": "Inactive"}, "inactive"),
        (" Active ", "active"),
    ],
)
def test_listing_status_accepts_codes_and_names(value: Any, expected: str) -> None:
    assert listing_status_name(value) == expected


@pytest.mark.parametrize("value", [0, 9, "sold", True, None, 1.5])
def test_bad_listing_status_is_permanent(value: Any) -> None:
    with pytest.raises(PermanentDeliveryError):
        listing_status_name(value)


def test_listing_payload_keys_are_case_and_underscore_insensitive() -> None:
    push = listing_push(
        {
            "ListingId": "7",
            "ExternalID": "MLA1",
            "SKU": "A-1",
            "Price": 10.5,
            "available_quantity": "3",
            "STATUS": 2,
            "changed": ["price"],
        }
    )
    assert push.listing_id == 7 and push.external_id == "MLA1" and push.sku == "A-1"
    assert push.price == Decimal("10.5") and push.quantity == 3 and push.status == "paused"
    assert push.extra == {"changed": ["price"]}
    # The row's aggregate id names the listing when the payload does not.
    assert listing_push({"price": "1"}, aggregate_id=9).listing_id == 9


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"listing_id": "x"},
        {"listing_id": 1, "price": "abc"},
        {"listing_id": 1, "price": "NaN"},
        {"listing_id": 1, "price": "-1"},
        {"listing_id": 1, "quantity": -2},
        {"listing_id": 1, "discount_percent": "100"},
        {"listing_id": 1, "discount_percent": "10", "discount_start": "next tuesday"},
    ],
)
def test_bad_listing_payloads_are_permanent(payload: dict[str, Any]) -> None:
    with pytest.raises(PermanentDeliveryError):
        listing_push(payload)


def test_order_status_tracking_flat_or_as_an_object() -> None:
    nested = topics.order_status_push(
        {"OrderId": 5, "Status": 20, "Tracking": {"Number": "T9", "Status": "in transit", "Method": "Andreani"}}
    )
    assert (nested.order.order_id, nested.status, nested.tracking_number) == (5, 20, "T9")
    assert (nested.tracking_status, nested.carrier) == ("in transit", "Andreani")
    flat = topics.order_status_push({"external_order_id": "2000", "tracking": "T1", "carrier": "OCA"}, 7)
    assert (flat.order.order_id, flat.order.external_order_id, flat.tracking_number, flat.carrier) == (
        7,
        "2000",
        "T1",
        "OCA",
    )
    assert topics.order_status_push({"OrderId": 5, "Status": 10, "Tracking": None}).tracking_number is None


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("order.status", {}),
        ("order.document", {"order_id": 1}),
        ("order.message", {"order_id": 1}),
        ("order.split", {"order_id": 1}),
        ("listing.status", {"listing_id": 1}),
        ("order.packaging", {"order_id": 1}),
        ("order.packaging", {"order_id": 1, "package_info": {}, "order_ids": 3}),
        ("catalog.reindex", {"x": 1}),
    ],
)
def test_incomplete_payloads_and_unknown_topics_are_permanent(topic: str, payload: dict[str, Any]) -> None:
    with pytest.raises(PermanentDeliveryError):
        # No aggregate id: the payload alone must name the order or listing.
        deliver_topic(LocalChannel(), ChannelContext(account_id=1, marketplace=REF), topic, payload, None)  # type: ignore[arg-type]


def test_channel_for_gives_the_sandbox_a_session(ctx: AppContext) -> None:
    with ctx.db.writing() as session:
        channel, call = channel_for(session, 100, account_id=1)
        assert isinstance(channel, SandboxChannel) and call.session is session
        assert call.marketplace.site_id == "MLA" and call.marketplace.family == "mercadolibre"
        with pytest.raises(PermanentDeliveryError):
            channel_for(session, 999_999, account_id=1)


def test_one_shared_instance_per_connector_until_a_registration_changes_it() -> None:
    first = shared_channel("sandbox")
    assert shared_channel("sandbox") is first and isinstance(first, SandboxChannel)
    replacement = SandboxChannel()
    previous = register_channel("sandbox", lambda: replacement)
    try:
        assert shared_channel("sandbox") is replacement
    finally:
        unregister_channel("sandbox", previous)
    assert shared_channel("sandbox") is not replacement
