"""Exact totals kept beside a bot's rows, so that lists, statistics and deep pages never scan those rows.

tracker_api/writes/totals.py keeps them: every flush that creates, changes or deletes a tracking number or a client
moves them in the same transaction (under the bot's change lock, see writes/change_numbers.py), and `flask totals check`
compares them with a fresh count.
"""
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


def bot_fk():
    """A fresh foreign key to the bot (a ForeignKey object belongs to one column): totals go with their bot."""
    return ForeignKey("bots.id", ondelete="CASCADE")


class TrackingStatusTotal(db.Model):
    """A bot's parcels in one status: how many, their weight and their cost (the statistics and list totals)."""

    __tablename__ = "tracking_status_totals"

    bot_id: Mapped[int] = mapped_column(Integer, bot_fk(), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    total_weight_kg: Mapped[Decimal] = mapped_column(Numeric(24, 3), default=0)
    total_cost_usd: Mapped[Decimal] = mapped_column(Numeric(24, 2), default=0)


class TrackingCreatedQuarter(db.Model):
    """How many of a bot's parcels were created in one quarter of an hour (UTC seconds since 1970 // 900): the
    statistics' parcels created per day, in whatever time zone the bot or the request names.

    Why quarters of an hour, not days: a day is a local day, whose bounds move with the zone, its DST changes
    and the bot's change of zone. Every zone's offset is a whole number of quarter hours (+3, +5:30, +5:45), so a
    local day is always a whole run of quarters and its count is exact; 30 days are at most 2,880 rows, summed
    into days by the database (totals.created_per_day)."""

    __tablename__ = "tracking_created_quarters"

    bot_id: Mapped[int] = mapped_column(Integer, bot_fk(), primary_key=True)
    quarter: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class TrackingIdBucket(db.Model):
    """How many of a bot's parcels have an id in [bucket × ID_BUCKET_WIDTH, (bucket + 1) × ID_BUCKET_WIDTH):
    page N of the newest-first list starts in the bucket where the running count from the top passes
    (N - 1) × page_size, so a deep page skips whole buckets instead of a million index entries."""

    __tablename__ = "tracking_id_buckets"

    bot_id: Mapped[int] = mapped_column(Integer, bot_fk(), primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class ClientTotal(db.Model):
    """How many clients a bot has."""

    __tablename__ = "client_totals"

    bot_id: Mapped[int] = mapped_column(Integer, bot_fk(), primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
