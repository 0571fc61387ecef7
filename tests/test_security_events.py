"""Suspicious activity: invalid-key bursts block the address, keys probing other bots, revoked keys and keys
hammering their limit are recorded; `flask security events` lists them and `security unblock` lifts a block."""
import json

import pytest

from conftest import dispose_app, in_app, make_app_like
from tracker_api.access.keys import generate_plain_key, revoke_key

BOT = 123
BOT_PATH = f"/api/v1/bots/{BOT}"
ATTACKER = {"REMOTE_ADDR": "203.0.113.66"}


def events(app, *options):
    result = app.test_cli_runner().invoke(args=["security", "events", "--json", *options])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture
def burst_app(limited_app):
    """Four refused keys within a minute from one address block it; the address budget is out of the way."""
    limited_app.config.update(INVALID_KEY_BURST=4, RATE_LIMIT_PER_ADDRESS=100, ADDRESS_BLOCK_MINUTES=15)
    return limited_app


def invent_keys(http, count, environ=ATTACKER):
    return [http.get(BOT_PATH, headers={"X-API-Key": generate_plain_key()}, environ_base=environ)
            for _ in range(count)]


# --- invalid-key bursts -----------------------------------------------------------------------------

def test_a_burst_of_invalid_keys_blocks_the_address_with_a_429_that_says_why(burst_app, tenant):
    http = burst_app.test_client()
    assert [r.status_code for r in invent_keys(http, 4)] == [401] * 4
    blocked = http.get(BOT_PATH, headers={"X-API-Key": generate_plain_key()}, environ_base=ATTACKER)
    assert blocked.status_code == 429 and blocked.content_type == "application/problem+json"
    body = blocked.get_json()
    assert body["type"] == "/problems/address-blocked"
    assert "invalid API keys" in body["detail"] and "blocked" in body["detail"]
    assert 14 * 60 < int(blocked.headers["Retry-After"]) <= 15 * 60
    # The block holds for the whole address, valid key or not, before any key lookup...
    assert http.get(BOT_PATH, headers=tenant.headers, environ_base=ATTACKER).status_code == 429
    # ...and for that address only.
    assert http.get(BOT_PATH, headers=tenant.headers).status_code == 200
    [event] = events(burst_app)
    assert event["kind"] == "invalid-key-burst" and event["client_address"] == "203.0.113.66"
    assert "blocked for 15 minutes" in event["detail"] and event["key_id"] is None


def test_docs_and_health_stay_open_to_a_blocked_address(burst_app):
    http = burst_app.test_client()
    invent_keys(http, 5)
    assert http.get("/healthz", environ_base=ATTACKER).status_code == 200
    assert http.get("/api/openapi.json", environ_base=ATTACKER).status_code == 200


def test_refused_keys_count_toward_the_burst_even_when_the_address_budget_refused_them(limited_app):
    limited_app.config.update(INVALID_KEY_BURST=4, RATE_LIMIT_PER_ADDRESS=2)
    http = limited_app.test_client()
    assert [r.status_code for r in invent_keys(http, 4)] == [401, 401, 429, 429]
    blocked = http.get(BOT_PATH, environ_base=ATTACKER)
    assert blocked.get_json()["type"] == "/problems/address-blocked"


def test_missing_keys_are_limited_per_address_but_are_no_guessing(burst_app):
    http = burst_app.test_client()
    responses = [http.get(BOT_PATH, environ_base=ATTACKER) for _ in range(8)]
    assert [r.status_code for r in responses] == [401] * 8
    assert events(burst_app) == []


