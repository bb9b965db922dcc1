"""What an operator sees of a real ``alephee serve`` process: the access log (text, JSON, off), the rate
limiter when its Redis is gone, and the limits on connections (request-head cap, head/body/keep-alive
timeouts) measured with raw sockets."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from alephee.accounts import service
from alephee.http.context import AppContext
from tests.fixtures.redis_faults import closed_port_url
from tests.fixtures.servers import LiveServer, start_server

SERVER_ONLY = "the server process behaves the same on both databases; run once"


def _tenant(ctx: AppContext, rate_limit: int | None = 1000) -> tuple[int, int, str]:
    with ctx.db.writing() as session:
        account = service.create_account(session, name="Ops", account_type="seller")
        key, secret = service.create_key(session, [account.id], rate_limit=rate_limit)
        return account.id, key.id, secret


def _serve(ctx: AppContext, tmp_path: Path, backend: str, **env: str) -> LiveServer:
    if backend != "sqlite":
        pytest.skip(SERVER_ONLY)
    return start_server(ctx.settings.database_url, tmp_path, env)


def _stopped_output(server: LiveServer) -> list[str]:
    """Every line the process wrote, once it has exited (so nothing is still in flight)."""
    server.stop()
    return server.log_path.read_text(encoding="utf-8").splitlines()


def _requests(server: LiveServer, account_id: int, key: str) -> list[httpx.Response]:
    """A mix of outcomes: 200s, a 401, a 404 and a path with characters that must not forge a line."""
    base = server.base_url
    with httpx.Client(timeout=10) as http:
        return [
            http.get(f"{base}/v2/accounts", params={"API_KEY": key, "documentNumber": "20-12345678-9"}),
            http.get(f"{base}/v2/orders", params={"api_key": key, "accountId": account_id, "buyerEmail": "a@b.c"}),
            http.get(f"{base}/v2/accounts", params={"API_KEY": "wrong-" + key}),
            http.get(f"{base}/v2/nothing/here%0Aforged 200"),
            http.put(f"{base}/v2/accounts/{account_id}/fiscaltaxrules", params={"API_KEY": key}, json=[]),
        ]


@pytest.mark.slow
def test_the_server_writes_one_access_line_per_request(ctx: AppContext, backend: str, tmp_path: Path) -> None:
    account_id, key_id, key = _tenant(ctx)
    server = _serve(ctx, tmp_path, backend)
    responses = _requests(server, account_id, key)
    lines = _stopped_output(server)
    access = [line for line in lines if " alephee.access " in line]
    for response in responses:
        request_id = response.headers["x-request-id"]
        mine = [line for line in access if line.endswith(f"request_id={request_id}")]
        assert len(mine) == 1, (request_id, access)
        method, path = response.request.method, response.request.url.path
        if path.isprintable() and " " not in path:
            assert f" INFO alephee.access {method} {path} {response.status_code} " in mine[0], mine[0]
    # Startup health checks are requests too: every line is one request, no request has two.
    assert len(access) == len({line.rsplit("request_id=", 1)[1] for line in access})
    by_id = {line.rsplit("request_id=", 1)[1]: line for line in access}
    assert f"key={key_id} account=-" in by_id[responses[0].headers["x-request-id"]]
    assert f"key={key_id} account={account_id}" in by_id[responses[1].headers["x-request-id"]]
    assert "key=- account=-" in by_id[responses[2].headers["x-request-id"]]
    assert "GET /v2/nothing/here\\x0aforged\\x20200 404 " in by_id[responses[3].headers["x-request-id"]]
    output = "\n".join(lines)
    for secret in (key, key.lower(), "20-12345678-9", "a@b.c", "documentNumber", "buyerEmail"):
        assert secret not in output


@pytest.mark.slow
def test_json_access_lines(ctx: AppContext, backend: str, tmp_path: Path) -> None:
    account_id, key_id, key = _tenant(ctx)
    server = _serve(ctx, tmp_path, backend, ALEPHEE_LOG_FORMAT="json")
    responses = _requests(server, account_id, key)
    lines = _stopped_output(server)
    records: list[dict[str, Any]] = [json.loads(line) for line in lines if line.startswith("{")]
    access = {r["request_id"]: r for r in records if r["logger"] == "alephee.access"}
    for response in responses:
        entry = access[response.headers["x-request-id"]]
        assert entry["method"] == response.request.method
        assert entry["path"] == response.request.url.path.replace("%0A", "\n").replace("%20", " ")
        assert entry["status"] == response.status_code
        assert isinstance(entry["duration_ms"], float) and entry["level"] == "INFO"
    assert access[responses[1].headers["x-request-id"]]["key_id"] == key_id
    assert access[responses[1].headers["x-request-id"]]["account_id"] == account_id
    assert access[responses[2].headers["x-request-id"]]["key_id"] is None
    # The server's own lines are JSON too.
    assert any(r["logger"].startswith("uvicorn") for r in records)
    assert key not in "\n".join(lines)


@pytest.mark.slow
def test_the_access_log_can_be_turned_off(ctx: AppContext, backend: str, tmp_path: Path) -> None:
    account_id, _, key = _tenant(ctx)
    server = _serve(ctx, tmp_path, backend, ALEPHEE_ACCESS_LOG="false")
    responses = _requests(server, account_id, key)
    assert [r.status_code for r in responses][:3] == [200, 200, 401]
    assert not [line for line in _stopped_output(server) if "alephee.access" in line]


@pytest.mark.slow
def test_redis_gone_the_server_still_limits_and_logs_once(ctx: AppContext, backend: str, tmp_path: Path) -> None:
    account_id, _, key = _tenant(ctx, rate_limit=30)
    server = _serve(ctx, tmp_path, backend, ALEPHEE_REDIS_URL=closed_port_url())
    try:
        with httpx.Client(timeout=10) as http:
            statuses = [
                http.get(f"{server.base_url}/v2/accounts/{account_id}/stores", params={"API_KEY": key}).status_code
                for _ in range(40)
            ]
            health = http.get(f"{server.base_url}/health")
            metrics = http.get(f"{server.base_url}/metrics").text
    finally:
        lines = _stopped_output(server)
    assert statuses == [200] * 30 + [429] * 10
    assert health.status_code == 200 and health.json()["Status"] == "degraded"
    assert 'alephee_rate_limit_store{measure="fallback"} 1.0' in metrics
    warnings = [line for line in lines if "alephee.http.ratelimit" in line]
    assert len(warnings) == 1 and "Redis unavailable" in warnings[0], warnings
    assert not [line for line in lines if "Traceback" in line]


# --- connections -------------------------------------------------------------------------------------------

HEAD_CAP = 16 * 1024
# Generous next to the 1 s settings below: the bound on how long a test waits, never a measured timing.
PATIENCE = 15.0


@pytest.fixture(scope="module")
def guarded(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server with small connection limits for the tests below."""
    if not database_url.startswith("sqlite"):
        pytest.skip(SERVER_ONLY)
    env = {
        "ALEPHEE_HTTP_MAX_HEADER_BYTES": str(HEAD_CAP),
        "ALEPHEE_HTTP_HEADER_TIMEOUT_SECONDS": "1",
        "ALEPHEE_HTTP_BODY_TIMEOUT_SECONDS": "1",
        "ALEPHEE_HTTP_KEEP_ALIVE_SECONDS": "1",
    }
    server = start_server(database_url, tmp_path_factory.mktemp("guarded"), env)
    yield server
    server.stop()


