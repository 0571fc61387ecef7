"""A soak: a steady, mixed load for minutes through nginx and gunicorn, then every acknowledged write checked in
the database, every 5xx counted and the workers' memory followed.

The stack is the deployment's own, started as tests/servers.py starts it for the end-to-end tests: Debian's
nginx with docker/nginx.conf in front of one gunicorn with docker/gunicorn.conf.py, on a fresh PostgreSQL
database (migrated and seeded by the operator CLI: `db upgrade`, `demo`, `keys create --rate-limit`) and a
flushed Redis database. A few client threads share one fixed rate, each on its own schedule (open loop: a
request due while the one before it is still out is sent as soon as it returns, and its latency counts from
when it was due), so a slow server shows up as latency rather than as a politely lower rate. The traffic:
list pages, filtered lists, get by id, statistics, client reads, creates (POST) and status updates (PUT).

A tracking number is only ever written by the thread that created it, one request at a time, so its last
acknowledged status and its status history are known exactly. At the end the database must hold every
acknowledged create with that status and that history, and nothing else besides the seed rows.

Exits 1 if any check fails: a 5xx or a failed connection, an unexpected 4xx (every request sent is valid),
a lost, extra or wrong write, a stale read of a thread's own write, or the gunicorn workers' memory (RSS,
all workers together) growing more than --max-growth (20%) from the minute after the warm-up (the first
minute) to the last minute, medians of each. Workers are replaced after docker/gunicorn.conf.py's
max_requests, as in production; --max-requests 0 keeps them for the whole run, to see a leak that recycling
would hide. A failed run keeps gunicorn's and nginx's logs and says where.

    .venv/bin/python bench/soak.py [--seconds 600] [--rate 40] [--threads 4] [--database tracker_api_soak]
                                   [--redis-url redis://127.0.0.1:6379/9]

The database named is dropped and created again; the Redis database given is flushed before and after.
"""
import argparse
import json
import os
import random
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / "tests"), str(Path(__file__).resolve().parent.parent)]

import redis  # noqa: E402
import requests  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from config import normalize_database_url  # noqa: E402
from conftest import fresh_postgres_database  # noqa: E402
from servers import GUNICORN_CONF, REPO, Gunicorn, Nginx, clean_env, nginx_binary, run_flask, worker_pids  # noqa: E402

STATUSES = ("pending", "in_transit", "delivered", "issued", "cancelled")
# What one request in a hundred is, roughly: reads dominate, as for a bot's dashboard, with a steady stream
# of new parcels and status changes.
MIX = {"list page": 18, "filtered list": 15, "get by id": 18, "statistics": 8, "client read": 10,
       "create": 16, "update status": 15}
REQUEST_TIMEOUT = 40  # longer than nginx's proxy_read_timeout (35 s): nginx answers a stuck request first
MIB = 1024 * 1024


# --- what the clients saw -------------------------------------------------------------------------------------

@dataclass
class Outcome:
    operation: str
    status: int | None  # None: no HTTP answer (connection refused or reset, timeout)
    latency: float  # from when the request was due: includes waiting behind a slow answer
    service: float  # from when it was sent
    due: float  # seconds into the run


@dataclass
class Parcel:
    """A tracking number this run created: every status acknowledged for it, first (the create's) to last."""

    tracking_number: str
    statuses: list
    in_doubt: str | None = None  # a write sent without an answer: the database may or may not have it


@dataclass
class ClientLedger:
    """One client thread's outcomes and acknowledged writes; only its own thread ever touches it."""

    outcomes: list = field(default_factory=list)
    parcels: dict = field(default_factory=dict)  # id -> Parcel
    creates_in_doubt: list = field(default_factory=list)
    stale_reads: list = field(default_factory=list)


def status_class(status):
    return "no answer" if status is None else f"{status // 100}xx"


# --- the stack ------------------------------------------------------------------------------------------------

