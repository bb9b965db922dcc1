"""The portal's refusals as named errors, raised by the services themselves (no HTTP): each with its status and
the message the buyer reads."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal

import pytest

from alephee.accounts import tokens
from alephee.errors import DomainError
from alephee.http.context import AppContext
from alephee.portal import cart, catalog, checkout, sessions
from alephee.portal import orders as buyer_orders
from tests.fixtures.portal import Shop, open_viewer, spanish


def _raises(ctx: AppContext, refusal: type[DomainError], action: Callable[..., object]) -> DomainError:
    """Run ``action(session)`` in a transaction and return the refusal it raised (nothing is committed)."""
    with pytest.raises(refusal) as caught, ctx.db.writing() as session:
        action(session)
    return caught.value


def test_a_login_link_refused_is_named_and_says_whether_it_expired(ctx: AppContext, shop: Shop) -> None:
    refused = _raises(ctx, sessions.LoginLinkRefused, lambda s: sessions.sign_in(s, ctx.settings, "not-a-token"))
    assert (refused.status, refused.message, refused.expired) == (401, sessions.LINK_INVALID, False)  # type: ignore[attr-defined]
    with ctx.db.writing() as session:
        issued = tokens.issue_login_token(
            session, ctx.settings, account_id=shop.account_id, key_id=None,
            user_email=shop.user_email, module="1", ttl="30",
        )  # fmt: skip
    with ctx.db.writing() as session:
        sessions.sign_in(session, ctx.settings, issued.token)
    used = _raises(ctx, sessions.LoginLinkRefused, lambda s: sessions.sign_in(s, ctx.settings, issued.token))
    assert (used.message, used.expired) == (sessions.LINK_EXPIRED, True)  # type: ignore[attr-defined]


def test_session_and_form_refusals(ctx: AppContext, shop: Shop) -> None:
    missing = _raises(ctx, sessions.SessionRequired, lambda s: sessions.require_viewer(s, "no-such-cookie"))
    assert (missing.status, missing.message) == (401, sessions.SESSION_REQUIRED)
    viewer = open_viewer(ctx, shop)
    with pytest.raises(sessions.CsrfFailed) as caught:
        sessions.check_csrf(viewer, "forged")
    assert (caught.value.status, caught.value.message) == (403, sessions.CSRF_FAILED)


def test_catalog_and_cart_refusals(ctx: AppContext, shop: Shop) -> None:
    viewer = open_viewer(ctx, shop)
    hammer = shop.products["MAR-003"]  # no B2B stock
    gone = _raises(ctx, catalog.ProductNotFound, lambda s: catalog.product_detail(s, viewer, 2_000_000_000))
    assert (gone.status, gone.message) == (404, catalog.PRODUCT_NOT_FOUND)
    bad = _raises(ctx, cart.BadQuantity, lambda s: cart.add_to_cart(s, ctx.settings, viewer, hammer, "dos"))
    assert (bad.status, bad.message) == (400, cart.BAD_QUANTITY)
    sold_out = _raises(ctx, cart.NotPurchasable, lambda s: cart.add_to_cart(s, ctx.settings, viewer, hammer, "1"))
    assert (sold_out.status, sold_out.message) == (409, spanish(cart.NOT_PURCHASABLE, name="Martillo carpintero"))
    drill = shop.products["TAL-001"]
    settings = ctx.settings.model_copy(update={"portal_max_cart_lines": 1})
    with ctx.db.writing() as session:
        cart.add_to_cart(session, settings, viewer, drill, "1")
    full = _raises(ctx, cart.CartFull, lambda s: cart.add_to_cart(s, settings, viewer, shop.products["BUJ-002"], "1"))
    assert (full.status, full.message) == (409, spanish(cart.CART_FULL, max=1))


def test_checkout_refusals(ctx: AppContext, shop: Shop, make_shop: Callable[..., Shop]) -> None:
    viewer = open_viewer(ctx, shop)
    empty = _raises(ctx, cart.CartEmpty, lambda s: checkout.place_order(s, ctx.settings, viewer, cart.ShownCart(0)))
    assert (empty.status, empty.message) == (409, cart.CART_EMPTY)
    drill = shop.products["TAL-001"]
    with ctx.db.writing() as session:
        cart.add_to_cart(session, ctx.settings, viewer, drill, "2")
    with ctx.db.reading() as session:
        shown = cart.cart_view(session, viewer).shown
    stale = dataclasses.replace(shown, version=shown.version - 1)
    changed = _raises(ctx, cart.CartChanged, lambda s: checkout.place_order(s, ctx.settings, viewer, stale))
    assert changed.message == cart.CART_CHANGED
    cheaper = dataclasses.replace(shown, prices={drill: Decimal("1")})
    moved = _raises(ctx, checkout.PricesChanged, lambda s: checkout.place_order(s, ctx.settings, viewer, cheaper))
    assert moved.status == 409 and moved.message.startswith(spanish(checkout.PRICE_CHANGED).split("{")[0])
    unconnected = make_shop(marketplace=False, name="Sin canal B2B")
    lonely = open_viewer(ctx, unconnected)
    refused = _raises(
        ctx, checkout.NoB2BMarketplace, lambda s: checkout.place_order(s, ctx.settings, lonely, cart.ShownCart(0))
    )
    assert (refused.status, refused.message) == (412, checkout.NO_B2B_MARKETPLACE)


def test_someone_elses_order_is_not_found(ctx: AppContext, shop: Shop) -> None:
    viewer = open_viewer(ctx, shop)
    missing = _raises(ctx, buyer_orders.OrderNotFound, lambda s: buyer_orders.my_order(s, viewer, 2_000_000_000))
    assert (missing.status, missing.message) == (404, buyer_orders.ORDER_NOT_FOUND)
