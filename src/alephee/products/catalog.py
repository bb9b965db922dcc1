"""GET /v2/products: the catalog read with prices, stock, kits, variations and publications."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from alephee.accounts.models import PriceList
from alephee.config import Settings
from alephee.errors import InvalidInput
from alephee.http.numbers import int_from_text
from alephee.http.paging import Page
from alephee.http.params import MAX_INT32
from alephee.products import hooks, listing_data
from alephee.products.brands import brand_key
from alephee.products.models import Brand, KitComponent, Product, ProductDate, ProductPrice
from alephee.products.price_lists import PriceListNotFound
from alephee.products.schemas import (
    CATALOG_STATUSES,
    KIT,
    PRODUCT_TYPES,
    VARIATION_MASTER,
    AlertOut,
    CatalogStatusOut,
    IdNameOut,
    KitComponentOut,
    MeasurableQuantityOut,
    PriceListRefOut,
    ProductAdditionalDataOut,
    ProductAttributeOut,
    ProductCatalogOut,
    ProductFeaturesOut,
    ProductIdentificationOut,
    ProductPriceOut,
    ProductStockOut,
    VariationProductOut,
)
from alephee.products.stock import StockSnapshot, stock_snapshots

ZERO = Decimal(0)


class CodeListInvalid(InvalidInput):
    """A ``types``/``catalogStatus`` filter is not a list of known codes (400)."""

    message = "'{name}' must be a comma-separated list of integers ({allowed})"

    def __init__(self, name: str, allowed: str) -> None:
        super().__init__(self.message.format(name=name, allowed=allowed))


@dataclass(frozen=True, slots=True)
class ProductFilters:
    """Filters of GET /v2/products (CF-40.2.1), already parsed."""

    sku: str | None = None
    brand: str | None = None
    own_code: str | None = None
    date_updated_from: datetime | None = None
    types: tuple[int, ...] = ()
    catalog_statuses: tuple[int, ...] = ()


def parse_code_list(raw: str | None, name: str, allowed: Collection[int]) -> tuple[int, ...]:
    """``"1, 5,6"`` → (1, 5, 6); anything else is a 400 naming the allowed codes."""
    if raw is None or not raw.strip():
        return ()
    allowed_text = ", ".join(str(c) for c in sorted(allowed))
    out: list[int] = []
    for part in raw.split(","):
        text = part.strip()
        if not text:
            continue
        code = int_from_text(text)
        if code is None or code not in allowed:
            raise CodeListInvalid(name, allowed_text)
        out.append(code)
    return tuple(dict.fromkeys(out))


def brand_filter(value: str) -> Any:
    text = value.strip()
    condition = Brand.name_key == brand_key(text)
    brand_id = int_from_text(text)
    if brand_id is not None and 0 <= brand_id <= MAX_INT32:
        condition = or_(condition, Brand.id == brand_id)
    return condition


def product_conditions(account_id: int, filters: ProductFilters) -> list[Any]:
    """The conditions the catalog reads share (GET /v2/products and its fiscal view): the account, and the SKU,
    OwnCode, brand and dateUpdatedFrom filters when given."""
    conditions: list[Any] = [Product.account_id == account_id]
    if filters.sku:
        conditions.append(Product.sku == filters.sku.strip())
    if filters.own_code:
        conditions.append(Product.own_code == filters.own_code.strip())
    if filters.brand:
        conditions.append(brand_filter(filters.brand))
    if filters.date_updated_from is not None:
        # Through the indexed copy (ProductDate): products' own column has no index (models.py says why).
        conditions.append(
            Product.id.in_(
                select(ProductDate.product_id).where(
                    ProductDate.account_id == account_id, ProductDate.date_updated >= filters.date_updated_from
                )
            )
        )
    return conditions


def list_products(
    session: Session,
    settings: Settings,
    account_id: int,
    filters: ProductFilters,
    price_list_id: int | None,
    page: Page,
) -> tuple[int, list[ProductCatalogOut]]:
    """One page of the catalog with prices (narrowed to ``price_list_id``), stock, kits and publications."""
    if (
        price_list_id is not None
        and session.scalar(
            select(PriceList.id).where(PriceList.id == price_list_id, PriceList.account_id == account_id)
        )
        is None
    ):
        raise PriceListNotFound(price_list_id)
    conditions = product_conditions(account_id, filters)
    if filters.types:
        conditions.append(Product.product_type.in_(filters.types))
    if filters.catalog_statuses:
        conditions.append(Product.catalog_status.in_(filters.catalog_statuses))
    base = select(Product.id).join(Brand, Brand.id == Product.brand_id).where(and_(*conditions))
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    ids = list(session.scalars(base.order_by(Product.id).offset(page.offset).limit(page.limit)))
    return total, build_catalog(session, settings, account_id, ids, price_list_id)


def build_catalog(
    session: Session, settings: Settings, account_id: int, ids: Sequence[int], price_list_id: int | None
) -> list[ProductCatalogOut]:
    """ProductCatalog objects for ``ids`` (in that order), with a fixed number of queries."""
    if not ids:
        return []
    products = _products_by_id(session, ids)
    components: dict[int, list[KitComponent]] = defaultdict(list)
    kit_ids = [pid for pid in ids if products[pid][0].product_type == KIT]
    if kit_ids:
        for comp in session.scalars(
            select(KitComponent).where(KitComponent.kit_id.in_(kit_ids)).order_by(KitComponent.component_id)
        ):
            components[comp.kit_id].append(comp)
    component_ids = {c.component_id for comps in components.values() for c in comps}
    master_ids = [pid for pid in ids if products[pid][0].product_type == VARIATION_MASTER]
    children: dict[int, list[int]] = defaultdict(list)
    if master_ids:
        for child_id, parent_id in session.execute(
            select(Product.id, Product.parent_id).where(Product.parent_id.in_(master_ids)).order_by(Product.id)
        ):
            children[parent_id].append(child_id)
    child_ids = {c for cs in children.values() for c in cs}
    containing: dict[int, list[int]] = defaultdict(list)
    plain_ids = [pid for pid in ids if products[pid][0].product_type != KIT]
    if plain_ids:
        for kit_id, component_id in session.execute(
            select(KitComponent.kit_id, KitComponent.component_id)
            .where(KitComponent.component_id.in_(plain_ids))
            .order_by(KitComponent.kit_id)
        ):
            containing[component_id].append(kit_id)
    extra = (component_ids | child_ids | {k for ks in containing.values() for k in ks}) - set(products)
    products.update(_products_by_id(session, sorted(extra)))
    snapshots = stock_snapshots(session, list(ids) + sorted(component_ids | child_ids))
    prices = _prices_by_product(session, list(ids) + sorted(component_ids), price_list_id)
    publications = hooks.publications(session, settings, account_id, ids)

    def ident(pid: int) -> ProductIdentificationOut:
        product, brand = products[pid]
        return identification(product, brand)

    out: list[ProductCatalogOut] = []
    for pid in ids:
        product, _ = products[pid]
        out.append(
            ProductCatalogOut(
                Identification=ident(pid),
                Stock=stock_out(product, snapshots[pid]),
                Price=prices.get(pid, []),
                Kits=[ident(k) for k in containing.get(pid, [])],
                KitComponents=[
                    KitComponentOut(
                        Identification=ident(c.component_id),
                        Price=prices.get(c.component_id, []),
                        Stock=stock_out(products[c.component_id][0], snapshots[c.component_id]),
                        Quantity=c.quantity,
                        Principal=c.principal,
                    )
                    for c in components.get(pid, [])
                ],
                Publications=publications.get(pid, []),
                Features=ProductFeaturesOut(Visibility=product.visibility),
                Attributes=attributes_out(product.attributes),
                Variations=[
                    VariationProductOut(
                        Identification=ident(c),
                        Attributes=attributes_out(products[c][0].attributes),
                        Stock=stock_out(products[c][0], snapshots[c]),
                    )
                    for c in children.get(pid, [])
                ],
                ProductAdditionalData=additional_data_out(product),
            )
        )
    return out


def additional_data_out(product: Product) -> ProductAdditionalDataOut | None:
    """The product's listing data (pictures, description, category, condition), or None when none is set."""
    if listing_data.is_empty(product.pictures, product.description, product.category, product.condition):
        return None
    return ProductAdditionalDataOut(
        Pictures=list(product.pictures or []),
        Description=product.description,
        Category=product.category,
        Condition=product.condition,
    )