@dataclass
class Seed:
    """What the load starts from: the CLI's bot, key and clients, and the demo's parcels as they were."""

    bot_id: int
    key: str
    client_ids: list
    client_codes: list
    rows: dict  # tracking number id -> (tracking_number, status), as the load starts
    history: dict  # tracking number id -> [(status, previous_status), ...]


def gunicorn_workers():
    """As many as docker/gunicorn.conf.py starts (2 per CPU this process may use, or GUNICORN_WORKERS)."""
    return int(os.environ.get("GUNICORN_WORKERS") or 2 * len(os.sched_getaffinity(0)))


def cli(*args, env):
    """`flask --app wsgi ARGS` as an operator runs it; stops the soak if the command fails."""
    result = run_flask(*args, env=env, timeout=120)
    if result.returncode:
        sys.exit(f"flask {' '.join(map(str, args))} failed:\n{result.stderr}")
    return result.stdout


def prepare(args):
    """A fresh database, migrated and seeded through the CLI, a flushed Redis, and the servers' environment."""
    database_url = fresh_postgres_database(args.database)
    redis.Redis.from_url(args.redis_url).flushdb()
    env = clean_env(TRACKER_ENV="production", DATABASE_URL=database_url, REDIS_URL=args.redis_url,
                    API_KEY_PEPPER=secrets.token_hex(16), WEBHOOK_SECRET_KEYS=Fernet.generate_key().decode(),
                    TRUSTED_PROXIES=1)
    if args.max_requests is not None:
        env["GUNICORN_MAX_REQUESTS"] = str(args.max_requests)
    cli("db", "upgrade", env=env)
    bot_id = json.loads(cli("demo", "--json", env=env))["bot_id"]  # a bot, 8 clients and 41 parcels
    # Ten times the offered rate: a minute of catching up after a stall must not run into the key's budget.
    limit = min(1_000_000, max(60, int(args.rate * 60 * 10)))
    key = json.loads(cli("keys", "create", "--bot-id", bot_id, "--name", "soak", "--rate-limit", limit, "--json",
                         env=env))["key"]
    return env, database_url, bot_id, key


def read_database(database_url, bot_id):
    """(rows, history, clients) of the bot, read straight from PostgreSQL, not through the API under test."""
    engine = create_engine(normalize_database_url(database_url))
    try:
        with engine.connect() as connection:
            rows = {row.id: (row.tracking_number, row.status) for row in connection.execute(
                text("SELECT id, tracking_number, status FROM tracking_numbers WHERE bot_id = :bot"), {"bot": bot_id})}
            history = defaultdict(list)
            for event in connection.execute(text("SELECT tracking_id, status, previous_status FROM status_events "
                                                 "WHERE bot_id = :bot ORDER BY id"), {"bot": bot_id}):
                history[event.tracking_id].append((event.status, event.previous_status))
            clients = connection.execute(text("SELECT id, client_code FROM clients WHERE bot_id = :bot ORDER BY id"),
                                         {"bot": bot_id}).all()
    finally:
        engine.dispose()
    return rows, dict(history), clients


# --- the load -------------------------------------------------------------------------------------------------

