"""Reading and validating a catalog import file (CSV or JSON): the rows as ``CatalogRow`` values, or the
problem of each rejected row. The file format is documented in docs/catalog-import.md.
"""

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from alephee.http.numbers import int_from_text
from alephee.http.wire import clean_identifier, clean_text
from alephee.products import listing_data, rules
from alephee.products.schemas import (
    CATALOG_STATUSES,
    KIT,
    NORMAL,
    VARIATION_CHILD,
    VARIATION_MASTER,
    parse_amount,
    parse_integer,
)

MAX_FILE_BYTES = 200 * 1024 * 1024

TYPE_NAMES = {
    "normal": NORMAL,
    "1": NORMAL,
    "kit": KIT,
    "2": KIT,
    "variation": VARIATION_CHILD,
    "variation_child": VARIATION_CHILD,
    "child": VARIATION_CHILD,
    "5": VARIATION_CHILD,
    "master": VARIATION_MASTER,
    "variation_master": VARIATION_MASTER,
    "6": VARIATION_MASTER,
}
STATUS_NAMES = {name.lower().replace(" ", "_"): code for code, name in CATALOG_STATUSES.items()}
INTEGER_FIELDS = (
    "quantity",
    "b2b_quantity",
    "min_publication_quantity",
    "max_publication_quantity",
    "alert_red",
    "alert_yellow",
    "visibility",
)
PRICE_FIELDS = ("price", "price_with_taxes", "suggested_retail_price", "cost", "sales_margin", "b2b_discount_rate")
TEXT_FIELDS = ("own_code", "gtin", "tax_rule_code", "fiscal_code", "origin", "measure_unit", "name")
KNOWN = {
    "sku",
    "brand",
    "type",
    "parent_sku",
    "catalog_status",
    "tax_rate",
    "measure_per_unit",
    "attributes",
    "components",
    "prices",
    *listing_data.FIELDS,
    *INTEGER_FIELDS,
    *PRICE_FIELDS,
    *TEXT_FIELDS,
}
TEXT_LIMITS = {
    "own_code": 100,
    "gtin": 20,
    "tax_rule_code": 60,
    "fiscal_code": 30,
    "origin": 10,
    "measure_unit": 10,
    "name": 300,
}


class ImportFileError(Exception):
    """The file as a whole cannot be read (not CSV/JSON, not UTF-8, no rows)."""


@dataclass
class CatalogRow:
    """A validated row."""

    row: int
    sku: str
    brand: str
    product_type: int | None
    values: dict[str, Any]
    prices: dict[str, dict[str, Decimal]]
    parent_sku: str | None = None
    components: list[tuple[str, int, bool]] | None = None
    attributes: list[dict[str, Any]] | None = None


# --- reading ------------------------------------------------------------------------------------------------


def normalise_key(key: str) -> str:
    """A column or property name as the importer compares it (case, spaces and dashes ignored)."""
    return key.strip().lower().replace(" ", "_").replace("-", "_")


