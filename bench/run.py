"""`make bench`: the API at scale beside the peers and against the floor, every scenario for a big and a small bot,
in one run.

    .venv/bin/python bench/run.py [--scale 1] [--duration 15] [--warmup 3] [--rounds 3] [--sequential 5]
                                  [--regenerate] [--soak-minutes 5]

1. Data (bench/bigdata.py) in the PostgreSQL database --database (default tracker_api_bench_big): migrated
   with `flask db upgrade`, then generated unless it already holds the right counts for --scale.
2. Two gunicorn servers with docker/gunicorn.conf.py (the same worker class, workers and threads): the app in
   production mode (REDIS_URL, rate limiting and the JSON request log on, the log to a file), and
   ../shared/bench/floor_app.py on the same database.
3. wrk -t2 -c32 for each scenario after a warm-up; the figures come from a Lua `done` callback as JSON.
   The floor is measured before and after the app's scenarios; ratios use the better of the two sittings.
4. Then bench/stack_floor_app.py (the floor's work with each part of the fixed stack added in turn, and two
   write floors) under the same config: what the stack costs before the API's own code.
5. Between the app's reads and its writes, the peers of ../shared/bench/peers (bench/peers.py: FastAPI, DRF,
   flask-smorest the docs' way) under gunicorn sized as the API, on their own database of the same shape
   (floor_data.sql at the same scale), and the API beside them: --rounds rounds, each running every compared
   scenario (bench/rounds.py) on every system once, in a rotating order, under the same wrk load and then on one
   connection; medians over the rounds.
6. The tables printed and written to bench/results/latest.md: the comparison with issue 21's targets, then the
   API-only rows against the floor (issue 7's ratio targets retired: shown for information, no verdict).

Writes (create, status update) go to both bots (the comparison's to a third) and are undone afterwards
(bigdata.clean_writes, peers.clean_writes). Not a test:
the machine is shared, so read ratios from one run, and the load average the table reports beside them.
"""
import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent / "tests"), str(BENCH.parent), str(BENCH)]

import bigdata  # noqa: E402
import psycopg  # noqa: E402
import redis  # noqa: E402
import requests  # noqa: E402
import peers  # noqa: E402
import rounds  # noqa: E402
import stack_floor_app  # noqa: E402
from config import DEVELOPMENT_WEBHOOK_SECRET_KEY  # noqa: E402
from rounds import markdown_table  # noqa: E402
from servers import (GUNICORN, GUNICORN_CONF, Gunicorn, clean_env, free_port, run_flask,  # noqa: E402
                     stop_process, worker_pids)
from tracker_api.serialization.cursors import encode_cursor  # noqa: E402

LUA = BENCH / "lua"
FLOOR_APP = BENCH.parent.parent / "shared" / "bench" / "floor_app:app"  # gunicorn runs floor_app.py's app
PEERS_DIR = BENCH.parent.parent / "shared" / "bench" / "peers"
STACK_FLOOR_APP = BENCH / "stack_floor_app:create_app()"
RESULTS = BENCH / "results" / "latest.md"
API = "/api/v1"
PEPPER = "bench-pepper-not-secret"
KEY_LIMIT = 1_000_000  # requests per minute: the most `flask keys create --rate-limit` takes, far above wrk's rate


# --- servers ------------------------------------------------------------------------------------------------

def gunicorn_workers():
    """What docker/gunicorn.conf.py would choose, passed to every server so they are sized alike."""
    return int(os.environ.get("GUNICORN_WORKERS") or 2 * len(os.sched_getaffinity(0)))


def gunicorn_threads():
    """docker/gunicorn.conf.py's threads, given to the threaded peers too."""
    return int(os.environ.get("GUNICORN_THREADS") or 4)


def app_env(args, database_url):
    return clean_env(TRACKER_ENV="production", DATABASE_URL=database_url, REDIS_URL=args.redis_url,
                     API_KEY_PEPPER=PEPPER, WEBHOOK_SECRET_KEYS=DEVELOPMENT_WEBHOOK_SECRET_KEY)


class FloorServer:
    """A floor app (floor_app.py, or stack_floor_app.py) under gunicorn with the production config file, reading
    the bench database."""

    def __init__(self, directory, workers, app_spec, env, name="floor"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with open(directory / f"{name}.out", "w") as out, open(directory / f"{name}.err", "w") as err:
            self.process = subprocess.Popen(
                [str(GUNICORN), "-c", str(GUNICORN_CONF), "--workers", str(workers), "--bind",
                 f"127.0.0.1:{self.port}", "--chdir", str(app_spec.parent), app_spec.name],
                env=clean_env(**env), stdout=out, stderr=err)
        self._wait_until_serving(name)

    def _wait_until_serving(self, name, timeout=40):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/hello", timeout=2).ok:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{name} did not start")

    def stop(self):
        stop_process(self.process)


def flask_or_fail(env, *args):
    """What `flask --app wsgi ARGS` printed; a RuntimeError quoting the end of its output when it fails."""
    result = run_flask(*args, env=env, timeout=600)
    if result.returncode:
        raise RuntimeError(f"flask {' '.join(map(str, args))} failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result.stdout


def create_key(env, bot_id):
    """A benchmark key for the bot, issued by the operator CLI with a limit wrk never reaches."""
    output = flask_or_fail(env, "keys", "create", "--bot-id", bot_id, "--name", "bench", "--rate-limit", KEY_LIMIT,
                           "--json")
    return json.loads(output)["key"]


# --- memory -------------------------------------------------------------------------------------------------

def workers_rss_mib(master_pid):
    """{pid: resident MiB} of a gunicorn master's workers, from /proc."""
    sizes = {}
    for pid in worker_pids(master_pid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:  # replaced by max_requests while we looked
            continue
        kib = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), None)
        if kib is not None:  # None: an exiting worker (a zombie has no memory left to report)
            sizes[pid] = kib / 1024
    return sizes