class Client(threading.Thread):
    """One client thread: sends `rate` requests per second on a fixed schedule from `start` until `end`
    (`origin`: when the run started, for the per-minute figures)."""

    def __init__(self, number, url, seed, rate, origin, start, end):
        super().__init__(name=f"soak-client-{number}", daemon=True)
        self.number, self.url, self.seed = number, url, seed
        self.interval, self.origin, self.start_at, self.end_at = 1 / rate, origin, start, end
        self.rng = random.Random(number)
        self.ledger = ClientLedger()
        self.session = requests.Session()
        self.session.headers["X-API-Key"] = seed.key
        self.created = 0
        self.operations = {"list page": self.list_page, "filtered list": self.filtered_list,
                           "get by id": self.get_by_id, "statistics": self.statistics,
                           "client read": self.client_read, "create": self.create, "update status": self.update_status}

    def run(self):
        due = self.start_at
        names, weights = list(MIX), list(MIX.values())
        while due < self.end_at:
            time.sleep(max(0.0, due - time.monotonic()))
            operation = self.rng.choices(names, weights)[0]
            if operation == "update status" and not self.ledger.parcels:
                operation = "create"  # nothing of its own to update yet
            self.operations[operation](operation, due)
            due += self.interval
        self.session.close()

    def send(self, operation, due, method, path, body=None):
        """The response (None without one), with its outcome recorded."""
        sent = time.monotonic()
        try:
            response = self.session.request(method, f"{self.url}/api/v1{path}", json=body, timeout=REQUEST_TIMEOUT)
        except requests.RequestException:
            response = None
        done = time.monotonic()
        status = None if response is None else response.status_code
        self.ledger.outcomes.append(Outcome(operation, status, done - due, done - sent, due - self.origin))
        return response

    # One method per kind of request.
    def list_page(self, operation, due):
        self.send(operation, due, "GET", f"/tracking/{self.seed.bot_id}?page={self.rng.randint(1, 3)}&page_size=50")

    def filtered_list(self, operation, due):
        bot, code = self.seed.bot_id, self.rng.choice(self.seed.client_codes)
        path = self.rng.choice([f"/tracking/{bot}?status_filter={self.rng.choice(STATUSES)}&page_size=20",
                                f"/tracking/{bot}?client_code={code}", f"/tracking/{bot}/by-client/{code}"])
        self.send(operation, due, "GET", path)

    def get_by_id(self, operation, due):
        """A seed row or one of this thread's own: reading its own must show its last acknowledged status."""
        own = self.ledger.parcels
        if own and self.rng.random() < 0.5:
            tracking_id = self.rng.choice(list(own))
        else:
            tracking_id = self.rng.choice(list(self.seed.rows))
        response = self.send(operation, due, "GET", f"/tracking/{self.seed.bot_id}/{tracking_id}")
        parcel = own.get(tracking_id)
        if response is not None and response.status_code == 200 and parcel and parcel.in_doubt is None:
            if response.json()["current_status"] != parcel.statuses[-1]:
                self.ledger.stale_reads.append((tracking_id, parcel.statuses[-1], response.json()["current_status"]))

    def statistics(self, operation, due):
        self.send(operation, due, "GET", f"/statistics/{self.seed.bot_id}/{self.rng.choice(['overview', 'tracking'])}")

    def client_read(self, operation, due):
        bot = self.seed.bot_id
        path = self.rng.choice([f"/clients/{bot}?page=1&page_size=50",
                                f"/clients/{bot}/{self.rng.choice(self.seed.client_ids)}"])
        self.send(operation, due, "GET", path)

    def create(self, operation, due):
        self.created += 1
        number = f"SOAK-{self.number}-{self.created:06d}"
        status = self.rng.choice(STATUSES[:2])
        body = {"tracking_number": number, "client_code": self.rng.choice(self.seed.client_codes), "status": status,
                "quantity": self.rng.randint(1, 5), "weight_kg": self.rng.randint(1, 300) / 10,
                "price_per_kg_usd": 14.29}
        response = self.send(operation, due, "POST", f"/tracking/{self.seed.bot_id}", body)
        if response is not None and response.status_code == 201:
            self.ledger.parcels[response.json()["id"]] = Parcel(number, [status])
        elif response is None or response.status_code >= 500:
            self.ledger.creates_in_doubt.append(number)

    def update_status(self, operation, due):
        """A status other than the current one, so that every acknowledged update adds one history row."""
        settled = [tracking_id for tracking_id, parcel in self.ledger.parcels.items() if parcel.in_doubt is None]
        if not settled:
            return self.create("create", due)
        tracking_id = self.rng.choice(settled)
        parcel = self.ledger.parcels[tracking_id]
        status = self.rng.choice([status for status in STATUSES if status != parcel.statuses[-1]])
        response = self.send(operation, due, "PUT", f"/tracking/{self.seed.bot_id}/{tracking_id}", {"status": status})
        if response is not None and response.status_code == 200:
            parcel.statuses.append(status)
        elif response is None or response.status_code >= 500:
            parcel.in_doubt = status


