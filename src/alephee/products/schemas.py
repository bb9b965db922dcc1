"""Wire types of the products section (CF-40), with the spec's exact property names.

Input numbers are parsed strictly (``Amount``: a JSON number or a plain decimal string, never a boolean;
``Integer``: whole numbers only) so the price and stock rules in ``rules.py`` see exact values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from alephee.http import numbers
from alephee.http.params import MAX_INT32
from alephee.http.wire import IDENTIFIER, Identifier, WireDateTime, WireDecimal, WireModel, clean_identifier

PRODUCT_TYPES = {1: "Normal", 2: "Kit", 5: "Variation child", 6: "Variation master"}
NORMAL, KIT, VARIATION_CHILD, VARIATION_MASTER = 1, 2, 5, 6
CATALOG_STATUSES = {
    0: "Assigned",
    1: "Approved",
    2: "Observed",
    3: "Observed and fixed",
    4: "Observed and rejected",
    5: "Deleted",
}


def parse_amount(value: Any) -> Any:
    """A JSON number or decimal string to an exact ``Decimal`` (``http.numbers``: ASCII digits, ``.`` as
    separator; floats through their shortest repr)."""
    if value is None:
        return value
    return numbers.parse_decimal(value)


def parse_integer(value: Any) -> Any:
    """A whole JSON number (``2`` or ``2.0``) or an integer string (``http.numbers``); booleans and fractions
    are refused."""
    if value is None:
        return value
    return numbers.parse_int(value, whole_floats=True)


def parse_code(value: Any) -> Any:
    """SKUs and brands may arrive as JSON numbers (``"SKU": 1025700``); keep them as text."""
    if isinstance(value, bool):
        raise ValueError("must be a string")
    if isinstance(value, int | float):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return value


Amount = Annotated[Decimal, BeforeValidator(parse_amount)]
Integer = Annotated[int, BeforeValidator(parse_integer)]
# Ids and codes stored in 32-bit columns: a bigger number is the client's error, never a driver overflow.
IdInteger = Annotated[int, BeforeValidator(parse_integer), Field(ge=0, le=MAX_INT32)]
Code = Annotated[str, IDENTIFIER, BeforeValidator(parse_code)]


# --- POST /v2/products ----------------------------------------------------------------------------------


class MeasurableQuantityIn(WireModel):
    """Measured stock of a measurable product (weight, volume, length)."""

    Quantity: Amount | None = Field(default=None, description="Measured stock, >= 0, at most 4 decimals.")
    Unit: str | None = Field(default=None, description="kg, g, l, ml, m or cm (convertible to the product's unit).")


class MeasurablePriceIn(WireModel):
    """Price per measure unit, taxes included, of a measurable product."""

    Price: Amount | None = Field(default=None, description="Price per Unit, > 0, at most 4 decimals.")
    Unit: str | None = Field(default=None, description="kg, g, l, ml, m or cm.")


class AlertIn(WireModel):
    """Stock alert thresholds."""

    RedQty: Integer | None = Field(default=None, description=">= 0")
    YellowQty: Integer | None = Field(default=None, description=">= 0")


class ProductStockIn(WireModel):
    """Stock changes of one product (CF-40.3.3, CF-40.3.7). Send only what changes."""

    Quantity: Integer | None = Field(default=None, description="Sets the available stock (>= 0).")
    Movement: Integer | None = Field(
        default=None, description="Relative change (may be negative); not with Quantity. Clamped at 0 with a Warning."
    )
    MinPublicationQuantity: Integer | None = Field(
        default=None, description="Listings pause at or below this stock. Seller/official-store accounts only."
    )
    MaxPublicationQuantity: Integer | None = Field(
        default=None, description="Most units shown on listings (0 = no cap). Seller/official-store accounts only."
    )
    B2BQuantity: Integer | None = Field(default=None, description="Stock for the Alephee B2B portal (>= 0).")
    MeasurableQuantity: MeasurableQuantityIn | None = Field(
        default=None, description="Measurable products only; replaces Quantity/Movement/B2BQuantity."
    )
    Alert: AlertIn | None = None
    Relationships: Any = Field(default=None, description="Accepted and ignored (meaning not documented).")


class ProductPriceIn(WireModel):
    """Price changes in the target price list (CF-40.3.3, CF-40.3.5, CF-40.3.6). Every value > 0, <= 4 decimals."""

    Price: Amount | None = Field(default=None, description="Before taxes; PriceWithTaxes is derived. Not with it.")
    PriceWithTaxes: Amount | None = Field(default=None, description="Taxes included; Price is derived.")
    SuggestedRetailPrice: Amount | None = Field(default=None, description="Taxes included.")
    SalesMargin: Amount | None = Field(default=None, description="Seller accounts only; at most 2 decimals.")
    Cost: Amount | None = None
    B2BDiscountRate: Amount | None = Field(default=None, description="Accounts with an Alephee B2B portal only.")
    MeasurablePriceWithTaxes: MeasurablePriceIn | None = Field(
        default=None, description="Measurable products only; replaces every other price field."
    )


class ProductFeaturesIn(WireModel):
    """Product features."""

    Visibility: IdInteger | None = None


class ProductAdditionalDataIn(WireModel):
    """What a marketplace listing shows besides name, price and stock (our design, PRD-26). A property left out
    is unchanged; ``null`` (or an empty text or list) clears it."""

    Pictures: list[str] | None = Field(
        default=None, description="Absolute http/https picture URLs (at most 12, each at most 500 characters)."
    )
    Description: str | None = Field(default=None, description="Plain-text description (at most 50000 characters).")
    Category: str | None = Field(
        default=None, description="The hub's category path, e.g. `Herramientas > Hidrolavadoras` (at most 300)."
    )
    Condition: str | None = Field(default=None, description="`new`, `used` or `refurbished`.")


class ProductUpdateIn(WireModel):
    """One element of the POST /v2/products body."""

    Brand: Code | None = Field(default=None, description="Brand id or name; needed only when the SKU is ambiguous.")
    SKU: Code | None = Field(default=None, description="Required. Matched against SKU, then OwnCode.")
    Stock: ProductStockIn | None = None
    Price: ProductPriceIn | None = None
    Features: ProductFeaturesIn | None = None
    ProductAdditionalData: ProductAdditionalDataIn | None = Field(
        default=None, description="Pictures, description, category and condition; `null` clears all four."
    )


# --- the common elements of POST /v2/products, read without the generic validation (PRD-32) ------------------
# Most elements an ERP sends are a SKU with a stock quantity or movement and/or a price. Validating them through
# pydantic (a Python validator per field and per model) cost ≈ 17 µs each on a busy 2-core machine; these shapes
# are read here in ≈ 11 µs into the same models, with the same readers (``clean_identifier``, ``numbers``), and
# the rule functions they plainly pass are skipped (``rules.plainly_valid``). Anything else (another property,
# another type, a duplicate key in another case, text that is not clean) goes the generic way, so errors and
# their messages are the generic validation's.

# Property names in lower case and as the spec spells them (looked up first: what most clients send).
_QUICK_TOP = {name.lower(): name for name in ("SKU", "Stock", "Price")} | {n: n for n in ("SKU", "Stock", "Price")}
_QUICK_STOCK = {name.lower(): name for name in ("Quantity", "Movement")} | {n: n for n in ("Quantity", "Movement")}
_QUICK_PRICE = {name.lower(): name for name in ("Price", "PriceWithTaxes")} | {
    n: n for n in ("Price", "PriceWithTaxes")
}
_decimal = Decimal
_finite = math.isfinite
_set_attribute = object.__setattr__


def _defaults(model: type[WireModel]) -> dict[str, Any]:
    return {name: field.default for name, field in model.model_fields.items()}


def _built(model: type[WireModel], defaults: dict[str, Any], values: dict[str, Any]) -> Any:
    """``model`` with ``values`` set (and counted as sent) and the other fields at their defaults, as
    ``model_construct`` builds it (without its per-field work: a third of the cost it saves)."""
    instance = model.__new__(model)
    state = defaults.copy()
    state.update(values)
    _set_attribute(instance, "__dict__", state)
    _set_attribute(instance, "__pydantic_fields_set__", set(values))
    _set_attribute(instance, "__pydantic_extra__", None)
    _set_attribute(instance, "__pydantic_private__", None)
    return instance


def _spelled(names: dict[str, str], key: Any) -> str | None:
    """The property ``key`` names among ``names``: as spelled (what most clients send), else in any case."""
    name = names.get(key)
    if name is None and type(key) is str:
        name = names.get(key.lower())
    return name


def _quick_object(raw: Any, names: dict[str, str], amounts: bool) -> dict[str, Any] | None:
    """The properties of a Stock or Price object when each is one of ``names`` (any case, once) and its value a
    JSON integer (``parse_integer`` reads it as itself; bool is not one) or, for ``amounts``, a JSON number
    (``parse_amount`` reads it through ``numbers.to_decimal``, None when not finite). None: not this shape."""
    if type(raw) is not dict or not raw:
        return None
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = _spelled(names, key)
        if name is None or name in values:
            return None
        kind = type(value)
        if kind is int:
            values[name] = _decimal(value) if amounts else value
        elif amounts and kind is float and _finite(value):
            values[name] = _decimal(repr(value))
        else:
            return None
    return values


def quick_update_in(raw: Any) -> ProductUpdateIn | None:
    """``raw`` read as ``ProductUpdateIn`` when it is one of the common shapes (a text SKU and a ``Stock`` of
    ``Quantity``/``Movement`` and/or a ``Price`` of ``Price``/``PriceWithTaxes``, JSON numbers, property names in
    any case); the model the generic validation gives for it. None for anything else."""
    if type(raw) is not dict or not 2 <= len(raw) <= 3:
        return None
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = _spelled(_QUICK_TOP, key)
        if name is None or name in values:
            return None
        if name == "SKU":
            if type(value) is not str:
                return None
            try:
                values[name] = clean_identifier(value)
            except ValueError:
                return None
        elif name == "Stock":
            fields = _quick_object(value, _QUICK_STOCK, False)
            if fields is None:
                return None
            values[name] = _built(ProductStockIn, _STOCK_DEFAULTS, fields)
        else:
            fields = _quick_object(value, _QUICK_PRICE, True)
            if fields is None:
                return None
            values[name] = _built(ProductPriceIn, _PRICE_DEFAULTS, fields)
    if "SKU" not in values:
        return None
    return _built(ProductUpdateIn, _UPDATE_DEFAULTS, values)


def sku_candidates(raw_items: Iterable[Any]) -> tuple[set[str], bool]:
    """The SKUs the elements of a POST /v2/products batch name, as the validation would keep them (``parse_code``;
    ``clean_identifier``, stripped), to read their products while the elements are validated, and whether any
    element names a Price. A superset of the validated elements' SKUs: every property spelled SKU in any case
    counts, whatever else the element holds."""
    found: set[str] = set()
    priced = False
    for raw in raw_items:
        if type(raw) is not dict:
            continue
        for key, value in raw.items():
            # Only a three- or five-letter key can be SKU or Price in some case: the others are not lowered.
            if key != "SKU" and (type(key) is not str or len(key) != 3 or key.lower() != "sku"):
                if not priced and type(key) is str and len(key) == 5 and key.lower() == "price":
                    priced = True
                continue
            if type(value) is not str:
                try:
                    value = parse_code(value)
                except ValueError:
                    continue
                if type(value) is not str:
                    continue
            try:
                code = clean_identifier(value).strip()
            except ValueError:  # refused by the validation, and no text the database could compare
                continue
            if code:
                found.add(code)
    return found, priced


_STOCK_DEFAULTS = _defaults(ProductStockIn)
_PRICE_DEFAULTS = _defaults(ProductPriceIn)
_UPDATE_DEFAULTS = _defaults(ProductUpdateIn)

# --- GET /v2/products -----------------------------------------------------------------------------------


class IdNameOut(WireModel):
    """``{"Id", "Name"}``."""

    Id: int
    Name: str


class CatalogStatusOut(WireModel):
    """Catalog status in both documented spellings (``Id/Name`` and ``Key/Value``)."""

    Id: int
    Name: str
    Key: int
    Value: str


class ProductIdentificationOut(WireModel):
    """ProductIdentification (CF-40.2.3)."""

    Id: int
    SKU: str
    OwnCode: str | None
    Brand: IdNameOut
    Name: str
    CatalogStatus: CatalogStatusOut
    ProductType: IdNameOut


class MeasurableQuantityOut(WireModel):
    """Measured stock (``Quantity`` 0 and ``Unit`` null for ordinary products)."""

    Quantity: WireDecimal
    Unit: str | None


class AlertOut(WireModel):
    """Stock alert thresholds."""

    RedQty: int
    YellowQty: int


class ProductStockOut(WireModel):
    """ProductStockGet (``Movement`` is never returned)."""

    Quantity: int
    B2BQuantity: int
    PublishQuantity: int
    MinPublicationQuantity: int
    MaxPublicationQuantity: int
    MeasurableQuantity: MeasurableQuantityOut
    Alert: AlertOut


class PriceListRefOut(WireModel):
    """The price list a price belongs to."""

    Id: int
    Name: str
    DiscountRate: WireDecimal


class ProductPriceOut(WireModel):
    """ProductPriceGet: one entry per price list (amounts never set are 0)."""

    Price: WireDecimal
    PriceWithTaxes: WireDecimal
    SuggestedRetailPrice: WireDecimal
    SuggestedRetailPriceAutoCalculated: bool
    PriceAutoCalculated: bool
    FinalPriceWithShippingCost: WireDecimal
    B2BDiscountRate: WireDecimal
    SalesMargin: WireDecimal
    PriceList: PriceListRefOut
    Cost: WireDecimal


class KitComponentOut(WireModel):
    """A component of a kit."""

    Identification: ProductIdentificationOut
    Price: list[ProductPriceOut]
    Stock: ProductStockOut
    Quantity: int
    Principal: bool


class KeyValueOut(WireModel):
    """``{"Key", "Value"}``."""

    Key: int
    Value: str


class PublicationDetailOut(WireModel):
    """Listings of one marketplace in one status: how many, and their ExternalId → listing Id."""

    Status: IdNameOut
    Quantity: int
    ExternalIds: dict[str, int]


class GroupedPublicationsOut(WireModel):
    """The product's listings on one marketplace."""

    MarketPlace: KeyValueOut
    Details: list[PublicationDetailOut]


