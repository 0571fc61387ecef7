"""An integration API key: only its hash and a non-secret display prefix are stored."""
from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow


class ApiKey(db.Model):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bot_id: Mapped[int] = mapped_column(Integer, ForeignKey("bots.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=True)
    revoked_at = mapped_column(UTCDateTime, nullable=True)
    last_used_at = mapped_column(UTCDateTime, nullable=True)  # at most a minute stale; exact time: audit.key_usage
    # Requests per minute for this key; None: the configured default (RATE_LIMIT_PER_MINUTE).
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)

    bot = relationship("Bot", lazy="joined")

    def is_usable_at(self, moment):
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > moment)
