"""Routes of the accounts section (CF-10). Thin: parse, call the service, shape the response."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Query, Response

from alephee.accounts import reads, tax_rules, tokens
from alephee.accounts.auth import KEY_REFUSALS, PATH_AUTHENTICATED, AccountNotLinked, Key, PathAccount
from alephee.accounts.models import Account, FiscalTaxRule, PriceList, Store, StoreExternalId
from alephee.accounts.schemas import (
    AccountOut,
    AddressOut,
    ExternalStoreIdOut,
    FiscalTaxRuleIn,
    FiscalTaxRuleOut,
    LoginTokenOut,
    MarketplaceOut,
    PickupStoreOut,
    PriceListOut,
    StoreOut,
)
from alephee.http.body import JSON_ARRAY_REFUSALS, body_doc, json_array
from alephee.http.deps import Context, ReadSession, WriteSession
from alephee.http.errors import InvalidParameters, responses_for
from alephee.http.numbers import plain_int
from alephee.http.paging import (
    DATE_CREATED_SORT,
    ID_SORT,
    PAGING_REFUSALS,
    Page,
    Paged,
    SortOption,
    paged_response,
    paging,
)
from alephee.http.params import MAX_INT32
from alephee.http.results import ActionResult
from alephee.http.routing import api_router
from alephee.http.wire import json_response
from alephee.marketplaces.models import Marketplace

router = api_router(tags=["Accounts"])

# A list of the account's rows: the path account's checks, then the paging.
LIST_REFUSALS = (*PATH_AUTHENTICATED, *PAGING_REFUSALS)
NAME_SORT = SortOption("Name", "Order by name asc")


def _account_out(a: Account) -> AccountOut:
    return AccountOut(
        Id=a.id,
        Name=a.name,
        BusinessName=a.business_name,
        DocType=a.doc_type,
        DocNumber=a.doc_number,
        PickupCode=a.pickup_code,
        OwnCode=a.own_code,
    )


def _store_out(store: Store, externals: list[StoreExternalId]) -> StoreOut:
    pickup = None
    if store.pickup_name is not None:
        pickup = PickupStoreOut(
            Id=store.id,
            Name=store.pickup_name,
            BusinessName=store.pickup_business_name,
            ExternalPickupId=store.pickup_external_id,
            IntegrationCode=store.pickup_integration_code,
            SellerAccountID=store.pickup_seller_account_id,
            SellerAccountId=store.pickup_seller_account_id,
        )
    return StoreOut(
        Id=store.id,
        Name=store.name,
        BusinessName=store.business_name,
        ExternalStoreId=[
            ExternalStoreIdOut(
                Id=e.external_id if (number := plain_int(e.external_id)) is None else number,
                ExternalId=e.external_id,
                Name=e.name,
                MarketplaceID=e.marketplace_id,
                MarketPlaceId=e.marketplace_id,
            )
            for e in externals
        ],
        IntegrationCode=store.integration_code,
        IsPrincipal=store.is_principal,
        OpenHours=store.open_hours,
        AvailabilityTimeInHours=store.availability_time_in_hours,
        AdditionalTimeInHours=store.additional_time_in_hours,
        AllowPickUpStore=store.allow_pickup_store,
        AllowShipments=store.allow_shipments,
        AccountPickup=pickup,
        LogisticTagsExclude=list(store.logistic_tags_exclude or []),
        Zone=store.zone,
        Address=AddressOut.model_validate(store.address) if store.address else None,
        DateCreated=store.created_at,
    )


@router.get(
    "/accounts",
    name="accounts.list",
    response_model=Paged[AccountOut],
    responses=responses_for(*KEY_REFUSALS, AccountNotLinked, *PAGING_REFUSALS),
    summary="List the accounts associated with the API_KEY",
)
def get_accounts(
    caller: Key,
    session: ReadSession,
    document_number: str | None = Query(None, alias="documentNumber", description="Only accounts with this DocNumber."),
    account_id: str | None = Query(None, alias="accountId", description="Optional: only this account."),
    page: Page = Depends(paging([ID_SORT])),
) -> Response:
    """Accounts linked to the key. Needs only `API_KEY`; `accountId` is optional here."""
    total, rows = reads.list_accounts(session, caller, page, document_number=document_number, account_id=account_id)
    return paged_response(page, total, [_account_out(a) for a in rows])


@router.get(
    "/accounts/{accountId}/marketplaces",
    name="accounts.marketplaces",
    response_model=Paged[MarketplaceOut],
    responses=responses_for(*LIST_REFUSALS),
    summary="List the marketplaces connected to the account",
)
def get_marketplaces(
    scope: PathAccount,
    session: ReadSession,
    page: Page = Depends(paging([ID_SORT, NAME_SORT])),
) -> Response:
    """Marketplaces/channels configured for the account; `Id` is the code used by every marketplace filter."""
    total, rows = reads.list_marketplaces(session, scope.account_id, page)
    return paged_response(page, total, [_marketplace_out(m) for m in rows])


def _marketplace_out(m: Marketplace) -> MarketplaceOut:
    return MarketplaceOut(Id=m.id, Name=m.name, Channel=m.channel)


@router.get(
    "/accounts/{accountId}/pricelists",
    name="accounts.pricelists",
    response_model=Paged[PriceListOut],
    responses=responses_for(*LIST_REFUSALS),
    summary="List the account's price lists",
)
def get_price_lists(
    scope: PathAccount,
    session: ReadSession,
    page: Page = Depends(paging([ID_SORT, NAME_SORT])),
) -> Response:
    """Price lists of the account; `Id` is the `priceListId` of the products endpoints."""
    total, rows = reads.list_price_lists(session, scope.account_id, page)
    return paged_response(page, total, [_price_list_out(p) for p in rows])


def _price_list_out(p: PriceList) -> PriceListOut:
    return PriceListOut(Id=p.id, Name=p.name, Currency=p.currency, IsDefault=p.is_default)


@router.get(
    "/accounts/{accountId}/stores",
    name="accounts.stores",
    response_model=Paged[StoreOut],
    responses=responses_for(*LIST_REFUSALS, InvalidParameters),
    summary="List stores, branches and pickup points",
)
def get_stores(
    scope: PathAccount,
    session: ReadSession,
    allow_pickup_in_stores: bool | None = Query(
        None, alias="allowPickupInStores", description="true: only pickup-enabled stores; false: only the others."
    ),
    with_account_pickup: bool | None = Query(
        None, alias="withAccountPickup", description="true: only stores with a linked seller account (AccountPickup)."
    ),
    marketplace: int | None = Query(None, ge=0, le=MAX_INT32, description="Only stores known to this marketplace id."),
    page: Page = Depends(paging([ID_SORT, DATE_CREATED_SORT])),
) -> Response:
    """Stores of the account; the three filters combine with AND; sorts `Id` (default) and `dateCreated`."""
    filters = reads.StoreFilters(
        allow_pickup_in_stores=allow_pickup_in_stores,
        with_account_pickup=with_account_pickup,
        marketplace=marketplace,
    )
    total, rows = reads.list_stores(session, scope.account_id, filters, page)
    return paged_response(page, total, [_store_out(s, ext) for s, ext in rows])


@router.get(
    "/accounts/{accountId}/logintoken",
    name="accounts.logintoken",
    response_model=LoginTokenOut,
    responses=responses_for(*PATH_AUTHENTICATED, *tokens.LOGIN_TOKEN_REFUSALS),
    summary="Issue a short-lived login/confirmation token",
)
def get_login_token(
    scope: PathAccount,
    session: WriteSession,
    ctx: Context,
    user_email: str | None = Query(None, alias="userEmail", description="E-mail of an active user of the account."),
    module: str | None = Query(None, description="1 = Alephee B2B portal (default), 2 = WebAPI."),
    ttl: str | None = Query(None, description="Lifetime in seconds, 5..60 (default 30)."),
) -> Response:
    """Module 1 returns an auto-login `Url` on the account's B2B portal; module 2 tokens confirm sensitive
    operations such as `DELETE /v2/products/prices` (`confirmationToken`). A module 1 token logs in once; a
    module 2 token confirms any number of calls of its account until it expires (`ttl`)."""
    issued = tokens.issue_login_token(
        session,
        ctx.settings,
        account_id=scope.account_id,
        key_id=scope.caller.key_id,
        user_email=user_email,
        module=module,
        ttl=ttl,
    )
    return json_response(
        LoginTokenOut(
            Token=issued.token, Url=issued.url, Module=issued.module, TTL=issued.ttl, ExpirationDate=issued.expires_at
        )
    )


def _rule_out(r: FiscalTaxRule) -> FiscalTaxRuleOut:
    return FiscalTaxRuleOut(
        Code=r.code,
        Name=r.name,
        TaxType=r.tax_type,
        Percentage=r.percentage,
        StateCode=r.state_code,
        Active=r.active,
        DateUpdated=r.date_updated,
    )


FISCAL_DOC = body_doc(FiscalTaxRuleIn, array=True, description="Array of tax rules, upserted by `Code`.")


@router.put(
    "/accounts/{accountId}/fiscaltaxrules",
    name="accounts.fiscaltaxrules.put",
    response_model=ActionResult,
    responses=responses_for(
        *PATH_AUTHENTICATED,
        *JSON_ARRAY_REFUSALS,
        _412={"model": ActionResult, "description": "No rule could be applied"},
    ),
    openapi_extra=FISCAL_DOC,
    summary="Create or update the account's fiscal tax rules",
)
@router.put(
    "/accounts/{accountId}/taxrules",
    name="accounts.fiscaltaxrules.put",
    response_model=ActionResult,
    responses=responses_for(
        *PATH_AUTHENTICATED,
        *JSON_ARRAY_REFUSALS,
        _412={"model": ActionResult, "description": "No rule could be applied"},
    ),
    openapi_extra=FISCAL_DOC,
    summary="Alias of PUT /v2/accounts/{accountId}/fiscaltaxrules",
)
def put_fiscal_tax_rules(
    scope: PathAccount,
    session: WriteSession,
    items: list[Any] = Depends(json_array()),
) -> Response:
    """Upsert tax rules by `Code` (our design; the docs have only the page title). ActionResult per rule:
    200 when at least one rule was applied, 412 when none was."""
    result = tax_rules.upsert_fiscal_tax_rules(session, scope.account_id, items)
    status = 200 if result.Quantities.Error < result.Quantities.Total or not items else 412
    return json_response(result, status)


@router.get(
    "/accounts/{accountId}/fiscaltaxrules",
    name="accounts.fiscaltaxrules.get",
    response_model=Paged[FiscalTaxRuleOut],
    responses=responses_for(*LIST_REFUSALS),
    summary="Read the account's fiscal tax rules",
)
@router.get(
    "/accounts/{accountId}/taxrules",
    name="accounts.fiscaltaxrules.get",
    response_model=Paged[FiscalTaxRuleOut],
    responses=responses_for(*LIST_REFUSALS),
    summary="Alias of GET /v2/accounts/{accountId}/fiscaltaxrules",
)
def get_fiscal_tax_rules(
    scope: PathAccount,
    session: ReadSession,
    page: Page = Depends(paging([SortOption("Code", "Order by code asc")])),
) -> Response:
    """The rules stored by the PUT, ordered by `Code`."""
    total, rows = tax_rules.list_fiscal_tax_rules(session, scope.account_id, page)
    return paged_response(page, total, [_rule_out(r) for r in rows])
