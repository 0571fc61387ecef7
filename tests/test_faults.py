"""Faults with real services, through real gunicorn (docker/gunicorn.conf.py: 2 gthread workers × 4 threads), on
a PostgreSQL cluster and a redis-server of this module's own (tests/servers.py), never the machine's shared ones.

- PostgreSQL stopped for two seconds under load, then started: every answer is a success or the documented 503
  problem with Retry-After, the workers serve again without a restart (the pool's checkout check), no create is
  half-written.
- Redis stopped, then started: the API keeps answering, /readyz says "degraded" with a 200, budgets fall back to
  each worker's memory; once Redis is back, /readyz is ok and one budget is shared by every worker again.
  A Redis that hangs and then dies is test_ratelimit_gunicorn.py's; one unreachable from the start, in one
  process, is test_ratelimit.py's. What only this module covers is the recovery.
- A worker SIGKILLed during creates and status changes: no partial writes, every history consistent, and the
  worker the master starts in its place serves. The workers SIGKILLed in the middle of an import's transaction:
  nothing of the import remains, and the same import run again writes it whole.
- A statement cancelled by DATABASE_STATEMENT_TIMEOUT_MS (the parcel's row locked by another transaction) and a
  full disk (a tablespace on a small tmpfs: needs root, skipped otherwise) are 503 problems that wrote nothing.
"""
import errno
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import requests
from sqlalchemy import text

from conftest import (
    dispose_app,
    make_app_like,
    make_bot_tenant,
    make_migrated_app,
    make_tracking,
    require_service,
)
from servers import GUNICORN_CONF, Gunicorn, PrivatePostgres, PrivateRedis, Stack, clean_env, worker_pids
from test_concurrency import STATUS_CYCLE, json_body
from test_ratelimit_gunicorn import fire
from tracker_api.extensions import db

pytestmark = pytest.mark.slow
WORKERS = 2
CLIENTS = 8  # client threads: as many as the server's worker threads, so every thread is kept busy
STATEMENT_TIMEOUT_MS = 1000
BURST = 30  # requests released together: enough that both workers serve some
BUDGET = 10  # requests per minute of the keys whose budget a test spends
BOT_IDS = itertools.count(3001)


# --- the stack: private PostgreSQL and Redis, gunicorn as deployed ------------------------------------------

@pytest.fixture(scope="module")
def postgres():
    try:
        server = PrivatePostgres()
    except (IndexError, OSError, RuntimeError) as error:  # no initdb, no runuser, a failed start
        require_service(f"cannot start a private PostgreSQL cluster: {error}")
    yield server
    server.destroy()


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory):
    if not shutil.which("redis-server"):
        require_service("redis-server is not installed")
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(postgres, private_redis, tmp_path_factory):
    app = make_migrated_app(postgres.url, REDIS_URL=private_redis.url)
    env = clean_env(TRACKER_ENV="production", DATABASE_URL=postgres.url, REDIS_URL=private_redis.url,
                    API_KEY_PEPPER=app.config["API_KEY_PEPPER"],
                    WEBHOOK_SECRET_KEYS=",".join(app.config["WEBHOOK_SECRET_KEYS"]),
                    DATABASE_STATEMENT_TIMEOUT_MS=STATEMENT_TIMEOUT_MS,
                    REDIS_RETRY_INTERVAL_SECONDS=1, GUNICORN_THREADS=4,
                    GUNICORN_MAX_REQUESTS=0)  # the only worker replaced is the one a test kills
    server = Gunicorn(tmp_path_factory.mktemp("gunicorn"), env, WORKERS, "-c", str(GUNICORN_CONF))
    yield Stack(app, server, postgres=postgres, redis=private_redis)
    server.stop()
    dispose_app(app)


def new_tenant(stack, rate_limit=1_000_000):
    """A new bot and key; by default a budget that load never reaches."""
    return make_bot_tenant(stack.app, next(BOT_IDS), rate_limit)


# --- clients under load, and what they got ------------------------------------------------------------------

@dataclass
class Outcome:
    kind: str  # "read", "create" or "update"
    number: str  # the tracking number concerned
    started: float  # time.monotonic()
    status: int | None = None  # None: no HTTP answer at all (refused, reset)
    content_type: str = ""
    body: object = None
    retry_after: str | None = None
    error: str = ""

    @property
    def succeeded(self):
        return self.status in (200, 201)

    @property
    def is_clean_503(self):
        """The documented answer for an unavailable database: problem+json with a detail, and Retry-After."""
        return (self.status == 503 and self.content_type == "application/problem+json"
                and isinstance(self.body, dict) and self.body.get("status") == 503 and bool(self.body.get("detail"))
                and (self.retry_after or "").isdigit() and int(self.retry_after) > 0)


