"""What an operator may act on, checked before every action on an object: an API key only when every account it
serves is visible to them (revoking a shared key must not reach a tenant they cannot see), a webhook when its
account is. Anything else is ``AccountNotVisible`` (404: the console does not tell whether it exists)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from alephee.accounts.models import ApiKey
from alephee.accounts.service import key_account_ids
from alephee.console.sessions import AccountNotVisible, ConsoleViewer
from alephee.webhooks.models import WebhookSubscription


def require_key(session: Session, viewer: ConsoleViewer, key_id: int) -> ApiKey:
    """The key ``key_id`` when the operator sees every account it serves."""
    key = session.get(ApiKey, key_id) if key_id > 0 else None
    served = key_account_ids(session, key_id) if key is not None else []
    if key is None or not served or not all(viewer.sees(account_id) for account_id in served):
        raise AccountNotVisible
    return key


def require_webhook(session: Session, viewer: ConsoleViewer, webhook_id: int) -> WebhookSubscription:
    """The webhook ``webhook_id`` when its account is visible to the operator."""
    row = session.get(WebhookSubscription, webhook_id) if webhook_id > 0 else None
    if row is None or not viewer.sees(row.account_id):
        raise AccountNotVisible
    return row
