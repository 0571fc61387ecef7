"""A parcel created, or its status changed, in one statement on PostgreSQL: the row, its history row, the bot's
change number and its totals together, instead of an ORM flush of four or five round trips under the bot's lock.

Why: every write of a bot holds the bot's change lock until it commits (change_numbers.py), so the time a write
spends between taking it and committing is what limits one bot's writes per second. Through the ORM a create took
the lock, then flushed the parcel, its history row and the totals in three more round trips, with the flush's
Python work between them: 9 ms held per create under 32 connections, about 100 creates a second for one bot on two
CPUs (bench/README.md). Here the lock is the first part of the one statement that writes everything, and the
commit follows at once; the request also costs 40% less CPU.

What the ORM's flush listeners do for other writes is done here by the statement or by the caller, in the same
transaction: the totals (totals.py's upserts, fed from the rows written), the history row, the change number; the
caller announces the change to webhooks when the bot has an enabled endpoint, and notes a created parcel for an
Idempotency-Key. SQLite (one writer at a time anyway) and the writes these statements do not cover (an update
with If-Match, or of the number, client, weight or price: see UPDATABLE) keep the ORM path.

A write of a bot without an enabled webhook endpoint, in a request that has not yet begun a transaction and holds
no Idempotency-Key, commits alone: the statement runs in autocommit, one round trip to PostgreSQL where BEGIN, the
plan's setting, the statement and COMMIT took four. Nothing waits to join its transaction: it already writes
everything the change needs. Above all the bot's lock is released by PostgreSQL as the statement commits, no
longer held over a round trip to the worker and back for the COMMIT, so one bot's writes queue for less time.
Its lock is taken only if the bot has no enabled endpoint at that moment (and, for an update, has the parcel);
when it has one, the statement writes nothing and the write runs again in a transaction, with its webhook event,
and the bot's next writes in this process go there directly (BOTS_WITH_WEBHOOKS). Measured (bench/README.md,
2026-12-04): 32 connections on one bot, three alternations, creates 220/239/216 -> 266/333/288 req/s, status
updates 189/211/227 -> 252/317/296. Not behind PgBouncer, where every transaction sets the session's options first
(database.settings_per_transaction). An update of a parcel that a write holding the bot's lock deletes meanwhile
can use a change number for nothing: a gap in the numbers, never one out of order.

Both statements run under a generic plan, made once per connection, alone or in a transaction: the execution
option PLAN_ONCE (why and how: database.plan_once_where_asked).
"""
import functools

from flask import current_app
from sqlalchemy import Boolean, column, text

from ..database import PLAN_ONCE, autocommit_if_possible
from ..extensions import db
from ..models import StatusEvent, TrackingCreatedQuarter, TrackingIdBucket, TrackingNumber, TrackingStatusTotal
from . import totals
from .change_numbers import LOCK_SQL, WEBHOOK_ENABLED, conditional_lock_sql
from .idempotency import claim_in
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


# The bot's lock and next change number, and whether it has an enabled endpoint: change_numbers.py's, as a CTE; and
# the locks of the writes that commit alone, taken only by a bot without an enabled endpoint (and that has the
# parcel, for an update: a missing one's update then uses no change number).
LOCKED = f"locked AS ({LOCK_SQL})"
LOCKED_UNLESS_WEBHOOKS = f"locked AS ({conditional_lock_sql(f'NOT {WEBHOOK_ENABLED}')})"
PARCEL_EXISTS = "EXISTS (SELECT 1 FROM tracking_numbers WHERE id = :tracking_id AND bot_id = :bot_id)"
LOCKED_UNLESS_WEBHOOKS_OR_MISSING = f"locked AS ({conditional_lock_sql(f'NOT {WEBHOOK_ENABLED} AND {PARCEL_EXISTS}')})"
# app.extensions' set of the bots whose last write in this process found an enabled webhook endpoint: their writes
# go straight to a transaction. A hint only: the statement that commits alone checks for endpoints itself.
BOTS_WITH_WEBHOOKS = "bots_with_webhooks"
RETURNED = TrackingNumber.__table__.columns
# What a created row holds in a column its values leave out: the model's scalar default, else NULL where allowed.
OMITTED_DEFAULTS = {column.name: column.default.arg if column.default is not None else None
                    for column in RETURNED if column.name in INSERTED_COLUMNS and column.name != "change_seq"
                    and ((column.default is not None and column.default.is_scalar) or column.nullable)}
# An update's move of the status totals: the row as it was leaves its status, the row as it is joins its own.
MOVED_STATUS_TOTALS = (
    "SELECT bot_id, status, sum(count), sum(weight), sum(cost) FROM ("
    "SELECT bot_id, status, -1 AS count, -coalesce(weight_kg, 0) AS weight, -coalesce(total_cost_usd, 0) AS cost "
    "FROM previous UNION ALL "
    "SELECT bot_id, status, 1, coalesce(weight_kg, 0), coalesce(total_cost_usd, 0) FROM parcel) AS moved "
    "GROUP BY bot_id, status HAVING sum(count) <> 0 OR sum(weight) <> 0 OR sum(cost) <> 0")
# The fields an update in one statement may set: none of them moves a parcel between clients, renames it or makes
# its total derived from stored values (service.py's rules for those stay in Python, on the ORM path).
UPDATABLE = frozenset({"status", "quantity", "note", "total_cost_usd"})


def _with_parcel(parts, sources=("parcel", "locked"), selected=()):
    """WITH `parts`, returning from `sources` the parcel's columns, whether the bot has webhooks, and `selected`."""
    columns = ", ".join((*(f"parcel.{column.name}" for column in RETURNED), "locked.has_webhooks", *selected))
    sql = f"WITH {', '.join(parts)} SELECT {columns} FROM {', '.join(sources)}"  # nosec B608: our names
    return text(sql).columns(*RETURNED, column("has_webhooks", Boolean)).execution_options(**{PLAN_ONCE: True})