def read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """``(row number, raw fields)`` of a CSV or JSON file, detected by content (never by the file name)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImportFileError(f"Cannot read {path}: {exc.strerror}") from None
    if size > MAX_FILE_BYTES:
        raise ImportFileError(f"The file is larger than {MAX_FILE_BYTES} bytes")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError("The file is not UTF-8 text") from None
    stripped = text.lstrip()
    if not stripped:
        raise ImportFileError("The file is empty")
    if stripped[0] in "[{":
        return _json_rows(stripped)
    return _csv_rows(text)


def _json_rows(text: str) -> list[tuple[int, dict[str, Any]]]:
    try:
        parsed = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ImportFileError(f"Invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if isinstance(parsed, dict):
        parsed = next((v for k, v in parsed.items() if normalise_key(k) in ("products", "rows", "items")), None)
    if not isinstance(parsed, list):
        raise ImportFileError('A JSON file must be an array of products (or {"products": [...]})')
    return [
        (i + 1, element if isinstance(element, dict) else {"__invalid__": element}) for i, element in enumerate(parsed)
    ]


def _csv_rows(text: str) -> list[tuple[int, dict[str, Any]]]:
    first = text.splitlines()[0] if text else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError("The file is empty") from None
    names = [h.strip() for h in header]
    if not {"sku", "brand"} <= {normalise_key(n) for n in names}:
        raise ImportFileError("The CSV header must name at least the columns sku and brand")
    rows: list[tuple[int, dict[str, Any]]] = []
    for record in reader:
        if not any(cell.strip() for cell in record):
            continue
        values = {names[i]: cell for i, cell in enumerate(record) if i < len(names) and cell.strip() != ""}
        if len(record) > len(names) and any(c.strip() for c in record[len(names) :]):
            values["__extra__"] = True
        rows.append((reader.line_num, values))
    return rows


# --- validating ----------------------------------------------------------------------------------------------


class RowProblem(Exception):
    """A row cannot be imported."""


def _text(value: Any) -> str:
    """A cell as text, by the API's text rule (NFC, no control characters but tab and line breaks)."""
    if isinstance(value, bool) or value is None:
        raise RowProblem("expected text")
    if isinstance(value, Decimal | int | float):
        return str(value)
    try:
        return clean_text(str(value).strip())
    except ValueError as exc:
        raise RowProblem(str(exc)) from None


def _identifier(value: Any) -> str:
    """A SKU or brand cell, by the API's identifier rule: the same product whichever way it was typed."""
    try:
        return clean_identifier(_text(value))
    except ValueError as exc:
        raise RowProblem(str(exc)) from None


def parse_row(number: int, raw: dict[str, Any]) -> CatalogRow:
    """Validate one row (raises ``RowProblem`` with a message naming the column)."""
    if "__invalid__" in raw:
        raise RowProblem("each element must be a JSON object")
    if raw.get("__extra__"):
        raise RowProblem("the row has more cells than the header")
    fields: dict[str, Any] = {}
    prices: dict[str, dict[str, Decimal]] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            continue
        name = normalise_key(key)
        if "@" in name:
            base, _, target = key.partition("@")
            if normalise_key(base) not in PRICE_FIELDS:
                raise RowProblem(f"unknown price column '{key}'")
            prices.setdefault(target.strip(), {})[normalise_key(base)] = _price(normalise_key(base), value)
            continue
        if name not in KNOWN:
            raise RowProblem(f"unknown column '{key}'")
        fields[name] = value
    sku = _identifier(fields.get("sku", "")) if fields.get("sku") is not None else ""
    brand = _identifier(fields.get("brand", "")) if fields.get("brand") is not None else ""
    if not sku:
        raise RowProblem("sku is required")
    if not brand:
        raise RowProblem("brand is required")
    if len(sku) > 100 or len(brand) > 120:
        raise RowProblem("sku (100) or brand (120) is too long")
    values: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        if name in fields:
            text = _text(fields[name])
            if len(text) > TEXT_LIMITS[name]:
                raise RowProblem(f"{name} is longer than {TEXT_LIMITS[name]} characters")
            values[name] = text or None
    if values.get("measure_unit") and values["measure_unit"].lower() not in rules.UNITS:
        raise RowProblem(f"measure_unit must be one of {', '.join(rules.UNITS)}")
    for name in INTEGER_FIELDS:
        if name in fields:
            try:
                number_value = parse_integer(fields[name])
            except ValueError as exc:
                raise RowProblem(f"{name} {exc}") from None
            if number_value < 0 or number_value > rules.MAX_STOCK:
                raise RowProblem(f"{name} must be between 0 and {rules.MAX_STOCK}")
            values[name] = number_value
    for name in ("tax_rate", "measure_per_unit"):
        if name in fields:
            amount = _amount(name, fields[name])
            if name == "tax_rate" and not Decimal(0) <= amount <= 100:
                raise RowProblem("tax_rate must be between 0 and 100")
            if name == "measure_per_unit" and amount <= 0:
                raise RowProblem("measure_per_unit must be greater than 0")
            values[name] = amount
    if bool(values.get("measure_unit")) != bool(values.get("measure_per_unit")):
        raise RowProblem("measure_unit and measure_per_unit go together")
    if "catalog_status" in fields:
        values["catalog_status"] = _catalog_status(fields["catalog_status"])
    values.update(_listing_data(fields))
    base_prices = {name: _price(name, fields[name]) for name in PRICE_FIELDS if name in fields}
    if base_prices:
        prices.setdefault("", {}).update(base_prices)
    if "prices" in fields:
        for entry in _price_entries(fields["prices"]):
            prices.setdefault(entry[0], {}).update(entry[1])
    for target, entry in prices.items():
        if "price" in entry and "price_with_taxes" in entry:
            where = f" (price list {target})" if target else ""
            raise RowProblem(f"price and price_with_taxes cannot both be set{where}: one is derived from the other")
    product_type = None
    if "type" in fields:
        product_type = TYPE_NAMES.get(_text(fields["type"]).lower().replace(" ", "_"))
        if product_type is None:
            raise RowProblem("type must be normal, kit, variation or master (or 1, 2, 5, 6)")
    parent_sku = _identifier(fields["parent_sku"]) if fields.get("parent_sku") not in (None, "") else None
    if parent_sku and product_type is None:
        product_type = VARIATION_CHILD
    if product_type == VARIATION_CHILD and not parent_sku:
        raise RowProblem("a variation needs parent_sku (the SKU of its master)")
    if parent_sku and product_type != VARIATION_CHILD:
        raise RowProblem("parent_sku is only for variations")
    components = _components(fields["components"]) if fields.get("components") not in (None, "") else None
    if components is not None and product_type is None:
        product_type = KIT
    if product_type == KIT and not components:
        raise RowProblem("a kit needs components")
    if components is not None and product_type != KIT:
        raise RowProblem("components are only for kits")
    if product_type in (KIT, VARIATION_MASTER) and "quantity" in values:
        raise RowProblem("the stock of kits and variation masters is derived: leave quantity empty")
    attributes = _attributes(fields["attributes"]) if fields.get("attributes") not in (None, "") else None
    return CatalogRow(
        row=number,
        sku=sku,
        brand=brand,
        product_type=product_type,
        values=values,
        prices=prices,
        parent_sku=parent_sku,
        components=components,
        attributes=attributes,
    )


