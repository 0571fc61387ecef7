"""The operator CLI (`flask --app wsgi bots|keys|demo|security ...`): what each command prints, with and
without --json, what it stores, and that its effect reaches the API on the next request. Refusals are a
one-line `Error: ...` and a non-zero exit, never a traceback."""
import json
from datetime import timedelta

import pytest

from conftest import dispose_app, in_app, make_app_like, make_tenant, wipe
from servers import clean_env, run_flask
from tracker_api.access.keys import hash_key, is_well_formed
from tracker_api.extensions import db
from tracker_api.models import ApiKey, Client, StatusEvent, TrackingNumber
from tracker_api.models.types import utcnow
from walkthrough import DEMO_BOT_ID, DEMO_CLIENTS, DEMO_TRACKING_NUMBERS, walk_every_endpoint

BOT_KEYS = {"id", "name", "username", "is_active", "subscription_status", "timezone"}
KEY_KEYS = {"id", "bot_id", "name", "kind", "prefix", "origins", "scopes", "rate_limit_per_minute", "created_at",
            "expires_at", "revoked_at", "last_used_at", "last_used_address"}
USAGE_KEYS = {"key_id", "bot_id", "name", "prefix", "rate_limit_per_minute", "last_used_at", "last_used_address",
              "days"}
USAGE_DAY_KEYS = {"date", "total", "success", "client_error", "rate_limited", "server_error"}
DEMO_KEYS = {"bot_id", "key_id", "key", "curl"}
EVENT_KEYS = {"id", "created_at", "kind", "client_address", "key_id", "bot_id", "request_id", "detail"}


@pytest.fixture
def cli_app(app):
    """The app on both databases, with fresh in-memory counters: usage and security-event cooldowns are
    kept per key id, and ids start again at 1 after each test's wipe."""
    fresh = make_app_like(app)
    yield fresh
    dispose_app(fresh)


def run(app, *args):
    """A CLI command through app.test_cli_runner(); the result, whatever the exit code."""
    return app.test_cli_runner().invoke(args=[str(arg) for arg in args])


def run_ok(app, *args):
    result = run(app, *args)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.output


def run_json(app, *args):
    return json.loads(run_ok(app, *args, "--json"))


def assert_clean_error(result, message, exit_code=1):
    """What an operator should see for a refusal: one line naming the problem, no traceback."""
    assert result.exit_code == exit_code, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit)
    assert message in result.output and "Traceback" not in result.output


def bot_status(app, key, bot_id):
    return app.test_client().get(f"/api/v1/bots/{bot_id}", headers={"X-API-Key": key}).status_code


def stored_key(app, key_id):
    return in_app(app, lambda: db.session.get(ApiKey, key_id))


# --- bots ----------------------------------------------------------------------------------------------

def test_bots_create_prints_the_new_bot_and_bots_list_shows_it(cli_app):
    created = run_json(cli_app, "bots", "create", "--id", 123, "--name", "Demo Cargo", "--username", "@demo_bot")
    assert created == {"id": 123, "name": "Demo Cargo", "username": "@demo_bot", "is_active": True,
                       "subscription_status": "active", "timezone": "UTC"}
    trial = run_json(cli_app, "bots", "create", "--id", 7, "--name", "Trial Cargo", "--username", "@trial_bot",
                     "--subscription-status", "trial")
    assert trial["subscription_status"] == "trial"
    listed = run_json(cli_app, "bots", "list")
    assert [bot["id"] for bot in listed] == [7, 123] and listed[1] == created
    assert all(set(bot) == BOT_KEYS for bot in listed)
    table = run_ok(cli_app, "bots", "list")
    assert "subscription_status" in table.splitlines()[0] and "@trial_bot" in table and "Demo Cargo" in table


def test_bots_create_without_an_id_takes_the_one_after_the_highest(cli_app):
    run_ok(cli_app, "bots", "create", "--id", 1, "--name", "First", "--username", "@first_bot")
    second = run_json(cli_app, "bots", "create", "--name", "Second", "--username", "@second_bot")
    assert second["id"] == 2  # on PostgreSQL too, whose id sequence never saw the explicit 1
    run_ok(cli_app, "bots", "create", "--id", 123, "--name", "Demo", "--username", "@demo_bot")
    assert run_json(cli_app, "bots", "create", "--name", "Next", "--username", "@next_bot")["id"] == 124


def test_a_duplicate_bot_id_is_a_clean_error_and_keeps_the_first_bot(cli_app):
    run_ok(cli_app, "bots", "create", "--id", 5, "--name", "First", "--username", "@first_bot")
    assert_clean_error(run(cli_app, "bots", "create", "--id", 5, "--name", "Second", "--username", "@second_bot"),
                       "bot 5 already exists")
    assert [bot["name"] for bot in run_json(cli_app, "bots", "list")] == ["First"]


