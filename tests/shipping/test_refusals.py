"""Every refusal of the shipping section is a named error with its exact message, raised by the rule that
owns it (no HTTP, no database)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from alephee.config import Settings
from alephee.errors import DomainError, InvalidInput
from alephee.shipping import addressing, packaging, transportation, values
from alephee.shipping.schemas import PackInfoIn

SETTINGS = Settings(_env_file=None)  # type: ignore[call-arg]
GOOD: dict[str, Any] = {
    "UnitType": 1,
    "Quantity": 1,
    "Dimensions": {"MeasureType": 2, "Height": 10, "Width": 20, "Depth": 30},
    "Weight": {"MeasureType": 1, "Gross": 2, "Liquid": 1},
}


def pack(**changes: Any) -> Callable[[], object]:
    """Parsing GOOD with some top-level or ``Group.Name`` values replaced."""
    body = {k: dict(v) if isinstance(v, dict) else v for k, v in GOOD.items()}
    for path, value in changes.items():
        group, _, name = path.partition("__")
        if name:
            body[group][name] = value
        else:
            body[group] = value
    return lambda: packaging.parse_pack_info(PackInfoIn.model_validate(body), SETTINGS)


CASES: list[tuple[str, Callable[[], object], type[DomainError], str]] = [
    (
        "url id not a number",
        lambda: addressing.parse_order_id("abc"),
        addressing.OrderIdInvalid,
        "orderId must be an integer",
    ),
    (
        "no order id anywhere",
        lambda: addressing.resolve_order_id(None, None),
        addressing.OrderIdRequired,
        "orderId is required (in the path or the query string)",
    ),
    (
        "body id not a number",
        lambda: addressing.resolve_order_id(5, "x"),
        values.NotAnInteger,
        "OrderId must be an integer",
    ),
    (
        "body id names another order",
        lambda: addressing.resolve_order_id(5, 6),
        addressing.OrderIdMismatch,
        "OrderId in the body (6) does not match the orderId of the URL (5)",
    ),
    ("unit type missing", pack(UnitType=None), values.FieldRequired, "UnitType is required"),
    (
        "unit type unknown",
        pack(UnitType=9),
        values.CodeInvalid,
        "Invalid UnitType 9: use 1 (Boxes), 2 (Units), 3 (Pallets), 4 (Containers)",
    ),
    ("quantity not an integer", pack(Quantity="x"), values.NotAnInteger, "Quantity must be an integer"),
    ("quantity zero", pack(Quantity=0), values.NotPositive, "Quantity must be greater than 0"),
    (
        "quantity over the cap",
        pack(Quantity=SETTINGS.shipping_max_package_quantity + 1),
        values.ValueTooLarge,
        f"Quantity must be at most {SETTINGS.shipping_max_package_quantity}",
    ),
    ("height not a number", pack(Dimensions__Height="tall"), values.NotANumber, "Dimensions.Height must be a number"),
    ("height zero", pack(Dimensions__Height=0), values.NotPositive, "Dimensions.Height must be greater than 0"),
    ("net weight negative", pack(Weight__Liquid=-1), values.NegativeValue, "Weight.Liquid must be 0 or greater"),
    (
        "net over gross",
        pack(Weight__Gross=1, Weight__Liquid=2),
        packaging.NetOverGross,
        "Weight.Liquid (net weight, 2) cannot be greater than Weight.Gross (1)",
    ),
    (
        "container zero",
        lambda: transportation.parse_container(0),
        transportation.ContainerInvalid,
        "Transport.Container must be an integer between 1 and 2147483647",
    ),
    (
        "mode unknown",
        lambda: transportation.parse_mode("Rocket"),
        transportation.TransportModeInvalid,
        "Invalid Transport.Mode 'Rocket': use ",
    ),
]


@pytest.mark.parametrize(("case", "call", "error", "message"), CASES, ids=[c[0] for c in CASES])
def test_each_refusal_is_named_and_keeps_its_message(
    case: str, call: Callable[[], object], error: type[DomainError], message: str
) -> None:
    with pytest.raises(error) as info:
        call()
    assert info.value.status == 400
    assert isinstance(info.value, InvalidInput)
    # Messages with a listed table are checked up to the list (the table has its own tests).
    assert info.value.message == message or (message.endswith("use ") and info.value.message.startswith(message))


def test_mode_id_and_name_naming_different_modes() -> None:
    with pytest.raises(transportation.TransportModeMismatch) as info:
        transportation.parse_mode({"Id": 1, "Name": "Maritime"})
    assert info.value.message.startswith("Transport.Mode.Id 1 and Transport.Mode.Name 'Maritime'")


def test_order_not_found_is_a_404() -> None:
    assert addressing.OrderNotFound().status == 404
    assert addressing.OrderNotFound().message == addressing.OrderNotFound.message
