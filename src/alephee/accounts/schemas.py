"""Wire types of the accounts section (CF-10), with the spec's exact property names."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import Field, field_validator

from alephee.http.wire import AddressOut, Identifier, WireDateTime, WireDecimal, WireModel


class AccountType(StrEnum):
    """Account types (CF-00.1.1; codes not documented, so these names are ours)."""

    SELLER = "seller"
    OFFICIAL_STORE = "official_store"
    BRAND = "brand"
    DISTRIBUTOR = "distributor"
    PUIS = "puis"


SELLING_TYPES = frozenset({AccountType.SELLER, AccountType.OFFICIAL_STORE})
CATALOG_OWNER_TYPES = frozenset({AccountType.BRAND, AccountType.DISTRIBUTOR})


class AccountOut(WireModel):
    """AccountType of CF-10.1.3."""

    Id: int
    Name: str
    BusinessName: str | None
    DocType: str | None
    DocNumber: str | None
    PickupCode: str | None
    OwnCode: str | None


class MarketplaceOut(WireModel):
    """MarketplaceType of CF-10.2.3."""

    Id: int
    Name: str
    Channel: str | None


class PriceListOut(WireModel):
    """PriceListType of CF-10.3.3."""

    Id: int
    Name: str
    Currency: str | None
    IsDefault: bool


class ExternalStoreIdOut(WireModel):
    """A marketplace's id of a store, in both spellings seen (docs and real clients)."""

    Id: int | str
    ExternalId: str
    Name: str | None
    MarketplaceID: int
    MarketPlaceId: int


class PickupStoreOut(WireModel):
    """``AccountPickup``: the seller account a pickup point belongs to (both id spellings)."""

    Id: int | None
    Name: str
    BusinessName: str | None
    ExternalPickupId: int | None
    IntegrationCode: str | None
    SellerAccountID: int | None
    SellerAccountId: int | None


class StoreOut(WireModel):
    """StoreType of CF-10.4.3."""

    Id: int
    Name: str
    BusinessName: str | None
    ExternalStoreId: list[ExternalStoreIdOut]
    IntegrationCode: str | None
    IsPrincipal: bool
    OpenHours: str | None
    AvailabilityTimeInHours: int | None
    AdditionalTimeInHours: int | None
    AllowPickUpStore: bool
    AllowShipments: bool | None
    AccountPickup: PickupStoreOut | None
    LogisticTagsExclude: list[str]
    Zone: str | None
    Address: AddressOut | None
    DateCreated: WireDateTime


class LoginTokenOut(WireModel):
    """Response of GET .../logintoken (CF-10.5.3)."""

    Token: str
    Url: str | None
    Module: int
    TTL: int
    ExpirationDate: WireDateTime


class FiscalTaxRuleIn(WireModel):
    """One account fiscal tax rule (our design; CF-10.6 has only the page title)."""

    Code: Identifier = Field(min_length=1, max_length=60, description="Your identifier of the rule (upsert key).")
    Name: str = Field(min_length=1, max_length=200)
    TaxType: str = Field(
        default="VAT", min_length=1, max_length=30, description="VAT, GrossIncome, Perception, Withholding, Other."
    )
    Percentage: Decimal = Field(ge=0, le=100, description="0..100, at most 4 decimals.")
    StateCode: str | None = Field(default=None, max_length=10, description="Province/state the rule applies to.")
    Active: bool = True

    @field_validator("Percentage")
    @classmethod
    def _four_decimals(cls, value: Decimal) -> Decimal:
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -4:
            raise ValueError("at most 4 decimals")
        return value


class FiscalTaxRuleOut(WireModel):
    """A stored fiscal tax rule."""

    Code: str
    Name: str
    TaxType: str
    Percentage: WireDecimal
    StateCode: str | None
    Active: bool
    DateUpdated: WireDateTime