def _create_statement(locked):
    """Built once per lock: the column lists and the upserts come from our own models, every value is bound."""
    inserted = ", ".join(INSERTED_COLUMNS)
    values = ", ".join("locked.change_seq" if name == "change_seq" else f":{name}" for name in INSERTED_COLUMNS)
    parts = [
        locked,
        f"parcel AS (INSERT INTO tracking_numbers ({inserted}) "  # nosec B608: our names
        f"SELECT {values} FROM locked RETURNING *)",
        f"history AS (INSERT INTO status_events ({', '.join(HISTORY_COLUMNS)}) "  # nosec B608: our names
        "SELECT id, bot_id, status, NULL, :source, :api_key_id, created_at FROM parcel)",
        *(f"totals_{number} AS ({upsert_sql(model, source)})"
          for number, (model, source) in enumerate(NEW_PARCEL_TOTALS.items())),
    ]
    return _with_parcel(parts)


CREATE, CREATE_ALONE = _create_statement(LOCKED), _create_statement(LOCKED_UNLESS_WEBHOOKS)


@functools.cache
def _update_statement(names, locked):
    """The update of the fields `names` (a sorted tuple, a subset of UPDATABLE), built once per set of names and
    lock: the bot's lock first, then the parcel locked as it is (previous), changed, its history row if the status
    changed, and the status totals moved. Under READ COMMITTED the parcel locked after waiting for the bot's lock is
    its newest version, so the previous status is the one the write before this one left."""
    assignments = "".join(f"{name} = :{name}, " for name in names)
    parts = [
        locked,
        "previous AS (SELECT tracking_numbers.* FROM tracking_numbers, locked "
        "WHERE id = :tracking_id AND bot_id = :bot_id FOR UPDATE OF tracking_numbers)",
        f"parcel AS (UPDATE tracking_numbers SET {assignments}updated_at = :updated_at, "  # nosec B608: our names
        "change_seq = locked.change_seq FROM previous, locked WHERE tracking_numbers.id = previous.id "
        "RETURNING tracking_numbers.*)",
        f"history AS (INSERT INTO status_events ({', '.join(HISTORY_COLUMNS)}) "  # nosec B608: our names
        "SELECT parcel.id, parcel.bot_id, parcel.status, previous.status, :source, :api_key_id, parcel.updated_at "
        "FROM parcel, previous WHERE parcel.status <> previous.status)",
        f"totals AS ({upsert_sql(TrackingStatusTotal, MOVED_STATUS_TOTALS)})",
    ]
    previous = [f"previous.{name} AS previous_{name}" for name in names]
    return _with_parcel(parts, ("parcel", "locked", "previous"), previous)


def _write(in_transaction, alone, bot_id, parameters):
    """The row the write returns: `alone` committed alone when it may be, else (or when it wrote nothing: the bot
    has an enabled webhook endpoint, or no such parcel) `in_transaction`, in the request's transaction, which the
    caller commits."""
    session = db.session()
    # Alone (the module's doc): no Idempotency-Key claim waits to be marked with the write, the bot had no enabled
    # webhook endpoint at its last write, and nothing of the request is in a transaction yet.
    if (claim_in(session) is None and bot_id not in current_app.extensions.get(BOTS_WITH_WEBHOOKS, ())
            and autocommit_if_possible(session)):
        row = session.execute(alone, parameters).one_or_none()
        if row is not None:
            return row
        session.rollback()  # gives the connection back: the next statement begins a transaction
    row = session.execute(in_transaction, parameters).one_or_none()
    if row is not None:
        with_webhooks = current_app.extensions.setdefault(BOTS_WITH_WEBHOOKS, set())
        (with_webhooks.add if row.has_webhooks else with_webhooks.discard)(bot_id)
    return row


def create_parcel(bot_id, values, source, api_key_id):
    """Insert the parcel `values` (its columns but id and change_seq; those left out take OMITTED_DEFAULTS),
    committed alone or in the request's transaction (_write); returns the new TrackingNumber (not in the session:
    nothing is left for a flush to write) and whether the bot has an enabled webhook endpoint. A duplicate number
    raises IntegrityError, as a flush would."""
    row = _write(CREATE, CREATE_ALONE, bot_id, {
        **OMITTED_DEFAULTS, **values, "bot_id": bot_id, "count": 1, "source": source, "api_key_id": api_key_id,
        "bucket_width": totals.ID_BUCKET_WIDTH, "quarter_seconds": QUARTER_SECONDS})
    fields = row._asdict()
    has_webhooks = fields.pop("has_webhooks")
    return TrackingNumber(**fields), has_webhooks


def update_parcel(bot_id, tracking_id, fields, updated_at, source, api_key_id):
    """Set `fields` (names in UPDATABLE) on the bot's parcel, committed alone or in the request's transaction
    (_write); returns the parcel as it is now (a TrackingNumber outside the session), whether the bot has an enabled
    webhook endpoint, and {field: its previous value} of the fields given; None when the bot has no such parcel."""
    names = tuple(sorted(fields))
    alone = _update_statement(names, LOCKED_UNLESS_WEBHOOKS_OR_MISSING)
    row = _write(_update_statement(names, LOCKED), alone, bot_id, {
        **fields, "bot_id": bot_id, "count": 1, "tracking_id": tracking_id, "updated_at": updated_at,
        "source": source, "api_key_id": api_key_id})
    if row is None:
        return None
    values = row._asdict()
    previous = {name: values.pop(f"previous_{name}") for name in names}
    has_webhooks = values.pop("has_webhooks")
    return TrackingNumber(**values), has_webhooks, previous