def test_bots_create_refuses_an_unknown_subscription_status_and_a_missing_name(cli_app):
    refused = run(cli_app, "bots", "create", "--name", "X", "--username", "@x", "--subscription-status", "gold")
    assert_clean_error(refused, "Invalid value for '--subscription-status'", exit_code=2)
    assert_clean_error(run(cli_app, "bots", "create", "--username", "@x"), "Missing option '--name'", exit_code=2)
    assert run_json(cli_app, "bots", "list") == []


# --- keys ----------------------------------------------------------------------------------------------

@pytest.fixture
def bot(cli_app):
    run_ok(cli_app, "bots", "create", "--id", 123, "--name", "Demo Cargo", "--username", "@demo_bot")
    return 123


def test_keys_create_prints_the_key_once_and_stores_only_its_hash(cli_app, bot):
    output = run_ok(cli_app, "keys", "create", "--bot-id", bot, "--name", "website")
    [plain_key] = [word for word in output.split() if word.startswith("tb_")]
    assert is_well_formed(plain_key) and "cannot be shown again" in output
    [api_key] = in_app(cli_app, lambda: db.session.scalars(db.select(ApiKey)).all())
    assert api_key.key_hash == in_app(cli_app, hash_key, plain_key) and api_key.prefix == plain_key[:9]
    stored = " ".join(str(value) for value in vars(api_key).values())
    assert plain_key not in stored and plain_key[9:] not in stored
    assert bot_status(cli_app, plain_key, bot) == 200


def test_keys_create_json_has_the_key_and_every_listed_column(cli_app, bot):
    created = run_json(cli_app, "keys", "create", "--bot-id", bot, "--name", "crm")
    assert set(created) == KEY_KEYS | {"key"}
    assert is_well_formed(created["key"]) and created["key"].startswith(created["prefix"])
    assert (created["bot_id"], created["name"]) == (bot, "crm")
    assert created["expires_at"] is None and created["revoked_at"] is None
    assert created["rate_limit_per_minute"] == cli_app.config["RATE_LIMIT_PER_MINUTE"]
    assert bot_status(cli_app, created["key"], bot) == 200


def test_keys_create_with_an_expiry_and_a_rate_limit(cli_app, bot):
    created = run_json(cli_app, "keys", "create", "--bot-id", bot, "--name", "app", "--expires-in-days", 30,
                       "--rate-limit", 7)
    api_key = stored_key(cli_app, created["id"])
    assert abs(api_key.expires_at - (utcnow() + timedelta(days=30))) < timedelta(minutes=1)
    assert created["rate_limit_per_minute"] == api_key.rate_limit_per_minute == 7
    response = cli_app.test_client().get(f"/api/v1/bots/{bot}", headers={"X-API-Key": created["key"]})
    assert response.status_code == 200 and response.headers["X-RateLimit-Limit"] == "7"


def test_keys_create_refuses_a_missing_bot_and_bad_options(cli_app, bot):
    assert_clean_error(run(cli_app, "keys", "create", "--bot-id", 999, "--name", "x"), "bot 999 does not exist")
    assert_clean_error(run(cli_app, "keys", "create", "--bot-id", bot, "--name", "x", "--expires-in-days", 0),
                       "Invalid value for '--expires-in-days'", exit_code=2)
    assert_clean_error(run(cli_app, "keys", "create", "--bot-id", bot, "--name", "x", "--rate-limit", -1),
                       "Invalid value for '--rate-limit'", exit_code=2)
    assert run_json(cli_app, "keys", "list", "--bot-id", bot) == []


def test_keys_list_shows_prefixes_and_state_but_never_a_plain_key(cli_app, bot):
    first = run_json(cli_app, "keys", "create", "--bot-id", bot, "--name", "website")
    second = run_json(cli_app, "keys", "create", "--bot-id", bot, "--name", "crm", "--rate-limit", 120)
    run_ok(cli_app, "keys", "revoke", first["id"])
    listed = run_json(cli_app, "keys", "list", "--bot-id", bot)
    assert [row["id"] for row in listed] == [first["id"], second["id"]]
    assert all(set(row) == KEY_KEYS for row in listed)
    assert listed[0]["revoked_at"] is not None and listed[1]["revoked_at"] is None
    assert [row["prefix"] for row in listed] == [first["prefix"], second["prefix"]]
    assert listed[1]["rate_limit_per_minute"] == 120
    table = run_ok(cli_app, "keys", "list", "--bot-id", bot)
    assert first["prefix"] in table and "crm" in table
    for output in (table, json.dumps(listed)):
        assert first["key"] not in output and second["key"] not in output