class ProductAttributeOut(WireModel):
    """A product attribute (variation axis or catalog attribute)."""

    Name: str
    Value: str | None
    ValueName: str | None
    MeasurementUnit: str | None


class VariationProductOut(WireModel):
    """A variation (child) of a variation master."""

    Identification: ProductIdentificationOut
    Attributes: list[ProductAttributeOut]
    Stock: ProductStockOut


class ProductFeaturesOut(WireModel):
    """Product features."""

    Visibility: int | None


class ProductAdditionalDataOut(WireModel):
    """The product's listing data (our design, PRD-26); null in ProductCatalog when none is set."""

    Pictures: list[str]
    Description: str | None
    Category: str | None
    Condition: str | None


class ProductCatalogOut(WireModel):
    """ProductCatalog (CF-40.2.3)."""

    Identification: ProductIdentificationOut
    Stock: ProductStockOut
    Price: list[ProductPriceOut]
    Kits: list[ProductIdentificationOut]
    KitComponents: list[KitComponentOut]
    Publications: list[GroupedPublicationsOut]
    Features: ProductFeaturesOut
    Attributes: list[ProductAttributeOut]
    Variations: list[VariationProductOut]
    Relationships: None = Field(default=None, description="PIM-only section; not kept by this hub.")
    ProductAdditionalData: ProductAdditionalDataOut | None = Field(
        default=None, description="Pictures, description, category and condition; null when none is set."
    )


