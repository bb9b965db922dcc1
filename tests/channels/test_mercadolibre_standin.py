"""The Mercado Libre stand-in on its own: auto-approve, PKCE, single-use codes, client checks, /users/me."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from alephee.channels.mercadolibre.auth import pkce_challenge
from alephee.channels.mercadolibre.standin.app import MercadoLibreStandIn, create_app
from alephee.channels.mercadolibre.standin.auth import INVALID_GRANT

REDIRECT = "https://hub.example/channels/mercadolibre/callback"


def code_from(api: TestClient, **extra: str) -> str:
    query = {"response_type": "code", "client_id": "app", "redirect_uri": REDIRECT, "state": "s1"} | extra
    answer = api.get("/authorization", params=query, follow_redirects=False)
    assert answer.status_code == 302
    back = parse_qs(urlsplit(answer.headers["location"]).query)
    assert back["state"] == ["s1"]
    return back["code"][0]


def exchange(api: TestClient, code: str, **extra: str) -> tuple[int, dict[str, object]]:
    form = {
        "grant_type": "authorization_code",
        "client_id": "app",
        "client_secret": "secret",
        "code": code,
        "redirect_uri": REDIRECT,
    } | extra
    answer = api.post("/oauth/token", data=form, headers={"accept": "application/json"})
    return answer.status_code, answer.json()


def standin_api(tmp_path: Path) -> TestClient:
    standin = MercadoLibreStandIn(tmp_path / "ml.sqlite3", client_id="app", client_secret="secret", auto_approve=True)
    return TestClient(create_app(standin))


def test_code_grant_pkce_and_identity(tmp_path: Path) -> None:
    api = standin_api(tmp_path)
    verifier = "v" * 64
    code = code_from(api, code_challenge=pkce_challenge(verifier), code_challenge_method="S256")
    assert exchange(api, code, code_verifier="w" * 64) == (400, INVALID_GRANT)
    code = code_from(api, code_challenge=pkce_challenge(verifier), code_challenge_method="S256")
    status, grant = exchange(api, code, code_verifier=verifier)
    assert status == 200
    assert (grant["token_type"], grant["expires_in"], grant["scope"]) == ("bearer", 21600, "offline_access read write")
    assert str(grant["access_token"]).startswith("APP_USR-") and str(grant["refresh_token"]).startswith("TG-")
    assert exchange(api, code, code_verifier=verifier) == (400, INVALID_GRANT)  # a code works once
    me = api.get("/users/me", headers={"Authorization": f"Bearer {grant['access_token']}"})
    assert me.status_code == 200 and me.json()["id"] == grant["user_id"] and me.json()["site_id"] == "MLA"
    assert api.get("/users/me", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_refusals(tmp_path: Path) -> None:
    api = standin_api(tmp_path)
    assert exchange(api, code_from(api), redirect_uri="https://other.example/cb") == (400, INVALID_GRANT)
    status, body = exchange(api, code_from(api), client_secret="wrong")
    assert (status, body["error"]) == (400, "invalid_client")
    status, body = exchange(api, code_from(api), grant_type="password")
    assert (status, body["error"]) == (400, "unsupported_grant_type")
    wrong_app = api.get("/authorization", params={"response_type": "code", "client_id": "x", "redirect_uri": REDIRECT})
    assert wrong_app.status_code == 400
    json_body = api.post("/oauth/token", json={"grant_type": "refresh_token"})
    assert (json_body.status_code, json_body.json()["error"]) == (400, "invalid_request")
