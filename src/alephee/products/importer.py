"""Catalog import (``alephee catalog import FILE --account ID``): CSV or JSON, one row per product or variation.

Rows are validated one by one (errors carry the row number and the row is skipped) and upserted by brand +
SKU. Masters are written first, then normal products and variations, then kits (whose components may be
any earlier row or an existing product). The file format is documented in docs/catalog-import.md.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.models import PriceList
from alephee.errors import InvalidInput
from alephee.http.numbers import int_from_text
from alephee.http.wire import clean_identifier, clean_text
from alephee.products import hooks, rules
from alephee.products.batch import AccountContext, load_account_context
from alephee.products.brands import brand_key, get_or_create_brand
from alephee.products.models import Brand, KitComponent, Product, ProductPrice
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
class RowError:
    """One rejected row."""

    row: int
    sku: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        """JSON shape of the report."""
        return {"Row": self.row, "SKU": self.sku, "Message": self.message}


@dataclass
class ImportReport:
    """What an import did (or, with --dry-run, would do)."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False

    def as_dict(self, account_id: int) -> dict[str, Any]:
        """JSON shape printed by the CLI."""
        return {
            "AccountId": account_id,
            "Rows": self.rows,
            "Created": self.created,
            "Updated": self.updated,
            "Errors": [e.as_dict() for e in self.errors],
            "DryRun": self.dry_run,
        }


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


def _norm(key: str) -> str:
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
        parsed = next((v for k, v in parsed.items() if _norm(k) in ("products", "rows", "items")), None)
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
    if not {"sku", "brand"} <= {_norm(n) for n in names}:
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
        name = _norm(key)
        if "@" in name:
            base, _, target = key.partition("@")
            if _norm(base) not in PRICE_FIELDS:
                raise RowProblem(f"unknown price column '{key}'")
            prices.setdefault(target.strip(), {})[_norm(base)] = _price(_norm(base), value)
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
        normalized = {_norm(k): v for k, v in entry.items() if isinstance(k, str)}
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
            normalized = {_norm(k): v for k, v in entry.items() if isinstance(k, str)}
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


# --- writing -------------------------------------------------------------------------------------------------


@dataclass
class _Context:
    session: Session
    account: AccountContext
    default_price_list: int | None
    price_lists: dict[str, int]
    brands: dict[str, int] = field(default_factory=dict)
    # (brand key, sku) → product, for rows already written and products loaded from the database.
    products: dict[tuple[str, str], Product] = field(default_factory=dict)
    touched: set[int] = field(default_factory=set)