class MemorySampler(threading.Thread):
    """The RSS of every gunicorn worker (the master's children), every `every` seconds until stopped."""

    def __init__(self, master_pid, every, start):
        super().__init__(name="soak-memory", daemon=True)
        self.master_pid, self.every, self.start_at = master_pid, every, start
        self.samples = []  # (seconds since start, {pid: RSS in bytes})
        self.stopped = threading.Event()

    def run(self):
        time.sleep(max(0.0, self.start_at - time.monotonic()))
        self.sample()
        while not self.stopped.wait(self.every):
            self.sample()

    def stop(self):
        self.stopped.set()
        self.join()
        self.sample()  # the end of the run, whenever it falls between two ticks

    def sample(self):
        self.samples.append((time.monotonic() - self.start_at, worker_rss(self.master_pid)))


def worker_rss(master_pid):
    """{pid: VmRSS in bytes} of gunicorn's workers (the master's children)."""
    sizes = {}
    for pid in worker_pids(master_pid):
        try:
            rss = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
        except OSError:  # the worker ended while being read (max_requests replaced it)
            continue
        if rss:
            sizes[pid] = int(rss.group(1)) * 1024
    return sizes


def code_snapshot():
    """(path, modification time, size) of every file a worker imports or the migrations run. A worker that
    max_requests replaces imports the tree as it is then: in a shared checkout, other people's edits during
    the run would be served by some workers and not others, against a database migrated before them."""
    files = [REPO / "wsgi.py", *sorted((REPO / "tracker_api").rglob("*.py")), *sorted((REPO / "config").rglob("*.py")),
             *sorted((REPO / "migrations").rglob("*.py"))]
    return {str(path.relative_to(REPO)): (path.stat().st_mtime_ns, path.stat().st_size) for path in files
            if path.exists()}


def changed_files(before, after):
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


def run_load(url, seed, master_pid, args):
    """Start the clients and the sampler together; return the clients' ledgers, the memory samples and the
    seconds from the first request due to the last answer."""
    start = time.monotonic() + 0.5
    clients = [Client(number, url, seed, args.rate / args.threads, start, start + number / args.rate,
                      start + args.seconds) for number in range(args.threads)]
    sampler = MemorySampler(master_pid, args.sample_every, start)
    sampler.start()
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    elapsed = time.monotonic() - start
    sampler.stop()
    return [client.ledger for client in clients], sampler.samples, elapsed


# --- the checks -----------------------------------------------------------------------------------------------

def expected_history(statuses):
    """The history rows an acknowledged create and its acknowledged updates leave: (status, previous)."""
    return list(zip(statuses, [None, *statuses[:-1]]))


def verify_writes(parcels, seed_rows, seed_history, rows, history):
    """Problems (readable strings) between what the clients were told and what the database holds."""
    problems = []
    lost = sorted(set(parcels) - set(rows))
    extra = sorted(set(rows) - set(parcels) - set(seed_rows))
    problems += [f"lost write: acknowledged create {parcels[i].tracking_number} (id {i}) is not in the database"
                 for i in lost]
    problems += [f"extra row: {rows[i][0]} (id {i}) was never acknowledged" for i in extra]
    for tracking_id, parcel in parcels.items():
        if tracking_id not in rows:
            continue
        number, status = rows[tracking_id]
        if number != parcel.tracking_number or status != parcel.statuses[-1]:
            problems.append(f"wrong row: id {tracking_id} is {number}/{status}, acknowledged as "
                            f"{parcel.tracking_number}/{parcel.statuses[-1]}")
        if history.get(tracking_id, []) != expected_history(parcel.statuses):
            problems.append(f"history of {parcel.tracking_number}: {history.get(tracking_id, [])}, acknowledged "
                            f"{expected_history(parcel.statuses)}")
    for tracking_id in seed_rows:
        if rows.get(tracking_id) != seed_rows[tracking_id] or history.get(tracking_id) != seed_history.get(tracking_id):
            problems.append(f"seed row {tracking_id} changed, though nothing wrote to it")
    strays = sorted(set(history) - set(rows))
    problems += [f"history rows for tracking id {i}, which does not exist" for i in strays]
    if len(rows) != len(parcels) + len(seed_rows):
        problems.append(f"row count {len(rows)} != {len(parcels)} acknowledged creates + {len(seed_rows)} seed rows")
    return problems


