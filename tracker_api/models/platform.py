"""The platform's backend as a caller: its tokens for the admin API, and the audit trail of what it changed."""
from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import BigId, UTCDateTime, utcnow


class PlatformToken(db.Model):
    """A credential of the bot platform's backend (`tp_...`) for /api/admin/v1: only its hash is stored."""

    __tablename__ = "platform_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    revoked_at = mapped_column(UTCDateTime, nullable=True)
    last_used_at = mapped_column(UTCDateTime, nullable=True)  # to the minute


class AdminAuditEvent(db.Model):
    """One write through the admin API: which token, what, the record before and after, when."""

    # No foreign key to the bot: the trail outlives what it mentions.
    __tablename__ = "admin_audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    token_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("platform_tokens.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(40))  # "bot.create", "key.roll", ...
    bot_id: Mapped[int | None] = mapped_column(Integer, index=True)
    target: Mapped[str] = mapped_column(String(40))  # "bot:123", "key:7"
    before = mapped_column(JSON, nullable=True)
    after = mapped_column(JSON, nullable=True)
