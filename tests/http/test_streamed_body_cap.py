"""The global body cap also holds for bodies without a Content-Length (chunked uploads): the stream is cut at
the cap and the request gets 413 in the error shape, nothing stored (the declared-length case is tested in
tests/contract/test_cross_cutting.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from fastapi.testclient import TestClient

from tests.fixtures.errors import assert_error
from tests.fixtures.tenants import Tenant


def _chunks(total: int, size: int = 256) -> Iterator[bytes]:
    yield b'[{"Code": "A", "Name": "'
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'", "Percentage": 1}]'


def test_streamed_body_over_the_cap_is_413_and_stores_nothing(
    make_client: Callable[..., TestClient], tenant: Tenant
) -> None:
    api = make_client(max_body_bytes=4096)
    path = f"/v2/accounts/{tenant.account_id}/fiscaltaxrules"
    response = api.put(path, params=tenant.key(), content=_chunks(20_000), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_error(response, 413)
    assert api.get(path, params=tenant.key()).json()["Total"] == 0
    # Under the cap the same streamed body is accepted.
    response = api.put(
        path, params=tenant.key(), content=_chunks(150, size=50), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
