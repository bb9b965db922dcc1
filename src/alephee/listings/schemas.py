"""Wire types of the product listings section (CF-50), with the spec's exact (inconsistent) key names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from alephee.http.body import raw_property
from alephee.http.results import ActionResult
from alephee.http.wire import WireDateTime, WireDecimal, WireModel, clean_identifier
from alephee.products.schemas import Amount, Code, IdInteger

# CF-50.5.3 (read): Mercado Libre listing types; descriptions are the friendly names ML shows.
LISTING_TYPES: dict[int, tuple[str, str]] = {
    0: ("none", "No type found"),
    1: ("gold_pro", "Premium"),
    2: ("gold_premium", "Oro Premium"),
    3: ("gold_special", "Clásica"),
    4: ("gold", "Oro"),
    5: ("silver", "Plata"),
    6: ("bronze", "Bronce"),
    7: ("free", "Gratuita"),
}

BAD_EXTERNAL_IDS = 'must be an array of listing ids: strings or objects {"ID": ...}'


def parse_external_ids(value: Any) -> Any:
    """``["MLA1", ...]`` or ``[{"ID": "MLA1"}, ...]`` (``ID``/``Id``/``id``) → ``["MLA1", ...]`` (CF-50.2.3)."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError(BAD_EXTERNAL_IDS)
    out: list[str] = []
    for element in value:
        if isinstance(element, Mapping):
            element = raw_property(element, "Id")
        if isinstance(element, bool) or not isinstance(element, str | int) or not str(element).strip():
            raise ValueError(BAD_EXTERNAL_IDS)
        out.append(clean_identifier(str(element).strip()))
    return out


ExternalIds = Annotated[list[str], BeforeValidator(parse_external_ids)]


class ExternalPublicationOut(WireModel):
    """``ExternalPublicationsList``: one marketplace listing id."""

    ID: str


class ListingPriceIn(WireModel):
    """The price change of PUT /v2/productlistings: a fixed Price, or Margin and/or AddedFixedValue."""

    Price: Amount | None = Field(default=None, description="Fixed price 0.01..999,999,999.99; disconnects the listing.")
    Margin: Amount | None = Field(default=None, description="-99.99..99.99 % over the product's base price.")
    AddedFixedValue: Amount | None = Field(default=None, description="-9,999.99..9,999.99 added to the base price.")


class ListingSelectionIn(WireModel):
    """How an element picks listings: Brand+SKU (all of the product) or ExternalPublications, not both."""

    Brand: Code | None = Field(default=None, description="Brand id or name (with SKU).")
    SKU: Code | None = Field(default=None, description="Product SKU (or OwnCode): every listing of the product.")
    Marketplace: IdInteger | None = Field(default=None, description="Only listings of this marketplace id.")
    ExternalPublications: ExternalIds | None = Field(
        default=None,
        description='Marketplace listing ids, as strings ["MLA1"] or objects [{"ID": "MLA1"}].',
        json_schema_extra={"items": {"type": "string"}},
    )


class ListingUpdateIn(ListingSelectionIn):
    """One element of PUT /v2/productlistings."""

    Price: ListingPriceIn | None = None


class ListingStatusIn(ListingSelectionIn):
    """One element of PUT /v2/productlistings/update-status (``ProductListingStatus``)."""

    Status: IdInteger | None = Field(default=None, description="Target status code: 1 Active, 2 Paused, 3 Finished.")


class ListingDiscountIn(ListingSelectionIn):
    """One element of POST /v2/productlistings/discounts (``ProductListingDiscount``)."""

    DiscountPercent: Amount | None = Field(default=None, description="0.00..100.00 (Mercado Libre: 5 <= % < 80).")
    StartDate: str | None = Field(default=None, description="UTC instant, e.g. 2021-09-01T23:17:33.638Z.")
    FinishDate: str | None = Field(default=None, description="UTC instant after StartDate.")


class KeyValueOut(WireModel):
    """``{"Key", "Value"}`` (listing ``Marketplace``)."""

    Key: int
    Value: str


class ListingStatusOut(WireModel):
    """``{"Key", "Name", "UpdatedDateTime"}`` (listing ``Status``)."""

    Key: int
    Name: str
    UpdatedDateTime: WireDateTime


class CategoryOut(WireModel):
    """``{"Id", "Value"}`` (listing ``Category``)."""

    Id: str
    Value: str | None


class ListingTypeOut(WireModel):
    """``{"Id", "Name", "Description"}`` (Mercado Libre only)."""

    Id: int
    Name: str
    Description: str


class DiscountOut(WireModel):
    """The discount active now (our addition)."""

    Percent: WireDecimal
    StartDate: WireDateTime
    FinishDate: WireDateTime


class ProductListingOut(WireModel):
    """ProductListing (CF-50.1.3), plus our documented additions after ``Health``."""

    Id: int
    Brand: str | None
    SKU: str | None
    ProductSKU: str | None
    SellerSKU: str | None
    ExternalId: str | None
    Marketplace: KeyValueOut
    Title: str | None
    Status: ListingStatusOut
    PermanentLink: str | None
    Category: CategoryOut | None
    ListingType: ListingTypeOut | None
    Price: WireDecimal = Field(
        description="Published price: the regular price less the discount active now; 0 while the product has "
        "no price in the listing's price list (the listing is then paused, StatusReason no_price)."
    )
    Deals: list[str]
    AvailableQuantity: int
    SoldQuantity: int
    Visits: int | None
    Health: WireDecimal | None
    OriginalPrice: WireDecimal | None = Field(description="Regular price while a discount is active, else null.")
    Discount: DiscountOut | None
    DateCreated: WireDateTime
    ParentId: int | None = Field(description="The standard listing a child listing hangs from (includeChilds).")
    StatusReason: str | None = Field(
        description="Why a paused listing is paused: user (the seller), stock (nothing to publish), no_price (the "
        "product has no price in the listing's price list), marketplace; null otherwise. The hub reactivates "
        "stock and no_price pauses itself once the cause is gone."
    )


class ListingResultOut(WireModel):
    """One entry of the Total/Results envelope: the input echoed for one listing, and its outcome."""

    ProductListingStatus: list[dict[str, Any]]
    Status: int
    Message: str


class ListingResultsOut(WireModel):
    """``{"Total", "Results"}`` of update-status and discounts."""

    Total: int
    Results: list[ListingResultOut]


ListingActionResult = ActionResult