class MemorySampler:
    """The app workers' RSS every `interval` seconds in a thread, plus on demand (start, end)."""

    def __init__(self, master_pid, interval=30):
        self.master_pid, self.interval = master_pid, interval
        self.started = time.monotonic()
        self.samples = []
        self._stop = threading.Event()
        self.sample("start")
        threading.Thread(target=self._run, daemon=True).start()

    def sample(self, label=""):
        sizes = workers_rss_mib(self.master_pid)
        self.samples.append((time.monotonic() - self.started, sum(sizes.values()), sorted(sizes.values()), label))

    def _run(self):
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self):
        self._stop.set()
        self.sample("end")

    def curve(self, since=0.0):
        return [s for s in self.samples if s[0] >= since]


# --- wrk ----------------------------------------------------------------------------------------------------

@dataclass
class Scenario:
    name: str
    bot: str  # "big" or "small"
    script: str  # bench/lua/<script>.lua
    path: str
    floor: str  # "page" or "hello"
    target: str  # "read", "get", "write" (a ratio to the floor) or "deep" (p50 under 100 ms)
    env: dict = field(default_factory=dict)
    note: str = ""


def wrk(url, script, duration, connections, env, timeout=30, threads=2):
    """wrk's figures for one run, from the JSON line report.lua's `done` prints."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", f"--timeout={timeout}s", "-s",
               str(LUA / f"{script}.lua"), url]
    output = subprocess.run(command, capture_output=True, text=True, check=True,
                            env={**os.environ, "BENCH_LUA_DIR": str(LUA), **env}).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH_JSON "))
    return json.loads(line.split(" ", 1)[1])


def load_average():
    return float(Path("/proc/loadavg").read_text().split()[0])


def measure(server_url, scenario, args):
    """Warm-up, then the measured run; figures with the load average at its end."""
    url = server_url + scenario.path
    if args.warmup:
        wrk(url, scenario.script, args.warmup, args.connections, {**scenario.env, "BENCH_PHASE": "warmup"})
    figures = wrk(url, scenario.script, args.duration, args.connections, {**scenario.env, "BENCH_PHASE": "run"})
    figures["load"] = load_average()
    return figures


def check_answers(server_url, scenario):
    """One request by hand before wrk: a scenario that answers 4xx would measure error pages, not the API."""
    if scenario.script not in ("get", "by_id"):
        return
    path = scenario.path
    if scenario.script == "by_id":
        path = scenario.env["BENCH_PREFIX"] + Path(scenario.env["BENCH_IDS"]).read_text().split()[0]
    answer = requests.get(server_url + path, headers={"X-API-Key": scenario.env.get("BENCH_KEY", "")}, timeout=60)
    if answer.status_code != 200:
        raise RuntimeError(f"{scenario.name} ({scenario.bot}): {path} answered {answer.status_code}: "
                           f"{answer.text[:300]}")


# --- scenarios ----------------------------------------------------------------------------------------------

def ids_file(directory, facts):
    path = directory / f"ids_{facts.bot_id}.txt"
    path.write_text("\n".join(map(str, facts.ids)) + "\n")
    return str(path)


def read_scenarios(label, facts, key, directory):
    """The GETs of one bot; the deep page is page 10,000, or the bot's last page when it has fewer."""
    bot, env = facts.bot_id, {"BENCH_KEY": key}
    tracking = f"{API}/tracking/{bot}"
    deep_page = min(10_000, facts.last_page)
    deep_note = "" if deep_page == 10_000 else f"page {deep_page} is the bot's last (it has {facts.last_page})"
    by_id_env = {**env, "BENCH_IDS": ids_file(directory, facts), "BENCH_PREFIX": f"{tracking}/"}
    return [
        Scenario("list page 1", label, "get", f"{tracking}?page=1&page_size=50", "page", "read", env),
        Scenario("list status_filter", label, "get", f"{tracking}?status_filter=in_transit&page_size=50", "page",
                 "read", env),
        Scenario("list client_code", label, "get", f"{tracking}?client_code={facts.client_code}&page_size=50",
                 "page", "read", env),
        Scenario("list page 100", label, "get", f"{tracking}?page=100&page_size=50", "page", "read", env),
        Scenario(f"list page {deep_page:,}", label, "get", f"{tracking}?page={deep_page}&page_size=50", "page",
                 "deep", env, deep_note),
        Scenario("cursor page (deep)", label, "get",
                 f"{tracking}?cursor={encode_cursor('tracking', facts.cursor_after)}&page_size=50", "page", "read",
                 env, f"after change {facts.cursor_after:,}"),
        Scenario("get by id", label, "by_id", "", "hello", "get", by_id_env),
        Scenario("statistics overview", label, "get", f"{API}/statistics/{bot}/overview", "page", "read", env),
        Scenario("tracking statistics", label, "get", f"{API}/statistics/{bot}/tracking", "page", "read", env),
    ]


def write_scenarios(label, facts, key, directory, run_id):
    bot, env = facts.bot_id, {"BENCH_KEY": key}
    tracking = f"{API}/tracking/{bot}"
    return [
        Scenario("create", label, "create", tracking, "page", "write",
                 {**env, "BENCH_RUN": f"BENCH-{run_id}-{bot}", "BENCH_PATH": tracking,
                  "BENCH_CLIENT": facts.client_code}),
        Scenario("status update", label, "update", "", "page", "write",
                 {**env, "BENCH_IDS": ids_file(directory, facts), "BENCH_PREFIX": f"{tracking}/"}),
    ]