def test_a_revoked_key_is_refused_on_the_very_next_request(cli_app, bot):
    created = run_json(cli_app, "keys", "create", "--bot-id", bot, "--name", "website")
    assert bot_status(cli_app, created["key"], bot) == 200
    revoked = run_json(cli_app, "keys", "revoke", created["id"])
    assert set(revoked) == KEY_KEYS and revoked["id"] == created["id"] and revoked["revoked_at"]
    response = cli_app.test_client().get(f"/api/v1/bots/{bot}", headers={"X-API-Key": created["key"]})
    assert response.status_code == 401 and response.content_type == "application/problem+json"
    assert run_json(cli_app, "keys", "revoke", created["id"])["revoked_at"] == revoked["revoked_at"]  # first time kept
    assert_clean_error(run(cli_app, "keys", "revoke", 999), "key 999 does not exist")


def test_set_limit_changes_the_budget_of_the_next_request_and_default_restores_it(cli_app, bot):
    created = run_json(cli_app, "keys", "create", "--bot-id", bot, "--name", "website")

    def limit_header():
        response = cli_app.test_client().get(f"/api/v1/bots/{bot}", headers={"X-API-Key": created["key"]})
        return response.headers["X-RateLimit-Limit"]

    limited = run_json(cli_app, "keys", "set-limit", created["id"], 3)
    assert set(limited) == KEY_KEYS and limited["rate_limit_per_minute"] == 3
    assert limit_header() == "3"
    restored = run_json(cli_app, "keys", "set-limit", created["id"], "--default")
    default = cli_app.config["RATE_LIMIT_PER_MINUTE"]
    assert restored["rate_limit_per_minute"] == default
    assert stored_key(cli_app, created["id"]).rate_limit_per_minute is None
    assert limit_header() == str(default)
    assert "rate_limit_per_minute" in run_ok(cli_app, "keys", "set-limit", created["id"], 10)
    assert_clean_error(run(cli_app, "keys", "set-limit", created["id"]), "give either PER_MINUTE or --default", 2)
    assert_clean_error(run(cli_app, "keys", "set-limit", created["id"], 5, "--default"), "give either", 2)
    assert_clean_error(run(cli_app, "keys", "set-limit", 999, 5), "key 999 does not exist")


def test_keys_usage_counts_the_requests_by_outcome_and_the_last_use(cli_app, bot):
    created = run_json(cli_app, "keys", "create", "--bot-id", bot, "--name", "website", "--rate-limit", 90)
    http = cli_app.test_client()
    headers = {"X-API-Key": created["key"]}
    paths = (f"/api/v1/bots/{bot}", f"/api/v1/clients/{bot}", f"/api/v1/clients/{bot}/999")
    assert [http.get(path, headers=headers).status_code for path in paths] == [200, 200, 404]
    report = run_json(cli_app, "keys", "usage", created["id"], "--days", 3)
    assert set(report) == USAGE_KEYS and report["rate_limit_per_minute"] == 90
    assert (report["key_id"], report["bot_id"], report["prefix"]) == (created["id"], bot, created["prefix"])
    assert len(report["days"]) == 3 and all(set(day) == USAGE_DAY_KEYS for day in report["days"])
    today = report["days"][0]
    assert (today["total"], today["success"], today["client_error"], today["rate_limited"]) == (3, 2, 1, 0)
    assert report["last_used_at"] and report["last_used_address"] == "127.0.0.1"
    table = run_ok(cli_app, "keys", "usage", created["id"])
    assert "90 requests per minute" in table and "from 127.0.0.1" in table and created["key"] not in table
    assert_clean_error(run(cli_app, "keys", "usage", 999), "key 999 does not exist")


# --- demo ----------------------------------------------------------------------------------------------

def demo_counts(app):
    def count(model):
        return db.session.scalar(db.select(db.func.count()).select_from(model).where(model.bot_id == DEMO_BOT_ID))
    return in_app(app, lambda: (count(Client), count(TrackingNumber), count(StatusEvent)))


def test_demo_seeds_its_data_once_and_prints_a_new_working_key_each_run(cli_app):
    first = run_json(cli_app, "demo")
    assert set(first) == DEMO_KEYS and first["bot_id"] == DEMO_BOT_ID and is_well_formed(first["key"])
    assert first["curl"] == (f'curl -H "X-API-Key: {first["key"]}" '
                             f"http://127.0.0.1:8000/api/v1/tracking/{DEMO_BOT_ID}")
    seeded = demo_counts(cli_app)
    assert seeded[:2] == (DEMO_CLIENTS, DEMO_TRACKING_NUMBERS) and seeded[2] > DEMO_TRACKING_NUMBERS

    second = run_json(cli_app, "demo", "--port", 8080)
    assert demo_counts(cli_app) == seeded
    assert second["key"] != first["key"] and second["key_id"] != first["key_id"]
    assert "http://127.0.0.1:8080/api/v1/tracking/123" in second["curl"]
    assert bot_status(cli_app, first["key"], DEMO_BOT_ID) == bot_status(cli_app, second["key"], DEMO_BOT_ID) == 200