def _products_by_id(session: Session, ids: Sequence[int]) -> dict[int, tuple[Product, Brand]]:
    if not ids:
        return {}
    rows = session.execute(select(Product, Brand).join(Brand, Brand.id == Product.brand_id).where(Product.id.in_(ids)))
    return {p.id: (p, b) for p, b in rows}


def identification(product: Product, brand: Brand) -> ProductIdentificationOut:
    """ProductIdentification of a product."""
    status_name = CATALOG_STATUSES.get(product.catalog_status, str(product.catalog_status))
    return ProductIdentificationOut(
        Id=product.id,
        SKU=product.sku,
        OwnCode=product.own_code,
        Brand=IdNameOut(Id=brand.id, Name=brand.name),
        Name=product.name,
        CatalogStatus=CatalogStatusOut(
            Id=product.catalog_status, Name=status_name, Key=product.catalog_status, Value=status_name
        ),
        ProductType=IdNameOut(
            Id=product.product_type, Name=PRODUCT_TYPES.get(product.product_type, str(product.product_type))
        ),
    )


def stock_out(product: Product, snapshot: StockSnapshot) -> ProductStockOut:
    """ProductStockGet of a product."""
    return ProductStockOut(
        Quantity=snapshot.quantity,
        B2BQuantity=product.b2b_quantity,
        PublishQuantity=snapshot.publish_quantity,
        MinPublicationQuantity=product.min_publication_quantity,
        MaxPublicationQuantity=product.max_publication_quantity,
        MeasurableQuantity=MeasurableQuantityOut(
            Quantity=product.measurable_quantity or ZERO,
            Unit=product.measure_unit if product.measurable_quantity is not None else None,
        ),
        Alert=AlertOut(RedQty=product.alert_red, YellowQty=product.alert_yellow),
    )


