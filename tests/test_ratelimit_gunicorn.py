"""The limits as deployed: gunicorn with four workers on PostgreSQL, counters in real Redis. One budget is
shared by every worker, revocation (and a bot deactivated or a key rolled through the platform admin API) reaches
every worker on the next request, the log line of a rejected request is what an operator greps for, and a Redis
that hangs and then dies (a private redis-server started here, never the machine's) costs requests a bounded
fraction of a second, not the service."""
import itertools
import json
import os
import signal
import subprocess
import threading
import time
import uuid

import pytest
import redis
import requests

from conftest import (
    REDIS_TEST_URL,
    dispose_app,
    flush_test_redis,
    fresh_postgres_database,
    in_app,
    make_bot_tenant,
    make_migrated_app,
    require_service,
    worker_suffix,
)
from servers import Gunicorn, Stack, free_port
from tracker_api.access.keys import generate_plain_key, revoke_key

pytestmark = pytest.mark.slow
BOT_IDS = itertools.count(1001)


def server_env(database_url, redis_url, pepper, **settings):
    """The production-like environment: development config (so the default budget is the real 60/minute)."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("RATE_LIMIT", "REDIS_", "INVALID_KEY", "ADDRESS_BLOCK", "TRUSTED_PROXIES"))}
    env.update(TRACKER_ENV="development", DATABASE_URL=database_url, REDIS_URL=redis_url, API_KEY_PEPPER=pepper,
               TRUSTED_PROXIES="0", RATE_LIMIT_PER_ADDRESS="20", PYTHONUNBUFFERED="1")
    env.update({name: str(value) for name, value in settings.items()})
    return env


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    database_url = fresh_postgres_database(f"tracker_api_gunicorn_{worker_suffix()}")
    flush_test_redis()
    app = make_migrated_app(database_url, REDIS_URL=REDIS_TEST_URL)
    env = server_env(database_url, REDIS_TEST_URL, app.config["API_KEY_PEPPER"])
    server = Gunicorn(tmp_path_factory.mktemp("gunicorn"), env, workers=4)
    yield Stack(app, server)
    server.stop()
    dispose_app(app)


@pytest.fixture(autouse=True)
def fresh_counters(stack):
    """Per-address counters (budgets, bursts, blocks) start empty in each test; keys are new per test anyway."""
    flush_test_redis()


def new_tenant(stack, rate_limit=None):
    return make_bot_tenant(stack.app, next(BOT_IDS), rate_limit)


def fire(count, send):
    """Send `count` requests at once from as many threads (released together); their responses, in order."""
    barrier = threading.Barrier(count)
    responses = [None] * count

    def one(index):
        barrier.wait()
        responses[index] = send(index)
    threads = [threading.Thread(target=one, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return responses


def request_id(label, index):
    return f"{label}-{index}-{uuid.uuid4().hex[:12]}"


# --- one budget, four workers -----------------------------------------------------------------------

def test_four_workers_share_one_budget_of_sixty_requests_per_minute(stack):
    tenant = new_tenant(stack)
    ids = [request_id("burst", index) for index in range(150)]
    responses = fire(150, lambda index: requests.get(f"{stack.url}/api/v1/bots/{tenant.bot_id}", timeout=30,
                                                     headers={**tenant.headers, "X-Request-ID": ids[index]}))
    now = time.time()
    succeeded = [response for response in responses if response.status_code == 200]
    refused = [response for response in responses if response.status_code == 429]
    assert (len(succeeded), len(refused)) == (60, 90)
    # Remaining counts down consistently: every value from 59 to 0 exactly once.
    assert sorted(int(response.headers["X-RateLimit-Remaining"]) for response in succeeded) == list(range(60))
    for response in succeeded + refused:
        assert response.headers["X-RateLimit-Limit"] == "60"
        assert now - 1 <= int(response.headers["X-RateLimit-Reset"]) <= now + 61
    for response in refused:
        assert response.headers["X-RateLimit-Remaining"] == "0"
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["type"] == "/problems/rate-limited"
    served_by = {line["pid"] for line in stack.server.lines_for(ids)}
    assert len(served_by) >= 2, served_by  # the budget really was shared between processes

    # What the operator sees adds up across the workers, and the hammering is on record.
    today = usage_today_once_written(stack, tenant, total=150)
    assert (today["success"], today["rate_limited"], today["total"]) == (60, 90, 150)
    listed = stack.app.test_cli_runner().invoke(args=["security", "events", "--json", "--kind",
                                                      "rate-limit-hammering"])
    assert [event["key_id"] for event in json.loads(listed.output)] == [tenant.key_id]


def usage_today_once_written(stack, tenant, total, timeout=5):
    """`flask keys usage` for today once it counts `total` requests: each worker writes the usage it summed every
    SHARED_STORE_FLUSH_SECONDS (1 s)."""
    deadline = time.monotonic() + timeout
    while True:
        report = stack.app.test_cli_runner().invoke(args=["keys", "usage", str(tenant.key_id), "--json"])
        today = json.loads(report.output)["days"][0]
        if today["total"] >= total or time.monotonic() > deadline:
            return today
        time.sleep(0.2)


def test_revocation_is_seen_by_every_worker_on_the_next_request(stack):
    tenant = new_tenant(stack, rate_limit=10_000)
    path = f"{stack.url}/api/v1/bots/{tenant.bot_id}"

    def send_all(label):
        ids = [request_id(label, index) for index in range(40)]
        responses = fire(40, lambda index: requests.get(path, timeout=30,
                                                        headers={**tenant.headers, "X-Request-ID": ids[index]}))
        return [response.status_code for response in responses], stack.server.lines_for(ids)

    before, served = send_all("before")
    assert before == [200] * 40
    assert len({line["pid"] for line in served}) >= 2
    in_app(stack.app, revoke_key, tenant.key_id)
    after, refused = send_all("after")
    # Not one more request gets through. A revoked key is no key: past 10 the address counts as guessing
    # (blocked) and past 20 its budget for keyless requests is spent, hence some 429s among the 401s.
    assert 200 not in after and after.count(401) >= 10, after
    assert {line["refusal"] for line in refused} <= {"revoked-key", "address-blocked", "rate-limited"}
    assert len({line["pid"] for line in refused if line["refusal"] == "revoked-key"}) >= 2, refused


def fire_with(stack, path, headers, label, count=40):
    """`count` simultaneous GETs of `path`: (status codes, their log lines)."""
    ids = [request_id(label, index) for index in range(count)]
    responses = fire(count, lambda index: requests.get(f"{stack.url}{path}", timeout=30,
                                                       headers={**headers, "X-Request-ID": ids[index]}))
    return [response.status_code for response in responses], stack.server.lines_for(ids)


def platform_headers(stack):
    from tracker_api.access.platform_tokens import issue_token
    return {"Authorization": f"Bearer {in_app(stack.app, lambda: issue_token('platform')[1])}"}


def test_deactivating_a_bot_through_the_admin_api_is_seen_by_every_worker_on_the_next_request(stack):
    tenant = new_tenant(stack, rate_limit=10_000)
    path = f"/api/v1/bots/{tenant.bot_id}"
    before, served = fire_with(stack, path, tenant.headers, "active")
    assert before == [200] * 40 and len({line["pid"] for line in served}) >= 2
    changed = requests.patch(f"{stack.url}/api/admin/v1/bots/{tenant.bot_id}", json={"is_active": False},
                             headers=platform_headers(stack), timeout=30)
    assert changed.status_code == 200 and changed.json()["is_active"] is False
    after, refused = fire_with(stack, path, tenant.headers, "inactive")
    assert after == [403] * 40
    assert len({line["pid"] for line in refused if line["refusal"] == "bot-inactive"}) >= 2, refused


def test_a_rolled_key_works_on_every_worker_during_its_grace_period_and_is_refused_after_it(stack):
    tenant = new_tenant(stack, rate_limit=10_000)
    path = f"/api/v1/bots/{tenant.bot_id}"
    assert fire_with(stack, path, tenant.headers, "cached")[0] == [200] * 40  # every worker caches the old key
    grace = 3
    rolled = requests.post(f"{stack.url}/api/admin/v1/bots/{tenant.bot_id}/keys/{tenant.key_id}/roll",
                           json={"grace_period_seconds": grace}, headers=platform_headers(stack), timeout=30)
    assert rolled.status_code == 200, rolled.text
    grace_ends = time.time() + grace
    new_headers = {"X-API-Key": rolled.json()["key"]["key"]}
    old, old_lines = fire_with(stack, path, tenant.headers, "old-in-grace")
    new, new_lines = fire_with(stack, path, new_headers, "new-in-grace")
    assert time.time() < grace_ends, "the grace period ended before the check: raise `grace`"
    assert old == [200] * 40 and new == [200] * 40
    assert len({line["pid"] for line in old_lines}) >= 2 and len({line["pid"] for line in new_lines}) >= 2
    time.sleep(max(0.0, grace_ends - time.time()) + 0.5)
    # Fewer old-key requests than an invalid-key burst (10), so that the address is not blocked for the new key.
    old, old_lines = fire_with(stack, path, tenant.headers, "old-after-grace", count=8)
    assert old == [401] * 8 and {line["refusal"] for line in old_lines} == {"expired-key"}
    assert len({line["pid"] for line in old_lines}) >= 2, old_lines
    assert fire_with(stack, path, new_headers, "new-after-grace")[0] == [200] * 40


# --- client addresses and the request log ----------------------------------------------------------

def test_a_forged_forwarded_for_changes_neither_the_logged_address_nor_the_budget(stack):
    ids = [request_id("forged", index) for index in range(22)]
    codes = [requests.get(f"{stack.url}/api/v1/bots/1", timeout=10,
                          headers={"X-Forwarded-For": f"198.51.100.{index}", "X-Request-ID": ids[index]}).status_code
             for index in range(22)]
    assert codes == [401] * 20 + [429] * 2  # RATE_LIMIT_PER_ADDRESS=20, whatever the header claims
    assert {line["client_ip"] for line in stack.server.lines_for(ids)} == {"127.0.0.1"}


def test_the_log_line_of_a_rejected_request_says_who_what_and_why_without_the_key(stack):
    invented = generate_plain_key()
    rid = request_id("rejected", 0)
    response = requests.get(f"{stack.url}/api/v1/tracking/77?page=2", timeout=10,
                            headers={"X-API-Key": invented, "X-Request-ID": rid, "User-Agent": "probe/1.0"})
    assert response.status_code == 401
    [line] = stack.server.lines_for([rid])
    assert {key: line[key] for key in ("method", "path", "status", "refusal", "key_id", "bot_id", "client_ip",
                                       "user_agent")} == {
        "method": "GET", "path": "/api/v1/tracking/77", "status": 401, "refusal": "unknown-key", "key_id": None,
        "bot_id": 77, "client_ip": "127.0.0.1", "user_agent": "probe/1.0"}
    assert line["duration_ms"] > 0 and line["time"].endswith("Z")
    assert invented not in stack.server.stdout_path.read_text()


# --- Redis outage -----------------------------------------------------------------------------------

@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own, on a free port, that the test may freeze and kill."""
    port = free_port()
    try:
        process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                    "--appendonly", "no", "--daemonize", "no", "--dir", str(tmp_path)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except FileNotFoundError:
        require_service("redis-server is not installed")
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_timeout=1)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield process, url
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)
        process.kill()
        process.wait()


