"""Tables of the operator console: operators, the accounts each may see, and their browser sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from alephee.clock import utcnow
from alephee.db import Base, UtcDateTime


class Operator(Base):
    """A person who runs the hub. ``email`` is stored lower-case (unique); only the Argon2id hash of the password
    is kept. An admin sees every account; another operator only the accounts granted to them."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class OperatorAccount(Base):
    """An account an operator may see and act on."""

    __tablename__ = "operator_accounts"

    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True, index=True)


class ConsoleSession(Base):
    """A signed-in browser of an operator. Only the SHA-256 of the random cookie value is stored."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    # Per-session token every POST form must echo (CSRF).
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # One-shot message shown by the next page (post/redirect/get).
    flash_level: Mapped[str | None] = mapped_column(String(10))
    flash_text: Mapped[str | None] = mapped_column(String(500))