def import_catalog(
    session: Session,
    settings: Any,
    account_id: int,
    raw_rows: list[tuple[int, dict[str, Any]]],
    *,
    price_list: str | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate and upsert ``raw_rows``; with ``dry_run`` everything is rolled back. Does not commit."""
    report = ImportReport(rows=len(raw_rows), dry_run=dry_run)
    ctx = _context(session, settings, account_id, price_list)
    parsed: list[CatalogRow] = []
    seen: dict[tuple[str, str], int] = {}
    for number, raw in raw_rows:
        try:
            row = parse_row(number, raw)
            key = (brand_key(row.brand), row.sku)
            if key in seen:
                raise RowProblem(f"brand {row.brand} / sku {row.sku} already appears in row {seen[key]}")
            for target in row.prices:
                if _price_list_id(ctx, target) is None:
                    raise RowProblem(f"price list '{target or '(default)'}' does not exist in the account")
            seen[key] = number
            parsed.append(row)
        except RowProblem as exc:
            report.errors.append(RowError(number, _raw_sku(raw), str(exc)))
            if progress:
                progress(1)
    _preload(ctx, parsed)
    order = {VARIATION_MASTER: 0, NORMAL: 1, VARIATION_CHILD: 1, None: 1, KIT: 2}
    for row in sorted(parsed, key=lambda r: (order[r.product_type], r.row)):
        savepoint = session.begin_nested()
        try:
            created = _write(ctx, row)
            savepoint.commit()
        except RowProblem as exc:
            savepoint.rollback()
            report.errors.append(RowError(row.row, row.sku, str(exc)))
        except (SQLAlchemyError, OverflowError) as exc:  # a value the database refuses: the row alone fails
            savepoint.rollback()
            detail = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
            report.errors.append(RowError(row.row, row.sku, f"the database refused the row: {detail}"))
        else:
            if created:
                report.created += 1
            else:
                report.updated += 1
        if progress:
            progress(1)
    report.errors.sort(key=lambda e: e.row)
    if ctx.touched:
        hooks.notify(
            session,
            hooks.CatalogChange(
                account_id=account_id,
                stock_product_ids=frozenset(ctx.touched),
                price_product_ids=frozenset(ctx.touched),
                price_list_ids=frozenset(ctx.price_lists.values()),
            ),
        )
    session.flush()
    if dry_run:
        session.rollback()
    return report


def _raw_sku(raw: dict[str, Any]) -> str | None:
    value = next((v for k, v in raw.items() if isinstance(k, str) and _norm(k) == "sku"), None)
    return None if value is None else str(value)


def _context(session: Session, settings: Any, account_id: int, price_list: str | None) -> _Context:
    account = load_account_context(session, settings, account_id)
    lists = session.execute(
        select(PriceList.id, PriceList.name, PriceList.is_default).where(PriceList.account_id == account_id)
    ).all()
    by_name: dict[str, int] = {}
    default = None
    for pid, name, _default in sorted(lists, key=lambda r: (not r[2], r[0])):
        by_name.setdefault(str(pid), pid)
        by_name.setdefault(name.strip().lower(), pid)
        if default is None:
            default = pid
    ctx = _Context(session=session, account=account, default_price_list=default, price_lists=by_name)
    if price_list is not None:
        chosen = _price_list_id(ctx, price_list)
        if chosen is None:
            raise InvalidInput(f"price list '{price_list}' does not exist in the account")
        ctx.default_price_list = chosen
    return ctx


def _price_list_id(ctx: _Context, target: str) -> int | None:
    if not target:
        return ctx.default_price_list
    return ctx.price_lists.get(target.strip().lower())


def _preload(ctx: _Context, rows: list[CatalogRow]) -> None:
    skus = {r.sku for r in rows} | {r.parent_sku for r in rows if r.parent_sku}
    skus |= {sku for r in rows for sku, *_ in (r.components or [])}
    wanted = sorted(s for s in skus if s)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        stmt = (
            select(Product, Brand.name_key)
            .join(Brand, Brand.id == Product.brand_id)
            .where(Product.account_id == ctx.account.account_id, Product.sku.in_(chunk))
        )
        for product, key in ctx.session.execute(stmt):
            ctx.products[(key, product.sku)] = product
            ctx.brands[key] = product.brand_id


def _find(ctx: _Context, sku: str, brand: str | None) -> Product:
    """A product by SKU (same brand first, then any brand when unique)."""
    if brand is not None and (brand_key(brand), sku) in ctx.products:
        return ctx.products[(brand_key(brand), sku)]
    matches = [p for (_, s), p in ctx.products.items() if s == sku]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RowProblem(f"product {sku} does not exist (neither in the file nor in the catalog)")
    raise RowProblem(f"SKU {sku} exists under several brands")


def _write(ctx: _Context, row: CatalogRow) -> bool:
    session = ctx.session
    key = (brand_key(row.brand), row.sku)
    product = ctx.products.get(key)
    created = product is None
    now = clock.utcnow()
    if product is None:
        if not row.values.get("name"):
            raise RowProblem("name is required for a new product")
        product = Product(
            account_id=ctx.account.account_id,
            brand_id=get_or_create_brand(session, ctx.account.account_id, row.brand, ctx.brands),
            sku=row.sku,
            name=row.values["name"],
            product_type=row.product_type or NORMAL,
            catalog_status=1,
            quantity=0,
            b2b_quantity=0,
            min_publication_quantity=0,
            max_publication_quantity=0,
            alert_red=0,
            alert_yellow=0,
            created_at=now,
        )
        session.add(product)
    elif row.product_type is not None and row.product_type != product.product_type:
        raise RowProblem("the type of an existing product cannot be changed by an import")
    if not ctx.account.profile.selling and (
        "min_publication_quantity" in row.values or "max_publication_quantity" in row.values
    ):
        raise RowProblem("min/max_publication_quantity are only for seller or official-store accounts")
    for name, value in row.values.items():
        column = {"origin": "fiscal_origin"}.get(name, name)
        if name == "name" and value is None:
            continue
        setattr(product, column, value)
    if row.attributes is not None:
        product.attributes = row.attributes
    if row.parent_sku:
        parent = _find(ctx, row.parent_sku, row.brand)
        if parent.product_type != VARIATION_MASTER:
            raise RowProblem(f"parent_sku {row.parent_sku} is not a variation master")
        product.parent_id = parent.id
    product.date_updated = now
    session.flush()
    if row.components is not None:
        _write_components(ctx, product, row)
    for target, values in row.prices.items():
        plid = _price_list_id(ctx, target)
        assert plid is not None
        _write_price(ctx, product, plid, values, now)
    ctx.products[key] = product
    ctx.touched.add(product.id)
    return created


def _write_components(ctx: _Context, kit: Product, row: CatalogRow) -> None:
    session = ctx.session
    wanted: list[KitComponent] = []
    for sku, units, principal in row.components or []:
        component = _find(ctx, sku, row.brand)
        if component.product_type not in (NORMAL, VARIATION_CHILD):
            raise RowProblem(f"component {sku} must be a normal product or a variation")
        wanted.append(KitComponent(kit_id=kit.id, component_id=component.id, quantity=units, principal=principal))
    for existing in session.scalars(select(KitComponent).where(KitComponent.kit_id == kit.id)):
        session.delete(existing)
    session.flush()
    session.add_all(wanted)
    session.flush()


def _write_price(ctx: _Context, product: Product, price_list_id: int, values: dict[str, Decimal], now: Any) -> None:
    session = ctx.session
    row = session.get(ProductPrice, (product.id, price_list_id))
    if row is None:
        row = ProductPrice(product_id=product.id, price_list_id=price_list_id, price_auto=False, srp_auto=True)
        session.add(row)
    rate = ctx.account.tax_rate(product.tax_rate, product.tax_rule_code)
    if "price" in values:
        row.price = values["price"]
        row.price_with_taxes = rules.with_taxes(values["price"], rate)
        row.price_auto = False
    if "price_with_taxes" in values:
        row.price_with_taxes = values["price_with_taxes"]
        row.price = rules.without_taxes(values["price_with_taxes"], rate)
        row.price_auto = True
    if "suggested_retail_price" in values:
        row.suggested_retail_price = values["suggested_retail_price"]
        row.srp_auto = False
    elif row.srp_auto:
        row.suggested_retail_price = row.price_with_taxes
    for name in ("cost", "sales_margin", "b2b_discount_rate"):
        if name in values:
            setattr(row, name, values[name])
    row.date_updated = now
    session.flush()
