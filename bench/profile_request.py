"""Where one request's time goes: N requests of one scenario in-process, under cProfile, on the bench data.

    .venv/bin/python bench/profile_request.py PATH [--requests 300] [--method GET] [--top 30] [--json BODY]
    .venv/bin/python bench/profile_request.py PATH --round-trips      # one request's round trips, in order
    .venv/bin/python bench/profile_request.py PATH --cpu-by-part      # CPU of each hook, the view, the rest
    .venv/bin/python bench/profile_request.py /sm/item/50/ID --floor --cpu-by-part  # the same, stack_floor_app.py

PATH is an API path on the `make bench` database (e.g. /api/v1/tracking/50?page=1&page_size=50); the app runs
in production mode with Redis, rate limiting and the request log on, as under gunicorn (the log goes to
/dev/null). Prints the mean wall time per request, then the functions with the most cumulative and own time.
Not a benchmark: cProfile slows Python down by a factor, so read the shares, not the milliseconds.

--cpu-by-part measures without a profiler: the thread CPU each before-request hook, the view, each after-request
hook and each teardown takes, per request, and the whole request's (the rest is Flask, werkzeug and the test
client). With --floor the app is bench/stack_floor_app.py (its key registered in Redis as bench/run.py does), so
that the API's parts can be read against what the fixed stack alone costs in the same sitting.
"""
import argparse
import collections
import contextlib
import cProfile
import functools
import io
import itertools
import os
import pstats
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent)]


def build_app(args):
    os.environ.update(TRACKER_ENV="production", API_KEY_PEPPER="bench-pepper-not-secret",
                      WEBHOOK_SECRET_KEYS=Fernet.generate_key().decode(),
                      DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{args.database}", REDIS_URL=args.redis_url)
    from tracker_api import create_app
    from tracker_api.access.keys import issue_key
    app = create_app()
    with app.app_context():
        _, plain_key = issue_key(int(args.path.split("/")[4].split("?")[0]), "profile",
                                 rate_limit_per_minute=1_000_000)
    return app, plain_key


@contextlib.contextmanager
def request_log_discarded():
    """The JSON request log (stdout) to /dev/null while requests run: its formatting and write are still counted."""
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        yield


def build_floor_app(args):
    """bench/stack_floor_app.py on the bench database, with a key it accepts (as bench/run.py registers keys)."""
    sys.path[:0] = [str(BENCH)]
    import stack_floor_app
    plain_key = "profile-floor-key"  # registered as run.py does (hash -> a bot id, which the floor does not read)
    stack_floor_app.register_key(plain_key, 50, args.redis_url)
    dsn = f"postgresql://postgres@127.0.0.1:5432/{args.database}"
    return stack_floor_app.create_app(dsn, args.redis_url), plain_key


def cpu_by_part(app, one_request, requests):
    """Per request, the thread CPU (µs) of each hook, the view and each teardown, and of the whole request."""
    spent = collections.Counter()

    def timed(name, function):
        @functools.wraps(function)
        def measured(*args, **kwargs):
            started = time.thread_time_ns()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] += time.thread_time_ns() - started
        return measured

    def name_of(function):
        function = getattr(function, "func", function)  # a functools.partial (Flask-Limiter's hook) by its function
        return f"{function.__module__.rsplit('.', 1)[-1]}.{function.__qualname__.rsplit('.', 1)[-1]}"

    for stage, hooks in (("before", app.before_request_funcs), ("after", app.after_request_funcs),
                         ("teardown", app.teardown_request_funcs)):
        for functions in hooks.values():
            functions[:] = [timed(f"{stage}: {name_of(function)}", function) for function in functions]
    app.teardown_appcontext_funcs[:] = [timed(f"teardown: {name_of(function)}", function)
                                        for function in app.teardown_appcontext_funcs]
    app.view_functions.update({endpoint: timed("the view", view) for endpoint, view in app.view_functions.items()})
    started = time.thread_time_ns()
    for _ in range(requests):
        one_request()
    whole = time.thread_time_ns() - started
    rows = [(name, nanoseconds / requests / 1000) for name, nanoseconds in spent.items()]
    parts = sum(microseconds for _, microseconds in rows)
    rows.sort(key=lambda row: -row[1])
    rows += [("the rest: Flask, werkzeug, the test client", whole / requests / 1000 - parts),
             ("the whole request", whole / requests / 1000)]
    return rows


def own_time_by_package(profiler):
    """Each package's share of the profiled time (the functions' own time, summed by the package they are in)."""
    shares, total = {}, 0.0
    for (filename, _, _), (_, _, own, _, _) in pstats.Stats(profiler).stats.items():
        package = "builtins/C" if filename.startswith("~") or filename.startswith("<") else (
            filename.split("site-packages/")[1].split("/")[0] if "site-packages/" in filename else
            "tracker_api" if "/tracker_api/" in filename else "stdlib")
        shares[package] = shares.get(package, 0.0) + own
        total += own
    rows = sorted(shares.items(), key=lambda item: -item[1])
    return "own time by package: " + ", ".join(f"{name} {seconds / total:.0%}" for name, seconds in rows
                                                 if seconds / total >= 0.01)


