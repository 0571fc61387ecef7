"""The tenant: one cargo company's Telegram bot."""
from sqlalchemy import BigInteger, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow

SUBSCRIPTION_STATUSES = ("trial", "active", "past_due", "cancelled")


class Bot(db.Model):
    __tablename__ = "bots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    username: Mapped[str] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    subscription_status: Mapped[str] = mapped_column(String(20), default="active")
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # The number of the bot's latest change to its tracking numbers and clients: see writes/change_numbers.py.
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The IANA time zone of the company (Asia/Almaty): its statistics count parcels per day of this zone.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # A sandbox bot (demo data for an integrator to develop against) names the live bot it belongs to. No foreign
    # key: adding one would make SQLite rebuild this table (migration 0013), and bots are never deleted.
    sandbox_of: Mapped[int | None] = mapped_column(Integer, index=True)

    @property
    def is_sandbox(self):
        return self.sandbox_of is not None