# --- fiscal information (our design, CF-40.4) ----------------------------------------------------------


class ProductFiscalIn(WireModel):
    """One element of PUT /v2/products/fiscal. Omitted/null fields are left unchanged; "" clears a text."""

    Brand: Code | None = Field(default=None, description="Brand id or name; needed only when the SKU is ambiguous.")
    SKU: Code | None = Field(default=None, description="Required. Matched against SKU, then OwnCode.")
    TaxRate: Amount | None = Field(
        default=None, description="VAT percent (0..100, <= 4 decimals) deriving Price <-> PriceWithTaxes."
    )
    TaxRuleCode: Identifier | None = Field(
        default=None,
        max_length=60,
        description="Code of an account fiscal tax rule; its Percentage applies when TaxRate is not set.",
    )
    FiscalCode: Identifier | None = Field(default=None, max_length=30, description="Tariff code (NCM, HS...).")
    Origin: str | None = Field(default=None, max_length=10, description="Fiscal origin code (e.g. Brazil 0..8).")


class ProductFiscalOut(WireModel):
    """Fiscal information of one product."""

    Id: int
    Brand: IdNameOut
    SKU: str
    OwnCode: str | None
    TaxRate: WireDecimal | None
    TaxRuleCode: str | None
    EffectiveTaxRate: WireDecimal
    FiscalCode: str | None
    Origin: str | None
    DateUpdated: WireDateTime


# --- DELETE /v2/products/prices ---------------------------------------------------------------------------


class PLProductInfoIn(WireModel):
    """One product to remove from the price list."""

    Brand: Code | None = None
    SKU: Code | None = Field(default=None, description="Required.")


class PriceListInfoIn(WireModel):
    """Body of DELETE /v2/products/prices."""

    PriceListId: IdInteger = Field(description="Price list of the account.")
    Products: list[Any] | None = Field(
        default=None,
        description="PLProductInfo[] ({Brand, SKU}); omitted or empty removes EVERY product of the list.",
    )
