"""Parcels (tracking numbers) and the history of every status each one has taken."""
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import BigId, UTCDateTime, utcnow

STATUSES = ("pending", "in_transit", "delivered", "issued", "cancelled")
STATUS_SOURCES = ("api", "bot", "import", "demo")  # what may set a status (StatusEvent.source)


class TrackingNumber(db.Model):
    __tablename__ = "tracking_numbers"
    __table_args__ = (
        db.UniqueConstraint("bot_id", "tracking_number", name="uq_tracking_numbers_bot_id_tracking_number"),
        Index("ix_tracking_numbers_bot_id_id", "bot_id", "id"),
        Index("ix_tracking_numbers_bot_id_status_id", "bot_id", "status", "id"),
        Index("ix_tracking_numbers_bot_id_client_code_id", "bot_id", "client_code", "id"),
        Index("ix_tracking_numbers_bot_id_change_seq", "bot_id", "change_seq"),
        Index("ix_tracking_numbers_bot_id_updated_at", "bot_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bot_id: Mapped[int] = mapped_column(Integer, ForeignKey("bots.id", ondelete="CASCADE"))
    tracking_number: Mapped[str] = mapped_column(String(64))
    # active_history (here and below): a change loads the old value first, so that writes/change_numbers.py can
    # record the client a parcel leaves, and writes/totals.py can move the bot's totals exactly.
    client_code: Mapped[str] = mapped_column(String(64), active_history=True)
    status: Mapped[str] = mapped_column(String(20), active_history=True)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    weight_kg: Mapped[Decimal | None] = mapped_column(Numeric(10, 3), active_history=True)
    price_per_kg_usd: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    total_cost_usd: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), active_history=True)
    note: Mapped[str | None] = mapped_column(Text)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # see writes/change_numbers.py

    history = relationship("StatusEvent", order_by="StatusEvent.id", lazy="raise", passive_deletes=True)

    @property
    def current_status(self):
        return self.status


class StatusEvent(db.Model):
    """One status a parcel took: which status, when, and who or what set it."""

    __tablename__ = "status_events"
    __table_args__ = (Index("ix_status_events_tracking_id_id", "tracking_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tracking_id: Mapped[int] = mapped_column(BigId, ForeignKey("tracking_numbers.id", ondelete="CASCADE"))
    bot_id: Mapped[int] = mapped_column(Integer, ForeignKey("bots.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    previous_status: Mapped[str | None] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))  # one of STATUS_SOURCES
    api_key_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("api_keys.id", ondelete="SET NULL"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