def attributes_out(raw: list[dict[str, Any]] | None) -> list[ProductAttributeOut]:
    """Stored attributes as ProductAttribute objects."""
    out: list[ProductAttributeOut] = []
    for attr in raw or []:
        value = attr.get("Value")
        out.append(
            ProductAttributeOut(
                Name=str(attr.get("Name", "")),
                Value=None if value is None else str(value),
                ValueName=attr.get("ValueName") if attr.get("ValueName") is not None else value,
                MeasurementUnit=attr.get("MeasurementUnit"),
            )
        )
    return out


def _prices_by_product(
    session: Session, product_ids: Sequence[int], price_list_id: int | None
) -> dict[int, list[ProductPriceOut]]:
    stmt = (
        select(ProductPrice, PriceList.name, PriceList.discount_rate)
        .join(PriceList, PriceList.id == ProductPrice.price_list_id)
        .where(ProductPrice.product_id.in_(sorted(set(product_ids))))
        .order_by(ProductPrice.product_id, ProductPrice.price_list_id)
    )
    if price_list_id is not None:
        stmt = stmt.where(ProductPrice.price_list_id == price_list_id)
    out: dict[int, list[ProductPriceOut]] = defaultdict(list)
    for row, name, discount in session.execute(stmt):
        pwt = row.price_with_taxes or ZERO
        out[row.product_id].append(
            ProductPriceOut(
                Price=row.price or ZERO,
                PriceWithTaxes=pwt,
                SuggestedRetailPrice=row.suggested_retail_price or ZERO,
                SuggestedRetailPriceAutoCalculated=row.srp_auto,
                PriceAutoCalculated=row.price_auto,
                FinalPriceWithShippingCost=pwt,
                B2BDiscountRate=row.b2b_discount_rate or ZERO,
                SalesMargin=row.sales_margin or ZERO,
                PriceList=PriceListRefOut(Id=row.price_list_id, Name=name, DiscountRate=discount or ZERO),
                Cost=row.cost or ZERO,
            )
        )
    return out
