"""The benchmark's data set in PostgreSQL: one big bot whose rows are the oldest, and many small bots.

Generated inside PostgreSQL (INSERT ... SELECT generate_series), not row by row from Python: two million rows
with their indexes load in minutes instead of hours. The schema is the migrations' own (`flask db upgrade` runs
first), so the benchmark measures the indexes the app ships with. Every row gets a change number as the app's
writes would (change_numbers.py): increasing per bot, clients first, and each bot's counter at its largest number.
"""
import time
from dataclasses import dataclass
from datetime import timedelta

import psycopg

STATUSES = ("pending", "in_transit", "delivered", "issued", "cancelled")
BIG_BOT = 1
SMALL_BOTS_FIRST, SMALL_BOTS_LAST = 2, 100


@dataclass(frozen=True)
class Scale:
    """How many rows of each kind; `--scale 0.01` shrinks every count but the number of bots."""

    big_tracking: int
    big_clients: int
    small_tracking: int
    small_clients: int

    @classmethod
    def of(cls, factor):
        def scaled(count):
            return max(1, round(count * factor))
        return cls(scaled(1_000_000), scaled(100_000), scaled(10_000), scaled(500))

    def expected_counts(self):
        small_bots = SMALL_BOTS_LAST - SMALL_BOTS_FIRST + 1
        return {"bots": SMALL_BOTS_LAST,
                "big_tracking": self.big_tracking,
                "tracking": self.big_tracking + small_bots * self.small_tracking,
                "clients": self.big_clients + small_bots * self.small_clients}


def create_database_if_missing(admin_url, name, drop=False):
    """The bench database exists (dropped first when `drop`); the schema is left to `flask db upgrade`."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        if drop:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')


def current_counts(conn):
    """The counts that say whether the data set is already there at this scale (generated rows only: rows a
    benchmark run created are removed by clean_writes)."""
    one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
    return {"bots": one("SELECT count(*) FROM bots"),
            "big_tracking": one(f"SELECT count(*) FROM tracking_numbers WHERE bot_id = {BIG_BOT}"),
            "tracking": one("SELECT count(*) FROM tracking_numbers"),
            "clients": one("SELECT count(*) FROM clients")}


def generate(conn, scale):
    """Load every table from empty; returns the seconds it took. The big bot goes first so that its rows have
    the lowest ids and the oldest times: a page of the big bot then starts deep in the table's indexes."""
    started = time.monotonic()
    conn.execute("SET synchronous_commit = off")
    conn.execute("SET maintenance_work_mem = '256MB'")
    with conn.transaction():
        conn.execute("TRUNCATE bots, api_keys, clients, tracking_numbers, status_events, deleted_records "
                     "RESTART IDENTITY CASCADE")
        _insert_bots(conn, scale)
        _insert_clients(conn, scale)
        _insert_tracking(conn, scale)
        _insert_first_statuses(conn)
        # The list floor (../shared/bench/floor_app.py) reads a table named `tracking`: a plain view is
        # inlined by the planner, so the floor reads the same rows through the same indexes.
        conn.execute("CREATE OR REPLACE VIEW tracking AS SELECT * FROM tracking_numbers")
    conn.execute("VACUUM ANALYZE")  # as autovacuum would leave it: statistics and visibility map up to date
    return time.monotonic() - started


def _insert_bots(conn, scale):
    conn.execute(
        "INSERT INTO bots (id, name, username, is_active, subscription_status, created_at, change_seq)"
        " SELECT b, CASE WHEN b = %(big)s THEN 'Big Cargo' ELSE 'Small Cargo ' || b END, '@bench_bot_' || b,"
        " true, 'active', now() - interval '400 days',"
        " CASE WHEN b = %(big)s THEN %(big_total)s ELSE %(small_total)s END"
        " FROM generate_series(%(big)s::int, %(last)s::int) b",
        {"big": BIG_BOT, "last": SMALL_BOTS_LAST, "big_total": scale.big_clients + scale.big_tracking,
         "small_total": scale.small_clients + scale.small_tracking})
    conn.execute("SELECT setval(pg_get_serial_sequence('bots', 'id'), %s)", (SMALL_BOTS_LAST,))


# Times: the big bot's rows from 400 to 200 days ago, the small bots' (interleaved, as bots that work side by
# side) from 200 days ago to an hour ago; change numbers: clients 1..C, then tracking numbers C+1..C+T.
_CLIENTS_SQL = """
INSERT INTO clients (bot_id, client_code, name, phone, created_at, updated_at, change_seq)
SELECT b, 'CL' || lpad(n::text, 6, '0'), 'Client ' || n, '+7900' || lpad(n::text, 7, '0'), t, t, n
FROM generate_series(%(first)s::int, %(last)s::int) b, generate_series(1, %(count)s::int) n,
     LATERAL (SELECT now() - %(start)s::interval + (n::float8 / %(count)s) * %(span)s::interval AS t) times
ORDER BY n, b
"""

