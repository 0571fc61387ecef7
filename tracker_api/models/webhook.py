"""Webhooks: a bot's endpoints, the outbox of events its writes produced, and one delivery per event and endpoint.

tracker_api/webhooks/ writes and sends them: outbox.py adds events and deliveries in the transaction of the write
that caused them, delivery.py claims and sends deliveries.
"""
from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import BigId, EncryptedText, UTCDateTime, utcnow

WEBHOOK_EVENT_TYPES = ("tracking.created", "tracking.status_changed", "tracking.updated", "tracking.deleted",
                       "client.created", "client.updated", "client.deleted", "tracking.restored", "client.restored")
TEST_EVENT_TYPE = "webhook.test"  # sent by "send a test event" only; no endpoint subscribes to it
# pending: waiting for its first or next attempt (claimed while leased_until is in the future); succeeded: a 2xx;
# failed: given up (retries spent, or its endpoint was disabled or deleted).
DELIVERY_STATES = ("pending", "succeeded", "failed")


class WebhookEndpoint(db.Model):
    """A URL of the bot's that receives the events it subscribes to, signed with its secret."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_bot_id_id", "bot_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bot_id: Mapped[int] = mapped_column(Integer, ForeignKey("bots.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[str] = mapped_column(Text)  # subscribed event types, comma-separated
    description: Mapped[str | None] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Not hashed: every delivery is signed with it; encrypted at rest (encryption.py), read only when used. The
    # previous secret signs too until previous_secret_expires_at, so that a receiver can switch secrets without
    # losing a delivery.
    secret: Mapped[str] = mapped_column(EncryptedText, deferred=True)
    previous_secret: Mapped[str | None] = mapped_column(EncryptedText, deferred=True)
    previous_secret_expires_at = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at = mapped_column(UTCDateTime)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    @property
    def event_types(self):
        return self.events.split(",") if self.events else []


class WebhookEvent(db.Model):
    """One change, as sent: `payload` is the exact JSON body every endpoint receives (the signature covers it)."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_bot_id_id", "bot_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)  # a UUID: the receiver's de-duplication key
    bot_id: Mapped[int] = mapped_column(Integer, ForeignKey("bots.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(80))  # "tracking:42", "client:7": what is delivered in order
    sequence: Mapped[int] = mapped_column(BigInteger)  # the bot's change number (writes/change_numbers.py)
    payload: Mapped[str] = mapped_column(Text)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class WebhookDelivery(db.Model):
    """One event on its way to one endpoint: its attempts, the last answer, and when it is tried next."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_id_subject_status", "endpoint_id", "subject", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[int] = mapped_column(Integer, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_row_id: Mapped[int] = mapped_column(BigId, ForeignKey("webhook_events.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(80))  # the event's, copied: the per-parcel order is by it
    status: Mapped[str] = mapped_column(String(20), default="pending")  # one of DELIVERY_STATES
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # A worker's claim: until leased_until no other worker takes it; a worker that dies loses its claim then.
    lease_token: Mapped[str | None] = mapped_column(String(36))
    leased_until = mapped_column(UTCDateTime)
    last_attempt_at = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_duration_ms: Mapped[int | None] = mapped_column(Integer)
    delivered_at = mapped_column(UTCDateTime)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    event = relationship(WebhookEvent, lazy="joined")