def floor_scenarios(bots):
    """The floor's figures each app scenario is compared with: /page/<bot> per bot, and /hello."""
    pages = {(label, "page"): Scenario("floor /page", label, "get", f"/page/{facts.bot_id}", "", "")
             for label, facts in bots.items()}
    return pages | {("any", "hello"): Scenario("floor /hello", "", "get", "/hello", "", "")}


def measure_floor(floor, scenarios, args):
    results = {}
    for name, scenario in scenarios.items():
        results[name] = measure(floor.url, scenario, args)
        print(f"  {scenario.name} {scenario.bot}: {results[name]['rps']:.0f} req/s", file=sys.stderr)
    return results


# --- the stack's own floor -----------------------------------------------------------------------------------

# stack_floor_app.py's layers, each adding one part of the fixed stack to the one before (its docstring says how).
STACK_LAYERS = [
    ("sa", "Flask-SQLAlchemy: the floor's query as a Core select through `db.session`"),
    ("rl", "+ Flask-Limiter: one fixed-window hit counted in Redis"),
    ("key", "+ the presented key looked up in Redis on every request (one HGET)"),
    ("sm", "+ flask-smorest: query arguments and the answer through marshmallow schemas"),
]


# Its two write floors, in raw psycopg (compared with the floor's /page, as create and status update are).
STACK_WRITES = [
    ("free", "one row inserted and committed"),
    ("ordered", "+ numbered by the bot's change counter (its row locked until the commit, as the API's writes)"),
]


def stack_scenarios(facts, key, directory):
    env = {"BENCH_KEY": key}
    for layer, _ in STACK_LAYERS:
        yield (layer, "page"), Scenario(f"stack {layer} page", "big", "get", f"/{layer}/page/{facts.bot_id}", "page",
                                        "read", env)
        yield (layer, "item"), Scenario(f"stack {layer} get by id", "big", "by_id", "", "hello", "get",
                                        {**env, "BENCH_IDS": ids_file(directory, facts),
                                         "BENCH_PREFIX": f"/{layer}/item/{facts.bot_id}/"})
    for kind, _ in STACK_WRITES:
        path = f"/write/{kind}/{facts.bot_id}"
        yield (kind, "write"), Scenario(f"stack write {kind}", "big", "create", path, "page", "write",
                                        {**env, "BENCH_RUN": f"STACK-{kind}", "BENCH_PATH": path, "BENCH_CLIENT": "-"})


def measure_stack_floor(directory, database_url, facts, key, args):
    """Every layer of stack_floor_app.py on the big bot: its page (against /page) and get by id (against /hello)."""
    stack_floor_app.register_key(key, facts.bot_id, args.redis_url)
    stack_floor_app.create_write_tables(database_url, [facts.bot_id])
    server = FloorServer(directory, gunicorn_workers(), STACK_FLOOR_APP,
                         {"STACK_FLOOR_DSN": database_url, "REDIS_URL": args.redis_url}, "stack_floor")
    try:
        results = {}
        for name, scenario in stack_scenarios(facts, key, directory):
            check_answers(server.url, scenario)
            results[name] = measure(server.url, scenario, args)
            print(f"  {scenario.name}: {results[name]['rps']:.0f} req/s", file=sys.stderr)
        return results
    finally:
        server.stop()
        stack_floor_app.drop_write_tables(database_url)


def stack_floor_text(stack, floor, results):
    """The layers' table, with the API's own list page 1 and get by id of the big bot below them."""
    if not stack:
        return ""
    page_floor, hello_floor = floor[("big", "page")]["rps"], floor[("any", "hello")]["rps"]
    rows = [[f"`/{layer}`", adds, f"{stack[(layer, 'page')]['rps']:.0f}",
             f"{stack[(layer, 'page')]['rps'] / page_floor:.2f}", f"{stack[(layer, 'item')]['rps']:.0f}",
             f"{stack[(layer, 'item')]['rps'] / hello_floor:.2f}"] for layer, adds in STACK_LAYERS]
    api = {scenario.name: figures["rps"] for scenario, figures in results if scenario.bot == "big"}
    if "list page 1" in api and "get by id" in api:
        rows.append(["the API", "everything: auth, limits, audit, metrics, ETag, request log",
                     f"{api['list page 1']:.0f}", f"{api['list page 1'] / page_floor:.2f}", f"{api['get by id']:.0f}",
                     f"{api['get by id'] / hello_floor:.2f}"])
    header = ["layer", "adds", "page req/s", "÷ floor /page", "get by id req/s", "÷ floor /hello"]
    write_rows = [[f"`/write/{kind}`", adds, f"{stack[(kind, 'write')]['rps']:.0f}",
                   f"{stack[(kind, 'write')]['rps'] / page_floor:.2f}"] for kind, adds in STACK_WRITES]
    if "create" in api:
        write_rows.append(["the API's create", "everything (history, totals, outbox, auth, limits, ...)",
                           f"{api['create']:.0f}", f"{api['create'] / page_floor:.2f}"])
    return "\n".join([
        "The fixed stack's own floor (bench/stack_floor_app.py; big bot; the floor figures above, the same run):",
        "", markdown_table(header, rows), "",
        "Writes of one bot, in raw psycopg (durable commits; the same run):", "",
        markdown_table(["floor", "does", "req/s", "÷ floor /page"], write_rows)])


# --- the peers beside the API (issue 21) ----------------------------------------------------------------------

# A create's fields after client_code: what every peer's contract and the API both take.
COMPARED_CREATE_FIELDS = '"weight_kg": 2.5, "total_cost_usd": 8.75'


@dataclass
class Contestant:
    """A system of the comparison: its scenarios by rounds.COMPARED key, and `serve()`, a context manager that
    gives the URL it serves at. A peer is started for each run and stopped after it, so that the idle peers' pools
    and the one under load do not take PostgreSQL past its max_connections together (bench/README.md)."""

    name: str
    scenarios: dict
    serve: object


