"""What the rate limiter and the audit trail (JSON log line, usage counts) cost per request.

Runs one cheap authenticated request (GET /api/v1/bots/{id}: a key lookup and little else) many times
in-process, with each part switched on and off, counters in process memory and in Redis, and prints the
median and mean time per request and the difference from the bare baseline. Not a test: run it by hand.

    .venv/bin/python bench/limiter_cost.py [--requests 1500] [--rounds 3] [--redis-url redis://127.0.0.1:6379/15]

Variants take turns for several rounds and each reports its best median, so that a noisy neighbour on
the machine skews one round, not one variant. The Redis database given is flushed before and after (the
default is the tests' own, DB 15). The log lines go to /dev/null, so their formatting and write are
counted, not a terminal's speed.
"""
import argparse
import contextlib
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from config import TestConfig  # noqa: E402
from tracker_api import access, create_app  # noqa: E402
from tracker_api.access.keys import issue_key  # noqa: E402
from tracker_api.ops import request_log  # noqa: E402
from tracker_api.resources.bots.service import create_bot  # noqa: E402

BOT_ID = 123
UNLIMITED = 10**9  # the budget is never spent: the cost measured is that of counting, not of refusing


def build_app(database_url, *, limiter, audit_trail, redis_url):
    settings = {"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": redis_url, "RATELIMIT_ENABLED": limiter,
                "RATE_LIMIT_PER_MINUTE": UNLIMITED, "RATE_LIMIT_PER_ADDRESS": UNLIMITED}
    with contextlib.ExitStack() as stack:
        if not audit_trail:  # the factory registers whatever these names hold when it runs
            stack.enter_context(mock.patch.object(access, "start_clock", lambda: None))
            stack.enter_context(mock.patch.object(access, "refuse_blocked_address", lambda: None))
            stack.enter_context(mock.patch.object(access, "record_access", lambda response: response))
            stack.enter_context(mock.patch.object(request_log, "log_request", lambda response: response))
        return create_app(TestConfig(), **settings)


def measure(app, key, count):
    http = app.test_client()
    headers = {"X-API-Key": key}
    path = f"/api/v1/bots/{BOT_ID}"
    for _ in range(200):  # warm-up: connections, caches, first-request work
        http.get(path, headers=headers)
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        response = http.get(path, headers=headers)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    return statistics.median(timings) * 1e6, statistics.fmean(timings) * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500, help="per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis-url", default=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    args = parser.parse_args()
    flush = redis.Redis.from_url(args.redis_url).flushdb

    with tempfile.TemporaryDirectory() as directory:
        database_url = f"sqlite:///{directory}/bench.sqlite3"
        setup = create_app(TestConfig(), SQLALCHEMY_DATABASE_URI=database_url)
        with setup.app_context():
            upgrade()
            create_bot(bot_id=BOT_ID, name="Bench Cargo", username="@bench_bot")
            _, key = issue_key(BOT_ID, "bench")
        flush()
        variants = [("baseline: no limiter, no audit", False, False, None)]
        for store, url in (("memory", None), ("redis", args.redis_url)):
            variants += [(f"limiter only ({store})", True, False, url),
                         (f"audit only: log + usage ({store})", False, True, url),
                         (f"limiter + audit ({store})", True, True, url)]
        best = {}
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), \
                mock.patch.object(logging.getLogger("tracker_api.access.rate_limits"), "disabled", True):
            apps = [(name, build_app(database_url, limiter=limiter, audit_trail=audit_trail, redis_url=url))
                    for name, limiter, audit_trail, url in variants]
            for _ in range(args.rounds):
                for name, app in apps:
                    median, mean = measure(app, key, args.requests)
                    if name not in best or median < best[name][0]:
                        best[name] = (median, mean)
        flush()

    baseline = best[variants[0][0]][0]
    print(f"{args.requests} requests x {args.rounds} rounds per variant, GET /api/v1/bots/{{id}} in-process "
          f"(Flask test client), SQLite, Python {sys.version.split()[0]}; best round's median")
    print(f"{'variant':40} {'median µs':>10} {'mean µs':>10} {'+ median µs':>12}")
    for name, (median, mean) in best.items():
        print(f"{name:40} {median:10.0f} {mean:10.0f} {median - baseline:+12.0f}")


if __name__ == "__main__":
    main()
