"""Key lookups cached per worker (tracker_api/access/key_cache.py): a known key costs no query, and every change to
a key or its bot still takes effect on the very next request, whichever process made it. Real Redis, both databases."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

import pytest
import redis
from sqlalchemy import event, text

from conftest import dispose_app, in_app, make_app_like
from tracker_api.access.key_cache import TOKEN_KEY
from tracker_api.access.keys import revoke_key, set_rate_limit
from tracker_api.access.security_events import block_key
from tracker_api.access.shared_store import NAMESPACE, RedisStore
from tracker_api.extensions import db
from tracker_api.models import ApiKey, Bot
from tracker_api.models.types import utcnow

BOT_PATH = "/api/v1/bots/{}"


@pytest.fixture
def server(app, redis_url):
    """The serving worker: the app with the shared Redis."""
    served = make_app_like(app, REDIS_URL=redis_url, RATE_LIMIT_PER_MINUTE=1000)
    yield served
    dispose_app(served)


@pytest.fixture
def operator(app, redis_url):
    """Another process on the same database and Redis: `flask keys ...`, another worker."""
    other = make_app_like(app, REDIS_URL=redis_url)
    yield other
    dispose_app(other)


@contextmanager
def key_lookups(app):
    """The SQL statements that read api_keys while the block runs."""
    statements = []

    def note(conn, cursor, statement, parameters, context, executemany):
        if "FROM api_keys" in statement:
            statements.append(statement)
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", note)


def get_bot(app, tenant, **headers):
    return app.test_client().get(BOT_PATH.format(tenant.bot_id), headers={**tenant.headers, **headers})


def sql(app, statement, **parameters):
    def run():
        db.session.execute(text(statement), parameters)
        db.session.commit()
    in_app(app, run)


def test_a_known_key_is_looked_up_once_per_worker(server, tenant):
    with key_lookups(server) as lookups:
        assert [get_bot(server, tenant).status_code for _ in range(5)] == [200] * 5
    assert len(lookups) == 1


def test_without_redis_every_request_looks_its_key_up(app, tenant):
    with key_lookups(app) as lookups:
        assert [get_bot(app, tenant).status_code for _ in range(3)] == [200] * 3
    assert len(lookups) == 3


def test_a_revocation_by_another_process_refuses_the_very_next_request(server, operator, tenant):
    assert get_bot(server, tenant).status_code == 200
    in_app(operator, revoke_key, tenant.key_id)
    response = get_bot(server, tenant)
    assert response.status_code == 401
    assert response.json["type"] == "/problems/invalid-api-key"


def test_the_cli_revocation_refuses_the_very_next_request(server, operator, tenant):
    assert get_bot(server, tenant).status_code == 200
    result = operator.test_cli_runner().invoke(args=["keys", "revoke", str(tenant.key_id)])
    assert result.exit_code == 0, result.output
    assert get_bot(server, tenant).status_code == 401


def test_a_deactivated_bot_is_refused_on_the_very_next_request(server, operator, tenant):
    assert get_bot(server, tenant).status_code == 200

    def deactivate():
        db.session.get(Bot, tenant.bot_id).is_active = False
        db.session.commit()
    in_app(operator, deactivate)
    response = get_bot(server, tenant)
    assert response.status_code == 403 and response.json["type"] == "/problems/bot-inactive"


def test_a_new_rate_limit_applies_on_the_very_next_request(server, operator, tenant):
    assert get_bot(server, tenant).headers["X-RateLimit-Limit"] == "1000"
    in_app(operator, set_rate_limit, tenant.key_id, 7)
    assert get_bot(server, tenant).headers["X-RateLimit-Limit"] == "7"


def test_a_bots_other_writes_keep_the_cached_lookups(server, operator, tenant):
    """Every tracking write bumps its bot's change counter: that must not empty every worker's cache."""
    assert get_bot(server, tenant).status_code == 200
    created = server.test_client().post(f"/api/v1/tracking/{tenant.bot_id}", headers=tenant.headers,
                                        json={"tracking_number": "CACHE1", "client_code": "C1"})
    assert created.status_code == 201, created.json
    with key_lookups(server) as lookups:
        assert get_bot(server, tenant).status_code == 200
    assert lookups == []


def test_expiry_is_judged_on_every_request(server, operator, tenant):
    def expire_in_a_second():
        db.session.get(ApiKey, tenant.key_id).expires_at = utcnow() + timedelta(seconds=1)
        db.session.commit()
    in_app(operator, expire_in_a_second)
    assert get_bot(server, tenant).status_code == 200  # looked up now, and cached with its expiry
    time.sleep(1.2)
    assert get_bot(server, tenant).status_code == 401


def test_a_flushed_redis_forgets_every_cached_lookup(server, tenant, redis_url):
    assert get_bot(server, tenant).status_code == 200
    sql(server, "UPDATE api_keys SET revoked_at = :at", at=utcnow())  # by hand: no token replaced
    redis.Redis.from_url(redis_url).flushdb()  # a Redis restarted empty
    assert get_bot(server, tenant).status_code == 401


def test_a_change_by_hand_in_sql_is_seen_within_key_cache_seconds(app, redis_url, tenant):
    server = make_app_like(app, REDIS_URL=redis_url, KEY_CACHE_SECONDS=0.5)
    try:
        assert get_bot(server, tenant).status_code == 200
        sql(server, "UPDATE api_keys SET revoked_at = :at", at=utcnow())
        assert get_bot(server, tenant).status_code == 200  # the documented bound: the token cannot see SQL by hand
        time.sleep(0.6)
        assert get_bot(server, tenant).status_code == 401
    finally:
        dispose_app(server)


def test_a_worker_that_lost_redis_trusts_nothing_it_cached_before(server, tenant, redis_url):
    """A revocation committed while Redis was down cannot replace the token: the worker that saw the outage
    dropped its cache, so when Redis answers again it looks the key up afresh. Redis fails for both of the worker's
    clients, the shared store's and the rate limiter's (whose hit reads the token of a key cached in the worker)."""
    assert get_bot(server, tenant).status_code == 200
    store, limits_storage = server.extensions["shared_store"], server.extensions["rate_limiter"].storage
    working_clients = store.client, limits_storage.storage
    store._client = limits_storage.storage = redis.Redis(host="127.0.0.1", port=1, socket_timeout=0.2,
                                                         socket_connect_timeout=0.2)
    with key_lookups(server) as lookups:
        assert get_bot(server, tenant).status_code == 200  # served without Redis, from the database
    assert len(lookups) == 1
    sql(server, "UPDATE api_keys SET revoked_at = :at", at=utcnow())
    (store._client, limits_storage.storage), store._down_until = working_clients, 0.0
    assert get_bot(server, tenant).status_code == 401


def test_the_token_is_written_when_absent_and_replaced_by_a_key_change(server, operator, tenant, redis_url):
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    assert client.get(NAMESPACE + TOKEN_KEY) is None
    get_bot(server, tenant)
    first = client.get(NAMESPACE + TOKEN_KEY)
    assert first
    get_bot(server, tenant)
    assert client.get(NAMESPACE + TOKEN_KEY) == first
    in_app(operator, set_rate_limit, tenant.key_id, 9)
    assert client.get(NAMESPACE + TOKEN_KEY) not in (None, first)


def test_threads_racing_for_a_workers_first_redis_call_all_get_answers(redis_url):
    """The store's Redis client is built on first use: threads that race there must share one client (a dropped
    second client closes the connections its thread is still reading, a 500 on a fresh worker's first requests)."""
    config = {"REDIS_TIMEOUT_SECONDS": 1, "REDIS_RETRY_INTERVAL_SECONDS": 5, "SHARED_STORE_FLUSH_SECONDS": 1}
    for _ in range(40):
        store = RedisStore(redis_url, config)
        barrier = threading.Barrier(8)

        def first_call():
            barrier.wait()
            return store.ttl_and_token("blocked:203.0.113.9", TOKEN_KEY)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: first_call(), range(8)))
        assert store.available and len({token for _, token in answers}) == 1, answers