def compared_scenarios(system, bot_ids, keys, ids, client_code, directory, run_id):
    """rounds.COMPARED for one system; `bot_ids`, `keys` and `ids` by role ("small", "big", "write"). A create's
    numbers start with the system's name and the run's time, so that no round, phase or system repeats one."""
    scenarios = {}
    for compared in rounds.COMPARED:
        bot = bot_ids[compared.bot]
        tracking = f"{API}/tracking/{bot}"
        env = {"BENCH_KEY": keys[compared.bot]}
        path = f"{tracking}?page=1&page_size=50" if compared.script == "get" else tracking
        if compared.script == "create":
            env |= {"BENCH_RUN": f"CMP{run_id}-{system}", "BENCH_PATH": tracking, "BENCH_CLIENT": client_code,
                    "BENCH_FIELDS": COMPARED_CREATE_FIELDS}
        elif compared.script in ("by_id", "update"):
            ids_path = directory / f"ids_{system}_{bot}.txt"
            ids_path.write_text("\n".join(map(str, ids[compared.bot])) + "\n")
            env |= {"BENCH_IDS": str(ids_path), "BENCH_PREFIX": f"{tracking}/"}
            path = ""
        scenarios[compared.key] = Scenario(compared.name, compared.bot, compared.script, path, "", "", env)
    return scenarios


def check_compared(server_url, scenario):
    """One request of the scenario by hand, writes too: a system answering 4xx would be measured on its error
    pages (and a peer that refused the create's fields would look fast)."""
    env = scenario.env
    headers = {"X-API-Key": env["BENCH_KEY"]}
    if scenario.script == "create":
        body = json.loads(f'{{"tracking_number": "{env["BENCH_RUN"]}-check", "client_code": "{env["BENCH_CLIENT"]}", '
                          f'{env["BENCH_FIELDS"]}}}')
        answer, expected = requests.post(server_url + env["BENCH_PATH"], json=body, headers=headers, timeout=60), 201
    elif scenario.script == "update":
        path = env["BENCH_PREFIX"] + Path(env["BENCH_IDS"]).read_text().split()[0]
        answer, expected = requests.put(server_url + path, json={"status": "in_transit"}, headers=headers,
                                        timeout=60), 200
    else:
        path = scenario.path or env["BENCH_PREFIX"] + Path(env["BENCH_IDS"]).read_text().split()[0]
        answer, expected = requests.get(server_url + path, headers=headers, timeout=60), 200
    if answer.status_code != expected or (scenario.script == "get" and not full_page(answer.json())):
        raise RuntimeError(f"{scenario.name} ({scenario.bot}) at {server_url}: answered {answer.status_code} "
                           f"{answer.text[:300]}")


def compared_keys(args):
    return [compared.key for compared in rounds.COMPARED
            if chosen(Scenario(compared.name, compared.bot, "", "", "", ""), args)]


def run_once(contestant, key, round_index, args):
    """One scenario on one system: the wrk load after its warm-up, then (--sequential) one connection. A create's
    numbers name the round too, so that no round repeats one."""
    scenario = contestant.scenarios[key]
    if "BENCH_RUN" in scenario.env:
        scenario = replace(scenario, env={**scenario.env, "BENCH_RUN": f"{scenario.env['BENCH_RUN']}-r{round_index}"})
    with contestant.serve() as url:
        figures = measure(url, scenario, args)
        one = None
        if args.sequential:
            one = wrk(url + scenario.path, scenario.script, args.sequential, 1, {**scenario.env, "BENCH_PHASE": "seq"},
                      threads=1)
            one["load"] = load_average()
    print(f"  round {round_index + 1} {key} {contestant.name}: {figures['rps']:.0f} req/s, p50 "
          f"{figures['p50_ms']:.1f} ms" + (f"; one connection p50 {one['p50_ms']:.1f} ms" if one else ""),
          file=sys.stderr)
    return figures, one


def full_page(body):
    """A list answer of the shared contract holding as many rows as the page can: every system reads the rows."""
    rows, total = body.get("tracking_numbers"), body.get("total")
    return isinstance(rows, list) and isinstance(total, int) and len(rows) == min(50, total) > 0


def run_compared(contestants, args):
    """Every system checked by hand, then rounds.schedule's runs; {"loaded"/"sequential": {(key, system): [figures
    per round]}, "names": the systems}."""
    keys = compared_keys(args)
    by_name = {contestant.name: contestant for contestant in contestants}
    for contestant in contestants:
        with contestant.serve() as url:
            for key in keys:
                if key in contestant.scenarios:
                    check_compared(url, contestant.scenarios[key])
    runs = [(round_index, key, name) for round_index, key, name in rounds.schedule(list(by_name), keys, args.rounds)
            if key in by_name[name].scenarios]  # the stack's floor runs get by id only
    minutes = rounds.estimated_seconds(args.rounds, len(runs) // args.rounds, args.warmup, args.duration,
                                       args.sequential) / 60
    print(f"comparison: {len(contestants)} systems, {len(keys)} scenarios, {args.rounds} rounds: about "
          f"{minutes:.0f} min and the servers' start-ups", file=sys.stderr)
    loaded, sequential = {}, {}
    for round_index, key, name in runs:
        figures, one = run_once(by_name[name], key, round_index, args)
        loaded.setdefault((key, name), []).append(figures)
        if one:
            sequential.setdefault((key, name), []).append(one)
    return {"loaded": loaded, "sequential": sequential, "names": list(by_name)}


