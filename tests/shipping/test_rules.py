"""The shipping code tables and validation rules, without HTTP or a database: every code of
CF-30.E1/CF-30.E2/CF-30.E3/CF-30.E6 accepted and its neighbours refused, numbers checked and rounded, logistic
types (E4, flex-turbo included) deciding labels, automatic status updates, packaging forwarding and handling
deadlines."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from alephee.config import Settings
from alephee.errors import InvalidInput
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.shipping import addressing, packaging, transportation
from alephee.shipping.schemas import PackInfoIn

SETTINGS = Settings(_env_file=None)  # type: ignore[call-arg]
BASE: dict[str, Any] = {
    "UnitType": 1,
    "Quantity": 1,
    "Dimensions": {"MeasureType": 2, "Height": 10, "Width": 20, "Depth": 30},
    "Weight": {"MeasureType": 1, "Gross": 2, "Liquid": 1},
}
# Values no code table accepts.
NEIGHBOURS: list[Any] = [-1, 0, 1.5, "x", "", True, False, [], {}, 10**30, "1e2"]


def parse(body: dict[str, Any]) -> dict[str, Any]:
    return packaging.parse_pack_info(PackInfoIn.model_validate(body), SETTINGS)


def with_value(path: str, value: Any) -> dict[str, Any]:
    body = {k: dict(v) if isinstance(v, dict) else v for k, v in BASE.items()}
    if "." in path:
        group, name = path.split(".")
        body[group][name] = value
    else:
        body[path] = value
    return body


def refused(path: str, value: Any) -> str:
    with pytest.raises(InvalidInput) as info:
        parse(with_value(path, value))
    return info.value.message


# --- code tables ------------------------------------------------------------------------------------------------

CODE_FIELDS = [
    ("UnitType", ship.UNIT_TYPES, {1: "Boxes", 2: "Units", 3: "Pallets", 4: "Containers"}),
    (
        "Dimensions.MeasureType",
        ship.LENGTH_UNITS,
        {1: "Millimeters", 2: "Centimeters", 3: "Meters", 4: "Kilometers", 5: "Inches"},
    ),
    ("Weight.MeasureType", ship.WEIGHT_UNITS, {1: "Kilograms", 2: "Tons", 3: "Grams"}),
]


@pytest.mark.parametrize(("path", "table", "spec"), CODE_FIELDS, ids=[f[0] for f in CODE_FIELDS])
def test_code_tables_are_the_specs(path: str, table: dict[int, str], spec: dict[int, str]) -> None:
    assert table == spec


@pytest.mark.parametrize(("path", "table"), [(f[0], f[1]) for f in CODE_FIELDS], ids=[f[0] for f in CODE_FIELDS])
def test_every_code_accepted_and_neighbours_refused(path: str, table: dict[int, str]) -> None:
    group, _, name = path.rpartition(".")
    for code in table:
        for spelling in (code, str(code), float(code)):
            stored = parse(with_value(path, spelling))
            assert (stored[group][name] if group else stored[name]) == code
    for value in [*NEIGHBOURS, max(table) + 1, min(table) - 1]:
        message = refused(path, value)
        assert path in message and "use 1 (" in message, message
    assert refused(path, None) == f"{path} is required"


def test_measure_types_are_not_interchangeable() -> None:
    # 4 and 5 are lengths (km, in), not masses: the same property name has two tables.
    for code in (4, 5):
        parse(with_value("Dimensions.MeasureType", code))
        assert "Weight.MeasureType" in refused("Weight.MeasureType", code)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), ("x", None), ({"Id": 2}, 2), ({"name": "AERIAL"}, 2), ("maritime", 3), ("3", 3), ({"Id": 1.0}, 1)],
)
def test_transport_mode_spellings(value: Any, expected: int | None) -> None:
    if expected is None:
        with pytest.raises(InvalidInput):
            transportation.parse_mode(value)
    else:
        assert transportation.parse_mode(value) == expected


def test_transport_modes_and_neighbours() -> None:
    assert ship.TRANSPORT_MODES == {1: "terrestrial", 2: "aerial", 3: "maritime"}
    for code, name in ship.TRANSPORT_MODES.items():
        assert transportation.parse_mode({"Id": code, "Name": name}) == code
    for value in [*NEIGHBOURS, 4, {"Id": 4}, {"Name": "rail"}, {}, {"Id": True}]:
        with pytest.raises(InvalidInput):
            transportation.parse_mode(value)
    with pytest.raises(InvalidInput, match="name different modes"):
        transportation.parse_mode({"Id": 1, "Name": "aerial"})
    assert transportation.parse_mode(None) is None


def test_container_bounds() -> None:
    assert transportation.parse_container(None) is None
    assert transportation.parse_container(1) == 1 and transportation.parse_container("2147483647") == 2147483647
    for value in (0, -1, 2147483648, 1.5, "a", True, 10**30, [1]):
        with pytest.raises(InvalidInput, match="Container"):
            transportation.parse_container(value)


# --- numbers -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["Dimensions.Height", "Dimensions.Width", "Dimensions.Depth", "Weight.Gross"])
def test_measures_must_be_positive_finite_numbers(path: str) -> None:
    for value in (0, -1, -0.00001, "0", 0.00004):
        assert refused(path, value) == f"{path} must be greater than 0"
    for value in ("NaN", "nan", "Infinity", "-Infinity", "sNaN", "abc", "1,5", True, [], {}, ""):
        assert refused(path, value) == f"{path} must be a number"
    for value in (1e308, 10**30, "1e999999999", 1_000_000_000.0001):
        assert "must be at most" in refused(path, value)


def test_liquid_may_be_zero_but_not_over_gross() -> None:
    assert parse(with_value("Weight.Liquid", 0))["Weight"]["Liquid"] == 0.0
    assert refused("Weight.Liquid", -1) == "Weight.Liquid must be 0 or greater"
    assert "cannot be greater than Weight.Gross" in refused("Weight.Liquid", 2.5)
    assert parse(with_value("Weight.Liquid", 2))["Weight"]["Liquid"] == 2.0  # equal is fine


def test_measures_round_to_four_places_and_keep_their_unit() -> None:
    stored = parse(with_value("Dimensions.Height", "12.345678"))
    assert stored["Dimensions"] == {"MeasureType": 2, "Height": 12.3457, "Width": 20.0, "Depth": 30.0}
    assert parse(with_value("Dimensions.Height", 0.1 + 0.2))["Dimensions"]["Height"] == 0.3
    assert parse(with_value("Dimensions.Height", " 7 "))["Dimensions"]["Height"] == 7.0
    big = parse(with_value("Weight.Gross", 999_999_999.9999))
    assert Decimal(str(big["Weight"]["Gross"])) == Decimal("999999999.9999")


def test_quantity() -> None:
    assert parse(with_value("Quantity", "3"))["Quantity"] == 3 and parse(with_value("Quantity", 3.0))["Quantity"] == 3
    for value in (0, -2):
        assert refused("Quantity", value) == "Quantity must be greater than 0"
    for value in (1.5, "x", True, [], "1e3"):
        assert refused("Quantity", value) == "Quantity must be an integer"
    assert "at most" in refused("Quantity", SETTINGS.shipping_max_package_quantity + 1)
    assert "at most" in refused("Quantity", 10**30)
    assert refused("Quantity", None) == "Quantity is required"


def test_groups_are_optional_but_complete_when_sent() -> None:
    stored = parse({"UnitType": 2, "Quantity": 1})
    assert stored == {"UnitType": 2, "Quantity": 1, "Dimensions": None, "Weight": None}
    for path in ("Dimensions.Height", "Dimensions.MeasureType", "Weight.Gross", "Weight.Liquid"):
        assert refused(path, None) == f"{path} is required"


def test_order_ids() -> None:
    assert addressing.parse_order_id(" 42 ") == 42 and addressing.parse_order_id(None) is None
    assert addressing.parse_order_id("") is None
    for bad in ("abc", "1.5", "1_000", "0x10", "١٢"):
        with pytest.raises(InvalidInput):
            addressing.parse_order_id(bad)


# --- logistic types (CF-30.E4) drive labels, automatic statuses, forwarding and deadlines -------------------------

# code: (name, label printable, ML status automatic, packaging forwarded, seller handles)
LOGISTICS: dict[int, tuple[str, bool, bool, bool, bool]] = {
    1: ("to_be_agreed", False, False, True, True),
    2: ("me1", True, False, True, True),
    3: ("me2", True, True, True, True),
    4: ("custom", True, False, True, True),
    5: ("fulfillment", False, True, False, False),
    6: ("flex", True, False, True, True),
    7: ("pickup", False, False, True, True),
    8: ("cross_docking", True, True, True, True),
    9: ("drop_off", True, True, True, True),
    10: ("xd_drop_off", True, True, True, True),
    14: ("courier", True, False, True, True),
    15: ("flex-turbo", True, False, True, True),
}


@pytest.mark.parametrize("code", sorted(LOGISTICS))
def test_logistic_type_table(code: int) -> None:
    name, label, automatic, forwarded, handles = LOGISTICS[code]
    assert ship.LOGISTIC_TYPES[code] == name
    assert ship.logistic_type_code(name) == code and ship.logistic_type_code(str(code)) == code
    printable = ship.label_refusal(logistic_type=code, status=ship.READY_TO_SHIP, substatus=ship.SUB_READY_TO_PRINT)
    assert (printable is None) is label
    assert (
        st.updates_automatically(family="mercadolibre", logistic_type=code, shipping_method=None, api_created=False)
        is automatic
    )
    assert ship.forwards_packaging(code, ship.READY_TO_SHIP) is forwarded
    assert ship.seller_handles(code) is handles


def test_every_logistic_type_is_in_the_table_and_flex_turbo_keeps_its_hyphen() -> None:
    assert set(ship.LOGISTIC_TYPES) == set(LOGISTICS)
    assert ship.logistic_type_code("flex-turbo") == ship.FLEX_TURBO == 15
    assert ship.logistic_type_code("flex_turbo") == 15  # underscore spelling accepted on input
    assert ship.logistic_name(15) == "flex-turbo"
    assert ship.logistic_type_code(11) is None and ship.logistic_type_code("rail") is None
    # One table: the status rules use the shipping rules' set.
    assert st.ML_AUTOMATIC_LOGISTICS is ship.MARKETPLACE_DRIVEN_LOGISTICS


@pytest.mark.parametrize("status", sorted(ship.SHIPMENT_STATUSES))
def test_shipment_status_decides_label_and_packaging_forwarding(status: str) -> None:
    for substatus in sorted(ship.SHIPMENT_SUBSTATUSES):
        refusal = ship.label_refusal(logistic_type=ship.ME2, status=status, substatus=substatus)
        allowed = status == ship.READY_TO_SHIP and substatus in (ship.SUB_READY_TO_PRINT, ship.SUB_PRINTED)
        assert (refusal is None) is allowed, (status, substatus, refusal)
    dispatched = status in (ship.SHIPPED, ship.DELIVERED, ship.NOT_DELIVERED, ship.CANCELLED)
    assert ship.forwards_packaging(ship.ME2, status) is not dispatched
