"""``/metrics`` behind a bearer token (``ALEPHEE_METRICS_TOKEN``); open when none is configured."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from alephee.http.observe import metrics_allowed

TOKEN = "scrape-7c1d0e5a9b"


def test_metrics_need_the_bearer_token_when_one_is_set(make_client: Callable[..., TestClient]) -> None:
    client = make_client(metrics_token=TOKEN)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                    {"Authorization": f"Basic {TOKEN}"}, {"Authorization": f"Bearer {TOKEN}x"}):  # fmt: skip
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json()["Status"] == 401 and "bearer token" in refused.json()["Message"]
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert "alephee_http_requests_total" not in refused.text
    allowed = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert allowed.status_code == 200 and "alephee_http_requests_total" in allowed.text
    assert client.get("/metrics", headers={"authorization": f"bearer  {TOKEN} "}).status_code == 200
    assert client.get("/health").status_code == 200  # load-balancer checks need no token


def test_metrics_stay_open_without_a_token(make_client: Callable[..., TestClient]) -> None:
    assert make_client().get("/metrics").status_code == 200
    assert metrics_allowed(None, None) and metrics_allowed("Bearer x", "")
    assert not metrics_allowed(None, TOKEN)
