"""What a POST sent with an Idempotency-Key did and answered, kept so that a retry gets the same answer."""
from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import BigId, UTCDateTime, utcnow

# processing: a request holds the claim (until locked_until); committed: its change is in the database but its
# answer is not stored yet; completed: its answer is stored and replayed. See tracker_api/writes/idempotency.py.
IDEMPOTENCY_STATES = ("processing", "committed", "completed")


class IdempotencyRecord(db.Model):
    """One Idempotency-Key of one API key: the request it was first used with, and its outcome."""

    __tablename__ = "idempotency_records"
    __table_args__ = (
        UniqueConstraint("key_id", "idempotency_key", name="uq_idempotency_records_key_id_idempotency_key"),
        Index("ix_idempotency_records_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # Scoped to the API key, never the bot: two keys of one bot (two integrations) cannot collide.
    key_id: Mapped[int] = mapped_column(Integer, ForeignKey("api_keys.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 hex of method, path, query, body
    # Who holds the claim now: a request that took over an expired lease has a new token, so the one it
    # replaced (if it was merely slow, not dead) can no longer mark the record as its own.
    claim_token: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))  # one of IDEMPOTENCY_STATES
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    response_content_type: Mapped[str | None] = mapped_column(String(255))
    response_location: Mapped[str | None] = mapped_column(String(2048))
    resource_kind: Mapped[str | None] = mapped_column(String(64))  # the table of the row the request created
    resource_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    locked_until = mapped_column(UTCDateTime, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=False)
