"""What the Tiendanube stand-in's tests share: a stand-in with one store and an installed app, the API headers,
a product body, and a loopback receiver of webhooks that keeps each raw body with its headers."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from alephee.channels.tiendanube.standin.app import TiendanubeStandIn, create_app

APP_ID = 4321
SECRET = "s3cr3t-of-the-app"
REDIRECT = "https://hub.example/channels/tiendanube/callback"
USER_AGENT = "Hub (ops@hub.example)"


@dataclass
class Kit:
    """A stand-in served alone, its client, one store and a token of the app on it."""

    standin: TiendanubeStandIn
    api: TestClient
    store_id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """Every header a call needs."""
        return {"Authentication": f"bearer {self.token}", "User-Agent": USER_AGENT}

    def url(self, path: str, version: str = "v1") -> str:
        """The API path of this store."""
        return f"/{version}/{self.store_id}/{path.lstrip('/')}"

    def get(self, path: str, version: str = "v1", **params: Any) -> Any:
        """GET an API path."""
        return self.api.get(self.url(path, version), headers=self.headers, params=params)

    def send(self, method: str, path: str, body: Any = None, version: str = "v1") -> Any:
        """A call with a JSON body (or none)."""
        if body is None:
            headers = self.headers | {"Content-Length": "0"}
            return self.api.request(method, self.url(path, version), headers=headers)
        return self.api.request(method, self.url(path, version), headers=self.headers, json=body)


def open_kit(tmp_path: Path, **options: Any) -> Kit:
    """A stand-in on a fresh file with one store (AR, Spanish) and the app installed."""
    settings: dict[str, Any] = {"redirect_url": REDIRECT, "auto_approve": True, "rate_limit": None} | options
    standin = TiendanubeStandIn(tmp_path / "tn.sqlite3", app_id=APP_ID, client_secret=SECRET, **settings)
    shop = standin.create_store(name="Tienda Uno", email="owner@uno.example")
    token = standin.issue_token(shop["id"])["access_token"]
    return Kit(standin, TestClient(create_app(standin)), shop["id"], token)


def product_body(sku: str = "REM", stock: int | None = 10) -> dict[str, Any]:
    """A product with two variants (sizes S and M)."""
    return {
        "name": {"es": "Remera básica"},
        "attributes": [{"es": "Talle"}],
        "variants": [
            {"price": "100.00", "stock": stock, "sku": f"{sku}-S", "values": [{"es": "S"}], "weight": "0.25"},
            {"price": 100, "stock": 5, "sku": f"{sku}-M", "values": [{"es": "M"}]},
        ],
        "images": [{"src": "https://cdn.hub.example/remera.jpg"}],
        "published": True,
    }


class Receiver:
    """An app's webhook URL on 127.0.0.1: keeps ``(raw body, headers)``; answers 500 to the first ``failures``."""

    def __init__(self, failures: int = 0) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.failures = failures
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append((raw, {key.lower(): value for key, value in self.headers.items()}))
                failing = receiver.failures > 0
                receiver.failures -= 1
                self.send_response(500 if failing else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tn/webhooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self) -> list[dict[str, Any]]:
        """The received bodies, parsed."""
        return [json.loads(raw) for raw, _headers in self.received]

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