def record_round_trips(app, one_request):
    """The round trips of one request to PostgreSQL (statements, and the BEGIN and COMMIT or ROLLBACK around those
    not run in autocommit) and to Redis (one packet: a command or a pipeline), in order."""
    import redis.connection
    from psycopg.pq import TransactionStatus
    from sqlalchemy import event

    from tracker_api.extensions import db
    trips = []

    def statement(conn, cursor, sql, parameters, context, executemany):
        psycopg_connection = conn.connection.driver_connection
        if not psycopg_connection.autocommit and psycopg_connection.info.transaction_status == TransactionStatus.IDLE:
            trips.append("postgres: BEGIN")  # psycopg opens the transaction before the first statement
        trips.append("postgres: " + " ".join(sql.split())[:110])

    def ends(word):
        """COMMIT or ROLLBACK, sent only by a connection in a transaction (not in autocommit)."""
        def transaction_ends(conn):
            if not conn.connection.driver_connection.autocommit:
                trips.append(f"postgres: {word}")
        return transaction_ends

    with app.app_context():
        engine = db.engine
    hooks = {"before_cursor_execute": statement, "commit": ends("COMMIT"), "rollback": ends("ROLLBACK")}
    for name, hook in hooks.items():
        event.listen(engine, name, hook)
    send = redis.connection.AbstractConnection.send_packed_command

    def counted_send(connection, command, check_health=True):
        packets = command if isinstance(command, list) else [command]
        words = b"".join(packets).split(b"\r\n")
        trips.append("redis: " + " ".join(word.decode(errors="replace") for word in words[2:9:2])[:110])
        return send(connection, command, check_health)

    redis.connection.AbstractConnection.send_packed_command = counted_send
    try:
        one_request()
    finally:
        redis.connection.AbstractConnection.send_packed_command = send
        for name, hook in hooks.items():
            event.remove(engine, name, hook)
    return trips


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--json", help="request body (writes); {n} is replaced by a number unique to the request, "
                                       "{status} by the next of the five statuses (as bench/lua/update.lua cycles)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--round-trips", action="store_true", help="instead of profiling: list one request's round "
                                                                   "trips to PostgreSQL and Redis, in order")
    parser.add_argument("--cpu-by-part", action="store_true", help="instead of profiling: the thread CPU of each hook, "
                                                                   "the view and the whole request, per request")
    parser.add_argument("--floor", action="store_true", help="bench/stack_floor_app.py instead of the API")
    parser.add_argument("--database", default="tracker_api_bench_big")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/3")
    args = parser.parse_args()
    if args.floor and args.round_trips:
        parser.error("--round-trips follows the API's own engine: not with --floor")
    app, key = build_floor_app(args) if args.floor else build_app(args)
    from tracker_api.models.tracking import STATUSES  # after build_app: importing the app reads the environment
    client = app.test_client()
    headers = {"X-API-Key": key}
    if args.json:
        headers["Content-Type"] = "application/json"

    numbers, statuses = itertools.count(int(time.time() * 1000)), itertools.cycle(STATUSES)

    def one_request():
        body = args.json.replace("{n}", str(next(numbers))).replace("{status}", next(statuses)) if args.json else None
        answer = client.open(args.path, method=args.method, headers=headers, data=body)
        if answer.status_code >= 400:
            raise SystemExit(f"{args.path} answered {answer.status_code}: {answer.get_data(as_text=True)[:300]}")

    with request_log_discarded():
        for _ in range(20):
            one_request()
        if args.round_trips:
            trips = record_round_trips(app, one_request)
    if args.round_trips:
        print(f"{args.method} {args.path}: {len(trips)} round trips")
        print("\n".join(trips))
        return
    if args.cpu_by_part:
        with request_log_discarded():
            rows = cpu_by_part(app, one_request, args.requests)
        print(f"{args.method} {args.path}: thread CPU per request, {args.requests} requests, µs")
        print("\n".join(f"{microseconds:8.0f}  {name}" for name, microseconds in rows))
        return
    with request_log_discarded():
        started = time.perf_counter()
        for _ in range(args.requests):
            one_request()
        plain_ms = (time.perf_counter() - started) * 1000 / args.requests
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.requests):
            one_request()
        profiler.disable()
    print(f"{args.method} {args.path}: {plain_ms:.2f} ms per request in-process (without the profiler)")
    print(own_time_by_package(profiler))
    for order in ("cumulative", "tottime"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(args.top)
        print(text.getvalue())


if __name__ == "__main__":
    main()