def measure_compared(app, bots, keys, peer_setup, directory, args, database_url):
    """The API (running all along) and the peers (each started for its runs), in rounds."""
    workers, threads = gunicorn_workers(), gunicorn_threads()
    run_id = datetime.now().strftime("%Y%m%d%H%M%S")
    bot_ids = {role: facts.bot_id for role, facts in bots.items()}
    client_code = bots["write"].client_code
    contestants = [Contestant(rounds.API, compared_scenarios(
        rounds.API, bot_ids, keys, {role: facts.ids for role, facts in bots.items()}, client_code, directory,
        run_id), lambda: contextlib.nullcontext(app.url))]
    probe = (f"{API}/tracking/{bot_ids['small']}?page_size=1", peer_setup["keys"]["small"])

    def peer_server(peer):
        return lambda: peers.PeerServer(peer, args.peers_venv, args.peers_dir, directory, workers, threads,
                                        peer_setup["url"], args.peer_redis_url, probe)

    for peer in peers.PEERS:
        contestants.append(Contestant(peer.name, compared_scenarios(
            peer.name, bot_ids, peer_setup["keys"], peer_setup["ids"], client_code, directory, run_id),
            started_for_each_run(peer_server(peer))))
    if "get" in compared_keys(args):
        contestants.append(floor_contestant(contestants[0].scenarios["get"], bot_ids["small"], keys["small"],
                                            directory, database_url, args))
    return run_compared(contestants, args)


def floor_contestant(api_get_by_id, bot_id, key, directory, database_url, args):
    """bench/stack_floor_app.py's /sm in the comparison, in get by id only: the API's own rows, with the API's key
    (registered where the floor reads keys), started for each run as a peer is."""
    stack_floor_app.register_key(key, bot_id, args.redis_url)
    get_by_id = replace(api_get_by_id, env={**api_get_by_id.env, "BENCH_PREFIX": f"/sm/item/{bot_id}/"})
    return Contestant(rounds.FLOOR.name, {"get": get_by_id}, started_for_each_run(lambda: FloorServer(
        directory, gunicorn_workers(), STACK_FLOOR_APP, {"STACK_FLOOR_DSN": database_url, "REDIS_URL": args.redis_url},
        "stack_floor_compared")))


def started_for_each_run(start):
    """A Contestant's `serve`: the server `start()` returns, for one run, stopped after it (a peer's, the floor's)."""
    @contextlib.contextmanager
    def serve():
        server = start()
        try:
            yield server.url
        finally:
            server.stop()
    return serve


def prepare_peers(args, bots):
    """The peers' database at the bench's scale, a key per bot and their ids to pick from (by role)."""
    url, text = peers.prepare_data(args.admin_url, args.peer_database, bigdata.Scale.of(args.scale), args.peers_dir,
                                   regenerate=args.regenerate)
    print(text, file=sys.stderr)
    with psycopg.connect(url, autocommit=True) as conn:
        by_bot = peers.issue_keys(conn, sorted({facts.bot_id for facts in bots.values()}))
        ids = {role: peers.sample_ids(conn, facts.bot_id) for role, facts in bots.items()}
    return {"url": url, "text": text, "keys": {role: by_bot[facts.bot_id] for role, facts in bots.items()},
            "ids": ids}


def comparison_text(comparison, args, context):
    """The comparison's tables with what they were measured on."""
    if not comparison or not comparison["loaded"]:
        return ""
    names = comparison["names"]
    bots = context["bots"]
    loaded, sequential = rounds.summarise(comparison["loaded"]), rounds.summarise(comparison["sequential"])
    notes = {compared.key: f"bot {bots[compared.bot].bot_id}, {bots[compared.bot].tracking:,} rows"
             for compared in rounds.COMPARED}
    parts = [
        "## This API beside the peers (issue 21)",
        "",
        f"- {args.rounds} rounds; each runs every scenario on every system once, in an order rotated by one place "
        f"per round and scenario, so that a noisy moment hits every system alike; medians over the rounds. Every run "
        f"wrk -t2 -c{args.connections} -d{args.duration}s after a {args.warmup} s warm-up"
        + (f", then one connection (wrk -t1 -c1 -d{args.sequential}s)." if args.sequential else "."),
        f"- servers: gunicorn, {context['workers']} workers for every system: the API with docker/gunicorn.conf.py "
        f"({context['threads']} gthread threads), DRF and flask-smorest {context['threads']} gthread threads each, "
        f"FastAPI its uvicorn worker (async); the peers from {args.peers_dir} in {args.peers_venv}, rate limit "
        f"{peers.RATE_LIMIT:,}/min, counters in {args.peer_redis_url}. The API runs all along; each peer is "
        f"started for its runs and stopped after them ({context['connections']}). Get by id also runs on "
        f"bench/stack_floor_app.py's /sm (the fixed stack's floor, not a peer: one budget, the key read from Redis, "
        f"one select through marshmallow) on the API's database, started for its runs as a peer is.",
        f"- data: {context['peer_data']}: the same counts as the API's. Lists and get by id read bot "
        f"{bots['small'].bot_id} (small) and bot {bots['big'].bot_id} (big); creates and status updates write to "
        f"bot {bots['write'].bot_id} (another small bot), so that every round reads the same rows. Writes undone "
        f"afterwards: {context['peer_cleanup']}.",
        "- targets (issue 21) hold for a quiet machine; the load average of every run is in the tables per scenario.",
        "",
        "Requests per second under load (medians):",
        "",
        rounds.loaded_table(loaded, names),
    ]
    if sequential:
        parts += ["", "One connection, one request after another: p50 (medians), the latency an integrator sees:", "",
                  rounds.sequential_table(sequential, names)]
    parts += ["", "Per scenario (medians; req/s of each round in run order):", "",
              rounds.scenario_tables(loaded, names, notes)]
    if sequential:
        parts += ["", "One connection, per scenario (medians; p50 of each round in run order):", "",
                  rounds.scenario_tables(sequential, names, notes, sequential=True)]
    return "\n".join(parts)