def send(session, tenant, kind, method, url, number, **kwargs):
    outcome = Outcome(kind, number, time.monotonic())
    try:
        response = session.request(method, url, headers=tenant.headers, timeout=15, **kwargs)
    except requests.RequestException as error:
        outcome.error = f"{type(error).__name__}: {error}"
        return outcome
    outcome.status, outcome.content_type = response.status_code, response.headers.get("Content-Type", "")
    outcome.retry_after = response.headers.get("Retry-After")
    try:
        outcome.body = response.json()
    except ValueError:
        outcome.body = response.text[:200]
    return outcome


def under_load(client, fault):
    """Run client(index, stop) in CLIENTS threads while fault() runs; (every Outcome, what fault() returned)."""
    stop = threading.Event()
    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(client, index, stop) for index in range(CLIENTS)]
        try:
            result = fault()
        finally:
            stop.set()
        outcomes = [outcome for future in futures for outcome in future.result(timeout=60)]
    return outcomes, result


def tracking_path(stack, tenant, tracking_id=None):
    path = f"{stack.url}/api/v1/tracking/{tenant.bot_id}"
    return path if tracking_id is None else f"{path}/{tracking_id}"


def burst(stack, tenant):
    """BURST requests at once on one key: (how many succeeded, the statuses, the pids of the workers that served)."""
    ids = [f"burst-{index}-{uuid.uuid4().hex[:12]}" for index in range(BURST)]
    responses = fire(BURST, lambda index: requests.get(f"{stack.url}/api/v1/bots/{tenant.bot_id}", timeout=10,
                                                       headers={**tenant.headers, "X-Request-ID": ids[index]}))
    statuses = [response.status_code for response in responses]
    return statuses.count(200), set(statuses), {line["pid"] for line in stack.server.lines_for(ids)}


# --- what the database holds --------------------------------------------------------------------------------

def stored_parcels(stack, bot_id):
    """{tracking_number: (status, [(previous_status, status), ...] in order)} of one bot, read with SQL."""
    with psycopg.connect(stack.postgres.url) as connection:
        parcels = connection.execute("SELECT id, tracking_number, status FROM tracking_numbers WHERE bot_id = %s",
                                     [bot_id]).fetchall()
        events = connection.execute("SELECT tracking_id, previous_status, status FROM status_events "
                                    "WHERE bot_id = %s ORDER BY id", [bot_id]).fetchall()
    histories = {parcel_id: [] for parcel_id, _, _ in parcels}
    for tracking_id, previous_status, status in events:
        histories.setdefault(tracking_id, []).append((previous_status, status))
    by_id = {parcel_id: (number, status) for parcel_id, number, status in parcels}
    orphans = set(histories) - set(by_id)
    assert not orphans, f"status_events rows of tracking numbers that do not exist: {orphans}"
    return {number: (status, histories[parcel_id]) for parcel_id, (number, status) in by_id.items()}


def assert_whole(number, status, history):
    """A parcel and its history written together: it starts pending, each event starts where the one before
    ended, and the parcel's status is its last event's."""
    assert history and history[0] == (None, "pending"), (number, history)
    for before, after in zip(history, history[1:]):
        assert after[0] == before[1] != after[1], (number, history)
    assert history[-1][1] == status, (number, status, history)


def orphan_status_events(stack):
    with psycopg.connect(stack.postgres.url) as connection:
        return connection.execute("SELECT count(*) FROM status_events e LEFT JOIN tracking_numbers t "
                                  "ON t.id = e.tracking_id WHERE t.id IS NULL").fetchone()[0]


# --- 1. PostgreSQL restarted with requests in flight --------------------------------------------------------

