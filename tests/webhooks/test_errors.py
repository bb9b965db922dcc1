"""The named refusals of the webhooks domain: each raised by its rule, with the message clients read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from alephee.errors import DomainError, InvalidInput, NotFound
from alephee.http.errors import responses_for
from alephee.webhooks import routes, service
from alephee.webhooks.routes import BadWebhookId, MissingWebhookId
from alephee.webhooks.service import NoEventTypes, UnknownEventType, UnknownFeedType

STAR = "or * for all"
KNOWN = (
    "order.created, order.status_changed, order.cancelled, order.payment_approved, listing.status_changed, "
    "product.stock_alert, document.forwarded, document.refused, channel.connected, channel.disconnected, "
    "channel.data_request, question.received, claim.opened, claim.closed"
)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: service.normalize_types([]), NoEventTypes, "EventTypes must name at least one event type"),
        (
            lambda: service.normalize_types([""]),
            UnknownEventType,
            f"Unknown event type ''. Event types: {KNOWN}, {STAR}",
        ),
        (
            lambda: service.normalize_types([7]),
            UnknownEventType,
            f"Unknown event type '7'. Event types: {KNOWN}, {STAR}",
        ),
        (lambda: service.feed_type("order.x"), UnknownFeedType, f"Unknown type 'order.x'. Event types: {KNOWN}"),
        (lambda: routes._webhook_id(None), MissingWebhookId, "webhookId is required"),
        (lambda: routes._webhook_id("  "), MissingWebhookId, "webhookId is required"),
        (lambda: routes._webhook_id("abc"), BadWebhookId, "webhookId must be a positive integer"),
        (lambda: routes._webhook_id("0"), BadWebhookId, "webhookId must be a positive integer"),
        (lambda: routes._webhook_id("2147483648"), BadWebhookId, "webhookId must be a positive integer"),
    ],
)
def test_each_refusal_is_its_named_class(call: Callable[[], Any], error: type[DomainError], message: str) -> None:
    with pytest.raises(error) as raised:
        call()
    assert raised.value.message == message
    assert isinstance(raised.value, InvalidInput) and raised.value.status == 400


def test_named_classes_keep_their_categories() -> None:
    assert issubclass(service.WebhookNotFound, NotFound) and service.WebhookNotFound.status == 404
    assert service.TooManyWebhooks.status == 409
    assert service.UnknownAccount.status == 404
    assert service.WebhookNotFound.message.format(id=5) == "Webhook 5 not found"
    assert service.TooManyWebhooks.message.format(max=3) == "An account may have at most 3 webhooks; remove one first"


def test_a_route_documents_the_statuses_of_what_it_raises() -> None:
    documented = responses_for(MissingWebhookId, BadWebhookId, service.WebhookNotFound)
    assert sorted(documented) == [400, 404]
    assert "webhookId is missing." in documented[400]["description"]
