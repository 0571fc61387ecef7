"""Key scopes: every scope against every /api/v1 operation, generated from the URL map, so a new route is covered
without editing this file; a refusal is a 403 naming the scope, decided before anything is written; keys without
scopes keep every right; /api/v1/me tells a key what it is; the OpenAPI document names each operation's scope."""
import re

import pytest
from sqlalchemy import func, select

from conftest import in_app, make_client, make_tracking, make_webhook
from tracker_api.access.keys import issue_key
from tracker_api.access.scopes import SCOPES
from tracker_api.extensions import db
from tracker_api.models import ApiKey, Bot, Client, StatusEvent, TrackingNumber, WebhookEndpoint

RULE_ARGUMENT = re.compile(r"<(?:([^<>:(]+)(?:\([^)]*\))?:)?([^<>:]+)>")
WRITTEN = (Bot, Client, TrackingNumber, StatusEvent, WebhookEndpoint)
BODIES = {"tracking": {"tracking_number": "SCOPE000001", "client_code": "CLIENT123", "status": "pending"},
          "clients": {"client_code": "SCOPE1", "name": "Scope Test"},
          "webhooks": {"url": "https://hooks.example.com/scoped"}}


def expected_scope(path, method):
    """The rule as the product states it, written out independently of access/scopes.py."""
    if path == "/api/v1/me":
        return None
    if path.startswith("/api/v1/webhooks/"):
        return "webhooks"
    return {"GET": "read", "POST": "write", "PUT": "write", "PATCH": "write", "DELETE": "delete"}[method]


def v1_operations(app, bot_id, ids):
    """(path filled with real ids, method, rule) for every /api/v1 route Flask dispatches."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/me":
            continue
        def fill(match):
            name = match.group(2)
            return str(bot_id if name == "bot_id" else ids.get(name, 1))
        path = RULE_ARGUMENT.sub(fill, rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield path, method, rule.rule


def send(http, path, method, key):
    resource = path.split("/")[3] if path.count("/") >= 3 else ""
    body = BODIES.get(resource, {}) if method in ("POST", "PUT", "PATCH") else None
    return http.open(path, method=method, headers={"X-API-Key": key}, json=body)


def snapshot(app):
    def count():
        counts = {model.__tablename__: db.session.scalar(select(func.count()).select_from(model)) for model in WRITTEN}
        return {**counts, "change_seq": db.session.scalar(select(func.sum(Bot.change_seq)))}
    return in_app(app, count)


@pytest.fixture
def scoped_keys(app, tenant):
    """One key per scope, each with a budget large enough for the whole matrix."""
    def build():
        return {scope: issue_key(tenant.bot_id, f"only {scope}", rate_limit_per_minute=10_000, scopes=[scope])[1]
                for scope in SCOPES}
    return in_app(app, build)


@pytest.fixture
def records(app, tenant):
    make_client(app, tenant.bot_id, "CLIENT123")
    client_id = make_client(app, tenant.bot_id, "CLIENT124")
    tracking_id = make_tracking(app, tenant.bot_id, tracking_number="ABC123456")
    webhook_id, _ = make_webhook(app, tenant.bot_id)
    return {"client_id": client_id, "tracking_id": tracking_id, "webhook_id": webhook_id,
            "client_code": "CLIENT123", "tracking_number": "ABC123456"}


def test_a_key_outside_its_scope_is_refused_before_anything_is_written(app, http, tenant, scoped_keys, records):
    operations = list(v1_operations(app, tenant.bot_id, records))
    assert len(operations) >= 20
    before = snapshot(app)
    refusals = 0
    for path, method, rule in operations:
        needed = expected_scope(rule if rule == "/api/v1/me" else path, method)
        for scope, key in scoped_keys.items():
            if needed is None or scope == needed:
                continue
            response = send(http, path, method, key)
            assert response.status_code == 403, (method, path, scope, response.get_json())
            problem = response.get_json()
            assert problem["type"] == "/problems/insufficient-scope", (method, path, scope)
            assert problem["required_scope"] == needed and f"'{needed}'" in problem["detail"]
            refusals += 1
    assert refusals >= 3 * 20
    assert snapshot(app) == before


def test_a_key_with_the_needed_scope_gets_past_the_scope_check(app, http, tenant, scoped_keys, records):
    answers = {}
    for path, method, rule in v1_operations(app, tenant.bot_id, records):
        needed = expected_scope(rule if rule == "/api/v1/me" else path, method)
        for scope in ([needed] if needed else SCOPES):
            response = send(http, path, method, scoped_keys[scope])
            body = response.get_json(silent=True) or {}
            assert body.get("type") != "/problems/insufficient-scope", (method, path, scope)
            assert response.status_code < 500, (method, path, scope)
            answers[(method, rule)] = response.status_code
    # The allowed writes really write: the scope check let them through to their views.
    assert answers[("POST", "/api/v1/tracking/<int(min=1, max=2147483647):bot_id>")] == 201
    assert answers[("POST", "/api/v1/clients/<int(min=1, max=2147483647):bot_id>")] == 201


def test_a_key_without_scopes_keeps_every_right(app, http, tenant, records):
    assert in_app(app, lambda: db.session.get(ApiKey, tenant.key_id).scopes) is None
    for path, method, rule in v1_operations(app, tenant.bot_id, records):
        response = send(http, path, method, tenant.key)
        assert (response.get_json(silent=True) or {}).get("type") != "/problems/insufficient-scope", (method, path)


def test_an_unknown_scope_is_refused_when_issuing(app, tenant):
    with pytest.raises(ValueError, match="unknown scope admin"):
        in_app(app, issue_key, tenant.bot_id, "bad", scopes=["read", "admin"])


def test_me_describes_the_calling_key_whatever_its_scopes(app, http, tenant, scoped_keys):
    response = http.get("/api/v1/me", headers={"X-API-Key": scoped_keys["delete"]})
    assert response.status_code == 200
    me = response.get_json()
    assert set(me) == {"bot_id", "key_id", "prefix", "name", "kind", "scopes", "rate_limit_per_minute", "expires_at"}
    assert me["bot_id"] == tenant.bot_id and me["scopes"] == ["delete"] and me["kind"] == "secret"
    assert me["name"] == "only delete" and me["rate_limit_per_minute"] == 10_000 and me["expires_at"] is None
    assert scoped_keys["delete"].startswith(me["prefix"])
    everything = http.get("/api/v1/me", headers=tenant.headers).get_json()
    assert everything["key_id"] == tenant.key_id and everything["scopes"] == list(SCOPES)


def test_me_without_a_key_is_the_uniform_401(http):
    assert http.get("/api/v1/me").status_code == 401


def test_the_openapi_document_names_each_operations_scope(sqlite_app):
    spec = sqlite_app.test_client().get("/api/openapi.json").get_json()
    seen = 0
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method.upper() in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                assert operation.get("x-required-scope") == expected_scope(path, method.upper()), (method, path)
                seen += 1
    assert seen >= 20


def test_cli_issues_a_key_with_repeated_scopes(app, tenant):
    import json
    result = app.test_cli_runner().invoke(args=["keys", "create", "--bot-id", str(tenant.bot_id), "--name", "ro",
                                                "--scope", "read", "--scope", "webhooks", "--json"])
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert created["scopes"] == "read webhooks"
    bad = app.test_cli_runner().invoke(args=["keys", "create", "--bot-id", str(tenant.bot_id), "--name", "x",
                                             "--scope", "admin"])
    assert bad.exit_code != 0
