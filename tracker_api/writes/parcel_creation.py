"""A parcel created in one statement on PostgreSQL: the row, its first history row, the bot's change number and
its totals together, instead of an ORM flush of five round trips under the bot's lock.

Why: every write of a bot holds the bot's change lock until it commits (change_numbers.py), so the time a write
spends between taking it and committing is what limits one bot's writes per second. Through the ORM a create took
the lock, then flushed the parcel, its history row and the totals in three more round trips, with the flush's
Python work between them: 9 ms held per create under 32 connections, 100 creates a second for one bot on two CPUs
(bench/README.md). Here the lock is the first part of the one statement that writes everything, then the commit
follows: the lock is held for that statement and the commit, and the request costs 40% less CPU.

What the ORM's flush listeners do for other writes is done here by the statement or by the caller, in the same
transaction: the totals (the same upserts as totals.py's, fed from the new row), the history row, the change
number; the caller announces the parcel to webhooks when the bot has an enabled endpoint, and notes it for an
Idempotency-Key. SQLite (one writer at a time anyway) and every other write keep the ORM path.
"""
from sqlalchemy import Boolean, column, text

from ..extensions import db
from ..models import StatusEvent, TrackingCreatedQuarter, TrackingIdBucket, TrackingNumber, TrackingStatusTotal
from . import totals
from .totals import QUARTER_SECONDS, upsert_sql

INSERTED_COLUMNS = [column.name for column in TrackingNumber.__table__.columns if column.name != "id"]
HISTORY_COLUMNS = ("tracking_id", "bot_id", "status", "previous_status", "source", "api_key_id", "created_at")


# The same rows a flush's TotalsDelta.parcel(values, 1) adds to each totals table, read from the inserted row.
NEW_PARCEL_TOTALS = {
    TrackingStatusTotal: "SELECT bot_id, status, 1, coalesce(weight_kg, 0), coalesce(total_cost_usd, 0) FROM parcel",
    TrackingCreatedQuarter: "SELECT bot_id, floor(extract(epoch FROM created_at))::bigint / :quarter_seconds, 1 "
                            "FROM parcel",
    TrackingIdBucket: "SELECT bot_id, id / :bucket_width, 1 FROM parcel",
}


def _statement():
    """Built once: the column lists and the upserts come from our own models, every value is bound."""
    inserted = ", ".join(INSERTED_COLUMNS)
    values = ", ".join("locked.change_seq" if name == "change_seq" else f":{name}" for name in INSERTED_COLUMNS)
    returned = TrackingNumber.__table__.columns
    parts = [
        "locked AS (UPDATE bots SET change_seq = change_seq + 1 WHERE id = :bot_id RETURNING change_seq, "
        "EXISTS (SELECT FROM webhook_endpoints WHERE bot_id = :bot_id AND enabled) AS has_webhooks)",
        f"parcel AS (INSERT INTO tracking_numbers ({inserted}) "  # nosec B608: our names
        f"SELECT {values} FROM locked RETURNING *)",
        f"history AS (INSERT INTO status_events ({', '.join(HISTORY_COLUMNS)}) "  # nosec B608: our names
        "SELECT id, bot_id, status, NULL, :source, :api_key_id, created_at FROM parcel)",
        *(f"totals_{number} AS ({upsert_sql(model, source)})"
          for number, (model, source) in enumerate(NEW_PARCEL_TOTALS.items())),
    ]
    selected = ", ".join(f"parcel.{column.name}" for column in returned)
    sql = f"WITH {', '.join(parts)} SELECT {selected}, locked.has_webhooks FROM parcel, locked"  # nosec B608: our names
    return text(sql).columns(*returned, column("has_webhooks", Boolean))


STATEMENT = _statement()


def create_parcel(bot_id, values, source, api_key_id):
    """Insert the parcel `values` (every column but id and change_seq) in the request's transaction; returns the new
    TrackingNumber (not in the session: nothing is left for a flush to write) and whether the bot has an enabled
    webhook endpoint. A duplicate number raises IntegrityError, as a flush would."""
    row = db.session.execute(STATEMENT, {**values, "bot_id": bot_id, "source": source, "api_key_id": api_key_id,
                                         "bucket_width": totals.ID_BUCKET_WIDTH,
                                         "quarter_seconds": QUARTER_SECONDS}).one()
    fields = row._asdict()
    has_webhooks = fields.pop("has_webhooks")
    return TrackingNumber(**fields), has_webhooks
