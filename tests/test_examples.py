"""The integrator examples that the docs quote (examples/ beyond the product document's own, which
tests/test_e2e_nginx.py runs through nginx), run as a reader runs them against the server `make run` starts:
gunicorn with one worker on an SQLite file holding the demo bot 123, rate limits in memory. Each test has a
key of its own, so a fresh budget of 60 requests a minute."""
import csv
import http.server
import io
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import pytest
import requests

from conftest import dispose_app, in_app, make_migrated_app, require_service
from servers import REPO, Gunicorn, clean_env
from tracker_api.access.keys import issue_key

pytestmark = pytest.mark.slow
EXAMPLES = REPO / "examples"
DEMO_BOT_ID = 123
MAKE_RUN_ADDRESS = "127.0.0.1:8000"  # what the docs print; the tests' server listens on a free port instead


@dataclass
class Server:
    app: object  # in-process, on the same SQLite file: keys and checks only
    gunicorn: Gunicorn

    @property
    def api_url(self):
        return self.gunicorn.url + "/api/v1"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`make run`'s server: a migrated SQLite file, the demo data, gunicorn --workers 1 --threads 8."""
    directory = tmp_path_factory.mktemp("examples")
    database_url = f"sqlite:///{directory / 'tracker_api.sqlite3'}"
    app = make_migrated_app(database_url)
    seeded = app.test_cli_runner().invoke(args=["demo", "--json"])
    assert seeded.exit_code == 0, seeded.output
    env = clean_env(DATABASE_URL=database_url, API_KEY_PEPPER=app.config["API_KEY_PEPPER"])
    gunicorn = Gunicorn(directory, env, 1, "--threads", "8")
    yield Server(app, gunicorn)
    gunicorn.stop()
    dispose_app(app)


def new_key(server, rate_limit_per_minute=None):
    return in_app(server.app, lambda: issue_key(DEMO_BOT_ID, "examples", None, rate_limit_per_minute)[1])


@pytest.fixture
def key(server):
    return new_key(server)


def example_env(api_url, key, **settings):
    return clean_env(TRACKER_API_URL=api_url, TRACKER_API_KEY=key, TRACKER_BOT_ID=DEMO_BOT_ID, **settings)


def run(command, env, timeout=30):
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def require_program(name, hint):
    if not shutil.which(name):
        require_service(f"{name} is not installed ({hint}; `make e2e-deps` installs it)")


def interpreter(example):
    suffix = example.rsplit(".", 1)[1]
    program, hint = {"py": (sys.executable, "the virtualenv"), "js": ("node", "Node 18+ for fetch"),
                     "php": ("php", "Debian: php-cli php-curl"), "sh": ("bash", "bash")}[suffix]
    require_program(program, hint)
    return [program, str(EXAMPLES / example)]


# --- the first requests of the quick start (and README.md) ------------------------------------------------

def test_the_first_requests_work_as_printed_against_the_make_run_server(server, key):
    script = (EXAMPLES / "first_requests.sh").read_text().replace(MAKE_RUN_ADDRESS, server.gunicorn.url[7:])
    result = subprocess.run(["bash", "-s"], input=script, cwd=REPO, env=clean_env(KEY=key), capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert '"current_status":"pending"' in result.stdout  # the pending list
    assert '"tracking_number":"NEW123456"' in result.stdout  # created
    assert '"current_status":"in_transit"' in result.stdout  # tracking number 1 moved on
    assert '"total_clients":8' in result.stdout  # the overview of the demo bot
    assert re.search(r"^HTTP/1.1 401", result.stdout, re.M), result.stdout
    assert '"detail": "A valid API key is required in the X-API-Key header."' in result.stdout


# --- errors -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("example", ["errors.py", "errors.js"])
def test_the_errors_example_prints_the_problem_detail(server, key, example):
    result = run(interpreter(example), example_env(server.api_url, key))
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"Not found as expected: 404: Tracking number 999999999 does not exist in this bot\. "
                     r"\(request id [0-9a-f]{32}\)", result.stdout), result.stdout
    assert re.search(r"Read 5 of \d+ tracking numbers", result.stdout), result.stdout