def test_postgresql_restarted_under_load_costs_clean_503s_and_no_half_written_create(stack):
    tenant = new_tenant(stack)
    parcel_id = make_tracking(stack.app, tenant.bot_id, tracking_number="READ123456")

    def reader_and_creator(index, stop):
        outcomes = []
        with requests.Session() as session:
            for round_number in itertools.count():
                if stop.is_set():
                    return outcomes
                if round_number % 2:
                    outcomes.append(send(session, tenant, "read", "GET", tracking_path(stack, tenant, parcel_id),
                                         "READ123456"))
                else:
                    number = f"PG{index}X{round_number:06d}"
                    outcomes.append(send(session, tenant, "create", "POST", tracking_path(stack, tenant), number,
                                         json=json_body(tracking_number=number)))

    def outage():
        time.sleep(0.5)
        stopped_at = time.monotonic()
        stack.postgres.stop()  # -m fast: open transactions rolled back, every connection cut
        time.sleep(2)
        stack.postgres.start()
        back_at = time.monotonic()
        time.sleep(3)
        return stopped_at, back_at

    outcomes, (stopped_at, back_at) = under_load(reader_and_creator, outage)

    unclean = [outcome for outcome in outcomes if not (outcome.succeeded or outcome.is_clean_503)]
    assert not unclean, unclean[:5]
    during = [outcome for outcome in outcomes if stopped_at <= outcome.started < back_at]
    refused = [outcome for outcome in during if outcome.status == 503]
    assert refused, "no request met the outage: the test proved nothing"
    # Back without restarting gunicorn: the pool replaces the connections PostgreSQL cut, at checkout.
    after = [outcome for outcome in outcomes if outcome.started >= back_at]
    failures_after = [outcome for outcome in after if not outcome.succeeded]
    assert not failures_after, failures_after[:5]
    assert sum(outcome.kind == "create" and outcome.succeeded for outcome in after) >= CLIENTS

    stored = stored_parcels(stack, tenant.bot_id)
    creates = [outcome for outcome in outcomes if outcome.kind == "create"]
    for outcome in creates:
        if outcome.status == 201:
            assert outcome.number in stored, outcome
        if outcome.number in stored:  # a 503 may come after the commit (the connection cut at the reply)
            assert_whole(outcome.number, *stored[outcome.number])
    committed_but_503 = [o for o in creates if o.status == 503 and o.number in stored]
    print(f"\nPostgreSQL outage: {len(outcomes)} requests, {len(during)} during the outage "
          f"({back_at - stopped_at:.1f} s) of which {len(refused)} answered 503, "
          f"{sum(o.status == 503 for o in outcomes)} 503s in all; {len(after)} requests after the restart, all "
          f"successes; creates answered 503 yet committed (whole): {len(committed_but_503)}")


def test_a_connection_cut_once_the_answer_is_ready_leaves_the_answer_alone(stack):
    """The race the load above can lose: PostgreSQL cuts the connection after the view has its answer, before
    the session's closing ROLLBACK in the teardown. Forced here in one process: still a 200, never a 500."""
    tenant = new_tenant(stack)
    app = make_app_like(stack.app)

    @app.after_request
    def cut_this_requests_connection(response):
        backend = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
        run_sql(stack, f"SELECT pg_terminate_backend({backend})")
        return response
    try:
        response = app.test_client().get(f"/api/v1/bots/{tenant.bot_id}", headers=tenant.headers)
    finally:
        dispose_app(app)
    assert response.status_code == 200 and response.get_json()["id"] == tenant.bot_id


def test_after_a_quick_restart_no_request_is_handed_a_dead_connection(stack):
    """Every connection the workers pooled before the restart is dead; the checkout's socket check replaces each.
    Without it, the first request on a dead connection in each worker would be a 503."""
    tenant = new_tenant(stack)
    assert until_every_worker_served(stack, tenant) == {200}  # both workers now hold pooled connections
    stack.postgres.restart()
    assert until_every_worker_served(stack, tenant) == {200}


def until_every_worker_served(stack, tenant, timeout=15):
    """Bursts until every worker has served at least one request; every status they got."""
    deadline, served, statuses = time.monotonic() + timeout, set(), set()
    while len(served) < WORKERS:
        assert time.monotonic() < deadline, f"only workers {served} answered within {timeout} s"
        _, got, pids = burst(stack, tenant)
        served, statuses = served | pids, statuses | got
    return statuses


# --- 2. Redis stopped and started ---------------------------------------------------------------------------

def readiness(stack):
    response = requests.get(f"{stack.url}/readyz", timeout=5)
    return response.status_code, response.json()


