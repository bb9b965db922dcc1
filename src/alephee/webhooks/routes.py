"""Routes of the push notifications: webhooks (``/v2/webhooks``) and the feed (``/v2/notifications``).
Thin: parse, call one service function, shape the response."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Path, Query, Response
from sqlalchemy.orm import Session

from alephee.accounts.auth import AccountScope, require_account
from alephee.errors import InvalidInput, PayloadTooLarge, RangeNotSatisfiable, UnsupportedMediaType
from alephee.http.body import body_doc, json_array, json_object
from alephee.http.context import AppContext, get_context
from alephee.http.dates import parse_filter_datetime
from alephee.http.deps import read_session, write_session
from alephee.http.errors import AUTHENTICATED, responses_for
from alephee.http.numbers import int_from_text
from alephee.http.paging import ID_SORT, Page, Paged, paged_response, paging
from alephee.http.params import MAX_INT32, query_bool
from alephee.http.routing import api_router
from alephee.http.wire import json_response
from alephee.webhooks import service
from alephee.webhooks.models import OPEN, WebhookEvent, WebhookSubscription
from alephee.webhooks.schemas import (
    AckResultsOut,
    NotificationOut,
    WebhookCreatedOut,
    WebhookIn,
    WebhookOut,
)
from alephee.webhooks.service import (
    BadSecret,
    DescriptionTooLong,
    NoEventTypes,
    TooManyWebhooks,
    UnknownEventType,
    UnknownFeedType,
    WebhookNotFound,
    WebhookUrlRefused,
)

router = api_router(tags=["Push notifications"])

BAD_WEBHOOK_ID = "webhookId must be a positive integer"
MISSING_WEBHOOK_ID = "webhookId is required"


class MissingWebhookId(InvalidInput):
    """webhookId is missing."""

    message = MISSING_WEBHOOK_ID


class BadWebhookId(InvalidInput):
    """webhookId is not a positive integer."""

    message = BAD_WEBHOOK_ID


# What every JSON body can be refused for (http/body.py), and every paged list (http/paging.py).
BODY_ERRORS = (InvalidInput, UnsupportedMediaType, PayloadTooLarge)
PAGING_ERRORS = (InvalidInput, RangeNotSatisfiable)


def _webhook_out(row: WebhookSubscription) -> WebhookOut:
    return WebhookOut(
        Id=row.id,
        Url=row.url,
        EventTypes=list(row.event_types or []),
        Active=row.active,
        Description=row.description,
        DateCreated=row.created_at,
    )


def _notification_out(row: WebhookEvent) -> NotificationOut:
    return NotificationOut(
        Id=row.id,
        Type=row.type,
        AccountId=row.account_id,
        OccurredAt=row.occurred_at,
        Data=dict(row.data or {}),
        Delivered=row.delivered_at is not None and row.pending_deliveries == 0,
        DeliveredAt=row.delivered_at,
        Acknowledged=row.state != OPEN,
        AcknowledgedAt=row.acknowledged_at,
    )


def _webhook_id(raw: str | None) -> int:
    if raw is None or not raw.strip():
        raise MissingWebhookId()
    number = int_from_text(raw)
    if number is None or not 0 < number <= MAX_INT32:
        raise BadWebhookId()
    return number


# --- webhooks -----------------------------------------------------------------------------------------------


@router.get(
    "/webhooks",
    name="webhooks.list",
    response_model=Paged[WebhookOut],
    responses=responses_for(*AUTHENTICATED, *PAGING_ERRORS),
    summary="List the account's webhooks (without their secrets)",
)
def get_webhooks(
    scope: AccountScope = Depends(require_account),
    page: Page = Depends(paging([ID_SORT])),
    session: Session = Depends(read_session),
) -> Response:
    """Webhooks of the account, by Id. Secrets are shown only when a webhook is created."""
    total, rows = service.list_subscriptions(session, scope.account_id, page)
    return paged_response(page, total, [_webhook_out(row) for row in rows])


@router.post(
    "/webhooks",
    name="webhooks.create",
    status_code=201,
    response_model=WebhookCreatedOut,
    responses=responses_for(
        *AUTHENTICATED,
        *BODY_ERRORS,
        WebhookUrlRefused,
        NoEventTypes,
        UnknownEventType,
        BadSecret,
        DescriptionTooLong,
        TooManyWebhooks,
    ),
    summary="Add a webhook: events are POSTed to its Url, signed with its secret",
    openapi_extra=body_doc(WebhookIn, array=False),
)
def post_webhook(
    scope: AccountScope = Depends(require_account),
    body: WebhookIn = Depends(json_object(WebhookIn, unwrap_single=True)),
    session: Session = Depends(write_session, scope="function"),
    ctx: AppContext = Depends(get_context),
) -> Response:
    """201 with the webhook and its `Secret` (shown only now; generated when not given). Url must be
    http(s) on a public host. See docs/webhooks.md for the headers and how to verify the signature."""
    row, secret = service.create_subscription(
        session,
        ctx.settings,
        scope.account_id,
        url=body.Url,
        event_types=body.EventTypes,
        secret=body.Secret,
        active=body.Active,
        description=body.Description,
    )
    created = WebhookCreatedOut(**_webhook_out(row).model_dump(), Secret=secret)
    return json_response(created, 201)


def _delete(session: Session, account_id: int, webhook_id: int) -> Response:
    service.delete_subscription(session, webhook_id, account_id)
    return Response(status_code=204)


@router.delete(
    "/webhooks/{webhookId}",
    name="webhooks.delete",
    status_code=204,
    responses=responses_for(*AUTHENTICATED, MissingWebhookId, BadWebhookId, WebhookNotFound),
    summary="Remove a webhook",
)
def delete_webhook(
    scope: AccountScope = Depends(require_account),
    webhook_id: str = Path(..., alias="webhookId", description="Id of the webhook."),
    session: Session = Depends(write_session, scope="function"),
) -> Response:
    """204; 404 when the account has no webhook with this Id. Deliveries still queued for it are dropped
    (their events stay in the feed)."""
    return _delete(session, scope.account_id, _webhook_id(webhook_id))


@router.delete(
    "/webhooks",
    name="webhooks.delete",
    status_code=204,
    responses=responses_for(*AUTHENTICATED, MissingWebhookId, BadWebhookId, WebhookNotFound),
    summary="Remove a webhook (Id in the query string)",
)
def delete_webhook_by_query(
    scope: AccountScope = Depends(require_account),
    webhook_id: str | None = Query(None, alias="webhookId", description="Id of the webhook."),
    session: Session = Depends(write_session, scope="function"),
) -> Response:
    """Same as `DELETE /v2/webhooks/{webhookId}`."""
    return _delete(session, scope.account_id, _webhook_id(webhook_id))


# --- the feed ---------------------------------------------------------------------------------------------


@router.get(
    "/notifications",
    name="notifications.list",
    response_model=Paged[NotificationOut],
    responses=responses_for(
        *AUTHENTICATED,
        *PAGING_ERRORS,
        UnknownFeedType,
        _206={"model": Paged[NotificationOut], "description": "limit over the cap: capped page"},
    ),
    summary="The account's event feed",
)
def get_notifications(
    scope: AccountScope = Depends(require_account),
    acknowledged: str | None = Query(
        None,
        description="false (default): events neither delivered to a webhook nor acknowledged; true: the others.",
    ),
    type_: str | None = Query(None, alias="type", description="Only this event type, e.g. order.status_changed."),
    date_from: str | None = Query(
        None, alias="dateFrom", description="Events at/after this moment (yyyy-mm-dd[ HH:mm] or ISO 8601)."
    ),
    page: Page = Depends(paging([ID_SORT])),
    session: Session = Depends(read_session),
) -> Response:
    """Every event of the last 30 days (configurable) that no webhook received, until you acknowledge it
    with `POST /v2/notifications/ack`. Page with `offset` as with every list."""
    filters = service.FeedFilters(
        acknowledged=bool(query_bool(acknowledged, "acknowledged")),
        type=service.feed_type(type_),
        date_from=parse_filter_datetime(date_from, name="dateFrom") if date_from else None,
    )
    total, rows = service.list_notifications(session, scope.account_id, filters, page)
    return paged_response(page, total, [_notification_out(row) for row in rows])


@router.post(
    "/notifications/ack",
    name="notifications.ack",
    response_model=AckResultsOut,
    responses=responses_for(*AUTHENTICATED, *BODY_ERRORS),
    summary="Acknowledge feed events by Id",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "JSON array of notification Ids, e.g. [101, 102].",
            "content": {"application/json": {"schema": {"type": "array", "items": {"type": "integer"}}}},
        }
    },
)
def post_notifications_ack(
    scope: AccountScope = Depends(require_account),
    ids: list[Any] = Depends(json_array()),
    session: Session = Depends(write_session, scope="function"),
) -> Response:
    """One result per element, in order: 200 (acknowledged, or already), 404 (not in this account's feed),
    400 (not an Id). Acknowledged events leave the default view of `GET /v2/notifications`."""
    return json_response(AckResultsOut.model_validate(service.acknowledge(session, scope.account_id, ids)))