def test_the_python_errors_example_prints_the_field_errors_of_a_422(server, key):
    result = run(interpreter("errors.py"), example_env(server.api_url, key))
    assert "Refused as expected: page_size: Must be greater than or equal to 1 and less than or equal to 100." \
        in result.stdout, result.stdout


@pytest.mark.parametrize("example", ["errors.py", "errors.js"])
def test_the_errors_example_gives_up_on_a_429_whose_wait_is_too_long(server, example):
    env = example_env(server.api_url, new_key(server, rate_limit_per_minute=1), TRACKER_MAX_WAIT=0)
    result = run(interpreter(example), env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"Error: 429: This API key's budget of 1 requests per minute is spent; retry in \d+ s\. "
                     r"\(request id [0-9a-f]{32}\)", result.stderr), result.stderr


class ThrottleFirstRequest(http.server.BaseHTTPRequestHandler):
    """In front of the live server: answers the first GET with the API's own 429 problem and Retry-After: 1
    (a real budget renews only after up to a minute), and passes every later GET through unchanged."""

    upstream = None
    throttled = []
    RELAYED = ("Content-Type", "X-Request-ID", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining",
               "X-RateLimit-Reset")

    def do_GET(self):
        if not self.throttled:
            self.throttled.append(self.path)
            body = (b'{"type": "/problems/rate-limited", "title": "Too Many Requests", "status": 429, '
                    b'"detail": "This API key\'s budget of 60 requests per minute is spent; retry in 1 s."}')
            self.answer(429, {"Content-Type": "application/problem+json", "Retry-After": "1"}, body)
            return
        response = requests.get(self.upstream + self.path, headers={"X-API-Key": self.headers["X-API-Key"]},
                                timeout=10)
        self.answer(response.status_code, {name: response.headers[name] for name in self.RELAYED
                                           if name in response.headers}, response.content)

    def answer(self, status, headers, body):
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def throttling_proxy(server):
    handler = type("Throttle", (ThrottleFirstRequest,), {"upstream": server.gunicorn.url, "throttled": []})
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{proxy.server_port}/api/v1"
    proxy.shutdown()
    proxy.server_close()


@pytest.mark.parametrize("example", ["errors.py", "errors.js"])
def test_the_errors_example_waits_out_a_429_as_long_as_retry_after_says(throttling_proxy, key, example):
    started = time.monotonic()
    result = run(interpreter(example), example_env(throttling_proxy, key))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Rate limited; retrying in 1 s" in result.stderr
    assert "Not found as expected: 404" in result.stdout and time.monotonic() - started >= 1


# --- CRM: export and upsert ----------------------------------------------------------------------------------

def test_the_export_streams_every_tracking_number_oldest_first_into_the_file(server, key, tmp_path):
    listed = requests.get(f"{server.api_url}/tracking/{DEMO_BOT_ID}", headers={"X-API-Key": key},
                          params={"page_size": 100}, timeout=10).json()
    total, by_id = listed["total"], {item["id"]: item for item in listed["tracking_numbers"]}
    path = tmp_path / "parcels.csv"
    result = run(interpreter("export.py") + [str(path)], example_env(server.api_url, key))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    ids = [int(row["id"]) for row in rows]
    assert len(rows) == total > 10 and ids == sorted(set(ids))
    for row in rows:  # the API's own values; money as exact decimals
        item = by_id[int(row["id"])]
        assert (row["tracking_number"], row["current_status"]) == (item["tracking_number"], item["current_status"])
        assert row["total_cost_usd"] == ("" if item["total_cost_usd"] is None else f"{item['total_cost_usd']:.2f}")
    assert f"Exported {total} tracking number(s) to {path} ({path.stat().st_size} bytes)" in result.stderr
    assert [entry.name for entry in tmp_path.iterdir()] == ["parcels.csv"]  # no .part left behind


def test_the_export_of_one_status_has_only_that_status(server, key, tmp_path):
    path = tmp_path / "delivered.csv"
    result = run(interpreter("export.py") + [str(path)],
                 example_env(server.api_url, key, TRACKER_STATUS_FILTER="delivered"))
    assert result.returncode == 0, result.stderr
    assert {row["current_status"] for row in csv.DictReader(io.StringIO(path.read_text(), newline=""))} == {"delivered"}