def test_unblock_lifts_an_address_block(app, tenant, redis_url):
    shared = make_app_like(app, REDIS_URL=redis_url, INVALID_KEY_BURST=3, RATE_LIMIT_PER_ADDRESS=100)
    try:
        http = shared.test_client()
        invent_keys(http, 3)
        assert http.get(BOT_PATH, headers=tenant.headers, environ_base=ATTACKER).status_code == 429
        result = shared.test_cli_runner().invoke(args=["security", "unblock", "203.0.113.66"])
        assert result.exit_code == 0 and "unblocked" in result.output
        assert http.get(BOT_PATH, headers=tenant.headers, environ_base=ATTACKER).status_code == 200
        again = shared.test_cli_runner().invoke(args=["security", "unblock", "203.0.113.66"])
        assert "was not blocked" in again.output
    finally:
        dispose_app(shared)


# --- keys misbehaving -------------------------------------------------------------------------------

def test_a_key_asking_for_another_bots_data_is_recorded_once_per_cooldown(limited_http, limited_app, tenant,
                                                                          other_tenant):
    for path in (f"/api/v1/tracking/{other_tenant.bot_id}", f"/api/v1/clients/{other_tenant.bot_id}"):
        assert limited_http.get(path, headers=tenant.headers).status_code == 403
    [event] = events(limited_app)
    assert event["kind"] == "wrong-bot"
    assert (event["key_id"], event["bot_id"]) == (tenant.key_id, tenant.bot_id)
    assert f"bot {other_tenant.bot_id}" in event["detail"] and "/api/v1/tracking/" in event["detail"]
    assert event["request_id"]


def test_an_event_about_a_path_with_a_nul_byte_is_still_recorded(limited_http, limited_app, tenant, other_tenant):
    path = f"/api/v1/tracking/{other_tenant.bot_id}/by-client/A%00B"
    assert limited_http.get(path, headers=tenant.headers).status_code == 403
    [event] = events(limited_app)
    assert event["kind"] == "wrong-bot" and "by-client/A?B" in event["detail"]


def test_a_revoked_key_is_recorded_yet_answered_like_any_unknown_key(limited_http, limited_app, app, tenant):
    in_app(app, revoke_key, tenant.key_id)
    revoked = limited_http.get(BOT_PATH, headers=tenant.headers)
    unknown = limited_http.get(BOT_PATH, headers={"X-API-Key": generate_plain_key()},
                               environ_base={"REMOTE_ADDR": "198.51.100.1"})
    assert revoked.status_code == unknown.status_code == 401
    assert {**revoked.get_json(), "request_id": None} == {**unknown.get_json(), "request_id": None}
    [event] = events(limited_app)
    assert event["kind"] == "revoked-key" and event["key_id"] == tenant.key_id and event["bot_id"] == BOT


def test_a_key_hammering_its_limit_is_recorded(limited_http, limited_app, tenant):
    limited_app.config.update(RATE_LIMIT_PER_MINUTE=2, RATE_LIMIT_HAMMERING=3)
    codes = [limited_http.get(BOT_PATH, headers=tenant.headers).status_code for _ in range(7)]
    assert codes == [200, 200, 429, 429, 429, 429, 429]
    [event] = events(limited_app, "--kind", "rate-limit-hammering")
    assert event["key_id"] == tenant.key_id and event["bot_id"] == BOT


def test_events_command_lists_newest_first_and_filters_by_kind(limited_http, limited_app, app, tenant,
                                                               other_tenant):
    limited_http.get(f"/api/v1/bots/{other_tenant.bot_id}", headers=tenant.headers)
    in_app(limited_app, revoke_key, tenant.key_id)  # through the server's Redis, as `flask keys revoke` does
    limited_http.get(BOT_PATH, headers=tenant.headers)
    assert [event["kind"] for event in events(limited_app)] == ["revoked-key", "wrong-bot"]
    assert [event["kind"] for event in events(limited_app, "--kind", "wrong-bot")] == ["wrong-bot"]
    assert len(events(limited_app, "--limit", "1")) == 1
    table = limited_app.test_cli_runner().invoke(args=["security", "events"])
    assert table.exit_code == 0 and "revoked-key" in table.output and "kind" in table.output.splitlines()[0]
