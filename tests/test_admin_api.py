"""The platform admin API (/api/admin/v1): platform tokens and bot keys never cross (generated from the URL map, so a
new route is covered without editing this file); bots and keys through the API, with every shape; roll with a grace
period; deactivation refusing keys in every worker; usage, security events, webhooks' health; the audit trail of
every write; the admin API's own OpenAPI document, apart from the public one."""
import re
import time

import pytest

from conftest import dispose_app, in_app, make_app_like, make_webhook
from tracker_api.access.platform_tokens import issue_token, revoke_token
from tracker_api.extensions import db
from tracker_api.models import AdminAuditEvent, ApiKey, SecurityEvent, WebhookDelivery, WebhookEvent

RULE_ARGUMENT = re.compile(r"<(?:[^<>]*:)?([^<>:]+)>")
ADMIN = "/api/admin/v1"
BOT_KEYS = {"id", "name", "username", "is_active", "subscription_status", "timezone", "is_sandbox", "sandbox_of",
            "created_at"}
KEY_KEYS = {"id", "bot_id", "name", "kind", "prefix", "scopes", "origins", "rate_limit_per_minute", "created_at",
            "expires_at", "revoked_at", "last_used_at"}
PLATFORM_PREFIX = "/api/admin/"


@pytest.fixture
def platform(app):
    """A platform token's Authorization header."""
    _, plain = in_app(app, issue_token, "platform backend")
    return {"Authorization": f"Bearer {plain}"}


