"""A stock batch holds its products' row locks from the catalog's locking read to its commit: what the listeners
need is read with the locked rows (kits with the products, base prices and families with the listings) or
before the lock (webhook subscriptions), the stock the batch wrote is handed to the listeners, and the stock of
kits and masters is read with one statement. The results are those of reading everything under the lock."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, update

from alephee import clock
from alephee.http.context import AppContext
from alephee.listings import publish
from alephee.listings.models import Listing, ListingDiscount
from alephee.marketplaces.models import Marketplace, OutboxMessage
from alephee.marketplaces.outbox import Outgoing, enqueue_many
from alephee.products import hooks, stock
from alephee.products.batch import Catalog
from alephee.products.hooks import CatalogChange
from alephee.products.models import Product
from tests.fixtures.listings import Shop, listing, outbox
from tests.fixtures.products import add_product
from tests.fixtures.statements import PIPELINED, Statements, plain

SEEN: list[dict[int, stock.StockSnapshot]] = []


def _remember_snapshots(session: Any, change: CatalogChange) -> None:
    SEEN.append(stock.stock_snapshots(session, change.stock_product_ids))


@pytest.fixture
def variations(ctx: AppContext, shop: Shop) -> dict[str, int]:
    """A variation master with two variations and a listing of the master; the MKNJ-122 listing on marketplace
    20 takes its price from the wholesale list."""
    account = shop.tenant.account_id
    with ctx.db.writing() as session:
        master = add_product(session, account, "V", product_type=6, prices={shop.price_list: "100"})
        v1 = add_product(session, account, "V-1", product_type=5, parent_id=master, quantity=2)
        v2 = add_product(session, account, "V-2", product_type=5, parent_id=master, quantity=3)
        (created,) = publish.publish_products(session, account, [publish.PublishSpec(master, 100)])
        session.execute(
            update(Listing)
            .where(Listing.id == shop.listings[("MKNJ-122", 20)])
            .values(price_list_id=shop.wholesale, price=Decimal("1"))
        )
    return {"V": master, "V-1": v1, "V-2": v2, "listing": created.id}


def test_a_stock_batch_refreshes_kits_masters_and_own_price_lists(
    client: TestClient, ctx: AppContext, shop: Shop, variations: dict[str, int]
) -> None:
    body = [
        {"SKU": "MKNJ-122", "Stock": {"Quantity": 7}},
        {"SKU": "H4", "Stock": {"Quantity": 9}},  # the kit's only component, one unit each
        {"SKU": "V-1", "Stock": {"Quantity": 10}},
    ]
    response = client.post("/v2/products", params=shop.tenant.q(), json=body)
    assert response.status_code == 200, response.text
    assert listing(ctx, shop.listings[("KIT", 100)]).available_quantity == 9
    assert listing(ctx, variations["listing"]).available_quantity == 13
    general, wholesale = listing(ctx, shop.listings[("MKNJ-122", 100)]), listing(ctx, shop.listings[("MKNJ-122", 20)])
    assert (general.available_quantity, general.price) == (7, Decimal("2000"))
    # Its own list's price, not the default list's: the price the stale 1 is recomputed from.
    assert (wholesale.available_quantity, wholesale.price) == (7, Decimal("1500"))


def test_a_price_raise_drops_the_discounts_of_mercado_libre_listings_only(
    client: TestClient, ctx: AppContext, shop: Shop
) -> None:
    with ctx.db.reading() as session:
        families = dict(session.execute(select(Marketplace.id, Marketplace.family)).all())
    ml = next(mid for mid in (100, 1, 20) if families.get(mid) == "mercadolibre")
    other = next(mid for mid in (100, 1, 20) if families.get(mid) != "mercadolibre")
    now = clock.utcnow()
    with ctx.db.writing() as session:
        for mid in (ml, other):
            session.add(
                ListingDiscount(
                    listing_id=shop.listings[("MKNJ-122", mid)],
                    percent=Decimal("10"),
                    start_at=now - timedelta(days=1),
                    finish_at=now + timedelta(days=1),
                )
            )
    response = client.post(
        "/v2/products", params=shop.tenant.q(), json=[{"SKU": "MKNJ-122", "Price": {"PriceWithTaxes": 2500}}]
    )
    assert response.status_code == 200, response.text
    with ctx.db.reading() as session:
        left = set(session.scalars(select(ListingDiscount.listing_id)))
    assert left == {shop.listings[("MKNJ-122", other)]}
    assert "Discount" in outbox(ctx, shop.listings[("MKNJ-122", ml)])[-1][1]["changed"]


def test_under_the_lock_a_stock_batch_reads_only_what_the_lock_protects(
    client: TestClient, ctx: AppContext, shop: Shop, variations: dict[str, int], backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE: no row locks")
    body = [{"SKU": sku, "Stock": {"Quantity": 4}} for sku in ("MKNJ-122", "H4", "EMPTY", "V-1", "V-2")]
    with Statements(ctx) as statements:
        response = client.post("/v2/products", params=shop.tenant.q(), json=body)
    assert response.status_code == 200, response.text
    first = next(i for i, s in enumerate(statements.seen) if "FROM products p" in s and "FOR UPDATE OF p" in s)
    # Up to the commit (the access middleware's audit row is a transaction of its own, after it).
    ended = next(i for i, s in enumerate(statements.seen) if s.startswith("INSERT INTO audit_log"))
    before, sent = statements.seen[:first], statements.seen[first:ended]
    # PostgreSQL: the listeners' probes go down the pipeline right behind the products' update, in its round trip.
    probes = [i for i, s in enumerate(sent) if s.startswith(PIPELINED + "SELECT") and i > 0]
    assert [plain(sent[i]).split(" FROM ")[1].split()[0] for i in probes] == ["listings", "webhook_stock_alerts"]
    assert sent[probes[0] - 1].startswith(PIPELINED + "UPDATE products")
    under = [plain(s) for i, s in enumerate(sent) if i not in probes]
    assert any("FROM webhook_subscriptions" in s for s in before)
    for table in ("webhook_subscriptions", "price_lists", "marketplaces", "kit_components", "product_prices"):
        # Only as part of the locking reads (kits with the products; prices, lists, families with the listings).
        alone = [s for s in under[1:] if s.startswith("SELECT") and s.split(" FROM ", 1)[1].startswith(table)]
        assert alone == [], table
    # The products' lock and update, the listings' lock, the kits' and masters' stock, the listings' update,
    # the webhook feed rows of status changes, the outbox rows and the stock alerts' levels.
    assert len(under) <= 8, "\n".join(s[:120] for s in under)
    assert listing(ctx, shop.listings[("KIT", 100)]).available_quantity == 4
    assert listing(ctx, variations["listing"]).available_quantity == 8


def test_the_catalog_reads_kits_with_the_locked_rows_on_postgresql(ctx: AppContext, shop: Shop, backend: str) -> None:
    account = shop.tenant.account_id
    with ctx.db.writing() as session:
        catalog = Catalog(session, account, ["H4", "MKNJ-122"], with_kits=True)
        kits = catalog.kits_of([shop.products["H4"], shop.products["MKNJ-122"]])
        plain = Catalog(session, account, ["H4"])
    if backend == "postgresql":
        assert kits == {shop.products["KIT"]}
    else:
        assert kits is None
    assert plain.kits_of([shop.products["H4"]]) is None


def test_stock_snapshots_of_every_product_type_in_one_statement(ctx: AppContext, shop: Shop) -> None:
    account = shop.tenant.account_id
    with ctx.db.writing() as session:
        a = add_product(session, account, "A", quantity=7)
        b = add_product(session, account, "B", quantity=-3)
        kit = add_product(session, account, "K2", product_type=2, components=[(a, 2, True), (b, 1, False)])
        halves = add_product(session, account, "K3", product_type=2, components=[(a, 2, True)], max_pub=2)
        empty_kit = add_product(session, account, "K0", product_type=2, quantity=5)
        master = add_product(session, account, "M", product_type=6, quantity=50)
        add_product(session, account, "M-1", product_type=5, parent_id=master, quantity=4)
        add_product(session, account, "M-2", product_type=5, parent_id=master, quantity=5, min_pub=1)
        lonely = add_product(session, account, "M0", product_type=6, quantity=5)
    ids = [a, b, kit, halves, empty_kit, master, lonely]
    with ctx.db.writing() as session, Statements(ctx) as statements:
        snapshots = stock.stock_snapshots(session, [*ids, 10**9])
    assert len(statements.seen) == 1
    assert {pid: (s.quantity, s.publish_quantity) for pid, s in snapshots.items()} == {
        a: (7, 7),
        b: (-3, 0),
        kit: (-3, 0),  # whole kits: the component with -3 units (floor division, as before)
        halves: (3, 2),
        empty_kit: (0, 0),
        master: (9, 9),
        lonely: (0, 0),
    }


def test_listeners_use_the_stock_the_writer_knows_and_read_the_rest(
    ctx: AppContext, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hooks, "CHANGE_LISTENER_NAMES", [f"{__name__}:_remember_snapshots"])
    SEEN.clear()
    h4, kit = shop.products["H4"], shop.products["KIT"]
    known = stock.snapshot_of(h4, 1, 42, 0, 0)
    assert known is not None and stock.snapshot_of(kit, 2, 1, 0, 0) is None
    change = CatalogChange(account_id=shop.tenant.account_id, stock_product_ids=frozenset({h4, kit}))
    with ctx.db.writing() as session, Statements(ctx) as statements:
        hooks.notify(session, change, known_stock={h4: known})
        with hooks.gathered(session):
            hooks.notify(session, change, known_stock={h4: known})  # told at the end of the block, read
    assert len(statements.seen) == 2
    assert SEEN[0][h4].quantity == 42 and SEEN[1][h4].quantity == 3
    assert SEEN[0][kit].quantity == SEEN[1][kit].quantity == 3


def test_outbox_payloads_keep_every_character(ctx: AppContext, shop: Shop) -> None:
    lid = shop.listings[("H4", 100)]
    text = 'a "quoted" \\ back{slash} , comma NULL ñ'
    with ctx.db.writing() as session:
        row = Outgoing(shop.tenant.account_id, "listing.update", "listing", lid, {"title": text, "n": None}, 100)
        enqueue_many(session, [row, row])
    stored = [payload for _, payload in outbox(ctx, lid)][-2:]
    assert stored == [{"title": text, "n": None}] * 2
    with ctx.db.reading() as session:
        assert session.scalar(select(OutboxMessage.marketplace_id).order_by(OutboxMessage.id.desc()).limit(1)) == 100


def test_a_stock_batch_commits_before_its_response_is_rendered(
    client: TestClient, ctx: AppContext, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alephee.products import routes

    seen: list[int] = []
    render = routes.json_response

    def rendering(*args: Any, **kwargs: Any) -> Any:
        with ctx.db.reading() as session:  # another connection: sees committed rows only
            seen.append(session.scalar(select(Product.quantity).where(Product.id == shop.products["H4"])) or 0)
        return render(*args, **kwargs)

    monkeypatch.setattr(routes, "json_response", rendering)
    response = client.post("/v2/products", params=shop.tenant.q(), json=[{"SKU": "H4", "Stock": {"Quantity": 11}}])
    assert response.status_code == 200, response.text
    assert seen == [11]


def test_a_price_batch_reads_no_variation_masters_it_locked(
    client: TestClient, ctx: AppContext, shop: Shop, variations: dict[str, int]
) -> None:
    before = len(outbox(ctx, variations["listing"]))
    body = [{"SKU": "V-1", "Price": {"PriceWithTaxes": 150}}, {"SKU": "H4", "Price": {"PriceWithTaxes": 90}}]
    with Statements(ctx) as statements:
        response = client.post("/v2/products", params=shop.tenant.q(), json=body)
    assert response.status_code == 200, response.text
    assert not [s for s in statements.seen if s.startswith("SELECT DISTINCT parent_id")]
    # The master's listing carries its variations' prices: it is still given an update.
    assert len(outbox(ctx, variations["listing"])) == before + 1


MASTERS: list[tuple[set[int], int]] = []


def _remember_masters(session: Any, change: CatalogChange) -> None:
    engine = session.get_bind()
    seen: list[str] = []

    def before(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", before)
    try:
        MASTERS.append((stock.masters_of(session, change.price_product_ids), len(seen)))
    finally:
        event.remove(engine, "before_cursor_execute", before)


def test_masters_of_reads_only_the_products_the_writer_did_not_know(
    ctx: AppContext, shop: Shop, variations: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hooks, "CHANGE_LISTENER_NAMES", [f"{__name__}:_remember_masters"])
    MASTERS.clear()
    master, v1, v2, h4 = variations["V"], variations["V-1"], variations["V-2"], shop.products["H4"]
    change = CatalogChange(account_id=shop.tenant.account_id, price_product_ids=frozenset({v1, v2, h4}))
    with ctx.db.writing() as session:
        session.connection()
        hooks.notify(session, change, known_parents={v1: master, h4: None})  # V-2 is read
        hooks.notify(session, change, known_parents={v1: master, v2: master, h4: None})  # nothing is read
        hooks.notify(session, change)  # everything is read
    assert [({master}, 1), ({master}, 0), ({master}, 1)] == MASTERS


def test_the_locking_read_finds_products_by_sku_or_own_code(ctx: AppContext, shop: Shop) -> None:
    account = shop.tenant.account_id
    with ctx.db.writing() as session:
        a = add_product(session, account, "LOCK-A", own_code="ERP-A")
        b = add_product(session, account, "LOCK-B", own_code="LOCK-A")  # its own code is another product's SKU
        c = add_product(session, account, "LOCK-C", own_code="ERP-C")
        catalog = Catalog(session, account, ["LOCK-A", "ERP-C", "NOPE"], with_kits=True)
        # PostgreSQL also locks B (its own code is a code of the batch); SQLite reads own codes only for the
        # codes no SKU matched. Either way an own code counts only when no SKU matched (CF-40.3.4 rule 2).
        assert {a, c} <= set(catalog.states) <= {a, b, c}
        assert catalog.find("LOCK-A", None)[0].id == a  # type: ignore[union-attr]
        assert catalog.find("ERP-C", None)[0].id == c  # type: ignore[union-attr]
        assert catalog.find("NOPE", None)[0] is None
