"""Something suspicious an operator should see: bursts of bad keys, keys probing other bots, and the like."""
from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import BigId, UTCDateTime, utcnow

# What each kind means is written once, in access/security_events.py, where the events are recorded.
SECURITY_EVENT_KINDS = ("invalid-key-burst", "wrong-bot", "revoked-key", "rate-limit-hammering")


class SecurityEvent(db.Model):
    # No foreign keys on purpose: the record must outlive the key and the bot it mentions.
    __tablename__ = "security_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    client_address: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[int | None] = mapped_column(Integer)
    bot_id: Mapped[int | None] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[str] = mapped_column(String(500))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False, index=True)