def routes_under(app, prefix):
    """(path with every argument filled with 1 or the bot's id, method) for every rule Flask dispatches under prefix."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(prefix):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield RULE_ARGUMENT.sub("1", rule.rule), method


def assert_uniform_401(response, where):
    assert response.status_code == 401, (where, response.get_json())
    assert response.mimetype == "application/problem+json", where


# --- credentials never cross ------------------------------------------------------------------------------

def test_a_bot_key_is_refused_on_every_admin_route(app, http, tenant):
    routes = list(routes_under(app, ADMIN + "/"))
    assert len(routes) >= 14
    for path, method in routes:
        for headers in (tenant.headers, {"Authorization": f"Bearer {tenant.key}"}, {}):
            response = http.open(path, method=method, headers=headers, json={})
            assert_uniform_401(response, (method, path, list(headers)))
            assert response.get_json()["type"] == "/problems/invalid-platform-token"


def test_a_platform_token_is_refused_on_every_v1_route(app, http, tenant, platform):
    routes = list(routes_under(app, "/api/v1/"))
    assert len(routes) >= 20
    token = platform["Authorization"].split()[1]
    for path, method in routes:
        path = path.replace("/1", f"/{tenant.bot_id}", 1)
        for headers in (platform, {"X-API-Key": token}):
            response = http.open(path, method=method, headers=headers, json={})
            assert_uniform_401(response, (method, path, list(headers)))
            assert response.get_json()["type"] == "/problems/invalid-api-key"


def test_a_revoked_or_invented_platform_token_is_refused(app, http, platform):
    assert http.get(f"{ADMIN}/bots", headers=platform).status_code == 200
    token_id = in_app(app, lambda: db.session.scalar(db.select(db.text("max(id)")).select_from(
        db.text("platform_tokens"))))
    in_app(app, revoke_token, token_id)
    assert_uniform_401(http.get(f"{ADMIN}/bots", headers=platform), "revoked")
    invented = "tp_" + "A" * 32
    assert_uniform_401(http.get(f"{ADMIN}/bots", headers={"Authorization": f"Bearer {invented}"}), "invented")


def test_platform_tokens_cli_creates_lists_and_revokes(app, http):
    import json
    runner = app.test_cli_runner()
    created = json.loads(runner.invoke(args=["platform-tokens", "create", "--name", "backend", "--json"]).output)
    assert created["token"].startswith("tp_") and created["token"].startswith(created["prefix"])
    headers = {"Authorization": f"Bearer {created['token']}"}
    assert http.get(f"{ADMIN}/bots", headers=headers).status_code == 200
    listed = json.loads(runner.invoke(args=["platform-tokens", "list", "--json"]).output)
    assert [row["id"] for row in listed] == [created["id"]] and "token" not in listed[0]
    assert listed[0]["last_used_at"] is not None
    revoked = json.loads(runner.invoke(args=["platform-tokens", "revoke", str(created["id"]), "--json"]).output)
    assert revoked["revoked_at"]
    assert_uniform_401(http.get(f"{ADMIN}/bots", headers=headers), "revoked by the CLI")
    assert runner.invoke(args=["platform-tokens", "revoke", "999"]).exit_code != 0


# --- bots -------------------------------------------------------------------------------------------------

def test_bots_create_list_get_and_change(http, platform):
    created = http.post(f"{ADMIN}/bots", headers=platform, json={
        "id": 321, "name": "Silk Road Cargo", "username": "@silk_bot", "subscription_status": "trial",
        "timezone": "Asia/Almaty"})
    assert created.status_code == 201, created.get_json()
    bot = created.get_json()
    assert set(bot) == BOT_KEYS and bot["id"] == 321 and bot["timezone"] == "Asia/Almaty" and bot["is_active"]
    assert bot["is_sandbox"] is False and bot["subscription_status"] == "trial"
    second = http.post(f"{ADMIN}/bots", headers=platform, json={"name": "Next", "username": "@next_bot"}).get_json()
    assert second["id"] == 322 and second["timezone"] == "UTC" and second["subscription_status"] == "active"
    taken = http.post(f"{ADMIN}/bots", headers=platform, json={"id": 321, "name": "X", "username": "@x"})
    assert taken.status_code == 409 and taken.get_json()["existing_id"] == 321
    bad_zone = http.post(f"{ADMIN}/bots", headers=platform,
                         json={"name": "X", "username": "@x", "timezone": "Mars/Base"})
    assert bad_zone.status_code == 422 and "timezone" in bad_zone.get_json()["errors"]
    assert http.get(f"{ADMIN}/bots/321", headers=platform).get_json() == bot
    assert http.get(f"{ADMIN}/bots/999", headers=platform).status_code == 404
    changed = http.patch(f"{ADMIN}/bots/321", headers=platform, json={
        "name": "Silk Road", "subscription_status": "past_due", "timezone": "Asia/Tashkent", "is_active": False})
    assert changed.status_code == 200
    assert {k: changed.get_json()[k] for k in ("name", "subscription_status", "timezone", "is_active")} == {
        "name": "Silk Road", "subscription_status": "past_due", "timezone": "Asia/Tashkent", "is_active": False}
    assert http.patch(f"{ADMIN}/bots/321", headers=platform, json={"bot_id": 5}).status_code == 422
    listed = http.get(f"{ADMIN}/bots?page_size=1", headers=platform).get_json()
    assert listed["total"] == 2 and [b["id"] for b in listed["bots"]] == [321]
    inactive = http.get(f"{ADMIN}/bots?is_active=false", headers=platform).get_json()
    assert [b["id"] for b in inactive["bots"]] == [321]
    past_due = http.get(f"{ADMIN}/bots?subscription_status=active", headers=platform).get_json()
    assert [b["id"] for b in past_due["bots"]] == [322]


def test_deactivating_a_bot_refuses_its_keys_on_the_next_request_in_every_worker(app, tenant, redis_url):
    """Two workers on one Redis: both have the key cached; the admin API's PATCH in one reaches the other."""
    one = make_app_like(app, REDIS_URL=redis_url)
    two = make_app_like(app, REDIS_URL=redis_url)
    try:
        _, plain = in_app(one, issue_token, "backend")
        for worker in (one, two):
            for _ in range(2):  # the second request is served from the worker's cached lookup
                answer = worker.test_client().get(f"/api/v1/bots/{tenant.bot_id}", headers=tenant.headers)
                assert answer.status_code == 200
        response = one.test_client().patch(f"{ADMIN}/bots/{tenant.bot_id}", json={"is_active": False},
                                           headers={"Authorization": f"Bearer {plain}"})
        assert response.status_code == 200
        for worker in (two, one):
            refused = worker.test_client().get(f"/api/v1/bots/{tenant.bot_id}", headers=tenant.headers)
            assert refused.status_code == 403 and refused.get_json()["type"] == "/problems/bot-inactive"
    finally:
        dispose_app(one)
        dispose_app(two)