def _listing_data(fields: dict[str, Any]) -> dict[str, Any]:
    """Pictures (URLs separated by ``|`` or spaces, or a JSON list), description, category and condition; a
    JSON ``null`` clears (an empty CSV cell leaves the product's value as it is)."""
    sent = {name: fields[name] for name in listing_data.FIELDS if name in fields}
    if isinstance(sent.get("pictures"), str):
        sent["pictures"] = listing_data.split_pictures(sent["pictures"])
    for name in ("description", "category", "condition"):
        if isinstance(sent.get(name), Decimal | int) and not isinstance(sent[name], bool):
            sent[name] = str(sent[name])
    try:
        return listing_data.clean_changes(sent)
    except listing_data.ListingDataProblem as exc:
        raise RowProblem(exc.message_for(exc.field)) from None


def _amount(name: str, value: Any) -> Decimal:
    try:
        amount = parse_amount(value)
    except ValueError as exc:
        raise RowProblem(f"{name} {exc}") from None
    if rules.decimals(amount) > 4 or amount > rules.MAX_AMOUNT:
        raise RowProblem(f"{name} accepts at most 4 decimals and 14 digits")
    return Decimal(amount)


def _price(name: str, value: Any) -> Decimal:
    amount = _amount(name, value)
    problems = rules.amount_problems(name, amount, max_decimals=2 if name == "sales_margin" else 4)
    if problems:
        raise RowProblem(problems[0].message)
    return amount


