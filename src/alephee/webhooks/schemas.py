"""Wire types of the push notifications (our addition to the API; names follow its PascalCase style)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from alephee.http.wire import WireDateTime, WireModel


class WebhookIn(WireModel):
    """Body of ``POST /v2/webhooks``."""

    Url: str = Field(description="http:// or https:// URL receiving the POSTs (public hosts only).")
    EventTypes: list[str] = Field(
        description="Event types to receive (order.created, order.status_changed, order.cancelled, "
        "order.payment_approved, listing.status_changed, product.stock_alert, document.forwarded, "
        'document.refused), or ["*"] for all.'
    )
    Secret: str | None = Field(
        None, description="Signing secret, 16 to 200 printable characters; generated when omitted."
    )
    Active: bool = Field(True, description="Inactive webhooks receive nothing (events still reach the feed).")
    Description: str | None = Field(None, description="A note for you, at most 200 characters.")


class WebhookOut(WireModel):
    """A webhook as listed (never with its secret)."""

    Id: int
    Url: str
    EventTypes: list[str]
    Active: bool
    Description: str | None = None
    DateCreated: WireDateTime


class WebhookCreatedOut(WebhookOut):
    """The created webhook, with its signing secret: shown this once."""

    Secret: str


class NotificationOut(WireModel):
    """One event of the account's feed; also the body POSTed to webhooks (``Id`` to ``Data``)."""

    Id: int
    Type: str
    AccountId: int
    OccurredAt: WireDateTime
    Data: dict[str, Any]
    Delivered: bool = Field(description="Every subscribed webhook answered 2xx.")
    DeliveredAt: WireDateTime | None = None
    Acknowledged: bool = Field(description="Acknowledged, or delivered (a delivered event needs no ack).")
    AcknowledgedAt: WireDateTime | None = None


class AckResultOut(WireModel):
    """The outcome for one id of ``POST /v2/notifications/ack``."""

    Id: Any
    Status: int
    Message: str


class AckResultsOut(WireModel):
    """``{"Total", "Results"}`` of ``POST /v2/notifications/ack``."""

    Total: int
    Results: list[AckResultOut]
