"""The three peers of ../shared/bench/peers (FastAPI, DRF, flask-smorest the docs' way) for `make bench`.

Their database is the floor's data (floor_data.sql) with its counts set to the bench's scale, plus schema.sql and
a key per bot; their gunicorn servers get the API's worker count, threads and server settings; their writes are
undone afterwards so that the next run measures the same data.
"""
import hashlib
import os
import secrets
import subprocess
import time
from dataclasses import dataclass

import psycopg
import requests

import bigdata
from servers import clean_env, free_port, stop_process

STATUSES = ("pending", "in_transit", "delivered", "issued", "cancelled")  # floor_data.sql's, in its order
SMALL_BOTS = bigdata.SMALL_BOTS_LAST - bigdata.SMALL_BOTS_FIRST + 1
# floor_data.sql's two counts: bot 1's rows, and all rows (the rest spread over bots 2..100 by `g % 99`).
FLOOR_BIG_ROWS = "g <= 1000000"
FLOOR_ALL_ROWS = "generate_series(1, 2000000)"
KEY_NAME = "bench"
RATE_LIMIT = 1_000_000_000  # per minute: the peers README's figure for a benchmark, far above what wrk reaches

# What docker/gunicorn.conf.py gives the API besides workers, threads and worker class (its defaults, read from
# the same GUNICORN_* variables), so that no server is replaced, timed out or keeps connections differently.
SERVER_SETTINGS = (("--keep-alive", "KEEPALIVE", 75), ("--timeout", "TIMEOUT", 30),
                   ("--max-requests", "MAX_REQUESTS", 50_000), ("--max-requests-jitter", "MAX_REQUESTS_JITTER", 5_000))


@dataclass(frozen=True)
class Peer:
    name: str  # rounds.SYSTEMS' name
    app: str  # gunicorn's APP_MODULE
    chdir: str  # inside the peers' folder
    threaded: bool  # a WSGI app under gthread (the FastAPI one is async in its uvicorn worker instead)


PEERS = (
    Peer("fastapi", "fastapi_app.main:app", ".", threaded=False),
    Peer("drf", "peer_drf.wsgi", "drf_app", threaded=True),
    Peer("smorest", "smorest_naive:create_app()", ".", threaded=True),
)


# --- data ---------------------------------------------------------------------------------------------------

def floor_data_statements(sql, big, small):
    """floor_data.sql's statements with bot 1 given `big` rows and each of bots 2..100 `small` (the file itself
    spreads 1,000,000 rows over the 99, 10,101 each, where the API's data has 10,000), one statement each:
    VACUUM cannot run in the implicit transaction of a multi-statement string."""
    for pattern in (FLOOR_BIG_ROWS, FLOOR_ALL_ROWS):
        if sql.count(pattern) != 1:
            raise ValueError(f"floor_data.sql no longer holds {pattern!r} once: bench/peers.py must follow it")
    sql = sql.replace(FLOOR_BIG_ROWS, f"g <= {big}").replace(FLOOR_ALL_ROWS,
                                                             f"generate_series(1, {big + SMALL_BOTS * small})")
    code = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [statement.strip() for statement in code.split(";") if statement.strip()]


def expected_counts(big, small):
    return {"big": big, "all": big + SMALL_BOTS * small, "keys_table": True}


def current_counts(conn):
    """What says whether the peers' data is already there at this scale (None without the floor's table)."""
    if conn.execute("SELECT to_regclass('tracking')").fetchone()[0] is None:
        return None
    big, everything = conn.execute(f"SELECT count(*) FILTER (WHERE bot_id = {bigdata.BIG_BOT}), count(*)"
                                   " FROM tracking").fetchone()
    keys = conn.execute("SELECT to_regclass('peer_api_keys')").fetchone()[0] is not None
    return {"big": big, "all": everything, "keys_table": keys}


def prepare_data(admin_url, database, scale, peers_dir, regenerate=False):
    """The peers' database at `scale` (bigdata.Scale): reused while its counts match, else built from
    floor_data.sql and schema.sql. Returns its URL and a sentence on what was done."""
    bigdata.create_database_if_missing(admin_url, database, drop=regenerate)
    url = admin_url.rsplit("/", 1)[0] + "/" + database
    with psycopg.connect(url, autocommit=True) as conn:
        if not regenerate and current_counts(conn) == expected_counts(scale.big_tracking, scale.small_tracking):
            return url, f"peers' database {database} reused (its counts matched)"
        started = time.monotonic()
        conn.execute("DROP TABLE IF EXISTS tracking, peer_api_keys")
        floor_data = (peers_dir.parent / "floor_data.sql").read_text()
        for statement in floor_data_statements(floor_data, scale.big_tracking, scale.small_tracking):
            conn.execute(statement)
        conn.execute((peers_dir / "schema.sql").read_text())
    return url, (f"peers' database {database} built from floor_data.sql (counts set to the API's) and schema.sql "
                 f"in {time.monotonic() - started:.0f} s")