# --- keys -------------------------------------------------------------------------------------------------

def test_keys_create_list_get_change_and_revoke(http, tenant, platform):
    base = f"{ADMIN}/bots/{tenant.bot_id}/keys"
    created = http.post(base, headers=platform, json={"name": "crm", "scopes": ["read"], "rate_limit_per_minute": 30,
                                                      "expires_at": "2099-01-01T00:00:00+00:00"})
    assert created.status_code == 201, created.get_json()
    key = created.get_json()
    assert set(key) == KEY_KEYS | {"key"} and key["scopes"] == ["read"] and key["key"].startswith(key["prefix"])
    assert key["kind"] == "secret" and key["rate_limit_per_minute"] == 30 and key["expires_at"].startswith("2099")
    me = http.get("/api/v1/me", headers={"X-API-Key": key["key"]}).get_json()
    assert me["key_id"] == key["id"] and me["scopes"] == ["read"] and me["rate_limit_per_minute"] == 30
    assert http.post(f"/api/v1/clients/{tenant.bot_id}", headers={"X-API-Key": key["key"]},
                     json={"client_code": "C1", "name": "x"}).status_code == 403
    widget = http.post(base, headers=platform, json={"name": "site", "publishable": True,
                                                     "origins": ["https://Shop.example/"]}).get_json()
    assert widget["kind"] == "publishable" and widget["origins"] == ["https://shop.example"]
    assert widget["key"].startswith("tb_pk_")
    assert http.post(base, headers=platform, json={"name": "x", "origins": ["https://a.example"]}).status_code == 422
    assert http.post(base, headers=platform, json={"name": "x", "scopes": ["admin"]}).status_code == 422
    past = http.post(base, headers=platform, json={"name": "x", "expires_at": "2020-01-01T00:00:00+00:00"})
    assert past.status_code == 422 and "expires_at" in past.get_json()["errors"]
    listed = http.get(base, headers=platform).get_json()
    assert listed["total"] == 3 and all(set(k) == KEY_KEYS for k in listed["keys"])
    assert all("key" not in k for k in listed["keys"])
    assert http.get(f"{base}/{key['id']}", headers=platform).get_json()["name"] == "crm"
    changed = http.patch(f"{base}/{key['id']}", headers=platform, json={
        "name": "crm sync", "scopes": ["read", "write"], "rate_limit_per_minute": None}).get_json()
    assert changed["name"] == "crm sync" and changed["scopes"] == ["read", "write"]
    assert changed["rate_limit_per_minute"] is None
    assert http.post(f"/api/v1/clients/{tenant.bot_id}", headers={"X-API-Key": key["key"]},
                     json={"client_code": "C1", "name": "x"}).status_code == 201
    every = http.patch(f"{base}/{key['id']}", headers=platform, json={"scopes": None}).get_json()
    assert every["scopes"] is None
    not_publishable = http.patch(f"{base}/{key['id']}", headers=platform, json={"origins": ["https://a.example"]})
    assert not_publishable.status_code == 422
    origins = http.patch(f"{base}/{widget['id']}", headers=platform, json={"origins": ["https://b.example"]})
    assert origins.get_json()["origins"] == ["https://b.example"]
    revoked = http.post(f"{base}/{key['id']}/revoke", headers=platform).get_json()
    assert revoked["revoked_at"]
    assert http.get("/api/v1/me", headers={"X-API-Key": key["key"]}).status_code == 401
    assert http.get(base + "?include_revoked=false", headers=platform).get_json()["total"] == 2


def test_a_bots_keys_are_reached_only_under_that_bot(http, tenant, other_tenant, platform):
    assert http.get(f"{ADMIN}/bots/{tenant.bot_id}/keys/{other_tenant.key_id}", headers=platform).status_code == 404
    assert http.post(f"{ADMIN}/bots/{tenant.bot_id}/keys/{other_tenant.key_id}/revoke",
                     headers=platform).status_code == 404
    assert http.post(f"{ADMIN}/bots/999/keys", headers=platform, json={"name": "x"}).status_code == 404