# --- targets and table --------------------------------------------------------------------------------------

# Issue 7's ratios to the floor, retired by issue 21 (the peers are the yardstick now): shown, never judged.
RETIRED_TARGETS = {"read": "ratio ≥ 0.7", "write": "ratio ≥ 0.5", "get": "ratio ≥ 0.5 (/hello)"}


def verdict(scenario, figures, floor_rps):
    """(ratio, target text, met) for an API-only row. The ratio to the floor is for information; what is judged is
    what issue 21 keeps: page 10,000's p50 under 100 ms, every p99 within 5 × its p50, nothing but 2xx."""
    ratio = figures["rps"] / floor_rps
    ok = figures["p50_ms"] < 100 if scenario.target == "deep" else True
    tail_ok = figures["p99_ms"] <= rounds.TAIL_LIMIT * figures["p50_ms"]
    clean = figures["requests"] > 0 and figures["non_2xx"] == figures["socket_errors"] == figures["timeouts"] == 0
    kept = "p50 < 100 ms; " if scenario.target == "deep" else ""
    retired = RETIRED_TARGETS.get(scenario.target)
    text = f"{kept}p99 ≤ {rounds.TAIL_LIMIT}×p50" + (f" ({retired}: retired)" if retired else "")
    return ratio, text, rounds.yes_no(ok and tail_ok, clean)


def table_rows(results, floor):
    rows = []
    for scenario, figures in results:
        floor_figures = floor[("any", "hello") if scenario.floor == "hello" else (scenario.bot, "page")]
        ratio, target, outcome = verdict(scenario, figures, floor_figures["rps"])
        errors = figures["non_2xx"] + figures["socket_errors"] + figures["timeouts"]
        rows.append([scenario.name, scenario.bot, f"{figures['rps']:.0f}", f"{figures['p50_ms']:.1f}",
                     f"{figures['p99_ms']:.1f}", f"{floor_figures['rps']:.0f}", f"{ratio:.2f}", target, outcome,
                     str(errors), f"{figures['load']:.1f}", scenario.note])
    return rows


def memory_text(samples, title):
    if not samples:
        return ""
    lines = [f"{title}:", "", "| t (s) | workers | total RSS MiB | per worker MiB | |", "|---:|---:|---:|---|---|"]
    for elapsed, total, sizes, label in samples:
        lines.append(f"| {elapsed:.0f} | {len(sizes)} | {total:.1f} | {', '.join(f'{s:.0f}' for s in sizes)} | "
                     f"{label} |")
    return "\n".join(lines)


def machine_text():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_gib = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    return f"{os.cpu_count()} CPUs ({cpu}), {memory_gib:.0f} GiB, {platform.system()} {platform.release()}"


def report(args, context, rows, floor_sittings, memory, soak, stack_text="", comparison=""):
    """The whole result as markdown: header, the comparison with the peers, the API-only table, the floor
    sittings, the stack's floor, the memory curve(s)."""
    header = ["scenario", "bot", "req/s", "p50 ms", "p99 ms", "floor req/s", "ratio", "target", "met", "errors",
              "load", "note"]
    floor_lines = [f"- {name[1]} {name[0]}: " + ", ".join(f"{sitting[name]['rps']:.0f}" for sitting in floor_sittings)
                   + " req/s (before, after; the better is used)" for name in floor_sittings[0]]
    parts = [
        f"# make bench — {context['when']}",
        "",
        f"- machine: {machine_text()}; load average at start {context['load_start']}, at end {context['load_end']}",
        f"- data: scale {args.scale:g}: big bot {context['big'].bot_id} with {context['big'].tracking:,} tracking "
        f"numbers, small bot {context['small'].bot_id} with {context['small'].tracking:,}; {context['generation']}",
        f"- wrk -t2 -c{args.connections} -d{args.duration}s after a {args.warmup} s warm-up; gunicorn "
        f"docker/gunicorn.conf.py with {context['workers']} workers × {context['threads']} threads for app and floor",
        f"- writes: {context['cleanup']}",
        "",
        *([comparison, ""] if comparison else []),
        "## The API alone, against the floor",
        "",
        f"Issue 7's ratio targets against the floor are retired (issue 21): the ratios are for information; "
        f"\"met\" judges only page 10,000's p50 < 100 ms, p99 ≤ {rounds.TAIL_LIMIT} × p50 and no error.",
        "",
        markdown_table(header, rows),
        "",
        "Floor sittings:",
        *floor_lines,
        "",
        *([stack_text, ""] if stack_text else []),
        memory_text(memory, "App workers' memory over the scenarios"),
    ]
    if soak:
        parts += ["", soak]
    return "\n".join(parts) + "\n"


# --- soak ---------------------------------------------------------------------------------------------------

def soak(app, facts, key, directory, sampler, args):
    """--soak-minutes of the mixed script on the big bot, the memory sampled every 30 s meanwhile."""
    since = time.monotonic() - sampler.started
    sampler.sample("soak start")
    tracking = f"{API}/tracking/{facts.bot_id}"
    env = {"BENCH_KEY": key, "BENCH_IDS": ids_file(directory, facts), "BENCH_PREFIX": f"{tracking}/",
           "BENCH_LIST": tracking, "BENCH_STATS": f"{API}/statistics/{facts.bot_id}/overview"}
    figures = wrk(app.url + tracking, "mixed", round(args.soak_minutes * 60), args.connections, env)
    sampler.sample("soak end")
    curve = sampler.curve(since)
    first, last = curve[0][1], curve[-1][1]
    summary = (f"Soak: {args.soak_minutes:g} min of the mixed scenario on the big bot: {figures['rps']:.0f} req/s, "
               f"p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, errors "
               f"{figures['non_2xx'] + figures['socket_errors'] + figures['timeouts']}; workers' RSS {first:.0f} → "
               f"{last:.0f} MiB ({(last - first) / first:+.1%}); max_requests in docker/gunicorn.conf.py replaces "
               "workers as they go.")
    return summary + "\n\n" + memory_text(curve, "Memory during the soak")


