"""An integration API key: only its hash and a non-secret display prefix are stored.

Two kinds share the table, told apart by `kind`: a *secret* key (`tb_...`) for the company's servers, and a
*publishable* key (`tb_pk_...`) meant to be pasted into a web page for the tracking widget. One table, not two,
because both are looked up, revoked, rate-limited and audited the same way; the kind is a column rather than
something read off the key's prefix, so the server never trusts what a presented string looks like.
"""
from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow

KEY_KINDS = ("secret", "publishable")


class ApiKey(db.Model):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bot_id: Mapped[int] = mapped_column(Integer, ForeignKey("bots.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Which pepper made key_hash (keys.pepper_fingerprint): the newest once the key was issued or used since a
    # rotation; None for a key not used since before peppers were recorded.
    pepper_fingerprint: Mapped[str | None] = mapped_column(String(16))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=True)
    revoked_at = mapped_column(UTCDateTime, nullable=True)
    last_used_at = mapped_column(UTCDateTime, nullable=True)  # at most a minute stale; exact time: audit.key_usage
    # Requests per minute for this key; None: the configured default (RATE_LIMIT_PER_MINUTE).
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)

    # "secret" or "publishable" (KEY_KINDS); a publishable key reaches only the widget's public lookup.
    kind: Mapped[str] = mapped_column(String(16), default="secret", server_default="secret")
    # Publishable keys only: the web origins (`https://shop.example`) whose pages may use it, one per line.
    allowed_origins: Mapped[str | None] = mapped_column(Text)
    # The scopes it holds, space-separated (access/scopes.py); None: every right, as keys made before scopes have.
    scopes: Mapped[str | None] = mapped_column(Text)

    bot = relationship("Bot", lazy="joined")

    @property
    def is_publishable(self):
        return self.kind == "publishable"

    @property
    def origins(self):
        return (self.allowed_origins or "").split()

    @property
    def scope_names(self):
        """The key's scopes as a tuple, or None for every right."""
        return None if self.scopes is None else tuple(self.scopes.split())

    def is_usable_at(self, moment):
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > moment)
