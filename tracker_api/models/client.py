"""A company's customer, known to the bot by a client code."""
from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import BigId, UTCDateTime, utcnow


class Client(db.Model):
    __tablename__ = "clients"
    __table_args__ = (
        db.UniqueConstraint("bot_id", "client_code", name="uq_clients_bot_id_client_code"),
        Index("ix_clients_bot_id_id", "bot_id", "id"),
        Index("ix_clients_bot_id_change_seq", "bot_id", "change_seq"),
        Index("ix_clients_bot_id_updated_at", "bot_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bot_id: Mapped[int] = mapped_column(Integer, ForeignKey("bots.id", ondelete="CASCADE"))
    client_code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    telegram_username: Mapped[str | None] = mapped_column(String(64))
    telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # see writes/change_numbers.py