def memory_growth(samples, warmup):
    """(baseline, end, growth) of all workers' RSS together: the median over the `warmup` seconds after the
    warm-up against the median over the last `warmup` seconds. Medians, because a sample may catch a worker
    that max_requests just replaced while it boots, at a third of its size: one such sample must move neither."""
    totals = [(moment, sum(sizes.values())) for moment, sizes in samples if sizes]
    last = totals[-1][0]
    baseline = median([total for moment, total in totals if warmup <= moment < 2 * warmup]
                                 or [totals[-1][1]])
    end = median([total for moment, total in totals if moment >= last - warmup])
    return baseline, end, end / baseline - 1


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def check(outcomes, ledgers, write_problems, growth, args):
    """(name, passed, detail) for every condition the soak requires."""
    classes = Counter(status_class(outcome.status) for outcome in outcomes)
    unexpected_4xx = Counter(outcome.status for outcome in outcomes
                             if outcome.status is not None and 400 <= outcome.status < 500)
    in_doubt = sum(len(ledger.creates_in_doubt) for ledger in ledgers) + sum(
        parcel.in_doubt is not None for ledger in ledgers for parcel in ledger.parcels.values())
    stale = [read for ledger in ledgers for read in ledger.stale_reads]
    return [
        ("no 5xx", classes["5xx"] == 0, f"{classes['5xx']} answers 5xx"),
        ("every request answered", classes["no answer"] == 0, f"{classes['no answer']} without an answer"),
        ("no unexpected 4xx", not unexpected_4xx, dict(unexpected_4xx) or "none"),
        ("every acknowledged write in the database, nothing else", not write_problems,
         f"{len(write_problems)} problems, {in_doubt} writes in doubt"),
        ("a thread reads its own writes", not stale, f"{len(stale)} stale reads"),
        (f"worker memory growth after warm-up <= {args.max_growth:.0%}", growth <= args.max_growth, f"{growth:+.1%}"),
    ]


# --- the report -----------------------------------------------------------------------------------------------

def milliseconds(seconds):
    return f"{seconds * 1000:.0f} ms"


def print_traffic(outcomes, elapsed, args):
    print(f"requests: {len(outcomes)} in {elapsed:.1f} s = {len(outcomes) / elapsed:.1f}/s achieved "
          f"({args.rate:g}/s offered)")
    classes = Counter(status_class(outcome.status) for outcome in outcomes)
    print("by status class: " + ", ".join(f"{name} {classes[name]}"
                                          for name in ("2xx", "3xx", "4xx", "5xx", "no answer")))
    others = Counter(outcome.status for outcome in outcomes if outcome.status is not None and outcome.status >= 300)
    if others:
        print("non-2xx by status: " + ", ".join(f"{status} {count}" for status, count in sorted(others.items())))
    latencies = [outcome.latency for outcome in outcomes]
    services = [outcome.service for outcome in outcomes]
    print(f"latency from when due: p50 {milliseconds(percentile(latencies, .5))}, p99 "
          f"{milliseconds(percentile(latencies, .99))}, max {milliseconds(max(latencies, default=0))}; "
          f"from when sent: p50 {milliseconds(percentile(services, .5))}, "
          f"p99 {milliseconds(percentile(services, .99))}")
    print(f"{'operation':15} {'requests':>8} {'non-2xx':>8} {'p50':>8} {'p99':>8}")
    for operation in MIX:
        mine = [outcome for outcome in outcomes if outcome.operation == operation]
        failed = sum(outcome.status is None or outcome.status >= 300 for outcome in mine)
        lat = [outcome.latency for outcome in mine]
        print(f"{operation:15} {len(mine):8d} {failed:8d} {milliseconds(percentile(lat, .5)):>8} "
              f"{milliseconds(percentile(lat, .99)):>8}")