def test_roll_both_keys_work_during_the_grace_period_and_the_old_is_refused_after_it_in_every_worker(
        app, tenant, redis_url):
    one = make_app_like(app, REDIS_URL=redis_url)
    two = make_app_like(app, REDIS_URL=redis_url)
    try:
        _, plain = in_app(one, issue_token, "backend")
        admin = {"Authorization": f"Bearer {plain}"}
        for worker in (one, two):  # both workers have the old key's lookup cached
            assert worker.test_client().get("/api/v1/me", headers=tenant.headers).status_code == 200
        rolled = one.test_client().post(f"{ADMIN}/bots/{tenant.bot_id}/keys/{tenant.key_id}/roll", headers=admin,
                                        json={"grace_period_seconds": 2})
        assert rolled.status_code == 200, rolled.get_json()
        new_key, previous = rolled.get_json()["key"], rolled.get_json()["previous"]
        assert new_key["key"] != tenant.key and new_key["name"] == previous["name"] and previous["expires_at"]
        for worker in (one, two):
            assert worker.test_client().get("/api/v1/me", headers=tenant.headers).status_code == 200
            assert worker.test_client().get("/api/v1/me", headers={"X-API-Key": new_key["key"]}).status_code == 200
        time.sleep(2.2)
        for worker in (two, one):
            assert worker.test_client().get("/api/v1/me", headers=tenant.headers).status_code == 401
            assert worker.test_client().get("/api/v1/me", headers={"X-API-Key": new_key["key"]}).status_code == 200
        again = one.test_client().post(f"{ADMIN}/bots/{tenant.bot_id}/keys/{tenant.key_id}/roll", headers=admin,
                                       json={})
        assert again.status_code == 409
    finally:
        dispose_app(one)
        dispose_app(two)


def test_roll_refuses_a_grace_period_past_seven_days(http, tenant, platform):
    response = http.post(f"{ADMIN}/bots/{tenant.bot_id}/keys/{tenant.key_id}/roll", headers=platform,
                         json={"grace_period_seconds": 7 * 86400 + 1})
    assert response.status_code == 422 and "grace_period_seconds" in response.get_json()["errors"]


def test_roll_without_grace_refuses_the_old_key_at_once_and_keeps_its_scopes(app, http, tenant, platform):
    base = f"{ADMIN}/bots/{tenant.bot_id}/keys"
    key = http.post(base, headers=platform, json={"name": "ro", "scopes": ["read"]}).get_json()
    rolled = http.post(f"{base}/{key['id']}/roll", headers=platform, json={}).get_json()
    assert rolled["key"]["scopes"] == ["read"]
    assert http.get("/api/v1/me", headers={"X-API-Key": key["key"]}).status_code == 401
    assert http.get("/api/v1/me", headers={"X-API-Key": rolled["key"]["key"]}).status_code == 200


# --- usage, security events, webhooks ---------------------------------------------------------------------

def test_usage_of_a_key_and_of_a_bot(http, tenant, platform):
    """Counted from this test's requests: the session's app keeps its memory store's counts between tests."""
    def today(path):
        return http.get(path, headers=platform).get_json()["days"][0]
    key_path = f"{ADMIN}/bots/{tenant.bot_id}/keys/{tenant.key_id}/usage"
    key_before, bot_before = today(key_path), today(f"{ADMIN}/bots/{tenant.bot_id}/usage")
    for _ in range(3):
        http.get(f"/api/v1/bots/{tenant.bot_id}", headers=tenant.headers)
    http.get("/api/v1/tracking/999999/1", headers=tenant.headers)  # another bot: a client error
    key_usage = http.get(f"{ADMIN}/bots/{tenant.bot_id}/keys/{tenant.key_id}/usage?days=2", headers=platform)
    assert key_usage.status_code == 200
    report = key_usage.get_json()
    assert report["key_id"] == tenant.key_id and len(report["days"]) == 2
    assert report["days"][0]["success"] - key_before["success"] == 3
    assert report["days"][0]["client_error"] - key_before["client_error"] == 1
    assert report["last_used_at"] is not None
    bot_usage = http.get(f"{ADMIN}/bots/{tenant.bot_id}/usage?days=3", headers=platform).get_json()
    assert bot_usage["bot_id"] == tenant.bot_id and len(bot_usage["days"]) == 3
    assert bot_usage["days"][0]["total"] - bot_before["total"] == 4
    assert [k["key_id"] for k in bot_usage["keys"]] == [tenant.key_id]