@contextmanager
def redis_round_trips():
    """The commands (or pipelines) this thread sends to Redis while the block runs: one entry per round trip."""
    sent, send = [], redis.connection.AbstractConnection.send_packed_command
    caller = threading.get_ident()

    def counted(connection, command, check_health=True):
        if threading.get_ident() == caller:  # not the usage flusher's thread
            packets = command if isinstance(command, list) else [command]
            sent.append(b"".join(packets).split(b"\r\n")[2].decode())
        return send(connection, command, check_health)
    redis.connection.AbstractConnection.send_packed_command = counted
    try:
        yield sent
    finally:
        redis.connection.AbstractConnection.send_packed_command = send


def test_a_key_cached_in_the_worker_costs_one_round_trip_to_redis(server, tenant):
    """The rate limiter's hit reads the address's block and the key token too (access/rate_limits.py)."""
    with redis_round_trips() as first:
        assert get_bot(server, tenant).status_code == 200
    assert len(first) >= 2  # the block and the token first, then the hit
    with redis_round_trips() as cached, key_lookups(server) as lookups:
        assert [get_bot(server, tenant).status_code for _ in range(3)] == [200] * 3
    assert cached == ["EVALSHA"] * 3 and lookups == []


def test_a_blocked_address_is_refused_with_a_cached_key_too(server, tenant):
    address = {"REMOTE_ADDR": "203.0.113.77"}
    http = server.test_client()
    assert http.get(BOT_PATH.format(tenant.bot_id), headers=tenant.headers, environ_base=address).status_code == 200
    server.extensions["shared_store"].add(block_key("203.0.113.77"), 600)
    with redis_round_trips() as sent:
        blocked = http.get(BOT_PATH.format(tenant.bot_id), headers=tenant.headers, environ_base=address)
    assert sent[0] == "EVALSHA"  # read with the hit, not before it
    assert blocked.status_code == 429 and blocked.get_json()["type"] == "/problems/address-blocked"
    assert 590 < int(blocked.headers["Retry-After"]) <= 600 and "X-RateLimit-Limit" not in blocked.headers
    assert get_bot(server, tenant).status_code == 200  # another address


def test_a_key_change_while_cached_spends_the_budget_the_key_has_now(server, operator, tenant, redis_url):
    """The token moved since the lookup was cached: the hit counts nothing, the key is looked up again, and the
    budget it has now is spent, once."""
    assert get_bot(server, tenant).headers["X-RateLimit-Remaining"] == "999"
    in_app(operator, set_rate_limit, tenant.key_id, 7)
    with redis_round_trips() as sent:
        answer = get_bot(server, tenant)
    assert (answer.headers["X-RateLimit-Limit"], answer.headers["X-RateLimit-Remaining"]) == ("7", "6")
    assert sent[0] == "EVALSHA" and len(sent) == 2  # not counted, then counted in the new budget
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    counters = {name: client.get(name) for name in client.scan_iter("LIMITS:*")}
    assert sorted(counters.values()) == ["1", "1"], counters  # the old budget's one request, the new one's
