"""A bot's totals, kept exact beside its rows, so that no request counts a million rows.

Why: `total` in every list, the statistics and page N of a list would otherwise scan the bot's rows on every
request (a count(*) over a million parcels costs ~180 ms). Instead the tables in models/bot_totals.py hold, per
bot: parcels per status with their weight and cost, parcels created per quarter of an hour (summed into the
days of any time zone when read), parcels per id bucket, and clients.

How they stay exact: a session listener (below) sees every flush that creates, changes or deletes a tracking
number or a client, and adds the difference to the totals with upserts in the same transaction; the one-statement
create and status update on PostgreSQL (parcel_statements.py) run the same upserts inside their statement. A rolled-back
write rolls its totals back too, and every write already holds its bot's change lock (writes/change_numbers.py), so two
writes of one bot never race on its totals. Writes that bypass the ORM (SQL by hand) must be followed by
`flask totals recount`; `flask totals check` compares the totals with a fresh count.
"""
import functools
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import (BigInteger, Integer, and_, bindparam, case, cast, delete, event, func, insert, inspect,
                        literal, select, text)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import (Client, ClientTotal, TrackingCreatedQuarter, TrackingIdBucket, TrackingNumber,
                      TrackingStatusTotal)
from . import change_numbers  # noqa: F401 - its before_flush loads deleted rows for the listener here

# Ids per bucket. Page N's rows are found by summing bucket counts from the newest bucket down (a few
# thousand rows at a million parcels) and then skipping at most one bucket's rows with OFFSET.
ID_BUCKET_WIDTH = 1024
# Below this many rows to skip, a plain OFFSET is cheaper than summing buckets.
BUCKETED_OFFSET = 5_000
STATUS_MEASURES = ("status", "weight_kg", "total_cost_usd")
QUARTER_SECONDS = 900  # TrackingCreatedQuarter's width: every time zone's offset is a multiple of it
QUARTERS_PER_DAY = 86400 // QUARTER_SECONDS
TOTALS = (TrackingStatusTotal, TrackingCreatedQuarter, TrackingIdBucket, ClientTotal)


# --- keeping them ---------------------------------------------------------------------------------------

def quarter_of(moment):
    """The quarter hour (TrackingCreatedQuarter.quarter) an aware datetime falls in."""
    return int(moment.timestamp()) // QUARTER_SECONDS


