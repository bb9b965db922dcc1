"""The suite's root: every process it starts stays on this machine (the network guard), and the
shared fixtures and helpers live in ``tests/fixtures/*.py``, loaded here as plugins. Database tests run once per
backend (SQLite and PostgreSQL; ``ALEPHEE_TEST_DATABASES`` narrows the list), each test on emptied tables."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Nothing a test does leaves this machine (tests/netguard/sitecustomize.py): this process, and every process the
# tests start (they import the guard from PYTHONPATH at start-up).
_NETGUARD = str(Path(__file__).parent / "netguard")
os.environ["ALEPHEE_TEST_NETWORK_GUARD"] = "loopback"
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_NETGUARD, os.environ.get("PYTHONPATH")) if p)
sys.path.insert(0, _NETGUARD)
from sitecustomize import install as install_network_guard  # noqa: E402

install_network_guard()


pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.tenants",
    "tests.fixtures.servers",
    "tests.fixtures.errors",
    "tests.fixtures.orders",
    "tests.fixtures.shipping",
    "tests.fixtures.products",
    "tests.fixtures.listings",
    "tests.fixtures.webhooks",
    "tests.fixtures.marketplaces",
    "tests.fixtures.portal",
    "tests.fixtures.console",
    "tests.fixtures.mercadolibre",
]