def test_the_ndjson_export_of_clients_writes_one_api_record_a_line(server, key, tmp_path):
    path = tmp_path / "clients.ndjson"
    result = run(interpreter("export.py") + [str(path)],
                 example_env(server.api_url, key, TRACKER_EXPORT="clients", TRACKER_FORMAT="ndjson"))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    listed = requests.get(f"{server.api_url}/clients/{DEMO_BOT_ID}", headers={"X-API-Key": key},
                          params={"page_size": 100}, timeout=10).json()["clients"]
    assert records == sorted(listed, key=lambda client: client["id"]) and len(records) == 8
    assert f"Exported 8 client(s) to {path}" in result.stderr


def test_a_refused_export_exits_1_with_the_problem_detail_and_leaves_no_file(server, key, tmp_path):
    path = tmp_path / "parcels.csv"
    result = run(interpreter("export.py") + [str(path)],
                 example_env(server.api_url, key, TRACKER_STATUS_FILTER="lost"))
    assert result.returncode == 1 and "status_filter: Must be one of" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_crm_upsert_creates_then_updates_the_same_tracking_number(server, key):
    command = interpreter("crm_sync.py")
    env = example_env(server.api_url, key)
    created = run([*command, "CRMUPSERT1", "pending"], env)
    updated = run([*command, "CRMUPSERT1", "in_transit"], env)
    assert created.returncode == updated.returncode == 0, created.stderr + updated.stderr
    record_id = re.search(r"^Created CRMUPSERT1 \(id (\d+)\): pending, \$35\.73$", created.stdout, re.M).group(1)
    assert f"Updated CRMUPSERT1 (id {record_id}): in_transit, $35.73" in updated.stdout


def test_the_crm_client_sync_pulls_only_what_changed_since_its_last_run(server, key, tmp_path):
    command = [*interpreter("crm_sync.py"), "--clients", str(tmp_path / "crm_clients.json")]
    env = example_env(server.api_url, key)
    api = requests.Session()
    api.headers["X-API-Key"] = key
    clients = f"{server.api_url}/clients/{DEMO_BOT_ID}"

    def sync():
        result = run(command, env)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout.strip(), json.loads((tmp_path / "crm_clients.json").read_text())["clients"]

    total = api.get(clients, params={"page_size": 1}, timeout=10).json()["total"]
    assert sync()[0] == f"{total} clients; {total} new or changed, 0 deleted since the last run"
    created = api.post(clients, json={"client_code": "CRMSYNC1"}, timeout=10).json()
    doomed = api.post(clients, json={"client_code": "CRMSYNC2"}, timeout=10).json()
    assert sync()[0] == f"{total + 2} clients; 2 new or changed, 0 deleted since the last run"
    api.patch(f"{clients}/{created['id']}", json={"name": "Renamed"}, timeout=10).raise_for_status()
    api.delete(f"{clients}/{doomed['id']}", timeout=10).raise_for_status()
    output, copy = sync()
    assert output == f"{total + 1} clients; 1 new or changed, 1 deleted since the last run"
    assert copy[str(created["id"])]["name"] == "Renamed" and str(doomed["id"]) not in copy
    listed = api.get(clients, params={"page_size": 100}, timeout=10).json()["clients"]
    assert copy == {str(client["id"]): client for client in listed}  # the copy is exactly the bot's clients
    assert sync()[0] == f"{total + 1} clients; 0 new or changed, 0 deleted since the last run"


# --- website and mobile ---------------------------------------------------------------------------------------

def test_the_parcel_history_page_lists_the_clients_parcels_escaped(server, key):
    result = run(interpreter("parcel_history.php") + ["CLIENT123"], example_env(server.api_url, key))
    assert result.returncode == 0, result.stderr
    assert "<h2>Parcels of CLIENT123 (" in result.stdout and "<td>ABC123456</td>" in result.stdout
    missing = run(interpreter("parcel_history.php") + ["<b>"], example_env(server.api_url, key))
    assert missing.returncode == 1 and "Error: client_code: Use letters, digits" in missing.stderr


def lines_until(stream, prefix):
    """Lines read from `stream` up to and including the first that starts with `prefix`."""
    lines = []
    while not lines or not lines[-1].startswith(prefix):
        line = stream.readline()
        assert line, f"the stream ended before a line starting with {prefix!r}: {lines}"
        lines.append(line)
    return lines


