"""A client generated from /swagger/docs/v2 by openapi-python-client (offline, installed by ``make install``
from requirements-nodeps.lock) calls GET /v2/orders and PUT /v2/orders/integrate with typed arguments and
reads the answers into its own models."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from alephee.app import OPENAPI_URL
from tests.fixtures.orders import AddOrder
from tests.fixtures.tenants import Tenant

# Our operations the generator must produce without a warning (one per module of the generated package).
LIST_ORDERS = "api.orders.orders_list_v2_orders_get"
INTEGRATE = "api.orders.orders_integrate_v2_orders_integrate_put"


def _generate(document: dict[str, Any], where: Path) -> tuple[str, str]:
    """Generate the client package into ``where``; ``(package name, generator output)``."""
    name = f"alephee_client_{uuid.uuid4().hex[:8]}"
    spec = where / "openapi.json"
    spec.write_text(json.dumps(document))
    config = where / "generator.yml"
    config.write_text("post_hooks: []\n")  # no formatter run: nothing outside the package is needed
    command = [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(spec)]
    command += ["--output-path", str(where / name), "--meta", "none", "--config", str(config)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return name, done.stdout + done.stderr


def test_generated_python_client_lists_and_integrates_orders(
    client: TestClient, seller: Tenant, add_order: AddOrder, tmp_path: Path
) -> None:
    first, second = add_order(seller), add_order(seller)
    name, output = _generate(client.get(OPENAPI_URL).json(), tmp_path)
    assert "Unable to" not in output, output  # every model was generated
    for operation in ("GET /v2/orders ", "PUT /v2/orders/integrate "):
        assert f"parsing {operation}" not in output, output
    sys.path.insert(0, str(tmp_path))
    try:
        generated = importlib.import_module(f"{name}.client")
        list_orders = importlib.import_module(f"{name}.{LIST_ORDERS}")
        integrate = importlib.import_module(f"{name}.{INTEGRATE}")
        integrate_in = importlib.import_module(f"{name}.models.integrate_in").IntegrateIn
        # The key is the document's apiKey scheme (a query parameter): sent with every call of the client.
        api = generated.AuthenticatedClient(base_url=str(client.base_url), token="unused")
        client.params = {"API_KEY": seller.api_key}
        api.set_httpx_client(client)

        page = list_orders.sync_detailed(client=api, account_id=seller.account_id, integrated=False, limit=10)
        assert page.status_code == 200, page.content
        assert page.parsed.total == 2 and sorted(o.id for o in page.parsed.results) == [first, second]

        body = [integrate_in(order_id=first, own_order_id="ERP-1", integrated=True, erp_status="invoiced")]
        marked = integrate.sync_detailed(client=api, account_id=seller.account_id, body=body)
        assert marked.status_code == 200, marked.content
        [result] = marked.parsed.results
        assert result.status == "200" and result.order_status.order_id == first
        assert result.order_status.own_order_id == "ERP-1"

        remaining = list_orders.sync_detailed(client=api, account_id=seller.account_id, integrated=False)
        assert [o.id for o in remaining.parsed.results] == [second]
        done = list_orders.sync_detailed(client=api, account_id=seller.account_id, integrated=True)
        assert [(o.id, o.integrated_order_id, o.erp_status) for o in done.parsed.results] == [
            (first, "ERP-1", "invoiced")
        ]
    finally:
        sys.path.remove(str(tmp_path))
        client.params = {}