def test_demo_prints_the_bot_the_key_and_a_curl_to_paste(cli_app):
    output = run_ok(cli_app, "demo", "--port", 8000)
    [key] = [line.split()[-1] for line in output.splitlines() if line.strip().startswith("API key:")]
    assert is_well_formed(key)
    assert f"bot id:  {DEMO_BOT_ID}" in output and f"API key: {key}" in output
    assert f'curl -H "X-API-Key: {key}" http://127.0.0.1:8000/api/v1/tracking/{DEMO_BOT_ID}' in output
    assert "http://127.0.0.1:8000/api/docs" in output


def test_demo_key_works_on_every_endpoint_with_the_demo_data(cli_app):
    key = run_json(cli_app, "demo")["key"]
    http = cli_app.test_client()

    def send(method, path, body=None):
        response = http.open(path, method=method, json=body, headers={"X-API-Key": key})
        return response.status_code, response.get_json() if response.data else None
    walk_every_endpoint(send)


def test_demo_keeps_the_history_of_every_seeded_parcel_consistent(cli_app):
    run_ok(cli_app, "demo")

    def chains():
        events = db.session.scalars(db.select(StatusEvent).order_by(StatusEvent.tracking_id, StatusEvent.id)).all()
        by_parcel = {}
        for event in events:
            by_parcel.setdefault(event.tracking_id, []).append((event.previous_status, event.status))
        current = dict(db.session.execute(db.select(TrackingNumber.id, TrackingNumber.status)).all())
        return by_parcel, current
    by_parcel, current = in_app(cli_app, chains)
    assert by_parcel.keys() == current.keys()
    for parcel, chain in by_parcel.items():
        assert chain[0][0] is None and chain[-1][1] == current[parcel]
        assert all(after[0] == before[1] for before, after in zip(chain, chain[1:]))


# --- security events -----------------------------------------------------------------------------------

def test_security_events_lists_what_happened_newest_first_and_filters_by_kind(cli_app):
    ours = make_tenant(cli_app, 123, "Demo Cargo", "@demo_bot")
    make_tenant(cli_app, 456, "Rival Cargo", "@rival_bot")
    assert run_json(cli_app, "security", "events") == []
    http = cli_app.test_client()
    assert http.get("/api/v1/tracking/456", headers=ours.headers).status_code == 403
    run_ok(cli_app, "keys", "revoke", ours.key_id)
    assert http.get("/api/v1/tracking/123", headers=ours.headers).status_code == 401

    events = run_json(cli_app, "security", "events")
    assert all(set(event) == EVENT_KEYS for event in events)
    assert [event["kind"] for event in events] == ["revoked-key", "wrong-bot"]
    wrong_bot = events[1]
    assert (wrong_bot["key_id"], wrong_bot["bot_id"], wrong_bot["client_address"]) == (ours.key_id, 123, "127.0.0.1")
    assert "asked for bot 456" in wrong_bot["detail"]
    only_wrong_bot = run_json(cli_app, "security", "events", "--kind", "wrong-bot")
    assert [event["id"] for event in only_wrong_bot] == [wrong_bot["id"]]
    assert len(run_json(cli_app, "security", "events", "--limit", 1)) == 1
    table = run_ok(cli_app, "security", "events")
    assert "wrong-bot" in table and "revoked-key" in table and ours.key not in table
    assert_clean_error(run(cli_app, "security", "events", "--kind", "nope"), "Invalid value for '--kind'", 2)


# --- the documented form: `flask --app wsgi ...` from the repository root ------------------------------

def test_the_documented_flask_command_works_from_the_repository_root(sqlite_app):
    """One real process (each costs seconds; the rest run in-process): `keys create --json`, as docs/OPERATIONS.md
    shows it, against the database that DATABASE_URL names."""
    wipe(sqlite_app)
    make_tenant(sqlite_app, 77, "Shell Cargo", "@shell_bot")
    env = clean_env(DATABASE_URL=sqlite_app.config["SQLALCHEMY_DATABASE_URI"],
                    API_KEY_PEPPER=sqlite_app.config["API_KEY_PEPPER"])
    issued = run_flask("keys", "create", "--bot-id", 77, "--name", "website", "--json", env=env)
    assert issued.returncode == 0, issued.stderr
    created = json.loads(issued.stdout)
    assert set(created) == KEY_KEYS | {"key"} and created["bot_id"] == 77
    assert bot_status(sqlite_app, created["key"], 77) == 200
