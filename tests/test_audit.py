"""The audit trail: one JSON log line per request (rejected ones too), and usage per key by outcome."""
import gc
import json
import logging
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import redis

from conftest import dispose_app, flush_test_redis, in_app, make_app_like, make_tenant
from tracker_api.access.keys import generate_plain_key, issue_key
from tracker_api.extensions import db
from tracker_api.models import ApiKey
from tracker_api.models.types import utcnow
from tracker_api.ops.request_log import JsonLineFormatter

BOT = 123
BOT_PATH = f"/api/v1/bots/{BOT}"
REPO = Path(__file__).resolve().parent.parent
USAGE_PATH = f"{BOT_PATH}/usage"
LOG_FIELDS = {"time", "logger", "event", "request_id", "method", "path", "status", "duration_ms", "client_ip",
              "user_agent", "key_id", "bot_id", "refusal", "pid"}


class JsonLines(logging.Handler):
    """Collects what the app's JSON formatter writes, parsed back."""

    def __init__(self):
        super().__init__()
        self.setFormatter(JsonLineFormatter())
        self.lines = []

    def emit(self, record):
        text = self.format(record)
        assert "\n" not in text
        self.lines.append(json.loads(text))


@pytest.fixture
def log_lines():
    handler = JsonLines()
    loggers = [logging.getLogger("tracker_api.requests"), logging.getLogger("tracker_api.security")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.lines
    for logger in loggers:
        logger.removeHandler(handler)


def request_lines(lines):
    return [line for line in lines if line["event"] == "request"]


# --- the request log --------------------------------------------------------------------------------

def test_each_request_writes_one_json_log_line_with_who_what_and_how_long(http, tenant, log_lines):
    response = http.get(BOT_PATH, headers={**tenant.headers, "User-Agent": "crm-sync/2.1",
                                           "X-Request-ID": "trace-0001-abcd"})
    assert response.status_code == 200
    [line] = request_lines(log_lines)
    assert set(line) == LOG_FIELDS
    assert line["request_id"] == "trace-0001-abcd" == response.headers["X-Request-ID"]
    assert (line["method"], line["path"], line["status"]) == ("GET", BOT_PATH, 200)
    assert (line["key_id"], line["bot_id"], line["refusal"]) == (tenant.key_id, BOT, None)
    assert line["client_ip"] == "127.0.0.1" and line["user_agent"] == "crm-sync/2.1"
    assert 0 < line["duration_ms"] < 5000
    assert line["time"].endswith("Z")


@pytest.mark.parametrize("key, refusal", [("", "missing-key"), ("tb_garbage", "malformed-key"),
                                          ("generated", "unknown-key")])
def test_a_rejected_request_is_logged_with_why_and_without_the_key(http, tenant, log_lines, key, refusal):
    presented = generate_plain_key() if key == "generated" else key
    response = http.get(f"{BOT_PATH}?page=2", headers={"X-API-Key": presented})
    assert response.status_code == 401
    [line] = request_lines(log_lines)
    assert (line["status"], line["refusal"], line["key_id"]) == (401, refusal, None)
    assert line["path"] == BOT_PATH and line["bot_id"] == BOT  # the bot it asked for
    if presented:
        assert presented not in json.dumps(log_lines)


def test_a_key_in_the_url_never_reaches_the_log(http, tenant, log_lines):
    response = http.get(BOT_PATH, query_string={"api_key": tenant.key})
    assert response.status_code == 401
    [line] = request_lines(log_lines)
    assert line["refusal"] == "key-in-url"
    assert tenant.key not in json.dumps(log_lines)


def test_refusals_after_authentication_are_logged_with_the_key_id(http, tenant, other_tenant, log_lines):
    assert http.get(f"/api/v1/bots/{other_tenant.bot_id}", headers=tenant.headers).status_code == 403
    assert http.get("/api/v1/tracking/123/999", headers=tenant.headers).status_code == 404
    wrong_bot, not_found = request_lines(log_lines)
    assert (wrong_bot["status"], wrong_bot["refusal"], wrong_bot["key_id"], wrong_bot["bot_id"]) == \
        (403, "wrong-bot", tenant.key_id, BOT)
    assert (not_found["status"], not_found["refusal"], not_found["key_id"]) == (404, None, tenant.key_id)


def test_rate_limited_requests_are_logged_as_such(limited_http, tenant, log_lines):
    for _ in range(6):
        limited_http.get(BOT_PATH, headers=tenant.headers)
    last = request_lines(log_lines)[-1]
    assert (last["status"], last["refusal"], last["key_id"]) == (429, "rate-limited", tenant.key_id)


def test_health_probes_are_not_logged_but_docs_are(http, log_lines):
    http.get("/healthz")
    http.get("/readyz")
    http.get("/api/openapi.json")
    assert [line["path"] for line in request_lines(log_lines)] == ["/api/openapi.json"]


# --- usage per key ----------------------------------------------------------------------------------

def usage_of(app, key_id, days=7):
    result = app.test_cli_runner().invoke(args=["keys", "usage", str(key_id), "--json", "--days", str(days)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_usage_counts_requests_per_day_by_outcome(limited_app, limited_http, tenant):
    limited_app.config["RATE_LIMIT_PER_MINUTE"] = 8
    for path in [BOT_PATH] * 4 + ["/api/v1/tracking/123/999", f"{USAGE_PATH}?days=0"]:  # 4 ok, a 404, a 422
        limited_http.get(path, headers=tenant.headers)
    own = limited_http.get(USAGE_PATH, headers=tenant.headers)  # the 7th request: counts the six before it
    assert own.status_code == 200
    today = own.get_json()["days"][0]
    assert today == {"date": utcnow().date().isoformat(), "total": 6, "success": 4, "client_error": 2,
                     "rate_limited": 0, "server_error": 0}
    for _ in range(3):
        limited_http.get(BOT_PATH, headers=tenant.headers)  # the 8th succeeds, then two 429s
    report = usage_of(limited_app, tenant.key_id)
    assert report["days"][0] == {"date": utcnow().date().isoformat(), "total": 10, "success": 6,
                                 "client_error": 2, "rate_limited": 2, "server_error": 0}
    assert len(report["days"]) == 7 and all(day["total"] == 0 for day in report["days"][1:])


def test_usage_shows_the_last_use_time_and_address(limited_app, limited_http, tenant):
    before = utcnow()
    limited_http.get(BOT_PATH, headers=tenant.headers, environ_base={"REMOTE_ADDR": "198.51.100.4"})
    report = usage_of(limited_app, tenant.key_id, days=1)
    assert report["last_used_address"] == "198.51.100.4"
    assert before <= datetime.fromisoformat(report["last_used_at"]) <= utcnow()
    assert report["rate_limit_per_minute"] == 5 and report["key_id"] == tenant.key_id


def test_a_key_reads_its_own_usage_and_no_other_keys(limited_app, limited_http, app, tenant):
    _, second_key = in_app(app, issue_key, BOT, "second")
    for _ in range(3):
        limited_http.get(BOT_PATH, headers={"X-API-Key": second_key})
    response = limited_http.get(USAGE_PATH, headers=tenant.headers, query_string={"days": 2})
    body = response.get_json()
    assert body["key_id"] == tenant.key_id and body["bot_id"] == BOT
    assert [day["total"] for day in body["days"]] == [0, 0]
    assert body["last_used_at"] is None and body["last_used_address"] is None


def test_the_database_learns_of_a_keys_use_at_most_once_a_minute(limited_app, limited_http, app, tenant):
    def stored_last_use():
        return db.session.get(ApiKey, tenant.key_id).last_used_at
    limited_http.get(BOT_PATH, headers=tenant.headers)
    first = in_app(app, stored_last_use)
    assert first is not None
    limited_http.get(BOT_PATH, headers=tenant.headers)
    assert in_app(app, stored_last_use) == first
    precise = usage_of(limited_app, tenant.key_id, days=1)["last_used_at"]
    assert datetime.fromisoformat(precise) > first

    def age_it():
        db.session.get(ApiKey, tenant.key_id).last_used_at = utcnow() - timedelta(minutes=2)
        db.session.commit()
    in_app(limited_app, age_it)  # through the app that shares the server's Redis, as every process does
    limited_http.get(BOT_PATH, headers=tenant.headers)
    assert in_app(app, stored_last_use) > first


def test_keys_list_shows_the_effective_limit_and_the_last_use(limited_app, limited_http, tenant):
    limited_http.get(BOT_PATH, headers=tenant.headers, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    result = limited_app.test_cli_runner().invoke(args=["keys", "list", "--bot-id", str(BOT), "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    # (With REDIS_URL unset the command reads this process's memory, which served the request.)
    assert row["rate_limit_per_minute"] == 5 and row["last_used_at"]
    assert row["last_used_address"] == "198.51.100.7"
    assert tenant.key not in result.output


def test_usage_endpoint_refuses_another_bots_key_and_validates_days(http, tenant, other_tenant):
    assert http.get(f"/api/v1/bots/{other_tenant.bot_id}/usage", headers=tenant.headers).status_code == 403
    response = http.get(USAGE_PATH, headers=tenant.headers, query_string={"days": 31})
    assert response.status_code == 422 and "days" in response.get_json()["errors"]


def test_usage_endpoint_is_documented_with_its_429(http):
    spec = http.get("/api/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/bots/{bot_id}/usage"]["get"]
    assert "usage" in operation["summary"].lower()
    assert spec["security"] == [{"ApiKeyAuth": []}]  # Swagger UI sends the authorized key with it
    assert operation["responses"]["429"] == {"$ref": "#/components/responses/RATE_LIMITED"}
    assert {"Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= \
        set(spec["components"]["responses"]["RATE_LIMITED"]["headers"])


# --- usage summed per worker, written once per interval (shared_store.RedisStore.update_hash) ---------------

def usage_in_redis(redis_url, key_id):
    day = utcnow().date().isoformat()
    return redis.Redis.from_url(redis_url, decode_responses=True).hgetall(f"tracker_api:usage:{key_id}:{day}")


def test_a_worker_sums_usage_until_its_interval_ends(app, redis_url, tenant):
    gc.collect()  # an earlier test's app left for the collector would still write its sums (same key id) now
    flush_test_redis()
    worker = make_app_like(app, REDIS_URL=redis_url, RATE_LIMIT_PER_MINUTE=1000, SHARED_STORE_FLUSH_SECONDS=600)
    try:
        client = worker.test_client()
        assert [client.get(BOT_PATH, headers=tenant.headers).status_code for _ in range(20)] == [200] * 20
        assert usage_in_redis(redis_url, tenant.key_id) == {}  # summed in the worker, not yet written
    finally:
        dispose_app(worker)


def test_a_worker_writes_its_summed_usage_once_its_interval_ends(app, redis_url, tenant):
    worker = make_app_like(app, REDIS_URL=redis_url, RATE_LIMIT_PER_MINUTE=1000, SHARED_STORE_FLUSH_SECONDS=0.3)
    try:
        client = worker.test_client()
        assert [client.get(BOT_PATH, headers=tenant.headers).status_code for _ in range(20)] == [200] * 20
        deadline = time.monotonic() + 5
        while usage_in_redis(redis_url, tenant.key_id).get("success") != "20" and time.monotonic() < deadline:
            time.sleep(0.1)
        written = usage_in_redis(redis_url, tenant.key_id)
        assert written["success"] == "20" and written["last_used_address"] == "127.0.0.1"
    finally:
        dispose_app(worker)


def test_a_worker_reads_its_own_summed_usage_at_once(app, redis_url, tenant):
    worker = make_app_like(app, REDIS_URL=redis_url, RATE_LIMIT_PER_MINUTE=1000, SHARED_STORE_FLUSH_SECONDS=60)
    try:
        for _ in range(3):
            worker.test_client().get(BOT_PATH, headers=tenant.headers)
        assert usage_of(worker, tenant.key_id, days=1)["days"][0]["success"] == 3
    finally:
        dispose_app(worker)


def test_a_worker_writes_its_summed_usage_when_it_exits(postgresql_only_app, redis_url):
    """gunicorn replaces workers (max_requests) and stops them (SIGTERM): what they summed is written at exit."""
    tenant = make_tenant(postgresql_only_app, BOT)
    program = f"""
from config import TestConfig
from tracker_api import create_app
app = create_app(TestConfig(), SQLALCHEMY_DATABASE_URI={postgresql_only_app.config['SQLALCHEMY_DATABASE_URI']!r},
                 REDIS_URL={redis_url!r}, RATE_LIMIT_PER_MINUTE=1000, SHARED_STORE_FLUSH_SECONDS=3600)
for _ in range(7):
    assert app.test_client().get({BOT_PATH!r}, headers={{"X-API-Key": {tenant.key!r}}}).status_code == 200
"""
    subprocess.run([sys.executable, "-c", program], check=True, cwd=REPO, capture_output=True, timeout=60)
    assert usage_in_redis(redis_url, tenant.key_id)["success"] == "7"
