"""Routes of the products section (CF-40). Thin: parse, call the use case, shape the response."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Query, Response

from alephee.accounts.auth import Account
from alephee.errors import InvalidInput, PayloadTooLarge, RangeNotSatisfiable, UnsupportedMediaType
from alephee.http.body import body_doc, json_array, json_object
from alephee.http.dates import parse_filter_datetime
from alephee.http.deps import Context, ReadSession, WriteSession, commit_now
from alephee.http.errors import AUTHENTICATED, responses_for
from alephee.http.paging import Page, Paged, SortOption, paged_response, paging
from alephee.http.results import ActionResult
from alephee.http.routing import api_router
from alephee.http.wire import json_response
from alephee.products.batch import AccountNotFound
from alephee.products.batch_groups import GROUPS
from alephee.products.catalog import CodeListInvalid, ProductFilters, list_products, parse_code_list
from alephee.products.fiscal import list_fiscal, update_fiscal
from alephee.products.price_lists import (
    ConfirmationTokenRefused,
    ConfirmationTokenRequired,
    DeleteNotEnabled,
    DeleteRefusedForAccountType,
    PriceListIdInvalid,
    PriceListNotFound,
    TooManyPriceListProducts,
    delete_from_price_list,
    parse_price_list_id,
)
from alephee.products.schemas import (
    CATALOG_STATUSES,
    PRODUCT_TYPES,
    PLProductInfoIn,
    PriceListInfoIn,
    ProductCatalogOut,
    ProductFiscalIn,
    ProductFiscalOut,
    ProductUpdateIn,
)

router = api_router(tags=["Products"])

# What reading a JSON body can refuse (http.body): not JSON or not the expected shape, over the cap, wrong type.
JSON_BODY_REFUSALS = (InvalidInput, PayloadTooLarge, UnsupportedMediaType)
# A batch where no element could be processed answers 412 with the same ActionResult.
NOTHING_PROCESSED = {"model": ActionResult, "description": "No element could be processed (same ActionResult body)"}
ID_SORT = SortOption("ID", "ID")


def _filters(
    sku: str | None,
    brand: str | None,
    own_code: str | None,
    date_updated_from: str | None,
    types: str | None = None,
    catalog_status: str | None = None,
) -> ProductFilters:
    since = None
    if date_updated_from is not None and date_updated_from.strip():
        since = parse_filter_datetime(date_updated_from, name="dateUpdatedFrom")
    return ProductFilters(
        sku=sku or None,
        brand=brand or None,
        own_code=own_code or None,
        date_updated_from=since,
        types=parse_code_list(types, "types", PRODUCT_TYPES),
        catalog_statuses=parse_code_list(catalog_status, "catalogStatus", CATALOG_STATUSES),
    )


SKU_QUERY = Query(None, alias="SKU", description="Exact SKU (optional, despite the docs' asterisk).")
BRAND_QUERY = Query(None, alias="brand", description="Exact brand name (case-insensitive) or brand id.")
OWN_CODE_QUERY = Query(None, alias="ownCode", description="Exact OwnCode (your ERP code).")
SINCE_QUERY = Query(
    None,
    alias="dateUpdatedFrom",
    description="Only products changed on or after `yyyy-mm-dd[ HH:mm]` (account time) or an ISO 8601 instant.",
)
SINCE_TYPO_QUERY = Query(None, alias="dateUpdateFrom", description="Alias of dateUpdatedFrom (a client's spelling).")


@router.get(
    "/products",
    name="products.list",
    response_model=Paged[ProductCatalogOut],
    responses=responses_for(
        *AUTHENTICATED,
        InvalidInput,
        PriceListIdInvalid,
        CodeListInvalid,
        PriceListNotFound,
        RangeNotSatisfiable,
        _206={"model": Paged[ProductCatalogOut], "description": "limit over 1000: capped page"},
    ),
    summary="Read the catalog: identification, stock, prices per price list, kits, publications",
)
def get_products(
    *,
    scope: Account,
    sku: str | None = SKU_QUERY,
    brand: str | None = BRAND_QUERY,
    own_code: str | None = OWN_CODE_QUERY,
    price_list_id: str | None = Query(
        None, alias="priceListId", description="Keep only the `Price[]` entries of this price list."
    ),
    date_updated_from: str | None = SINCE_QUERY,
    date_update_from: str | None = SINCE_TYPO_QUERY,
    types: str | None = Query(
        None, description="Product types, comma-separated: 1 Normal, 2 Kit, 5 Variation child, 6 Variation master."
    ),
    catalog_status: str | None = Query(
        None,
        alias="catalogStatus",
        description="Catalog statuses, comma-separated: 0 Assigned, 1 Approved, 2 Observed, 3 Observed and fixed, "
        "4 Observed and rejected, 5 Deleted.",
    ),
    page: Page = Depends(paging([ID_SORT])),
    session: ReadSession,
    ctx: Context,
) -> Response:
    """Products of the account ordered by `Id`. Filters combine with AND; `priceListId` narrows the price
    array only. `limit` above 1000 answers 206 with 1000 products."""
    filters = _filters(sku, brand, own_code, date_updated_from or date_update_from, types, catalog_status)
    total, results = list_products(
        session, ctx.settings, scope.account_id, filters, parse_price_list_id(price_list_id), page
    )
    return paged_response(page, total, results)


@router.post(
    "/products",
    name="products.update",
    response_model=ActionResult,
    responses=responses_for(
        *AUTHENTICATED,
        *JSON_BODY_REFUSALS,
        AccountNotFound,
        PriceListIdInvalid,
        PriceListNotFound,
        _412=NOTHING_PROCESSED,
    ),
    openapi_extra=body_doc(
        ProductUpdateIn,
        array=True,
        description="Array of products (at most 500): `SKU` plus the `Stock`, `Price` and `Features` to change. "
        "Property names are case-insensitive.",
    ),
    summary="Update stock and/or prices of catalog products",
)
def post_products(
    *,
    scope: Account,
    price_list_id: str | None = Query(
        None,
        alias="priceListId",
        description="Price list the prices go to; omit it to use the account's default (or only) list.",
    ),
    items: list[Any] = Depends(json_array()),
    session: WriteSession,
    ctx: Context,
) -> Response:
    """Each element is validated and applied on its own (an invalid element changes nothing). The
    ActionResult lists the elements with messages (errors, warnings such as a Movement clamped at 0); Ok
    elements are only counted. 200 when at least one element was processed, 412 when none was."""
    # Applied with the batches of the account waiting for the same rows, and committed before rendering (the
    # product rows are locked until the commit).
    result, processed = GROUPS.apply(session, ctx.settings, scope.account_id, price_list_id, items, commit_now)
    return json_response(result, 200 if processed or not items else 412)


@router.put(
    "/products/fiscal",
    name="products.fiscal.update",
    response_model=ActionResult,
    responses=responses_for(*AUTHENTICATED, *JSON_BODY_REFUSALS, AccountNotFound, _412=NOTHING_PROCESSED),
    openapi_extra=body_doc(
        ProductFiscalIn, array=True, description="Array of products (at most 500) with their fiscal data."
    ),
    summary="Update product fiscal information (tax rate, tax rule, fiscal codes)",
)
def put_products_fiscal(
    *,
    scope: Account,
    items: list[Any] = Depends(json_array()),
    session: WriteSession,
    ctx: Context,
) -> Response:
    """Our design (the docs have only the page title): `TaxRate` (VAT %, derives `Price` ↔
    `PriceWithTaxes`), `TaxRuleCode` (an account fiscal tax rule used when no TaxRate is set), `FiscalCode`
    and `Origin`. Prices derived from the tax rate are recomputed. ActionResult per SKU; 412 when nothing
    was processed."""
    result, processed = update_fiscal(session, ctx.settings, scope.account_id, items)
    return json_response(result, 200 if processed or not items else 412)


@router.get(
    "/products/fiscal",
    name="products.fiscal.get",
    response_model=Paged[ProductFiscalOut],
    responses=responses_for(*AUTHENTICATED, InvalidInput, AccountNotFound, RangeNotSatisfiable),
    summary="Read product fiscal information",
)
def get_products_fiscal(
    *,
    scope: Account,
    sku: str | None = SKU_QUERY,
    brand: str | None = BRAND_QUERY,
    own_code: str | None = OWN_CODE_QUERY,
    date_updated_from: str | None = SINCE_QUERY,
    page: Page = Depends(paging([ID_SORT])),
    session: ReadSession,
    ctx: Context,
) -> Response:
    """Fiscal data of the account's products ordered by `Id`; `EffectiveTaxRate` is the rate used for prices
    (the product's TaxRate, else its tax rule's percentage, else the hub default)."""
    filters = _filters(sku, brand, own_code, date_updated_from)
    total, results = list_fiscal(session, ctx.settings, scope.account_id, filters, page)
    return paged_response(page, total, results)


# Registers PLProductInfoIn for the OpenAPI page (the Products array is validated element by element).
body_doc(PLProductInfoIn, array=False)


@router.delete(
    "/products/prices",
    name="products.prices.delete",
    response_model=ActionResult,
    responses=responses_for(
        *AUTHENTICATED,
        InvalidInput,
        UnsupportedMediaType,
        DeleteRefusedForAccountType,
        DeleteNotEnabled,
        TooManyPriceListProducts,
        PriceListNotFound,
        ConfirmationTokenRequired,
        ConfirmationTokenRefused,
        _412=NOTHING_PROCESSED,
    ),
    openapi_extra=body_doc(
        PriceListInfoIn,
        array=False,
        description="`PriceListId` and the `Products` to remove; no products removes EVERY product of the list.",
    ),
    summary="Delete products from a price list (destructive)",
)
def delete_products_prices(
    *,
    scope: Account,
    confirmation_token: str | None = Query(
        None,
        alias="confirmationToken",
        description="Single-use token from GET /v2/accounts/{accountId}/logintoken?module=2 (30 s by default).",
    ),
    body: PriceListInfoIn = Depends(json_object(PriceListInfoIn)),
    session: WriteSession,
    ctx: Context,
) -> Response:
    """Hard delete, no undo: the products lose their price in that list. Only BRAND and
    WHOLESALER/DISTRIBUTOR accounts with the permission enabled by support, with a fresh `confirmationToken`.
    Products shared to seller accounts are skipped with an item error. 200 when at least one product was
    removed, 412 (same ActionResult) when none was."""
    cap = ctx.settings.endpoint_limit("products.prices.delete").cap
    result, removed, considered = delete_from_price_list(
        session, scope.account_id, scope.account_type, confirmation_token, body, cap
    )
    return json_response(result, 200 if removed or considered == 0 else 412)
