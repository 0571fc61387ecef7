"""Tombstones: what a bot deleted, kept so that a synchronising copy (a CRM, a phone) can drop it too; and the
parcels that left a client for another, so that a copy of one client's parcels drops them as well."""
from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import BigId, UTCDateTime, utcnow

DELETED_KINDS = ("tracking", "client")
# Why a record left a feed: deleted (every feed of its kind), or moved to another client (only the feed of the
# client it left: `client_code` below).
REMOVAL_REASONS = ("deleted", "moved")


class DeletedRecord(db.Model):
    """A deleted tracking number or client: its id and code, when, and its place in the bot's changes."""

    __tablename__ = "deleted_records"
    __table_args__ = (
        Index("ix_deleted_records_bot_id_kind_change_seq", "bot_id", "kind", "change_seq"),
        Index("ix_deleted_records_bot_id_kind_deleted_at", "bot_id", "kind", "deleted_at"),
        Index("ix_deleted_records_bot_id_client_code_change_seq", "bot_id", "client_code", "change_seq"),
        Index("ix_deleted_records_bot_id_kind_record_id", "bot_id", "kind", "record_id"),  # a restore's look-up
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bot_id: Mapped[int] = mapped_column(Integer, ForeignKey("bots.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # one of DELETED_KINDS
    record_id: Mapped[int] = mapped_column(BigInteger)
    code: Mapped[str] = mapped_column(String(64))  # the tracking number or the client code
    change_seq: Mapped[int] = mapped_column(BigInteger)
    deleted_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)  # or when it moved
    reason: Mapped[str] = mapped_column(String(16), default="deleted", server_default="deleted")  # REMOVAL_REASONS
    # A parcel's client when it was deleted, or the client it moved away from: the per-client feed's removals.
    client_code: Mapped[str | None] = mapped_column(String(64))
    # A deletion's record as it was, its history included (JSON, writes/restore.py), for the restore window; None once
    # purged, and for a move.
    snapshot: Mapped[str | None] = mapped_column(Text)
