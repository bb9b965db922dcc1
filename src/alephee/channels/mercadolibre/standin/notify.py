"""Notifications out: every change is recorded as a feed document and POSTed to the application's callback
URL from a background thread (never inside the request that caused it), retried with backoff on anything but
200 and given up after the last delay; feeds not delivered stay listed by ``GET /missed_feeds``."""

from __future__ import annotations

import heapq
import json
import secrets
import threading
import time
from datetime import timedelta
from typing import Any

import httpx

from alephee.channels.mercadolibre.standin.common import as_int, int_param, now, parse_date, refuse, utc_text
from alephee.channels.standin_store import Store, Tx

RETENTION = timedelta(days=2)
DEFAULT_RETRY_DELAYS = (1.0, 5.0, 30.0, 120.0, 600.0, 1200.0, 1500.0)  # 8 attempts over about an hour
HEADERS = {"accept": "application/json", "content-type": "application/json"}


class Notifier:
    """Records notifications and delivers them to ``url`` (when set) with retries."""

    def __init__(
        self,
        store: Store,
        url: str | None,
        application_id: int,
        retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS,
    ) -> None:
        self.store = store
        self.url = url
        self.application_id = application_id
        self.retry_delays = retry_delays
        self._due: list[tuple[float, str]] = []
        self._busy = 0
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def emit(self, tx: Tx, topic: str, resource: str, user_id: int, actions: list[str] | None = None) -> None:
        """Record a notification in ``tx``; its delivery starts once ``tx`` is committed."""
        moment = utc_text(now())
        feed_id = secrets.token_hex(12)
        body: dict[str, Any] = {
            "_id": feed_id,
            "resource": resource,
            "user_id": user_id,
            "topic": topic,
            "application_id": self.application_id,
            "attempts": 0,
            "sent": moment,
            "received": moment,
        }
        if actions is not None:
            body["actions"] = actions
        tx.put("feed", feed_id, {"notice": body, "delivered": False, "request": None, "response": None}, owner=user_id)
        if self.url:
            tx.after_commit.append(lambda: self._schedule(feed_id, 0.0))

    def _schedule(self, feed_id: str, delay: float) -> None:
        with self._wake:
            if self._closed:
                return
            heapq.heappush(self._due, (time.monotonic() + delay, feed_id))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="mercadolibre-standin-notify", daemon=True)
                self._thread.start()
            self._wake.notify_all()

    def _run(self) -> None:
        with httpx.Client(timeout=5.0) as client:
            while True:
                with self._wake:
                    while not self._closed and (not self._due or self._due[0][0] > time.monotonic()):
                        self._wake.wait(timeout=(self._due[0][0] - time.monotonic()) if self._due else None)
                    if self._closed:
                        return
                    _, feed_id = heapq.heappop(self._due)
                    self._busy += 1
                try:
                    self._deliver(client, feed_id)
                finally:
                    with self._wake:
                        self._busy -= 1
                        self._wake.notify_all()

    def _deliver(self, client: httpx.Client, feed_id: str) -> None:
        with self.store.begin() as tx:
            feed = tx.get("feed", feed_id)
        if feed is None or self.url is None:
            return
        notice = dict(feed["notice"]) | {"attempts": feed["notice"]["attempts"] + 1, "sent": utc_text(now())}
        data = json.dumps(notice)
        started = time.monotonic()
        try:
            answer = client.post(self.url, content=data, headers=HEADERS)
            code, text = answer.status_code, answer.text[:500]
        except httpx.HTTPError as exc:
            code, text = 0, str(exc)[:500]
        elapsed = int((time.monotonic() - started) * 1000)
        with self.store.begin() as tx:
            feed["notice"] = notice
            feed["delivered"] = code == 200
            feed["request"] = {"url": self.url, "headers": HEADERS | {"content-length": len(data)}, "data": data}
            feed["response"] = {"req_time": elapsed, "http_code": code, "body": text, "headers": {}}
            tx.put("feed", feed_id, feed, owner=as_int(notice["user_id"]))
        attempt = notice["attempts"]
        if code != 200 and attempt <= len(self.retry_delays):
            self._schedule(feed_id, self.retry_delays[attempt - 1])

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is waiting to be (re)delivered or ``timeout`` passes; True when idle."""
        deadline = time.monotonic() + timeout
        with self._wake:
            while self._due or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wake.wait(timeout=left)
        return True

    def close(self) -> None:
        """Stop the delivery thread (pending retries are dropped; their feeds stay in missed_feeds)."""
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def missed_feeds(self, tx: Tx, query: dict[str, str]) -> dict[str, Any]:
        """``GET /missed_feeds``: this application's notifications not delivered in the last two days."""
        if as_int(query.get("app_id")) != self.application_id:
            raise refuse(400, "bad_request", "app_id is required and must be your application id")
        topic = query.get("topic")
        site_id = query.get("site_id")
        if topic == "items" and not site_id:
            raise refuse(400, "bad_request", "site_id is required for topic items")
        offset = int_param(query, "offset", 0)
        limit = int_param(query, "limit", 10)
        oldest = now() - RETENTION
        messages = []
        for feed in tx.find("feed"):
            notice = feed["notice"]
            received = parse_date(notice["received"])
            if feed["delivered"] or received is None or received < oldest:
                continue
            if topic and notice["topic"] != topic:
                continue
            if topic == "items" and not str(notice["resource"]).startswith(f"/items/{site_id}"):
                continue
            entry = dict(notice)
            entry["request"] = feed["request"] or {"url": self.url, "headers": HEADERS, "data": json.dumps(notice)}
            entry["response"] = feed["response"] or {"req_time": 0, "http_code": 0, "body": "", "headers": {}}
            messages.append(entry)
        messages.sort(key=lambda entry: entry["received"])
        return {"messages": messages[offset : offset + limit]}