def _connect(server: LiveServer) -> socket.socket:
    url = urlsplit(server.base_url)
    sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=PATIENCE)
    return sock


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a reset counts as a close)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closes the connection (within PATIENCE) without sending anything more."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.mark.slow
def test_a_huge_request_head_gets_431_and_is_never_read_whole(guarded: LiveServer) -> None:
    total = 32 * 1024 * 1024
    sent = 0
    with _connect(guarded) as sock:
        try:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: hub\r\nX-Big: ")
            chunk = b"a" * 65536
            while sent < total:
                sock.sendall(chunk)
                sent += len(chunk)
            sock.sendall(b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = _answer(sock)
    assert sent < total  # the server stopped reading long before the end
    # Either the 431 arrived before the reset, or the reset came first; never an accepted request.
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    if answer:
        assert b'{"Status":431,"Message":"Request header fields too large' in answer
        assert b"x-ratelimit-limit: " in answer


@pytest.mark.slow
def test_many_small_headers_count_together_and_a_head_under_the_cap_is_served(guarded: LiveServer) -> None:
    small = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 100) for i in range(100))  # about 11 KB
    with _connect(guarded) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n" + small + b"\r\n")
        assert _answer(sock).startswith(b"HTTP/1.1 200 ")
    many = small * 2  # about 22 KB in 200 headers of 110 bytes
    with _connect(guarded) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: hub\r\n" + many + b"\r\n")
        answer = _answer(sock)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 "), answer[:200]


@pytest.mark.slow
def test_a_connection_that_sends_nothing_is_closed(guarded: LiveServer) -> None:
    with _connect(guarded) as sock:
        assert _closed_by_server(sock)


@pytest.mark.slow
def test_a_trickled_request_head_is_closed(guarded: LiveServer) -> None:
    with _connect(guarded) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        closed = False
        deadline = time.monotonic() + PATIENCE
        while not closed and time.monotonic() < deadline:
            try:
                sock.sendall(b"X-Slow: 1\r\n")  # one header every 0.2 s: never a complete head
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            readable, _, _ = select.select([sock], [], [], 0.2)
            closed = bool(readable) and _closed_by_server(sock)
        assert closed


@pytest.mark.slow
def test_an_idle_keep_alive_connection_is_closed(guarded: LiveServer) -> None:
    with _connect(guarded) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: hub\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 200 ")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        body = head.split(b"\r\n\r\n", 1)[1]
        while len(body) < length:
            body += sock.recv(65536)
        assert _closed_by_server(sock)


@pytest.mark.slow
def test_a_stalled_body_is_closed(ctx: AppContext, guarded: LiveServer) -> None:
    account_id, _, key = _tenant(ctx)
    with _connect(guarded) as sock:
        sock.sendall(
            f"PUT /v2/accounts/{account_id}/fiscaltaxrules?API_KEY={key} HTTP/1.1\r\nHost: hub\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n[".encode()
        )
        # The key is valid, so the application waits for the other 99 bytes; the server gives up instead.
        assert _answer(sock) == b""
