"""``alephee webhook`` (an account's webhook URLs) and ``alephee notifications`` (the per-account event feed)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from alephee.accounts import service as accounts
from alephee.cli.common import emit, fail, session_scope
from alephee.config import Settings

webhook_app = typer.Typer(help="Webhooks: events POSTed to an account's URLs.", no_args_is_help=True)
notifications_app = typer.Typer(help="The per-account event feed.", no_args_is_help=True)


def _webhook_json(row: Any) -> dict[str, Any]:
    return {
        "Id": row.id,
        "AccountId": row.account_id,
        "Url": row.url,
        "EventTypes": list(row.event_types or []),
        "Active": row.active,
        "Description": row.description,
        "DateCreated": row.created_at.isoformat(),
    }


@webhook_app.command("add")
def webhook_add(
    account: Annotated[int, typer.Option(help="Account id.")],
    url: Annotated[str, typer.Option(help="http(s) URL receiving the events.")],
    event: Annotated[list[str], typer.Option(help="Event type (repeatable), or * for all.")],
    secret: Annotated[str | None, typer.Option(help="Signing secret (16-200 chars); generated when omitted.")] = None,
    description: Annotated[str | None, typer.Option(help="A note.")] = None,
    inactive: Annotated[bool, typer.Option("--inactive", help="Create it switched off.")] = False,
) -> None:
    """Add a webhook; prints it with its secret (shown only now)."""
    from alephee.webhooks import service as webhooks

    settings = Settings()
    with session_scope(settings) as session:
        row, signing_secret = webhooks.create_subscription(
            session,
            settings,
            account,
            url=url,
            event_types=event,
            secret=secret,
            active=not inactive,
            description=description,
        )
        emit({**_webhook_json(row), "Secret": signing_secret})


@webhook_app.command("list")
def webhook_list(account: Annotated[int, typer.Option(help="Account id.")]) -> None:
    """Webhooks of an account (never their secrets)."""
    from alephee.webhooks import service as webhooks

    with session_scope() as session:
        accounts.require_account_row(session, account)
        emit([_webhook_json(row) for row in webhooks.list_subscriptions(session, account)[1]])


@webhook_app.command("remove")
def webhook_remove(
    webhook_id: Annotated[int, typer.Argument(help="Webhook id (from webhook list).")],
    account: Annotated[int | None, typer.Option(help="Only if it belongs to this account.")] = None,
) -> None:
    """Remove a webhook (queued deliveries to it fail; their events stay in the feed)."""
    from alephee.webhooks import service as webhooks

    with session_scope() as session:
        row = webhooks.delete_subscription(session, webhook_id, account)
        emit({"Removed": row.id, "AccountId": row.account_id, "Url": row.url})


@webhook_app.command("test")
def webhook_test(webhook_id: Annotated[int, typer.Argument(help="Webhook id (from webhook list).")]) -> None:
    """POST a signed webhook.test event now; prints the receiver's HTTP status (exit 1 unless 2xx)."""
    from alephee.webhooks import service as webhooks
    from alephee.webhooks.sender import send_test

    settings = Settings()
    with session_scope(settings) as session:
        row = webhooks.get_subscription(session, webhook_id)
    outcome = send_test(row, settings)
    emit(outcome)
    if not outcome["Delivered"]:
        raise typer.Exit(1)


@webhook_app.command("rekey")
def webhook_rekey() -> None:
    """Re-encrypt every webhook signing secret with the first key of ALEPHEE_SECRET_KEY (run after putting a new
    key first; also encrypts secrets still stored in clear). Exit 1 if a secret no configured key decrypts."""
    from alephee.webhooks import service as webhooks
    from alephee.webhooks.crypto import SecretKeyError

    settings = Settings()
    try:
        with session_scope(settings) as session:
            report = webhooks.rekey_secrets(session, settings, each_batch=session.commit)
    except SecretKeyError as exc:
        fail(str(exc), 500)
    emit(report.as_json())
    if report.failed:
        raise typer.Exit(1)


@notifications_app.command("purge")
def notifications_purge() -> None:
    """Delete feed events older than ALEPHEE_NOTIFICATIONS_RETENTION_DAYS (the worker also does it hourly)."""
    from alephee.webhooks import service as webhooks
    from alephee.webhooks.sender import ensure_purge_scheduled

    settings = Settings()
    with session_scope(settings) as session:
        purged = webhooks.purge(session, settings, each_batch=session.commit)
        ensure_purge_scheduled(session)
        emit({"Purged": purged, "RetentionDays": settings.notifications_retention_days})
