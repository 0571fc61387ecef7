"""Requests per second on the tracking list, through nginx and from gunicorn alone, for gunicorn settings.

Starts gunicorn with docker/gunicorn.conf.py (worker class, workers and threads from the GUNICORN_* variables
each configuration sets) on a fresh PostgreSQL database, and Debian's nginx with docker/nginx.conf in front of
it, exactly as the end-to-end tests do (tests/servers.py); then loads GET /api/v1/tracking/{bot}?page=1&
page_size=50 (a page of 50 out of --parcels rows, with its total) with wrk, first at gunicorn's port, then at
nginx's. Not a test: run it by hand (needs `apt-get install wrk nginx-light`), and compare ratios from one
sitting, not absolute numbers from different days. Configurations take turns for several rounds and each
reports its best, so that a noisy neighbour on the machine skews one round, not one configuration.

    .venv/bin/python bench/nginx_rps.py [--rounds 3] [--duration 5] [--connections 32] [--configs gthread:4x4 sync:5x1]

A configuration is CLASS:WORKERSxTHREADS. --db-latency-ms puts a proxy before PostgreSQL that holds each of its
answers that long, as a database on another host would. The Redis database given is flushed first (default:
the tests' DB 15).
"""
import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / "tests"), str(Path(__file__).resolve().parent.parent)]

import redis  # noqa: E402

from config import DEVELOPMENT_WEBHOOK_SECRET_KEY  # noqa: E402
from conftest import fresh_postgres_database, make_migrated_app, make_tenant, make_tracking  # noqa: E402
from servers import GUNICORN_CONF, Gunicorn, Nginx, clean_env, free_port, nginx_binary  # noqa: E402

BOT_ID = 123
DEFAULT_CONFIGS = ("sync:5x1", "gthread:2x4", "gthread:4x4", "gthread:4x8")
LIST_PATH = f"/api/v1/tracking/{BOT_ID}?page=1&page_size=50"


class DelayingProxy:
    """A TCP proxy, in a thread of its own, that holds each chunk PostgreSQL sends back for `delay` seconds: the
    database one network hop away, as in production, rather than on this machine's loopback."""

    def __init__(self, target, delay):
        self.port = free_port()
        self.target, self.delay = target, delay
        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(asyncio.start_server(self._connect, "127.0.0.1", self.port), loop).result()

    async def _connect(self, client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection(*self.target)
        await asyncio.gather(self._pipe(client_reader, server_writer, 0),
                             self._pipe(server_reader, client_writer, self.delay))

    @staticmethod
    async def _pipe(reader, writer, delay):
        while data := await reader.read(65536):
            await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
        writer.close()


def behind_latency(database_url, milliseconds):
    """The same database through a DelayingProxy (or as it is, for 0 ms)."""
    if not milliseconds:
        return database_url
    host_port = re.search(r"@([^/]+)/", database_url).group(1)
    host, port = host_port.rsplit(":", 1) if ":" in host_port else (host_port, "5432")
    proxy = DelayingProxy((host, int(port)), milliseconds / 1000)
    return database_url.replace(f"@{host_port}/", f"@127.0.0.1:{proxy.port}/")


def seed(database_url, parcels):
    """A migrated database with one bot, its key and `parcels` tracking numbers over 8 clients."""
    app = make_migrated_app(database_url)
    tenant = make_tenant(app, BOT_ID, "Bench Cargo", "@bench_cargo_bot")
    for number in range(parcels):
        make_tracking(app, BOT_ID, tracking_number=f"BENCH{number:08d}", client_code=f"CLIENT{number % 8}")
    return app.config["API_KEY_PEPPER"], tenant.key


def wrk(url, key, duration, connections):
    """wrk's requests/s, median and 99th percentile latency, and non-2xx count for one URL."""
    output = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-H", f"X-API-Key: {key}",
                             url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50, p99 = (re.search(rf"\s{percent}%\s+(\S+)", output).group(1) for percent in (50, 99))
    failures = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return rps, p50, p99, int(failures.group(1)) if failures else 0


def measure(config, settings, key, args, directory):
    """{target: wrk's figures} for gunicorn alone and through nginx, both started afresh for this configuration."""
    worker_class, sizes = config.split(":")
    workers, threads = sizes.split("x")
    env = clean_env(**settings, GUNICORN_WORKER_CLASS=worker_class, GUNICORN_THREADS=threads)
    (directory / "gunicorn").mkdir()
    (directory / "nginx").mkdir()
    gunicorn = Gunicorn(directory / "gunicorn", env, int(workers), "-c", str(GUNICORN_CONF))
    try:
        nginx = Nginx(directory / "nginx", [gunicorn.port])
        try:
            return {target: wrk(server.url + LIST_PATH, key, args.duration, args.connections)
                    for target, server in (("gunicorn alone", gunicorn), ("through nginx", nginx))}
        finally:
            nginx.stop()
    finally:
        gunicorn.stop()


def best_of_rounds(settings, key, args):
    """Configurations take turns; each keeps its best round (the one the neighbours disturbed least)."""
    best = {}
    for round_number in range(1, args.rounds + 1):
        for config in args.configs:
            with tempfile.TemporaryDirectory() as directory:
                for target, result in measure(config, settings, key, args, Path(directory)).items():
                    print(f"round {round_number}: {config} {target}: {result[0]:.0f} req/s", file=sys.stderr)
                    if (config, target) not in best or result[0] > best[config, target][0]:
                        best[config, target] = result
    return best


def print_table(best, args):
    print(f"GET {LIST_PATH} ({args.parcels} parcels), wrk -t2 -c{args.connections} -d{args.duration}s, "
          f"{os.cpu_count()} CPUs, {args.db_latency_ms:g} ms added per PostgreSQL answer; best of {args.rounds} rounds")
    print(f"{'gunicorn':14} {'target':16} {'req/s':>8} {'p50':>9} {'p99':>9} {'non-2xx':>8}")
    for (config, target), (rps, p50, p99, failures) in best.items():
        print(f"{config:14} {target:16} {rps:8.0f} {p50:>9} {p99:>9} {failures:8d}")


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS, help="CLASS:WORKERSxTHREADS ...")
    parser.add_argument("--duration", type=int, default=5, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=3, help="configurations take turns; each reports its best")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--parcels", type=int, default=500)
    parser.add_argument("--db-latency-ms", type=float, default=0, help="added to every PostgreSQL answer")
    parser.add_argument("--redis-url", default=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    return parser.parse_args()


def main():
    args = parse_arguments()
    if not (shutil.which("wrk") and nginx_binary()):
        sys.exit("needs wrk and nginx: apt-get install --no-install-recommends wrk nginx-light")
    database_url = fresh_postgres_database("tracker_api_bench")
    pepper, key = seed(database_url, args.parcels)
    flush_redis = redis.Redis.from_url(args.redis_url).flushdb
    flush_redis()
    settings = {"TRACKER_ENV": "production", "DATABASE_URL": behind_latency(database_url, args.db_latency_ms),
                "REDIS_URL": args.redis_url, "API_KEY_PEPPER": pepper, "TRUSTED_PROXIES": 1,
                "WEBHOOK_SECRET_KEYS": DEVELOPMENT_WEBHOOK_SECRET_KEY,
                "RATE_LIMIT_PER_MINUTE": 10**9}
    best = best_of_rounds(settings, key, args)
    flush_redis()
    print_table(best, args)


if __name__ == "__main__":
    main()
