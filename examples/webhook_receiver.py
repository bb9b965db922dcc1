"""A minimal receiver for the hub's webhooks (Python standard library only).

    python examples/webhook_receiver.py --secret whsec_... --port 8080

Then point a webhook at it (``alephee webhook add --account 1 --url https://your.host/hooks --event '*'``; a
receiver on your own machine needs ``ALEPHEE_WEBHOOK_ALLOW_PRIVATE_TARGETS=true`` on the hub). For every
POST it:

1. checks ``X-Alephee-Signature`` = ``v1=`` + hex HMAC-SHA256(secret, ``"<X-Alephee-Timestamp>.<raw body>"``),
   comparing in constant time, over the raw bytes exactly as received (never over re-serialised JSON);
2. rejects a timestamp more than ``--tolerance`` seconds away from its own clock (a replayed request);
3. answers 401 for either problem, otherwise 200 at once. Deliveries are at least once: the same event can
   arrive twice (a retry after a lost answer), so it skips event ``Id``s it has already handled.

Keep the handler fast (queue the work): the hub waits at most ``ALEPHEE_WEBHOOK_TIMEOUT_SECONDS`` (10 s) and
retries anything that is not a 2xx.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SIGNATURE_HEADER = "X-Alephee-Signature"
TIMESTAMP_HEADER = "X-Alephee-Timestamp"
DEFAULT_TOLERANCE = 300  # seconds


class InvalidSignature(Exception):
    """The request was not signed with our secret, or is too old (or too far in the future)."""


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Raise ``InvalidSignature`` unless ``body`` was signed with ``secret`` within ``tolerance`` seconds."""
    timestamp = _header(headers, TIMESTAMP_HEADER)
    signature = _header(headers, SIGNATURE_HEADER)
    if not timestamp or not signature or not (timestamp.strip().isascii() and timestamp.strip().isdigit()):
        raise InvalidSignature("missing or malformed signature headers")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance:
        raise InvalidSignature("stale timestamp")
    expected = hmac.new(secret.encode(), timestamp.strip().encode() + b"." + body, hashlib.sha256).hexdigest()
    # The header may carry several comma-separated values (e.g. during a secret rotation): any may match.
    candidates = [part.strip()[3:] for part in signature.split(",") if part.strip().startswith("v1=")]
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise InvalidSignature("signature mismatch")


def make_handler(secret: str, tolerance: int) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``secret``."""
    seen: set[int] = set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 1024 * 1024))
            try:
                verify(secret, dict(self.headers), body, tolerance=tolerance)
            except InvalidSignature as exc:
                self._answer(401, str(exc))
                return
            event = json.loads(body)
            if event["Id"] in seen:
                self._answer(200, "duplicate")
                return
            seen.add(event["Id"])
            print(f"{event['OccurredAt']} {event['Type']} #{event['Id']}: {json.dumps(event['Data'])}", flush=True)
            self._answer(200, "ok")

        def _answer(self, status: int, text: str) -> None:
            payload = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:  # quiet: events are printed above
            return

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--secret", required=True, help="the webhook's signing secret")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--tolerance", type=int, default=DEFAULT_TOLERANCE, help="seconds of clock skew accepted")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), make_handler(args.secret, args.tolerance))
    print(f"listening on http://{args.host}:{args.port}/", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