def _catalog_status(value: Any) -> int:
    text = _text(value).lower().replace(" ", "_")
    code = int_from_text(text)
    if code is not None and code in CATALOG_STATUSES:
        return code
    if text in STATUS_NAMES:
        return STATUS_NAMES[text]
    raise RowProblem("catalog_status must be 0..5 (Assigned, Approved, Observed, ...)")


def _price_entries(value: Any) -> Iterable[tuple[str, dict[str, Decimal]]]:
    if isinstance(value, str):
        try:
            value = json.loads(value, parse_float=Decimal)
        except json.JSONDecodeError:
            raise RowProblem("prices must be a JSON array of {price_list, price_with_taxes, ...}") from None
    if not isinstance(value, list):
        raise RowProblem("prices must be an array of {price_list, price_with_taxes, ...}")
    for entry in value:
        if not isinstance(entry, dict):
            raise RowProblem("each prices entry must be an object")
        normalized = {normalise_key(k): v for k, v in entry.items() if isinstance(k, str)}
        target = normalized.pop("price_list", None)
        if target in (None, ""):
            raise RowProblem("each prices entry needs price_list (id or name)")
        unknown = set(normalized) - set(PRICE_FIELDS)
        if unknown:
            raise RowProblem(f"unknown price field(s) {', '.join(sorted(unknown))}")
        yield _text(target), {name: _price(name, v) for name, v in normalized.items()}


def _components(value: Any) -> list[tuple[str, int, bool]]:
    """``"A:2;B:1"`` (first = principal, ``*`` marks another) or ``[{"sku", "quantity", "principal"}]``."""
    out: list[tuple[str, int, bool]] = []
    if isinstance(value, str):
        for part in (p.strip() for p in value.split(";") if p.strip()):
            principal = part.startswith("*")
            sku, _, units = part.lstrip("*").partition(":")
            out.append((_identifier(sku), _units(units or "1"), principal))
        if out and not any(p for *_, p in out):
            out[0] = (out[0][0], out[0][1], True)
    elif isinstance(value, list):
        for entry in value:
            if not isinstance(entry, dict):
                raise RowProblem("each component must be {sku, quantity, principal}")
            normalized = {normalise_key(k): v for k, v in entry.items() if isinstance(k, str)}
            sku = normalized.get("sku")
            if sku in (None, ""):
                raise RowProblem("each component needs sku")
            principal = bool(normalized.get("principal", False))
            out.append((_identifier(sku), _units(normalized.get("quantity", 1)), principal))
        if out and not any(p for *_, p in out):
            out[0] = (out[0][0], out[0][1], True)
    else:
        raise RowProblem("components must be 'SKU:units;SKU:units' or a list")
    if not out or any(not sku for sku, *_ in out):
        raise RowProblem("components must name at least one SKU")
    if len({sku for sku, *_ in out}) != len(out):
        raise RowProblem("a component is listed twice")
    return out


def _units(value: Any) -> int:
    try:
        units = parse_integer(value)
    except ValueError:
        raise RowProblem("component units must be whole numbers") from None
    if not 1 <= units <= 1_000_000:
        raise RowProblem("component units must be between 1 and 1000000")
    return int(units)


def _attributes(value: Any) -> list[dict[str, Any]]:
    """``{"Color": "Rojo"}``, ``[{"Name", "Value"}]`` or ``"Color=Rojo;Talle=M"``."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("{", "[")):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise RowProblem("attributes is not valid JSON") from None
        else:
            pairs = [p.partition("=") for p in text.split(";") if p.strip()]
            if any(not sep or not name.strip() for name, sep, _ in pairs):
                raise RowProblem("attributes must be 'Name=Value;Name=Value'")
            return [{"Name": n.strip(), "Value": v.strip()} for n, _, v in pairs]
    if isinstance(value, dict):
        return [{"Name": str(k), "Value": None if v is None else str(v)} for k, v in value.items()]
    if isinstance(value, list) and all(isinstance(a, dict) and "Name" in a for a in value):
        return [dict(a) for a in value]
    raise RowProblem("attributes must be an object, a list of {Name, Value} or 'Name=Value;...'")