def test_the_api_keeps_answering_quickly_while_redis_hangs_and_after_it_dies(stack, private_redis, tmp_path):
    redis_process, redis_url = private_redis
    tenant = new_tenant(stack, rate_limit=1000)
    env = server_env(stack.app.config["SQLALCHEMY_DATABASE_URI"], redis_url, stack.app.config["API_KEY_PEPPER"], REDIS_TIMEOUT_SECONDS=0.2)
    server = Gunicorn(tmp_path, env, workers=2)

    def timed(path, **kwargs):
        started = time.perf_counter()
        response = requests.get(server.url + path, timeout=10, **kwargs)
        return response, time.perf_counter() - started

    def assert_answers_within_a_second(rounds=8):
        for _ in range(rounds):
            response, took = timed(f"/api/v1/bots/{tenant.bot_id}", headers=tenant.headers)
            assert response.status_code == 200 and took < 1.0, (response.status_code, took)
            assert response.headers["X-RateLimit-Limit"] == "1000"  # limits degrade to per worker, not off
        ready, took = timed("/readyz")
        assert took < 1.0 and ready.status_code == 200
        return ready.json()

    try:
        assert timed(f"/api/v1/bots/{tenant.bot_id}", headers=tenant.headers)[0].status_code == 200
        assert timed("/readyz")[0].json() == {"status": "ok", "database": "ok", "redis": "ok"}

        redis_process.send_signal(signal.SIGSTOP)  # hung: connections are accepted, nothing is answered
        hung = assert_answers_within_a_second()
        assert hung["status"] == "degraded" and hung["redis"] == "unavailable: TimeoutError"

        redis_process.kill()  # dead: connections are refused
        redis_process.wait()
        dead = assert_answers_within_a_second()
        assert dead["status"] == "degraded" and dead["redis"] == "unavailable: ConnectionError"
    finally:
        server.stop()
    assert "Redis unavailable" in server.stderr()