class TotalsDelta:
    """What one flush adds to the totals, per bot."""

    def __init__(self):
        self.statuses = defaultdict(lambda: [0, Decimal(0), Decimal(0)])  # (bot, status) -> count, weight, cost
        self.quarters = Counter()  # (bot, quarter hour) -> parcels created
        self.buckets = Counter()  # (bot, id bucket) -> parcels
        self.clients = Counter()  # bot -> clients

    def parcel(self, values, sign):
        """A parcel appears (sign 1) or goes (-1); `values` maps column names to its values."""
        self.measures(values["bot_id"], values, sign)
        self.quarters[values["bot_id"], quarter_of(values["created_at"])] += sign
        self.buckets[values["bot_id"], values["id"] // ID_BUCKET_WIDTH] += sign

    def measures(self, bot_id, values, sign):
        row = self.statuses[bot_id, values["status"]]
        row[0] += sign
        row[1] += sign * (values["weight_kg"] or 0)
        row[2] += sign * (values["total_cost_usd"] or 0)

    def rows(self):
        """{totals table: the rows this flush adds to it}; rows that add nothing are left out."""
        return {
            TrackingStatusTotal: [
                {"bot_id": bot, "status": status, "count": count, "total_weight_kg": weight, "total_cost_usd": cost}
                for (bot, status), (count, weight, cost) in self.statuses.items() if count or weight or cost],
            TrackingCreatedQuarter: [{"bot_id": bot, "quarter": quarter, "count": count}
                                     for (bot, quarter), count in self.quarters.items() if count],
            TrackingIdBucket: [{"bot_id": bot, "bucket": bucket, "count": count}
                               for (bot, bucket), count in self.buckets.items() if count],
            ClientTotal: [{"bot_id": bot, "count": count} for bot, count in self.clients.items() if count],
        }

    def apply(self, connection):
        """Add the rows to the totals: on PostgreSQL in one statement, on SQLite one per table that moved."""
        rows = self.rows()
        if not any(rows.values()):
            return
        if connection.dialect.name == "postgresql":
            connection.execute(_upsert_all_postgresql(), {
                _array_name(model, column): [row[column] for row in rows[model]]
                for model in TOTALS for column in model.__table__.columns.keys()})
        else:
            for model, model_rows in rows.items():
                if model_rows:
                    connection.execute(_upsert_one(model), model_rows)


# The upserts are hand-written SQL, built once: SQLAlchemy does not cache its PostgreSQL and SQLite
# INSERT ... ON CONFLICT constructs, and compiling three of them cost every write more than running them.
def upsert_sql(model, source):
    """INSERT of `source`'s rows into a totals table, each adding its measures to the stored row of its key."""
    table = model.__table__
    keys = [column.name for column in table.primary_key]
    measures = ", ".join(f"{name} = stored.{name} + excluded.{name}" for name in table.columns.keys()
                         if name not in keys)
    # Names come from our own models, values only as bound parameters.
    return (f"INSERT INTO {table.name} AS stored ({', '.join(table.columns.keys())}) {source} "  # nosec B608: see above
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {measures}")


@functools.cache
def _upsert_one(model):
    """One table's upsert, its rows given as executemany parameters (SQLite)."""
    columns = model.__table__.columns
    return text(upsert_sql(model, f"VALUES ({', '.join(':' + name for name in columns.keys())})")).bindparams(
        *(bindparam(column.name, type_=column.type) for column in columns))


def _array_name(model, column):
    return f"{model.__tablename__}_{column}"


@functools.cache
def _upsert_all_postgresql():
    """Every table's upsert in one statement (PostgreSQL runs INSERTs inside WITH): one round trip per write
    instead of one per table. Each column's values arrive as one array, so the text, and the plan psycopg
    prepares for it, is the same whichever tables moved; an empty array inserts nothing."""
    dialect = postgresql.dialect()
    upserts = []
    for model in TOTALS:
        arrays = ", ".join(f"CAST(:{_array_name(model, column.name)} AS {column.type.compile(dialect)}[])"
                           for column in model.__table__.columns)
        upserts.append(upsert_sql(model, f"SELECT * FROM unnest({arrays})"))  # nosec B608: model names, bound values
    *first, last = upserts
    return text("WITH " + ", ".join(f"moved_{number} AS ({upsert})" for number, upsert in enumerate(first))
                + " " + last)


def _column_values(instance, names):
    return {name: getattr(instance, name) for name in names}


def _changed_measures(instance):
    """(before, after) of a changed parcel's status, weight and cost; None when none of them changed."""
    state = inspect(instance)
    after = _column_values(instance, STATUS_MEASURES)
    before = {}
    for name in STATUS_MEASURES:
        history = state.attrs[name].history  # old values are loaded on change (active_history in the model)
        before[name] = history.deleted[0] if history.deleted else after[name]
    return (before, after) if before != after else None


PARCEL_VALUES = ("id", "bot_id", "created_at", *STATUS_MEASURES)


@event.listens_for(Session, "after_flush")
def _move_totals(session, flush_context):
    """After each flush (new rows have their ids; new, changed and deleted rows are still listed, the deleted ones
    loaded by writes/change_numbers.py), add what it wrote to the totals, in the flush's own transaction."""
    delta = TotalsDelta()
    for instance in session.new:
        if isinstance(instance, TrackingNumber):
            delta.parcel(_column_values(instance, PARCEL_VALUES), 1)
        elif isinstance(instance, Client):
            delta.clients[instance.bot_id] += 1
    for instance in session.deleted:
        if isinstance(instance, TrackingNumber):
            delta.parcel(_column_values(instance, PARCEL_VALUES), -1)
        elif isinstance(instance, Client):
            delta.clients[instance.bot_id] -= 1
    for instance in session.dirty:
        if isinstance(instance, TrackingNumber) and instance not in session.deleted:
            moved = _changed_measures(instance)
            if moved:
                delta.measures(instance.bot_id, moved[0], -1)
                delta.measures(instance.bot_id, moved[1], 1)
    delta.apply(session.connection())


# --- counting afresh: the operator's recount and check ------------------------------------------------------

def _quarter(column, dialect_name):
    """The quarter hour of a timestamp column (quarter_of in SQL). SQLite keeps UTC text (models/types.py): its
    first 19 characters, as strftime() refuses a "+00" suffix."""
    if dialect_name == "postgresql":
        seconds = cast(func.floor(func.extract("epoch", column)), BigInteger)
    else:
        seconds = cast(func.strftime("%s", func.substr(column, 1, 19)), Integer)
    return seconds // QUARTER_SECONDS


def counting_queries(dialect_name, bot_id=None):
    """{model: SELECT of its rows counted afresh from the parcels and clients (of one bot, or all)}."""
    parcels, clients = TrackingNumber, Client
    scope = (lambda model: model.bot_id == bot_id) if bot_id is not None else (lambda model: literal(True))
    quarter = _quarter(parcels.created_at, dialect_name)
    bucket = parcels.id // ID_BUCKET_WIDTH
    return {
        TrackingStatusTotal: select(parcels.bot_id, parcels.status, func.count(),
                                    func.coalesce(func.sum(parcels.weight_kg), 0),
                                    func.coalesce(func.sum(parcels.total_cost_usd), 0))
        .where(scope(parcels)).group_by(parcels.bot_id, parcels.status),
        TrackingCreatedQuarter: select(parcels.bot_id, quarter, func.count()).where(scope(parcels))
        .group_by(parcels.bot_id, quarter),
        TrackingIdBucket: select(parcels.bot_id, bucket, func.count()).where(scope(parcels))
        .group_by(parcels.bot_id, bucket),
        ClientTotal: select(clients.bot_id, func.count()).where(scope(clients)).group_by(clients.bot_id),
    }


def fresh_counts(connection, bot_id=None):
    """{model: {primary key tuple: measures tuple}} counted from the rows themselves."""
    return {model: _by_key(model, connection.execute(query))
            for model, query in counting_queries(connection.dialect.name, bot_id).items()}


def stored_counts(connection, bot_id=None):
    """The same shape as fresh_counts, read from the totals tables (rows whose measures are all zero left out)."""
    result = {}
    for model in TOTALS:
        query = select(*model.__table__.columns)
        if bot_id is not None:
            query = query.where(model.bot_id == bot_id)
        result[model] = {key: measures for key, measures in _by_key(model, connection.execute(query)).items()
                         if any(measures)}
    return result


def _by_key(model, rows):
    width = len(model.__table__.primary_key.columns)
    return {_normal(row[:width]): _normal(row[width:]) for row in rows}


def _normal(values):
    """Dates from SQLite's date() arrive as text; numbers as int or Decimal: one form to compare."""
    return tuple(value.isoformat() if hasattr(value, "isoformat") else
                 (value if isinstance(value, (int, str)) else Decimal(value)) for value in values)


def differences(connection, bot_id=None):
    """[(table, key, stored, counted)] wherever the totals disagree with the rows; [] when exact."""
    stored, counted = stored_counts(connection, bot_id), fresh_counts(connection, bot_id)
    found = []
    for model in stored:
        for key in sorted(stored[model].keys() | counted[model].keys(), key=str):
            if stored[model].get(key) != counted[model].get(key):
                found.append((model.__tablename__, key, stored[model].get(key), counted[model].get(key)))
    return found


def recount(connection, bot_id=None):
    """Replace the totals (of one bot, or all) with a fresh count, inside the database."""
    for model, query in counting_queries(connection.dialect.name, bot_id).items():
        table = model.__table__
        statement = delete(table)
        if bot_id is not None:
            statement = statement.where(table.c.bot_id == bot_id)
        connection.execute(statement)
        connection.execute(insert(table).from_select([column.name for column in table.columns], query))


# --- reading them ---------------------------------------------------------------------------------------

# The bot's kept parcel count, built once with bound parameters (:bot_id, and :status for one status's count): the
# tracking list embeds it in its page query (resources/tracking/service.py).
# TRACKING_TOTALS[by_status]: the count of the bot :bot_id's parcels (in status :status when `by_status`).
_TRACKING_TOTAL = select(func.coalesce(func.sum(TrackingStatusTotal.count), 0)).where(
    TrackingStatusTotal.bot_id == bindparam("bot_id"))
TRACKING_TOTALS = {False: _TRACKING_TOTAL,
                   True: _TRACKING_TOTAL.where(TrackingStatusTotal.status == bindparam("status"))}


def tracking_total(bot_id, status=None):
    """How many parcels the bot has (in `status`, when given)."""
    return db.session.scalar(TRACKING_TOTALS[bool(status)], {"bot_id": bot_id, "status": status})


CLIENT_TOTAL = select(ClientTotal.count).where(ClientTotal.bot_id == bindparam("bot_id"))  # no row: none yet


def client_total(bot_id):
    return db.session.scalar(CLIENT_TOTAL, {"bot_id": bot_id}) or 0


STATUS_TOTALS = select(TrackingStatusTotal.status, TrackingStatusTotal.count, TrackingStatusTotal.total_weight_kg,
                       TrackingStatusTotal.total_cost_usd).where(TrackingStatusTotal.bot_id == bindparam("bot_id"))
# The overview's two reads in one round trip: the client total a column of every status row.
_STATUS_TOTALS_WITH_CLIENTS = STATUS_TOTALS.add_columns(CLIENT_TOTAL.scalar_subquery().label("clients"))


@functools.cache
def _created_per_day_statement(switches):
    """SELECT (local day number, parcels) of the bot :bot_id's quarters :first <= quarter < :end, summed into days
    in the database (one range of the primary key, so that up to 2,880 rows never travel). A quarter's local day
    is (quarter + the zone's offset in quarters) // QUARTERS_PER_DAY, days since 1970-01-01 there; the offset is
    :offset_0 until the quarter :switch_1, then :offset_1, ...: `switches` is how often it changes in the range
    (a DST change or two). Built once per number of switches."""
    quarter = TrackingCreatedQuarter.quarter

    def local_day(number):
        return (quarter + bindparam(f"offset_{number}", type_=BigInteger)) // QUARTERS_PER_DAY
    day = (case(*((quarter < bindparam(f"switch_{number + 1}"), local_day(number)) for number in range(switches)),
                else_=local_day(switches)) if switches else local_day(0))
    rows = (select(day.label("day"), TrackingCreatedQuarter.count)
            .where(TrackingCreatedQuarter.bot_id == bindparam("bot_id"), quarter >= bindparam("first"),
                   quarter < bindparam("end"))
            .subquery())
    # Grouped outside: PostgreSQL would not see the GROUP BY's expression, with its own parameters, as the selected
    # one.
    return select(rows.c.day, func.sum(rows.c.count)).group_by(rows.c.day)


def _offset_quarters(quarter, zone):
    """The zone's UTC offset at the start of a quarter, in quarters."""
    offset = datetime.fromtimestamp(quarter * QUARTER_SECONDS, zone).utcoffset()
    return int(offset.total_seconds()) // QUARTER_SECONDS


def _offsets(first, end, zone):
    """(offsets, switches): the zone's offsets over the quarters first..end-1, in quarters, and the first quarter
    of each offset after the first. Probed every 25 hours, with a binary search where two probes differ (no zone
    changes its offset twice within 25 hours)."""
    offsets, switches = [_offset_quarters(first, zone)], []
    known = first  # the last quarter known to have offsets[-1]
    while known < end - 1:
        probe = min(known + QUARTERS_PER_DAY + 4, end - 1)
        offset = _offset_quarters(probe, zone)
        if offset != offsets[-1]:
            low, high = known, probe  # the new offset's first quarter is in (low, high]
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if _offset_quarters(middle, zone) == offsets[-1] else (low, middle)
            offsets.append(offset)
            switches.append(high)
        known = probe
    return offsets, switches


def created_per_day(bot_id, days, zone):
    """[parcels created on each of `days`] (consecutive dates, oldest first) as days of the time zone `zone`
    (a ZoneInfo): the kept quarters from the first day's midnight to the midnight after the last, each counted
    on the local day it starts in, with the zone's offset at that moment (zoneinfo's), so a 23- or 25-hour day (a
    DST change) holds exactly its own hours. Exact for every zone whose offsets are whole quarters (all of today's)."""
    midnights = [datetime.combine(day, time(0), tzinfo=zone) for day in (days[0], days[-1] + timedelta(days=1))]
    first, end = (-(-int(midnight.timestamp()) // QUARTER_SECONDS) for midnight in midnights)
    offsets, switches = _offsets(first, end, zone)
    parameters = {"bot_id": bot_id, "first": first, "end": end,
                  **{f"offset_{number}": offset for number, offset in enumerate(offsets)},
                  **{f"switch_{number + 1}": switch for number, switch in enumerate(switches)}}
    counts = dict(db.session.execute(_created_per_day_statement(len(switches)), parameters).all())
    epoch = date(1970, 1, 1)
    return [counts.get((day - epoch).days, 0) for day in days]


def _by_status(rows):
    return {row.status: (row.count, row.total_weight_kg, row.total_cost_usd) for row in rows}


def status_totals(bot_id):
    """{status: (count, weight, cost)} of the bot's parcels, for the statuses it has."""
    return _by_status(db.session.execute(STATUS_TOTALS, {"bot_id": bot_id}))


def status_and_client_totals(bot_id):
    """(status_totals, client_total) of the bot, in one round trip when it has parcels."""
    rows = db.session.execute(_STATUS_TOTALS_WITH_CLIENTS, {"bot_id": bot_id}).all()
    clients = (rows[0].clients or 0) if rows else client_total(bot_id)
    return _by_status(rows), clients


def _row_bucket_statement():
    """SELECT of the id bucket holding the bot :bot_id's newest-first row number :offset (0-based) and how many of
    the bot's rows come before that bucket; no row when the bot has fewer. Built once, with bound parameters."""
    running = func.sum(TrackingIdBucket.count).over(order_by=TrackingIdBucket.bucket.desc())
    buckets = (select(TrackingIdBucket.bucket, (running - TrackingIdBucket.count).label("before"),
                      running.label("through"))
               .where(TrackingIdBucket.bot_id == bindparam("bot_id")).subquery())
    return (select(buckets.c.bucket, buckets.c.before)
            .where(and_(buckets.c.through > bindparam("offset"), buckets.c.before <= bindparam("offset")))
            .order_by(buckets.c.bucket.desc()).limit(1))


ROW_BUCKET = _row_bucket_statement()