def test_polling_reports_a_status_change_between_rounds(server, key):
    created = requests.post(f"{server.api_url}/tracking/{DEMO_BOT_ID}", headers={"X-API-Key": key}, timeout=10,
                            json={"tracking_number": "POLL000001", "client_code": "CLIENT127"}).json()
    env = example_env(server.api_url, key, TRACKER_POLL_SECONDS=1.5, TRACKER_POLL_ROUNDS=2)
    poller = subprocess.Popen(interpreter("poll.js") + ["CLIENT127"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    first_round = lines_until(poller.stdout, "round 1:")
    requests.put(f"{server.api_url}/tracking/{DEMO_BOT_ID}/{created['id']}", headers={"X-API-Key": key},
                 json={"status": "in_transit"}, timeout=10)
    rest, errors = poller.communicate(timeout=20)
    assert poller.returncode == 0, errors
    assert "POLL000001: pending" in "".join(first_round)
    assert "POLL000001: pending -> in_transit" in rest and "round 2:" in rest


# --- the platform admin API (docs/PLATFORM_ADMIN_API.md) ---------------------------------------------------

def platform_token(server):
    from tracker_api.access.platform_tokens import issue_token
    return in_app(server.app, lambda: issue_token("examples")[1])


def test_the_platform_admin_example_walks_a_company_s_life(server):
    from tracker_api.extensions import db
    from tracker_api.models import AdminAuditEvent, ApiKey, Bot
    env = clean_env(TRACKER_ADMIN_URL=server.gunicorn.url + "/api/admin/v1",
                    TRACKER_PLATFORM_TOKEN=platform_token(server))
    command = interpreter("platform_admin.py") + ["9001", "Silk Road Cargo", "@silk_road_cargo_bot"]
    result = run(command, env)
    assert result.returncode == 0, result.stdout + result.stderr
    for line in (r"Signed up: bot 9001 \(Silk Road Cargo, trial\)", r"New API key tb_\w{6}\.\.\. \(id \d+\)",
                 r"The key works: bot 9001, scopes read, write", r"Rolled: new key tb_\w{6}\.\.\., the old one works "
                 r"until \d{4}-", r"Revoked key \d+ at \d{4}-", r"Usage today: 1 requests \(1 succeeded\), last use",
                 r"Sandbox bot \d+ with the demo data"):
        assert re.search(line, result.stdout), (line, result.stdout)

    def state():
        keys = db.session.scalars(db.select(ApiKey).where(ApiKey.bot_id == 9001).order_by(ApiKey.id)).all()
        sandbox = db.session.scalar(db.select(Bot).where(Bot.sandbox_of == 9001))
        actions = db.session.scalars(db.select(AdminAuditEvent.action).order_by(AdminAuditEvent.id)).all()
        return [(k.scopes, k.expires_at is not None, k.revoked_at is not None) for k in keys], sandbox, actions
    keys, sandbox, actions = in_app(server.app, state)
    assert keys == [("read write", True, False), ("read write", False, True)]
    assert sandbox is not None and sandbox.timezone == "UTC"
    assert actions[-5:] == ["bot.create", "key.create", "key.roll", "key.revoke", "sandbox.create"]
    again = run(command, env)
    assert again.returncode == 1 and "Error: 409: Bot 9001 already exists." in again.stderr


def test_every_admin_operation_runs_as_printed_with_curl(server):
    require_program("curl", "curl")
    script = (EXAMPLES / "platform_admin.sh").read_text().replace(MAKE_RUN_ADDRESS, server.gunicorn.url[7:])
    assert script.count("curl -sS") >= 18
    result = subprocess.run(["bash", "-s"], input=script, cwd=REPO, env=clean_env(TOKEN=platform_token(server)),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"timezone":"Asia/Almaty"' in result.stdout and '"subscription_status":"active"' in result.stdout
    assert '"scopes":["read","write","webhooks"]' in result.stdout and '"rate_limit_per_minute":120' in result.stdout
    assert '"is_sandbox":true' in result.stdout and '"action":"sandbox.reset"' in result.stdout
    assert '"webhooks":[]' in result.stdout and '"action":"key.roll"' in result.stdout