# --- the run ------------------------------------------------------------------------------------------------

def prepare_data(args, env, conn_url):
    """Migrate, then generate unless the counts already match; returns a sentence on what was done."""
    bigdata.create_database_if_missing(args.admin_url, args.database, drop=args.regenerate)
    flask_or_fail(env, "db", "upgrade")
    scale = bigdata.Scale.of(args.scale)
    with psycopg.connect(conn_url, autocommit=True) as conn:
        if not args.regenerate and bigdata.current_counts(conn) == scale.expected_counts():
            return "generation skipped (the database already held these counts; --regenerate forces it)"
        print(f"generating {scale} ...", file=sys.stderr)
        seconds = bigdata.generate(conn, scale)
    started = time.monotonic()
    flask_or_fail(env, "totals", "recount")  # the rows were written by SQL, past the app's totals
    text = (f"generated in {seconds:.0f} s (INSERT ... SELECT generate_series, then VACUUM ANALYZE), totals "
            f"recounted in {time.monotonic() - started:.0f} s")
    print(text, file=sys.stderr)
    return text


def run_scenarios(server, scenarios, args):
    results = []
    for scenario in scenarios:
        check_answers(server.url, scenario)
        figures = measure(server.url, scenario, args)
        print(f"  {scenario.name} {scenario.bot}: {figures['rps']:.0f} req/s, p50 {figures['p50_ms']:.1f} ms, "
              f"p99 {figures['p99_ms']:.1f} ms, load {figures['load']:.1f}", file=sys.stderr)
        results.append((scenario, figures))
    return results


def chosen(scenario, args):
    """--only "create;list page 10,000": those scenarios (both bots' where both have it); all without it."""
    return not args.only or scenario.name in {name.strip() for name in args.only.split(";")}


def compared_chosen(args):
    return not args.no_peers and bool(compared_keys(args))


def compare_with_peers(app, bots, keys, peer_setup, directory, args, sampler, database_url):
    """The comparison (none without `peer_setup`), and the peers' database clock before it, for undoing its
    writes."""
    if not peer_setup:
        return {}, None
    sampler.sample("comparison start")
    with psycopg.connect(peer_setup["url"], autocommit=True) as conn:
        since = bigdata.database_now(conn)
        in_use, most = peers.connections(conn)
    peer_setup["connections"] = f"{in_use} of PostgreSQL's {most} connections in use as it began"
    if most - in_use < 2 * args.connections:  # a peer under load may open one per wrk connection, and idle pools
        print(f"warning: {peer_setup['connections']}: a peer under load may run out", file=sys.stderr)
    comparison = measure_compared(app, bots | {"write": peer_setup["write_facts"]}, keys, peer_setup, directory, args,
                                  database_url)
    sampler.sample("comparison end")
    return comparison, since


def measure_everything(app, floor, bots, keys, directory, args, database_url, peer_setup):
    """Floor, reads, the peers beside the API, writes, floor again (a neighbour's burst shows as two different
    floor sittings), the stack's floor, then the soak; the app's memory sampled throughout. The API-only writes
    come after every read so that each reads the generated data (the comparison writes to a bot of its own)."""
    sampler = MemorySampler(app.process.pid)
    floor_before = measure_floor(floor, floor_scenarios(bots), args)
    reads = [s for label, facts in bots.items() for s in read_scenarios(label, facts, keys[label], directory)
             if chosen(s, args)]
    results = run_scenarios(app, reads, args)
    with psycopg.connect(database_url, autocommit=True) as conn:
        writes_since = bigdata.database_now(conn)
    comparison, peer_writes_since = compare_with_peers(app, bots, keys, peer_setup, directory, args, sampler,
                                                       database_url)
    run_id = datetime.now().strftime("%Y%m%d%H%M%S")
    writes = [s for label, facts in bots.items() for s in write_scenarios(label, facts, keys[label], directory, run_id)
              if chosen(s, args)]
    results += run_scenarios(app, writes, args)
    floor_after = measure_floor(floor, floor_scenarios(bots), args)
    stack = (measure_stack_floor(directory, database_url, bots["big"], keys["big"], args)
             if chosen(Scenario("stack floor", "big", "", "", "", ""), args) else {})
    sampler.sample("scenarios done")
    memory = list(sampler.samples)
    soak_text = soak(app, bots["big"], keys["big"], directory, sampler, args) if args.soak_minutes else ""
    sampler.stop()
    return {"results": results, "floor": [floor_before, floor_after], "stack": stack, "memory": memory,
            "soak": soak_text, "writes_since": writes_since, "comparison": comparison,
            "peer_writes_since": peer_writes_since}


def undo_writes(env, database_url, since, bots):
    """Check that the writes kept every total exact, then undo them by SQL and recount the written bots' totals."""
    check = run_flask("totals", "check", env=env, timeout=600)
    verdict = "exact" if check.returncode == 0 else f"WRONG: {check.stdout.strip()[:500]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        created, restored = bigdata.clean_writes(conn, since)
    for facts in bots.values():
        flask_or_fail(env, "totals", "recount", "--bot-id", facts.bot_id)
    return (f"`flask totals check` after them: {verdict}; created rows deleted afterwards ({created:,}), updated "
            f"rows given back their generated status ({restored:,}) and the history rows the run added removed, by "
            f"SQL, then the written bots' totals recounted ({', '.join(str(facts.bot_id) for facts in bots.values())})")