def issue_keys(conn, bot_ids):
    """A fresh key per bot, stored as its hex SHA-256 as the peers README says; {bot_id: key}."""
    conn.execute("DELETE FROM peer_api_keys WHERE name = %s", (KEY_NAME,))
    keys = {}
    for bot_id in bot_ids:
        keys[bot_id] = "tb_" + secrets.token_urlsafe(24)
        conn.execute("INSERT INTO peer_api_keys (key_hash, bot_id, name) VALUES (%s, %s, %s)",
                     (hashlib.sha256(keys[bot_id].encode()).hexdigest(), bot_id, KEY_NAME))
    return keys


def sample_ids(conn, bot_id, sample=10_000):
    """Random ids of the bot's rows, for get by id and status update (as bigdata.bot_facts for the API)."""
    return [row[0] for row in conn.execute("SELECT id FROM tracking WHERE bot_id = %s ORDER BY random() LIMIT %s",
                                           (bot_id, sample))]


def connections(conn):
    """(connections in use, max_connections): PostgreSQL's budget the servers share with everyone else's."""
    in_use = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'").fetchone()[0]
    return in_use, int(conn.execute("SHOW max_connections").fetchone()[0])


def clean_writes(conn, since):
    """Undo the peers' writes since `since` (the database's clock): created rows go, updated rows get back the
    status and time floor_data.sql gave them (its row g has id g and status STATUSES[g % 5])."""
    with conn.transaction():
        created = conn.execute("DELETE FROM tracking WHERE created_at >= %s", (since,)).rowcount
        restored = conn.execute("UPDATE tracking SET status = (%s::text[])[1 + id %% 5], updated_at = created_at"
                                " WHERE updated_at >= %s", (list(STATUSES), since)).rowcount
    return created, restored


# --- servers ------------------------------------------------------------------------------------------------

def server_settings():
    options = []
    for option, name, default in SERVER_SETTINGS:
        options += [option, os.environ.get(f"GUNICORN_{name}") or str(default)]
    return options


def gunicorn_command(peer, venv, peers_dir, port, workers, threads):
    """The peer under its own virtualenv's gunicorn, sized as the API: the same workers, and for a WSGI peer the
    same gthread threads."""
    worker = ["--worker-class", "gthread", "--threads", str(threads)] if peer.threaded else [
        "--worker-class", "uvicorn_worker.UvicornWorker"]
    return [str(venv / "bin" / "gunicorn"), "--workers", str(workers), *worker, "--bind", f"127.0.0.1:{port}",
            "--chdir", str(peers_dir / peer.chdir), "--graceful-timeout", "3", *server_settings(), peer.app]


class PeerServer:
    """One peer under gunicorn, its output appended to files in `directory`; serving once every worker has booted
    and `probe` (path, key) answers 200."""

    def __init__(self, peer, venv, peers_dir, directory, workers, threads, database_url, redis_url, probe):
        self.peer = peer
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stderr_path = directory / f"peer_{peer.name}.err"
        self.offset = self.stderr_path.stat().st_size if self.stderr_path.exists() else 0
        env = clean_env(PEER_DATABASE_URL=database_url, PEER_REDIS_URL=redis_url,
                        PEER_RATE_LIMIT_PER_MINUTE=RATE_LIMIT, PYTHONDONTWRITEBYTECODE=1)  # the folder is read-only
        with open(directory / f"peer_{peer.name}.out", "a") as out, open(self.stderr_path, "a") as err:
            self.process = subprocess.Popen(gunicorn_command(peer, venv, peers_dir, self.port, workers, threads),
                                            env=env, stdout=out, stderr=err)
        self._wait_until_serving(workers, probe)

    def _wait_until_serving(self, workers, probe, timeout=60):
        path, key = probe
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"peer {self.peer.name} exited {self.process.returncode}: {self.stderr()[-2000:]}")
            if self.stderr().count("Booting worker") >= workers:
                try:
                    if requests.get(self.url + path, headers={"X-API-Key": key}, timeout=30).ok:
                        return
                except requests.RequestException:
                    pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"peer {self.peer.name} did not serve {path} within {timeout} s: {self.stderr()[-2000:]}")

    def stderr(self):
        """What this start wrote (the file keeps every start's)."""
        return self.stderr_path.read_bytes()[self.offset:].decode(errors="replace")

    def stop(self):
        stop_process(self.process)
