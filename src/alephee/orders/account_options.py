"""Order privileges of an account (operator settings): pending payments and Mercado Libre own invoicing."""

from __future__ import annotations

from sqlalchemy.orm import Session

from alephee.config import Settings
from alephee.orders.models import OrderAccountOptions


def account_options(session: Session, account_id: int) -> OrderAccountOptions | None:
    """The account's order privileges (None when never set)."""
    return session.get(OrderAccountOptions, account_id)


def set_account_options(
    session: Session, account_id: int, *, pending_payments: bool | None = None, ml_own_invoicing: bool | None = None
) -> OrderAccountOptions:
    """Grant or revoke order privileges of an account (operator action; no commit)."""
    options = session.get(OrderAccountOptions, account_id)
    if options is None:
        options = OrderAccountOptions(account_id=account_id, pending_payments=None, ml_own_invoicing=False)
        session.add(options)
    if pending_payments is not None:
        options.pending_payments = pending_payments
    if ml_own_invoicing is not None:
        options.ml_own_invoicing = ml_own_invoicing
    session.flush()
    return options


def may_handle_pending_payments(session: Session, settings: Settings, account_id: int) -> bool:
    """Whether ``includePendingPayments=true`` has an effect for this account (CF-20.1.4)."""
    options = account_options(session, account_id)
    if options is not None and options.pending_payments is not None:
        return options.pending_payments
    return settings.orders_pending_payments_default
