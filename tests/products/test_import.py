"""``alephee catalog import``: CSV and JSON, upsert, dry run, and per-row errors of a bad file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from alephee.accounts.schemas import AccountType
from alephee.cli import app
from alephee.http.context import AppContext
from alephee.products.models import KitComponent, Product, ProductPrice
from tests.fixtures.products import add_price_list
from tests.fixtures.tenants import Tenant

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
runner = CliRunner()


def run(ctx: AppContext, *args: str) -> tuple[int, Any, str]:
    result = runner.invoke(app, list(args), env={"ALEPHEE_DATABASE_URL": ctx.settings.database_url})
    lines = result.stdout.strip().splitlines()
    report = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
    return result.exit_code, report, result.output


@pytest.fixture
def seller(ctx: AppContext, make_tenant: Any) -> Tenant:
    tenant: Tenant = make_tenant(AccountType.SELLER)
    with ctx.db.writing() as session:
        add_price_list(session, tenant.account_id, "Lista general")
        add_price_list(session, tenant.account_id, "Lista mayorista")
    return tenant


def _count(ctx: AppContext, account_id: int) -> int:
    with ctx.db.reading() as session:
        return session.scalar(select(func.count()).select_from(Product).where(Product.account_id == account_id)) or 0


def test_example_csv_imports_dry_runs_and_upserts(ctx: AppContext, seller: Tenant, client: Any) -> None:
    account = str(seller.account_id)
    code, report, _ = run(ctx, "catalog", "import", str(EXAMPLES / "catalog.csv"), "--account", account, "--dry-run")
    assert code == 0, report
    assert report == {
        "AccountId": seller.account_id,
        "Rows": 6,
        "Created": 6,
        "Updated": 0,
        "Errors": [],
        "DryRun": True,
    }
    assert _count(ctx, seller.account_id) == 0
    code, report, _ = run(ctx, "catalog", "import", str(EXAMPLES / "catalog.csv"), "--account", account)
    assert code == 0 and (report["Created"], report["Updated"]) == (6, 0)
    code, report, _ = run(ctx, "catalog", "import", str(EXAMPLES / "catalog.csv"), "--account", account)
    assert code == 0 and (report["Created"], report["Updated"]) == (0, 6)
    products = client.get("/v2/products", params=seller.q()).json()["Results"]
    by_sku = {p["Identification"]["SKU"]: p for p in products}
    assert set(by_sku) == {"CA1463-D", "H4-55W", "REM-01", "REM-01-NEG-M", "REM-01-NEG-L", "KIT-BUJ-4"}
    kit = by_sku["KIT-BUJ-4"]
    assert [(c["Identification"]["SKU"], c["Quantity"], c["Principal"]) for c in kit["KitComponents"]] == [
        ("CA1463-D", 4, True),
        ("H4-55W", 1, False),
    ]
    assert kit["Stock"]["Quantity"] == 3
    master = by_sku["REM-01"]
    assert [v["Identification"]["SKU"] for v in master["Variations"]] == ["REM-01-NEG-M", "REM-01-NEG-L"]
    assert master["Stock"]["Quantity"] == 6
    plug_prices = {p["PriceList"]["Name"]: p["PriceWithTaxes"] for p in by_sku["CA1463-D"]["Price"]}
    assert plug_prices == {"Lista general": 6000.6, "Lista mayorista": 5100.0}
    lamp = by_sku["H4-55W"]["Stock"]
    assert (lamp["MinPublicationQuantity"], lamp["MaxPublicationQuantity"], lamp["PublishQuantity"]) == (2, 20, 20)


def test_example_json_imports(ctx: AppContext, seller: Tenant) -> None:
    code, report, _ = run(ctx, "catalog", "import", str(EXAMPLES / "catalog.json"), "--account", str(seller.account_id))
    assert code == 0 and report["Created"] == 5 and report["Errors"] == []
    with ctx.db.reading() as session:
        bulk = session.scalar(select(Product).where(Product.sku == "ARC-GRANEL"))
        assert bulk is not None and bulk.measure_unit == "kg"
        assert session.scalar(select(func.count()).select_from(KitComponent)) == 1
        assert session.scalar(select(func.count()).select_from(ProductPrice)) == 5


BAD_CSV = """sku,brand,name,quantity,price,price_with_taxes,type,components,parent_sku,tax_rate
OK-1,Bosch,Good one,5,,100,,,,21
,Bosch,No sku,1,,,,,,
OK-2,,No brand,1,,,,,,
BAD-QTY,Bosch,Bad quantity,1.5,,,,,,
BAD-PRICE,Bosch,Both prices,1,100,121,,,,
NEG,Bosch,Negative,-3,,,,,,
KIT-X,Bosch,Kit with a missing part,,,,kit,OK-1:2;NOPE:1,,
CHILD,Bosch,Orphan variation,1,,,,,MISSING,
OK-1,Bosch,Duplicate,1,,,,,,
DEC,Bosch,Five decimals,1,,1.23456,,,,
TAX,Bosch,Tax too high,1,,,,,,150
NEWNAME,Bosch,,1,,,,,,
OK-3,Bosch,Another good one,0,,50,,,,
"""


def test_bad_file_reports_every_bad_row_and_imports_the_good_ones(
    ctx: AppContext, seller: Tenant, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(BAD_CSV, encoding="utf-8")
    code, report, output = run(ctx, "catalog", "import", str(path), "--account", str(seller.account_id))
    assert code == 1 and "Traceback" not in output
    assert (report["Rows"], report["Created"], report["Updated"]) == (13, 2, 0)
    errors = {e["Row"]: (e["SKU"], e["Message"]) for e in report["Errors"]}
    assert sorted(errors) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
    assert errors[3][1] == "sku is required"
    assert errors[4] == ("OK-2", "brand is required")
    assert "quantity" in errors[5][1] and "whole number" in errors[5][1]
    assert "price and price_with_taxes" in errors[6][1]
    assert "quantity must be between 0" in errors[7][1]
    assert errors[8] == ("KIT-X", "product NOPE does not exist (neither in the file nor in the catalog)")
    assert "MISSING" in errors[9][1]
    assert "already appears in row 2" in errors[10][1]
    assert "4 decimals" in errors[11][1]
    assert "tax_rate" in errors[12][1]
    assert errors[13][1] == "name is required for a new product"
    assert _count(ctx, seller.account_id) == 2


@pytest.mark.parametrize(
    "content",
    [b"", b"\xff\xfe\x00garbage", b"just,some,header\n1,2,3\n", b"[{not json", b'{"a": 1}'],
    ids=["empty", "binary", "no-sku-column", "broken-json", "json-object"],
)
def test_unreadable_files_fail_cleanly(ctx: AppContext, seller: Tenant, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "catalog.csv"
    path.write_bytes(content)
    result = runner.invoke(
        app,
        ["catalog", "import", str(path), "--account", str(seller.account_id)],
        env={"ALEPHEE_DATABASE_URL": ctx.settings.database_url},
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert json.loads(result.stderr.strip().splitlines()[-1])["Status"] == 400


def test_unknown_account_and_price_list(ctx: AppContext, seller: Tenant) -> None:
    csv_path = str(EXAMPLES / "catalog.csv")
    code, _, output = run(ctx, "catalog", "import", csv_path, "--account", "999999")
    assert code == 1 and "Traceback" not in output
    code, _, output = run(ctx, "catalog", "import", csv_path, "--account", str(seller.account_id), "--price-list", "X")
    assert code == 1 and "does not exist" in output


def test_semicolon_separated_csv(ctx: AppContext, seller: Tenant, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_text("SKU;Brand;Name;Quantity;Price With Taxes\nA-1;Bosch;Uno;3;1288,44\nA-2;Bosch;Dos;4;99.5\n")
    code, report, _ = run(ctx, "catalog", "import", str(path), "--account", str(seller.account_id))
    assert code == 1 and report["Created"] == 1
    assert report["Errors"] == [{"Row": 2, "SKU": "A-1", "Message": report["Errors"][0]["Message"]}]
    assert "decimal separator" in report["Errors"][0]["Message"]