def usage_in_redis(stack, tenant):
    """The key's usage counters for today as every worker wrote them to Redis (the shared store)."""
    day = time.strftime("%Y-%m-%d", time.gmtime())
    return stack.redis.client().hgetall(f"tracker_api:usage:{tenant.key_id}:{day}")


def shared_again(stack):
    """One budget for every worker, counted in Redis: exactly BUDGET of a burst served by both workers succeed,
    and Redis holds the whole burst's usage."""
    tenant = new_tenant(stack, rate_limit=BUDGET)
    succeeded, _, pids = burst(stack, tenant)
    if succeeded != BUDGET or len(pids) != WORKERS:
        return False
    deadline = time.monotonic() + 3  # the workers write the usage they summed every SHARED_STORE_FLUSH_SECONDS
    while time.monotonic() < deadline:
        usage = usage_in_redis(stack, tenant)
        if (int(usage.get("success", 0)), int(usage.get("rate_limited", 0))) == (BUDGET, BURST - BUDGET):
            return True
        time.sleep(0.2)
    return False


def wait_until_shared(stack, timeout):
    """Seconds until budgets are one for every worker again (fails after `timeout`)."""
    started = time.monotonic()
    while not shared_again(stack):
        assert time.monotonic() - started < timeout, f"budgets still per worker after {timeout} s"
        time.sleep(0.5)
    return time.monotonic() - started


def test_redis_stopped_degrades_to_per_worker_budgets_and_when_back_they_are_shared_again(stack):
    assert readiness(stack) == (200, {"status": "ok", "database": "ok", "redis": "ok"})
    wait_until_shared(stack, timeout=10)  # the measure works before the fault: one budget across both workers

    stack.redis.stop()
    try:
        status, ready = readiness(stack)
        assert (status, ready["status"], ready["redis"]) == (200, "degraded", "unavailable: ConnectionError")
        tenant = new_tenant(stack, rate_limit=BUDGET)
        started = time.monotonic()
        succeeded, statuses, pids = burst(stack, tenant)
        assert time.monotonic() - started < 5
        # Never refused for want of Redis: each worker enforces the budget in its own memory; a request a thread
        # was already counting when it met the dead Redis is let through (fail-open), at most one per thread.
        in_flight = CLIENTS // WORKERS * len(pids)
        assert statuses <= {200, 429} and BUDGET <= succeeded <= BUDGET * len(pids) + in_flight, \
            (succeeded, statuses, pids)
    finally:
        stack.redis.start()

    assert readiness(stack) == (200, {"status": "ok", "database": "ok", "redis": "ok"})
    # Flask-Limiter probes Redis again with a back-off (1, 2, 4, ... s), the shared store after
    # REDIS_RETRY_INTERVAL_SECONDS: sharing comes back within seconds, without a restart.
    recovered_in = wait_until_shared(stack, timeout=20)
    print(f"\nRedis outage: {succeeded} of {BURST} succeeded on a budget of {BUDGET} during it "
          f"({len(pids)} workers); shared again {recovered_in:.1f} s after the restart")


# --- 3. a worker killed during writes -----------------------------------------------------------------------

def test_a_worker_killed_during_writes_leaves_no_partial_data_and_is_replaced(stack):
    tenant = new_tenant(stack)
    master = stack.server.process.pid
    before = worker_pids(master)
    assert len(before) == WORKERS

    def creator_and_updater(index, stop):
        """Each thread creates its own parcels and walks each through three status changes."""
        outcomes = []
        with requests.Session() as session:
            for parcel in itertools.count():
                if stop.is_set():
                    return outcomes
                number = f"KILL{index}X{parcel:05d}"
                created = send(session, tenant, "create", "POST", tracking_path(stack, tenant), number,
                               json=json_body(tracking_number=number))
                outcomes.append(created)
                if created.status == 201:
                    for status in STATUS_CYCLE[:3]:
                        outcomes.append(send(session, tenant, "update", "PUT",
                                             tracking_path(stack, tenant, created.body["id"]), number,
                                             json={"status": status}))

    def kill_a_worker():
        time.sleep(0.7)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        time.sleep(1.0)
        return victim

    outcomes, victim = under_load(creator_and_updater, kill_a_worker)

    lost = [outcome for outcome in outcomes if outcome.status is None]
    assert lost, "the kill cut no request short: it did not happen during writes"
    assert {outcome.status for outcome in outcomes} <= {200, 201, None}, \
        [outcome for outcome in outcomes if outcome.status not in (200, 201, None)][:5]
    stored = stored_parcels(stack, tenant.bot_id)
    sent = {outcome.number for outcome in outcomes}
    assert set(stored) <= sent
    for number, (status, history) in stored.items():
        assert_whole(number, status, history)
        updates = [outcome for outcome in outcomes if outcome.kind == "update" and outcome.number == number]
        # Every acknowledged change is there; a change cut off by the kill is there or not, never half.
        assert 1 + sum(o.status == 200 for o in updates) <= len(history) <= 1 + len(updates), (number, history)
    assert all(outcome.number in stored for outcome in outcomes if outcome.status == 201)
    assert orphan_status_events(stack) == 0

    replacement = wait_for_replacement(master, before - {victim})
    assert served_by(stack, tenant, replacement)
    print(f"\nWorker kill: {len(outcomes)} writes, {len(lost)} cut off by the kill, {len(stored)} parcels "
          f"consistent; worker {victim} replaced by {replacement}")