def print_minutes(outcomes):
    """Requests, latency and failures per minute: when in the run a stall or the errors came."""
    minutes = defaultdict(list)
    for outcome in outcomes:
        minutes[int(outcome.due // 60)].append(outcome)
    print(f"{'minute':>6} {'requests':>8} {'p50':>8} {'p99':>8} {'max':>8} {'non-2xx':>8}")
    for minute, mine in sorted(minutes.items()):
        lat = [outcome.latency for outcome in mine]
        failed = sum(outcome.status is None or outcome.status >= 300 for outcome in mine)
        print(f"{minute + 1:6d} {len(mine):8d} {milliseconds(percentile(lat, .5)):>8} "
              f"{milliseconds(percentile(lat, .99)):>8} {milliseconds(max(lat)):>8} {failed:8d}")


def print_writes(ledgers, seed, rows, history, problems):
    creates = sum(len(ledger.parcels) for ledger in ledgers)
    updates = sum(len(parcel.statuses) - 1 for ledger in ledgers for parcel in ledger.parcels.values())
    events = sum(map(len, history.values()))
    seed_events = sum(map(len, seed.history.values()))
    print(f"writes acknowledged: {creates} creates (201), {updates} status updates (200)")
    print(f"database: {len(rows)} tracking numbers (expected {creates} acknowledged + {len(seed.rows)} seed = "
          f"{creates + len(seed.rows)}), {events} history rows (expected {creates + updates} acknowledged + "
          f"{seed_events} seed = {creates + updates + seed_events})")
    for problem in problems[:20]:
        print(f"  {problem}")
    if len(problems) > 20:
        print(f"  ... and {len(problems) - 20} more")


def print_memory(samples, baseline, end, growth, warmup):
    print(f"memory: RSS of the gunicorn workers (MiB), every {samples[1][0] - samples[0][0]:.0f} s"
          if len(samples) > 1 else "memory: RSS of the gunicorn workers (MiB)")
    seen = set()
    for moment, sizes in samples:
        seen |= set(sizes)
        per_worker = " ".join(f"{size / MIB:.1f}" for _, size in sorted(sizes.items()))
        print(f"  {moment:6.0f} s  total {sum(sizes.values()) / MIB:6.1f}  [{per_worker}]")
    workers = len(samples[0][1])
    print(f"  workers seen: {len(seen)} ({len(seen) - workers} replacements by max_requests)")
    print(f"  growth: median of {warmup:.0f}-{2 * warmup:.0f} s (after warm-up) {baseline / MIB:.1f} MiB -> median of "
          f"the last {warmup:.0f} s {end / MIB:.1f} MiB, {growth:+.1%}")


def print_code_changes(changed):
    if not changed:
        print("code: unchanged during the run")
        return
    print(f"code: WARNING, {len(changed)} files changed during the run; workers replaced after that served the "
          f"new code against the database as migrated at the start: {', '.join(changed[:8])}"
          f"{' ...' if len(changed) > 8 else ''}")


def report(outcomes, ledgers, seed, rows, history, problems, samples, elapsed, changed, args):
    """Print the summary; True if every check passed."""
    warmup = min(args.warmup, args.seconds / 3)
    baseline, end, growth = memory_growth(samples, warmup)
    print(f"\nsoak: {args.seconds:g} s at {args.rate:g} requests/s from {args.threads} client threads, through "
          f"nginx -> gunicorn ({gunicorn_workers()} workers, docker/gunicorn.conf.py), {os.cpu_count()} CPUs")
    print_traffic(outcomes, elapsed, args)
    print_minutes(outcomes)
    print_writes(ledgers, seed, rows, history, problems)
    print_memory(samples, baseline, end, growth, warmup)
    print_code_changes(changed)
    results = check(outcomes, ledgers, problems, growth, args)
    print("checks:")
    for name, passed, detail in results:
        print(f"  {'PASS' if passed else 'FAIL'}  {name}: {detail}")
    passed = all(passed for _, passed, _ in results)
    print(f"RESULT: {'PASS' if passed else 'FAIL'}")
    return passed


# --- putting it together --------------------------------------------------------------------------------------

def soak(args, directory):
    env, database_url, bot_id, key = prepare(args)
    rows, history, clients = read_database(database_url, bot_id)
    seed = Seed(bot_id, key, [client.id for client in clients], [client.client_code for client in clients],
                rows, history)
    (directory / "gunicorn").mkdir()
    (directory / "nginx").mkdir()
    code_at_start = code_snapshot()
    gunicorn = Gunicorn(directory / "gunicorn", env, gunicorn_workers(), "-c", str(GUNICORN_CONF))
    try:
        nginx = Nginx(directory / "nginx", [gunicorn.port])
        try:
            print(f"load: {args.seconds:g} s at {args.rate:g}/s through {nginx.url} ...", file=sys.stderr)
            ledgers, samples, elapsed = run_load(nginx.url, seed, gunicorn.process.pid, args)
        finally:
            nginx.stop()
    finally:
        gunicorn.stop()
    changed = changed_files(code_at_start, code_snapshot())
    rows, history, _ = read_database(database_url, bot_id)
    parcels = {tracking_id: parcel for ledger in ledgers for tracking_id, parcel in ledger.parcels.items()}
    problems = verify_writes(parcels, seed.rows, seed.history, rows, history)
    outcomes = [outcome for ledger in ledgers for outcome in ledger.outcomes]
    return report(outcomes, ledgers, seed, rows, history, problems, samples, elapsed, changed, args)


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600, help="how long the load lasts")
    parser.add_argument("--rate", type=float, default=40, help="requests per second, all threads together")
    parser.add_argument("--threads", type=int, default=4, help="client threads sharing the rate")
    parser.add_argument("--database", default="tracker_api_soak", help="dropped and created afresh")
    parser.add_argument("--redis-url", default=os.environ.get("SOAK_REDIS_URL", "redis://127.0.0.1:6379/9"),
                        help="flushed before and after")
    parser.add_argument("--sample-every", type=float, default=10, help="seconds between memory samples")
    parser.add_argument("--warmup", type=float, default=60, help="seconds before the memory baseline "
                        "(at most a third of the run)")
    parser.add_argument("--max-growth", type=float, default=0.20, help="allowed memory growth after warm-up")
    parser.add_argument("--max-requests", type=int, help="gunicorn's max_requests (default: the config's; "
                        "0: never replace a worker)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_arguments(argv)
    if not nginx_binary():
        sys.exit("needs Debian's nginx: apt-get install --no-install-recommends nginx-light (or `make e2e-deps`)")
    directory = Path(tempfile.mkdtemp(prefix="tracker_api_soak_"))
    passed = False
    try:
        passed = soak(args, directory)
    finally:
        redis.Redis.from_url(args.redis_url).flushdb()
        keep_logs_if_failed(directory, passed)
    sys.exit(0 if passed else 1)


def keep_logs_if_failed(directory, passed):
    """A failed soak keeps gunicorn's and nginx's logs, and shows gunicorn's last error lines, to say why."""
    if passed:
        shutil.rmtree(directory, ignore_errors=True)
        return
    errors_path = directory / "gunicorn" / "gunicorn.err"
    errors = [line for line in errors_path.read_text().splitlines() if "Error" in line] if errors_path.exists() else []
    for line in errors[-5:]:
        print(f"  gunicorn: {line[:300]}")
    print(f"logs kept in {directory} (gunicorn/gunicorn.out: the request log; gunicorn.err; nginx/error.log)")


if __name__ == "__main__":
    main()