def undo_peer_writes(peer_setup, since):
    if since is None:
        return "none"
    with psycopg.connect(peer_setup["url"], autocommit=True) as conn:
        created, restored = peers.clean_writes(conn, since)
    return f"{created:,} created rows deleted, {restored:,} updated rows given back floor_data.sql's status"


def write_results(path, text, context, measured):
    """The markdown table, and the raw figures beside it (.json) to compare runs without running again."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    sittings = [{f"{bot} {kind}": figures for (bot, kind), figures in sitting.items()}
                for sitting in measured["floor"]]
    path.with_suffix(".json").write_text(json.dumps(
        {"context": {**context, "big": context["big"].bot_id, "small": context["small"].bot_id,
                     "bots": {role: facts.bot_id for role, facts in context["bots"].items()}},
         "scenarios": [{"name": s.name, "bot": s.bot, **figures} for s, figures in measured["results"]],
         "floor": sittings,
         "stack": {f"{layer} {kind}": figures for (layer, kind), figures in measured["stack"].items()},
         "memory": measured["memory"], "soak": measured["soak"],
         "comparison": {mode: [{"scenario": key, "system": name, "rounds": runs} for (key, name), runs in
                               measured["comparison"].get(mode, {}).items()] for mode in ("loaded", "sequential")}},
        indent=1))


def main():
    args = parse_arguments()
    started_at, load_start = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), load_average()
    database_url = args.admin_url.rsplit("/", 1)[0] + "/" + args.database
    env = app_env(args, database_url)
    generation = prepare_data(args, env, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        bots = {"big": bigdata.bot_facts(conn, bigdata.BIG_BOT), "small": bigdata.bot_facts(conn, args.small_bot)}
        write_facts = bigdata.bot_facts(conn, args.write_bot) if compared_chosen(args) else None
    keys = {label: create_key(env, facts.bot_id) for label, facts in bots.items()}
    peer_setup = None
    if write_facts:
        keys["write"] = create_key(env, write_facts.bot_id)
        peer_setup = prepare_peers(args, bots | {"write": write_facts}) | {"write_facts": write_facts}
    redis.Redis.from_url(args.redis_url).flushdb()  # our own DB: rate-limit counters start from nothing
    directory = Path(tempfile.mkdtemp(prefix="tracker_api_bench_"))
    print(f"logs and scripts' files in {directory}", file=sys.stderr)
    workers = gunicorn_workers()
    app = Gunicorn(directory, env, workers, "-c", str(GUNICORN_CONF))
    try:
        floor = FloorServer(directory, workers, FLOOR_APP, {"FLOOR_DSN": database_url})
        try:
            measured = measure_everything(app, floor, bots, keys, directory, args, database_url, peer_setup)
        finally:
            floor.stop()
    finally:
        app.stop()
    floor_before, floor_after = measured["floor"]
    best_floor = {name: max((floor_before[name], floor_after[name]), key=lambda f: f["rps"]) for name in floor_before}
    context = {"when": started_at, "load_start": f"{load_start:.1f}", "load_end": f"{load_average():.1f}",
               "big": bots["big"], "small": bots["small"], "generation": generation, "workers": workers,
               "threads": gunicorn_threads(), "bots": bots | ({"write": write_facts} if write_facts else {}),
               "peer_data": peer_setup["text"] if peer_setup else "",
               "connections": peer_setup.get("connections", "") if peer_setup else "",
               "cleanup": undo_writes(env, database_url, measured["writes_since"],
                                      bots | ({"write": write_facts} if write_facts else {})),
               "peer_cleanup": undo_peer_writes(peer_setup, measured["peer_writes_since"]) if peer_setup else ""}
    text = report(args, context, table_rows(measured["results"], best_floor), measured["floor"], measured["memory"],
                  measured["soak"], stack_floor_text(measured["stack"], best_floor, measured["results"]),
                  comparison_text(measured["comparison"], args, context))
    write_results(args.results, text, context, measured)
    print(text)
    print(f"written to {args.results}; gunicorn logs in {directory}", file=sys.stderr)


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1 = a million tracking numbers for the big bot")
    parser.add_argument("--duration", type=int, default=15, help="seconds of wrk per scenario")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of wrk before each measured run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--regenerate", action="store_true", help="drop the database and generate it again")
    parser.add_argument("--soak-minutes", type=float, default=0, help="then the mixed scenario this long, memory "
                                                                    "sampled every 30 s")
    parser.add_argument("--only", help="scenario names separated by semicolons (default: all), e.g. "
                                           "\"list page 1;get by id\"")
    parser.add_argument("--small-bot", type=int, default=50, help="the small bot of the scenarios (2..100)")
    parser.add_argument("--write-bot", type=int, default=51, help="the small bot the comparison's writes go to")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the comparison with the peers")
    parser.add_argument("--sequential", type=int, default=5, help="seconds of one connection after each of the "
                                                                  "comparison's runs (0: none)")
    parser.add_argument("--no-peers", action="store_true", help="the API and the floor only, as before issue 21")
    parser.add_argument("--peers-dir", type=Path, default=PEERS_DIR)
    parser.add_argument("--peers-venv", type=Path, default=BENCH.parent / ".venv-peers",
                        help="the peers' virtualenv (make peers-venv)")
    parser.add_argument("--peer-database", help="default: --database + _peers")
    parser.add_argument("--peer-redis-url", help="default: --redis-url's server, DB 12")
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE", "tracker_api_bench_big"))
    parser.add_argument("--admin-url", default=os.environ.get("TEST_POSTGRES_URL",
                                                              "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the markdown table goes (and .json)")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3"))
    args = parser.parse_args()
    args.peer_database = args.peer_database or f"{args.database}_peers"
    args.peer_redis_url = args.peer_redis_url or args.redis_url.rsplit("/", 1)[0] + "/12"
    args.peers_venv = args.peers_venv.resolve()
    return args


if __name__ == "__main__":
    main()
