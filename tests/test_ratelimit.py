"""Rate limits in one process: budgets per key and per address, headers, the 429, client addresses behind
a proxy, and a Redis that does not answer. Each test runs on both databases and both counter stores
(process memory, real Redis); the four-worker gunicorn tests are in test_ratelimit_gunicorn.py."""
import json
import socket
import time

import pytest
import redis

from config import Config
from conftest import dispose_app, in_app, make_app_like
from tracker_api.access.keys import generate_plain_key, issue_key

BOT = 123
BOT_PATH = f"/api/v1/bots/{BOT}"
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit",
                      "RateLimit-Policy")


def spend(http, count, path=BOT_PATH, **kwargs):
    return [http.get(path, **kwargs) for _ in range(count)]


def statuses(responses):
    return [response.status_code for response in responses]


def remaining(responses):
    return [int(response.headers["X-RateLimit-Remaining"]) for response in responses]


def assert_rate_limited(response, *, limit):
    """A 429 as problem+json, saying when to come back, with the budget headers."""
    assert response.status_code == 429
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["type"] == "/problems/rate-limited" and body["status"] == 429 and body["detail"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["X-RateLimit-Limit"] == str(limit)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    return body


# --- budgets per key --------------------------------------------------------------------------------

def test_the_default_budget_is_sixty_requests_per_minute_per_key(app, tenant, counters):
    assert Config.RATE_LIMIT_PER_MINUTE == 60
    default_app = make_app_like(app, REDIS_URL=counters, RATE_LIMIT_PER_MINUTE=Config.RATE_LIMIT_PER_MINUTE)
    try:
        responses = spend(default_app.test_client(), 61, headers=tenant.headers)
    finally:
        dispose_app(default_app)
    assert statuses(responses) == [200] * 60 + [429]
    assert remaining(responses[:60]) == list(range(59, -1, -1))
    assert_rate_limited(responses[60], limit=60)


def test_every_api_response_carries_the_rate_limit_headers(limited_http, tenant):
    for path, status in ((BOT_PATH, 200), (f"{BOT_PATH}/usage?days=99", 422), (f"/api/v1/tracking/{BOT}/999", 404)):
        response = limited_http.get(path, headers=tenant.headers)
        assert response.status_code == status, path
        assert all(name in response.headers for name in RATE_LIMIT_HEADERS), (path, dict(response.headers))
    assert response.headers["X-RateLimit-Limit"] == "5"
    assert response.headers["X-RateLimit-Remaining"] == "2"
    assert time.time() < int(response.headers["X-RateLimit-Reset"]) <= time.time() + 61
    assert response.headers["RateLimit-Policy"] == '"per-key";q=5;w=60'
    assert response.headers["RateLimit"].startswith('"per-key";r=2;t=')


def test_past_the_budget_the_answer_is_a_429_problem_with_retry_after(limited_http, tenant):
    responses = spend(limited_http, 7, headers=tenant.headers)
    assert statuses(responses) == [200] * 5 + [429] * 2
    assert remaining(responses) == [4, 3, 2, 1, 0, 0, 0]
    body = assert_rate_limited(responses[5], limit=5)
    assert "5 requests per minute" in body["detail"]
    assert body["request_id"] == responses[5].headers["X-Request-ID"]


def test_one_budget_covers_every_route_of_the_api(limited_http, tenant):
    paths = [BOT_PATH, f"/api/v1/tracking/{BOT}", f"/api/v1/clients/{BOT}", f"/api/v1/statistics/{BOT}/overview",
             f"{BOT_PATH}/usage", f"/api/v1/tracking/{BOT}/by-client/CLIENT123"]
    responses = [limited_http.get(path, headers=tenant.headers) for path in paths]
    assert statuses(responses) == [200] * 5 + [429]


def test_unrouted_api_paths_spend_the_budget_too(limited_http, tenant):
    responses = spend(limited_http, 6, path="/api/v1/no-such-thing", headers=tenant.headers)
    assert statuses(responses) == [404] * 5 + [429]


def test_a_keys_own_limit_overrides_the_default(limited_app, limited_http, app, tenant):
    _, small_key = in_app(app, issue_key, BOT, "small", None, 2)
    small = spend(limited_http, 3, headers={"X-API-Key": small_key})
    assert statuses(small) == [200, 200, 429]
    assert_rate_limited(small[2], limit=2)
    default = spend(limited_http, 3, headers=tenant.headers)  # the bot's other key keeps its own budget
    assert statuses(default) == [200] * 3 and default[0].headers["X-RateLimit-Limit"] == "5"


def test_keys_create_with_a_rate_limit_gives_the_key_that_budget(limited_app, limited_http, tenant):
    result = limited_app.test_cli_runner().invoke(args=["keys", "create", "--bot-id", str(BOT), "--name", "crm",
                                                        "--rate-limit", "3", "--json"])
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert created["rate_limit_per_minute"] == 3
    responses = spend(limited_http, 4, headers={"X-API-Key": created["key"]})
    assert statuses(responses) == [200, 200, 200, 429]


def test_set_limit_changes_a_keys_budget_from_its_next_request(limited_app, limited_http, tenant):
    runner = limited_app.test_cli_runner()
    assert limited_http.get(BOT_PATH, headers=tenant.headers).headers["X-RateLimit-Limit"] == "5"
    result = runner.invoke(args=["keys", "set-limit", str(tenant.key_id), "100", "--json"])
    assert result.exit_code == 0, result.output
    assert '"rate_limit_per_minute": 100' in result.output
    assert limited_http.get(BOT_PATH, headers=tenant.headers).headers["X-RateLimit-Limit"] == "100"
    result = runner.invoke(args=["keys", "set-limit", str(tenant.key_id), "--default"])
    assert result.exit_code == 0, result.output
    assert limited_http.get(BOT_PATH, headers=tenant.headers).headers["X-RateLimit-Limit"] == "5"


def test_set_limit_refuses_nonsense(limited_app, tenant):
    runner = limited_app.test_cli_runner()
    for args in (["0"], [], ["5", "--default"], ["-3"]):
        assert runner.invoke(args=["keys", "set-limit", str(tenant.key_id), *args]).exit_code != 0, args
    assert runner.invoke(args=["keys", "set-limit", "999999", "5"]).exit_code != 0


def test_counters_are_keyed_by_key_id_never_by_the_plain_key(app, tenant, redis_url):
    limited = make_app_like(app, REDIS_URL=redis_url, RATE_LIMIT_PER_MINUTE=5)
    try:
        limited.test_client().get(BOT_PATH, headers=tenant.headers)
    finally:
        dispose_app(limited)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    names = client.keys("*")
    assert any(f"key:{tenant.key_id}/" in name for name in names), names
    for name in names:
        assert tenant.key not in name and tenant.key[3:] not in name
        if client.type(name) == "hash":
            assert not any(tenant.key in value for value in client.hgetall(name).values())


# --- requests without a valid key -------------------------------------------------------------------

def test_requests_without_a_key_share_one_budget_per_address(limited_http, tenant):
    responses = spend(limited_http, 4)
    assert statuses(responses) == [401, 401, 401, 429]
    assert responses[0].headers["RateLimit-Policy"] == '"per-address";q=3;w=60'
    assert remaining(responses[:3]) == [2, 1, 0]
    body = assert_rate_limited(responses[3], limit=3)
    assert "without a valid API key" in body["detail"]
    other_address = limited_http.get(BOT_PATH, environ_base={"REMOTE_ADDR": "198.51.100.20"})
    assert other_address.status_code == 401


def test_rotating_invented_keys_earns_no_fresh_budget(limited_http):
    responses = [limited_http.get(BOT_PATH, headers={"X-API-Key": generate_plain_key()}) for _ in range(4)]
    assert statuses(responses) == [401, 401, 401, 429]
    garbage = limited_http.get(BOT_PATH, headers={"X-API-Key": "tb_" + "x" * 40})
    assert garbage.status_code == 429


def test_a_valid_key_keeps_its_budget_when_its_address_spent_the_anonymous_one(limited_http, tenant):
    assert statuses(spend(limited_http, 4)) == [401, 401, 401, 429]
    response = limited_http.get(BOT_PATH, headers=tenant.headers)
    assert response.status_code == 200 and response.headers["X-RateLimit-Remaining"] == "4"


def test_docs_and_health_are_neither_limited_nor_given_rate_limit_headers(limited_http):
    for path in ["/healthz", "/readyz", "/api/openapi.json"] * 3:
        response = limited_http.get(path, headers={"X-API-Key": "tb_nonsense"})
        assert response.status_code == 200, path
        assert "X-RateLimit-Limit" not in response.headers


# --- the client's address behind a proxy ------------------------------------------------------------

def test_a_forwarded_for_header_is_ignored_without_trusted_proxies(limited_http):
    responses = [limited_http.get(BOT_PATH, headers={"X-Forwarded-For": f"203.0.113.{n}"}) for n in range(4)]
    assert statuses(responses) == [401, 401, 401, 429]


def test_behind_one_trusted_proxy_only_the_address_it_appended_counts(app, counters):
    behind_nginx = make_app_like(app, REDIS_URL=counters, TRUSTED_PROXIES=1, RATE_LIMIT_PER_ADDRESS=3)
    http = behind_nginx.test_client()
    try:
        # The client forges the first hop; nginx appends the address it really saw.
        forged = [http.get(BOT_PATH, headers={"X-Forwarded-For": f"10.9.9.{n}, 203.0.113.7"}) for n in range(4)]
        other_client = http.get(BOT_PATH, headers={"X-Forwarded-For": "203.0.113.7, 203.0.113.8"})
    finally:
        dispose_app(behind_nginx)
    assert statuses(forged) == [401, 401, 401, 429]
    assert other_client.status_code == 401


# --- Redis outages ----------------------------------------------------------------------------------

def test_limits_fall_back_to_process_memory_when_redis_does_not_answer(app, tenant, unreachable_redis_url):
    broken = make_app_like(app, REDIS_URL=unreachable_redis_url, RATE_LIMIT_PER_MINUTE=3)
    http = broken.test_client()
    try:
        timed = []
        for _ in range(5):
            started = time.perf_counter()
            timed.append(http.get(BOT_PATH, headers=tenant.headers))
            assert time.perf_counter() - started < 1.0
        ready = http.get("/readyz")
    finally:
        dispose_app(broken)
    assert statuses(timed) == [200, 200, 200, 429, 429]
    assert remaining(timed[:3]) == [2, 1, 0]
    assert ready.status_code == 200
    assert ready.get_json()["status"] == "degraded"
    assert ready.get_json()["redis"].startswith("unavailable")


@pytest.fixture
def unreachable_redis_url():
    """A port nothing listens on: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"