def wait_for_replacement(master, survivors, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = worker_pids(master)
        if len(pids) == WORKERS and survivors < pids:
            return (pids - survivors).pop()
        time.sleep(0.1)
    raise AssertionError(f"the master did not replace the killed worker within {timeout} s")


def served_by(stack, tenant, pid, timeout=15):
    """Whether worker `pid` answers requests (all of them 200s) within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, statuses, pids = burst(stack, tenant)
        assert statuses == {200}
        if pid in pids:
            return True
    return False


# --- 4. a statement cancelled by the timeout, and a full disk -----------------------------------------------

def assert_database_problem(response, detail):
    assert response.status_code == 503, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0
    body = response.json()
    assert body["status"] == 503 and body["detail"] == detail and body["request_id"]


def test_a_put_blocked_past_the_statement_timeout_is_a_clean_503_that_changes_nothing(stack):
    tenant = new_tenant(stack)
    parcel_id = make_tracking(stack.app, tenant.bot_id)
    with psycopg.connect(stack.postgres.url) as locker:  # another writer, holding the parcel's row
        locker.execute("SELECT id FROM tracking_numbers WHERE id = %s FOR UPDATE", [parcel_id])
        started = time.monotonic()
        # Without the timeout this PUT would wait for the lock until the client gives up (ReadTimeout).
        blocked = requests.put(tracking_path(stack, tenant, parcel_id), json={"status": "delivered"},
                               headers=tenant.headers, timeout=STATEMENT_TIMEOUT_MS / 1000 + 4)
        waited = time.monotonic() - started
        locker.rollback()

    assert_database_problem(blocked, "The database did not answer in time; retry shortly.")
    assert STATEMENT_TIMEOUT_MS / 1000 <= waited < STATEMENT_TIMEOUT_MS / 1000 + 2
    assert stored_parcels(stack, tenant.bot_id)["ABC123456"] == ("pending", [(None, "pending")])
    retried = requests.put(tracking_path(stack, tenant, parcel_id), json={"status": "delivered"},
                           headers=tenant.headers, timeout=10)
    assert retried.status_code == 200
    assert stored_parcels(stack, tenant.bot_id)["ABC123456"] == \
        ("delivered", [(None, "pending"), ("pending", "delivered")])


@pytest.fixture
def full_status_events_disk(stack):
    """status_events moved to a tablespace on a tmpfs of its own, then the tmpfs filled: the next time the
    table needs a new page, PostgreSQL gets ENOSPC (SQLSTATE 53100, disk_full). Mounting needs root."""
    if os.geteuid() != 0:
        pytest.skip("a full disk is emulated with a tmpfs mount, which needs root")
    mount_point = Path(tempfile.mkdtemp(prefix="tracker_api_full_disk_"))
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m,mode=0700", "tmpfs", str(mount_point)],
                      capture_output=True).returncode:
        mount_point.rmdir()
        pytest.skip("cannot mount a tmpfs here (no CAP_SYS_ADMIN)")
    stack.postgres.chown(mount_point)
    filler = mount_point / "filler"
    try:
        run_sql(stack, f"CREATE TABLESPACE full_disk LOCATION '{mount_point}'",
                "ALTER TABLE status_events SET TABLESPACE full_disk",
                "VACUUM FULL status_events")  # packed: no free space left inside the table's pages
        fill(filler)
        yield filler
    finally:
        filler.unlink(missing_ok=True)
        run_sql(stack, "ALTER TABLE status_events SET TABLESPACE pg_default", "DROP TABLESPACE IF EXISTS full_disk")
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False)
        mount_point.rmdir()


def run_sql(stack, *statements):
    with psycopg.connect(stack.postgres.url, autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)


def fill(path):
    """Write to `path` until the file system has not one byte left."""
    with open(path, "wb", buffering=0) as file:
        for size in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    file.write(b"\0" * size)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise


def test_a_create_on_a_full_disk_is_a_clean_503_and_leaves_no_parcel_without_history(stack,
                                                                                     full_status_events_disk):
    tenant = new_tenant(stack)
    for attempt in range(1000):  # what is left of the table's last page takes a few; then it must grow
        number = f"FULL{attempt:05d}"
        response = requests.post(tracking_path(stack, tenant), json=json_body(tracking_number=number),
                                 headers=tenant.headers, timeout=10)
        if response.status_code != 201:
            break
    assert_database_problem(response, "The database is out of space or resources; retry later.")
    # The parcel's row went in (its table is on another disk); its first history row could not: both are gone.
    assert number not in stored_parcels(stack, tenant.bot_id)

    full_status_events_disk.unlink()
    retried = requests.post(tracking_path(stack, tenant), json=json_body(tracking_number=number),
                            headers=tenant.headers, timeout=10)
    assert retried.status_code == 201
    assert stored_parcels(stack, tenant.bot_id)[number] == ("pending", [(None, "pending")])
    print(f"\nFull disk: {attempt} creates fitted, the next was a 503 and left nothing behind")


# --- 5. workers killed in the middle of an import -----------------------------------------------------------

def test_workers_killed_during_an_import_leave_none_of_it(stack):
    """The import is held mid-transaction, with one parcel already updated and new ones inserted, by a writer
    that bypasses the API (as the Telegram bot may) holding an uncommitted insert of the import's last number;
    then every worker is killed. One transaction: nothing of the import may remain."""
    tenant = new_tenant(stack)
    make_tracking(stack.app, tenant.bot_id, tracking_number="IMPOLD001")
    rows = [{"tracking_number": "IMPOLD001", "client_code": "CLIENT123", "status": "in_transit"}] + \
        [{"tracking_number": f"IMPNEW{n:04d}", "client_code": "CLIENT123"} for n in range(200)]
    url = f"{tracking_path(stack, tenant)}/import"
    master, before = stack.server.process.pid, worker_pids(stack.server.process.pid)
    with psycopg.connect(stack.postgres.url) as locker, ThreadPoolExecutor(1) as pool:
        locker.execute("INSERT INTO tracking_numbers (bot_id, tracking_number, client_code, status, quantity, "
                       "created_at, updated_at) VALUES (%s, 'IMPNEW0199', 'X', 'pending', 1, now(), now())",
                       [tenant.bot_id])
        cut = pool.submit(send, requests.Session(), tenant, "import", "POST", url, "", json=rows)
        wait_for_a_blocked_statement(stack, "INSERT INTO tracking_numbers")
        for pid in before:
            os.kill(pid, signal.SIGKILL)
        assert cut.result(timeout=15).status is None
        locker.rollback()

    deadline = time.monotonic() + 15
    while not (len(worker_pids(master)) == WORKERS and not worker_pids(master) & before):
        assert time.monotonic() < deadline, "the master did not replace the killed workers"
        time.sleep(0.1)
    assert stored_parcels(stack, tenant.bot_id) == {"IMPOLD001": ("pending", [(None, "pending")])}
    again = requests.post(url, json=rows, headers=tenant.headers, timeout=30)
    assert again.status_code == 200 and again.json()["counts"] == \
        {"created": 200, "updated": 1, "unchanged": 0, "errors": 0}
    stored = stored_parcels(stack, tenant.bot_id)
    assert len(stored) == 201 and stored["IMPOLD001"] == ("in_transit", [(None, "pending"), ("pending", "in_transit")])


def wait_for_a_blocked_statement(stack, prefix, timeout=10):
    """Until a backend waits on a lock in a statement starting with `prefix` (well inside the statement timeout)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(stack.postgres.url, autocommit=True) as connection:
        while time.monotonic() < deadline:
            if connection.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                  "AND query LIKE %s", [prefix + "%"]).fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError(f"no statement {prefix!r} waited on a lock within {timeout} s")