def test_security_events_of_a_bot_filtered_by_kind_and_time(app, http, tenant, platform):
    def record():
        from datetime import datetime, timezone
        for kind, day in (("wrong-bot", 1), ("revoked-key", 2), ("wrong-bot", 3)):
            db.session.add(SecurityEvent(kind=kind, client_address="203.0.113.7", key_id=tenant.key_id,
                                         bot_id=tenant.bot_id, detail=kind,
                                         created_at=datetime(2026, 1, day, tzinfo=timezone.utc)))
        db.session.add(SecurityEvent(kind="wrong-bot", client_address="x", bot_id=456, detail="another bot"))
        db.session.commit()
    in_app(app, record)
    path = f"{ADMIN}/bots/{tenant.bot_id}/security-events"
    every = http.get(path, headers=platform).get_json()
    assert every["total"] == 3 and [e["detail"] for e in every["events"]] == ["wrong-bot", "revoked-key", "wrong-bot"]
    wrong_bot = http.get(f"{path}?kind=wrong-bot", headers=platform).get_json()
    assert wrong_bot["total"] == 2
    window = http.get(path, query_string={"since": "2026-01-02T00:00:00+00:00", "until": "2026-01-03T00:00:00+00:00"},
                      headers=platform).get_json()
    assert [e["kind"] for e in window["events"]] == ["revoked-key"]
    assert http.get(f"{path}?kind=nonsense", headers=platform).status_code == 422


def test_webhooks_of_a_bot_with_their_health(app, http, tenant, platform):
    endpoint_id, _ = make_webhook(app, tenant.bot_id)

    def deliveries():
        from tracker_api.models.types import utcnow
        event = WebhookEvent(event_id="00000000-0000-0000-0000-000000000001", bot_id=tenant.bot_id,
                             type="tracking.updated", subject="tracking:1", sequence=1, payload="{}")
        db.session.add(event)
        db.session.flush()
        db.session.add_all([
            WebhookDelivery(endpoint_id=endpoint_id, event_row_id=event.id, subject="tracking:1", status="succeeded",
                            delivered_at=utcnow(), last_attempt_at=utcnow()),
            WebhookDelivery(endpoint_id=endpoint_id, event_row_id=event.id, subject="tracking:1", status="failed",
                            last_attempt_at=utcnow(), last_error="HTTP 500")])
        db.session.commit()
    in_app(app, deliveries)
    listed = http.get(f"{ADMIN}/bots/{tenant.bot_id}/webhooks", headers=platform).get_json()["webhooks"]
    assert len(listed) == 1 and listed[0]["id"] == endpoint_id and "secret" not in listed[0]
    assert listed[0]["deliveries"] == {"pending": 0, "succeeded": 1, "failed": 1}
    assert listed[0]["last_error"] == "HTTP 500" and listed[0]["last_delivered_at"]


# --- the audit trail --------------------------------------------------------------------------------------

