"""Tombstones: what a bot deleted, kept so that a synchronising copy (a CRM, a phone) can drop it too."""
from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import BigId, UTCDateTime, utcnow

DELETED_KINDS = ("tracking", "client")


class DeletedRecord(db.Model):
    """A deleted tracking number or client: its id and code, when, and its place in the bot's changes."""

    __tablename__ = "deleted_records"
    __table_args__ = (
        Index("ix_deleted_records_bot_id_kind_change_seq", "bot_id", "kind", "change_seq"),
        Index("ix_deleted_records_bot_id_kind_deleted_at", "bot_id", "kind", "deleted_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bot_id: Mapped[int] = mapped_column(Integer, ForeignKey("bots.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # one of DELETED_KINDS
    record_id: Mapped[int] = mapped_column(BigInteger)
    code: Mapped[str] = mapped_column(String(64))  # the tracking number or the client code
    change_seq: Mapped[int] = mapped_column(BigInteger)
    deleted_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