_TRACKING_SQL = """
INSERT INTO tracking_numbers (bot_id, tracking_number, client_code, status, quantity, weight_kg, price_per_kg_usd,
                              total_cost_usd, note, created_at, updated_at, change_seq)
SELECT b, 'TRK' || b || '-' || lpad(n::text, 8, '0'), 'CL' || lpad((n %% %(clients)s + 1)::text, 6, '0'),
       (%(statuses)s::text[])[n %% 5 + 1], n %% 5 + 1, w, 3.50, round(w * 3.50, 2), NULL, t, t, %(clients)s + n
FROM generate_series(%(first)s::int, %(last)s::int) b, generate_series(1, %(count)s::int) n,
     LATERAL (SELECT (n %% 500) / 10.0 + 0.5 AS w,
                     now() - %(start)s::interval + (n::float8 / %(count)s) * %(span)s::interval AS t) v
ORDER BY n, b
"""


def _insert_clients(conn, scale):
    conn.execute(_CLIENTS_SQL, _period("400 days", "200 days", first=BIG_BOT, last=BIG_BOT, count=scale.big_clients))
    conn.execute(_CLIENTS_SQL, _period("200 days", "199 days 23 hours", first=SMALL_BOTS_FIRST,
                                       last=SMALL_BOTS_LAST, count=scale.small_clients))


def _insert_tracking(conn, scale):
    conn.execute(_TRACKING_SQL, _period("400 days", "200 days", first=BIG_BOT, last=BIG_BOT,
                                        count=scale.big_tracking, clients=scale.big_clients))
    conn.execute(_TRACKING_SQL, _period("200 days", "199 days 23 hours", first=SMALL_BOTS_FIRST,
                                        last=SMALL_BOTS_LAST, count=scale.small_tracking,
                                        clients=scale.small_clients))


def _period(start, span, **params):
    return {"start": start, "span": span, "statuses": list(STATUSES), **params}


def _insert_first_statuses(conn):
    """One history row per parcel: its status, as if it had been imported with it."""
    conn.execute("INSERT INTO status_events (tracking_id, bot_id, status, previous_status, source, created_at)"
                 " SELECT id, bot_id, status, NULL, 'import', created_at FROM tracking_numbers ORDER BY id")


@dataclass
class BotFacts:
    """What the scenarios of one bot need from its data: pages, a deep cursor, a client with parcels, ids."""

    bot_id: int
    tracking: int
    last_page: int
    cursor_after: int
    client_code: str
    ids: list


def bot_facts(conn, bot_id, sample=10_000, cursor_depth=1000):
    """The cursor starts `cursor_depth` changes before the bot's last: a page deep in the feed, near its end."""
    tracking, last_seq = conn.execute("SELECT count(*), max(change_seq) FROM tracking_numbers WHERE bot_id = %s",
                                      (bot_id,)).fetchone()
    client_code = conn.execute("SELECT client_code FROM tracking_numbers WHERE bot_id = %s ORDER BY id DESC LIMIT 1",
                               (bot_id,)).fetchone()[0]
    ids = [row[0] for row in conn.execute(
        "SELECT id FROM tracking_numbers WHERE bot_id = %s ORDER BY random() LIMIT %s", (bot_id, sample))]
    depth = min(cursor_depth, tracking // 10)  # a small data set (--scale) still gets a cursor near its end
    return BotFacts(bot_id, tracking, -(-tracking // 50), last_seq - depth, client_code, ids)


def database_now(conn):
    return conn.execute("SELECT now()").fetchone()[0]


def clean_writes(conn, since):
    """Undo what the write scenarios did since `since` (the database's clock), so that every run starts from
    the same data: created parcels go (their history with them), the history rows status updates added go, and
    updated parcels get back their generated status and time. Their change numbers stay where the updates moved
    them (still increasing per bot, still below the bot's counter). Plain SQL, past the app's kept totals: the
    caller recounts them (`flask totals recount`)."""
    since = since - timedelta(seconds=1)
    with conn.transaction():
        created = conn.execute("DELETE FROM tracking_numbers WHERE created_at >= %s", (since,)).rowcount
        conn.execute("DELETE FROM status_events WHERE created_at >= %s", (since,))
        conn.execute("DELETE FROM deleted_records WHERE deleted_at >= %s", (since,))
        restored = conn.execute("UPDATE tracking_numbers t SET status = e.status, updated_at = t.created_at"
                                " FROM status_events e WHERE e.tracking_id = t.id AND t.updated_at >= %s",
                                (since,)).rowcount
    return created, restored