def test_every_admin_write_is_in_the_audit_trail_with_its_token_and_before_after(app, http, tenant, platform):
    token_id = in_app(app, lambda: db.session.scalar(db.text("SELECT max(id) FROM platform_tokens")))
    base = f"{ADMIN}/bots"
    http.post(base, headers=platform, json={"id": 77, "name": "A", "username": "@a"})
    http.patch(f"{base}/77", headers=platform, json={"name": "B"})
    key = http.post(f"{base}/77/keys", headers=platform, json={"name": "k"}).get_json()
    http.patch(f"{base}/77/keys/{key['id']}", headers=platform, json={"scopes": ["read"]})
    rolled = http.post(f"{base}/77/keys/{key['id']}/roll", headers=platform, json={"grace_period_seconds": 60})
    http.post(f"{base}/77/keys/{rolled.get_json()['key']['id']}/revoke", headers=platform)
    http.post(f"{base}/{tenant.bot_id}/keys/{tenant.key_id}/revoke", headers=platform)
    http.post(base, headers=platform, json={"id": 77, "name": "dup", "username": "@d"})  # refused: not audited
    trail = http.get(f"{ADMIN}/audit?bot_id=77", headers=platform).get_json()
    actions = [event["action"] for event in reversed(trail["events"])]
    assert actions == ["bot.create", "bot.update", "key.create", "key.update", "key.roll", "key.revoke"]
    assert trail["total"] == 6 and all(event["token_id"] == token_id for event in trail["events"])
    update = trail["events"][-2]
    assert update["before"]["name"] == "A" and update["after"]["name"] == "B" and update["target"] == "bot:77"
    created = trail["events"][-1]
    assert created["before"] is None and created["after"]["id"] == 77
    assert http.get(f"{ADMIN}/audit", headers=platform).get_json()["total"] == 7
    assert in_app(app, lambda: db.session.query(AdminAuditEvent).count()) == 7
    assert in_app(app, lambda: db.session.get(ApiKey, key["id"]).expires_at) is not None


# --- the admin API's own document -------------------------------------------------------------------------

def test_the_admin_document_lists_every_admin_route_and_the_public_one_none(app, http):
    admin_spec = http.get("/api/admin/openapi.json").get_json()
    public_spec = http.get("/api/openapi.json").get_json()
    routes = {(RULE_ARGUMENT.sub(r"{\1}", rule.rule), method.lower()) for rule in app.url_map.iter_rules()
              if rule.rule.startswith(ADMIN + "/") for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in admin_spec["paths"].items() for method in item
                  if method in ("get", "post", "patch", "put", "delete")}
    assert routes == documented
    assert not [path for path in public_spec["paths"] if path.startswith(PLATFORM_PREFIX)]
    assert "PlatformToken" not in public_spec["components"]["securitySchemes"]
    assert admin_spec["components"]["securitySchemes"]["PlatformToken"]["scheme"] == "bearer"
    assert admin_spec["security"] == [{"PlatformToken": []}]
    for path, item in admin_spec["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "patch", "put", "delete"):
                assert "401" in operation["responses"] and operation["summary"], (method, path)
    docs = http.get("/api/admin/docs")
    assert docs.status_code == 200 and "/api/admin/openapi.json" in docs.get_data(as_text=True)


# --- limits -----------------------------------------------------------------------------------------------

def test_each_platform_token_has_its_own_budget_and_a_spent_one_is_a_429(app):
    """ADMIN_RATE_LIMIT_PER_MINUTE per token (the X-RateLimit headers on every answer); another token is untouched,
    and the public API's budgets never move for admin requests."""
    limited = make_app_like(app, ADMIN_RATE_LIMIT_PER_MINUTE=3)
    try:
        http = limited.test_client()
        first, second = ({"Authorization": f"Bearer {in_app(limited, issue_token, name)[1]}"}
                         for name in ("first", "second"))
        answers = [http.get(f"{ADMIN}/bots", headers=first) for _ in range(4)]
        assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
        assert [answer.headers["X-RateLimit-Remaining"] for answer in answers[:3]] == ["2", "1", "0"]
        refused = answers[3]
        problem = refused.get_json()
        assert problem["type"] == "/problems/rate-limited" and "platform token" in problem["detail"]
        assert int(refused.headers["Retry-After"]) >= 1
        assert http.get(f"{ADMIN}/bots", headers=second).status_code == 200
    finally:
        dispose_app(limited)


def test_requests_without_a_valid_platform_token_share_their_address_budget(app):
    """Guessing tokens earns no fresh budget: every invented or revoked token of one address spends the same
    RATE_LIMIT_PER_ADDRESS, then 429 before any look-up of the next one."""
    limited = make_app_like(app, RATE_LIMIT_PER_ADDRESS=2)
    try:
        http = limited.test_client()
        invented = [{"Authorization": f"Bearer tp_{index:032d}"} for index in range(3)]
        statuses = [http.get(f"{ADMIN}/bots", headers=headers).status_code for headers in invented]
        assert statuses == [401, 401, 429]
    finally:
        dispose_app(limited)
