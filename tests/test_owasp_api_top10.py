"""The OWASP API Security Top 10 (2023), item by item, checked against this API from the attacker's side.

One class per item; its docstring says what the item means here. Tests taking `app` (or a fixture built on it)
run on SQLite and on PostgreSQL. Lists of routes come from `app.url_map` and the OpenAPI document, never from
this file, so a new route is covered, or fails a test that says what to add, without editing it.

The detailed specifications of each protection live in their own modules (test_isolation, test_auth,
test_errors, test_ratelimit, test_security_events, test_openapi, test_e2e_nginx, test_docs_browser); this one
is the map from the Top 10 to the API, and checks that each protection holds.
"""
import ast
import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import event, text

from conftest import dispose_app, in_app, make_app_like, make_client, make_tracking, make_webhook
from tracker_api import create_app
from tracker_api.access.keys import _checksum, generate_plain_key, hash_key, issue_key, revoke_key
from tracker_api.access.platform_tokens import issue_token
from tracker_api.extensions import db
from tracker_api.models import ApiKey, WebhookDelivery
from tracker_api.models.types import utcnow

REPO = Path(__file__).resolve().parent.parent
API_PREFIX = "/api/v1/"
CHECKED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PROBLEM = "application/problem+json"
# Valid bodies for every write, so that a refusal is the authorization's and never a validation error.
WRITE_BODIES = {"tracking": {"POST": {"tracking_number": "HIJACK-0001", "client_code": "RIVALVIP0042"},
                             "PUT": {"status": "cancelled", "note": "hijacked"}, "PATCH": {"status": "cancelled"}},
                "clients": {"POST": {"client_code": "HIJACK-0001"}, "PUT": {"client_code": "HIJACK-0001"},
                            "PATCH": {"name": "hijacked"}},
                "webhooks": {"POST": {"url": "https://hijack.example.com/hooks"}, "PATCH": {"enabled": False}}}
RIVAL_WEBHOOK_URL = "https://rival-secret-crm.example.com/hooks"
RIVAL_SECRETS = ("RIVAL-SECRET-7734", "RIVALVIP0042", "Zhanibek Secretov", "+77019998877", "Rival Cargo",
                 RIVAL_WEBHOOK_URL)


# --- helpers ------------------------------------------------------------------------------------------

ADMIN_PREFIX = "/api/admin/v1/"
# Under /api/v1 without a bot id: the calling key's own description, no other bot to name (GET only, no arguments).
CALLER_ONLY_RULES = {"/api/v1/me"}


def bot_scoped_rules(app):
    """Every URL rule with a bot id in its path, whatever its prefix, but the platform admin API's: it names any
    bot by design, for a platform token only, and refuses every bot key with a 401 (API5 below, test_admin_api)."""
    return [rule for rule in app.url_map.iter_rules()
            if "bot_id" in rule.arguments and not rule.rule.startswith(ADMIN_PREFIX)]


def operations(app):
    """(method, rule) for every method a bot-scoped rule allows, HEAD and OPTIONS aside (Flask answers those)."""
    return [(method, rule) for rule in bot_scoped_rules(app) for method in sorted(rule.methods)
            if method in CHECKED_METHODS]


def path_of(app, rule, values):
    return app.url_map.bind("localhost").build(rule.endpoint, {name: values[name] for name in rule.arguments})


def send(http, method, path, headers):
    body = WRITE_BODIES.get(path.removeprefix(API_PREFIX).split("/")[0], {}).get(method)
    return http.open(path, method=method, headers=headers, **({"json": body} if body else {}))


def assert_problem(response, status):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.content_type == PROBLEM
    body = response.get_json()
    assert body["status"] == status and body["detail"]
    return body


# The rows of one bot, table by table; of its keys, all but the time of last use, which a request may move.
BOT_ROWS = {"bots": ("*", "id"), "clients": ("*", "bot_id"), "tracking_numbers": ("*", "bot_id"),
            "status_events": ("*", "bot_id"), "webhook_endpoints": ("*", "bot_id"), "webhook_events": ("*", "bot_id"),
            "api_keys": ("id, name, prefix, key_hash, expires_at, revoked_at, rate_limit_per_minute", "bot_id")}


def rows_of_bot(app, bot_id):
    """Every row that belongs to one bot, its keys included, to prove a refused request changed nothing."""
    def read():
        return {table: [tuple(row) for row in db.session.execute(
            text(f"SELECT {columns} FROM {table} WHERE {owner} = :bot ORDER BY id"), {"bot": bot_id})]
            for table, (columns, owner) in BOT_ROWS.items()}
    return in_app(app, read)


def json_members(node):
    """(name, value) of every member of every object in a JSON document."""
    if isinstance(node, dict):
        for name, value in node.items():
            yield name, value
            yield from json_members(value)
    elif isinstance(node, list):
        for item in node:
            yield from json_members(item)


def openapi_document(http):
    response = http.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def csp_directives(response):
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part}


@pytest.fixture
def rival(app, other_tenant):
    """Bot B: a client and a tracking number full of recognisable strings, a webhook with a delivery, and the ids
    to reach them by."""
    webhook_id, _ = make_webhook(app, other_tenant.bot_id, RIVAL_WEBHOOK_URL)
    client_id = make_client(app, other_tenant.bot_id, "RIVALVIP0042", name="Zhanibek Secretov", phone="+77019998877")
    tracking_id = make_tracking(app, other_tenant.bot_id, tracking_number="RIVAL-SECRET-7734",
                                client_code="RIVALVIP0042", note="rival-private-note")
    return {"bot_id": other_tenant.bot_id, "tracking_id": tracking_id, "client_id": client_id,
            "client_code": "RIVALVIP0042", "tracking_number": "RIVAL-SECRET-7734", "webhook_id": webhook_id,
            "delivery_id": last_delivery_id(app)}


def last_delivery_id(app):
    return in_app(app, lambda: db.session.scalar(db.select(db.func.max(WebhookDelivery.id))))


@pytest.fixture
def own(app, tenant):
    """Bot A's own objects, for requests that must succeed."""
    webhook_id, _ = make_webhook(app, tenant.bot_id)
    client_id = make_client(app, tenant.bot_id, "CLIENT123")
    return {"bot_id": tenant.bot_id, "tracking_id": make_tracking(app, tenant.bot_id), "client_id": client_id,
            "client_code": "CLIENT123", "tracking_number": "ABC123456", "webhook_id": webhook_id,
            "delivery_id": last_delivery_id(app)}


# --- API1:2023 --------------------------------------------------------------------------------------------

class TestAPI1BrokenObjectLevelAuthorization:
    """API1:2023 Broken Object Level Authorization. Every object belongs to one bot; bot A's key must reach
    none of bot B's objects, neither with B's bot id in the path (403 `wrong-bot`, before any query) nor with
    A's own bot id and B's object ids (404, as if they did not exist). The matrix is every method of every
    URL rule that has a bot id, with the ids of B's real objects."""

    def test_the_matrix_covers_every_rule_with_a_bot_id_and_knows_how_to_fill_it(self, app, rival):
        matrix = operations(app)
        assert matrix, "no URL rule with <bot_id> in the app"
        assert {rule.rule for _, rule in matrix} == {rule.rule for rule in bot_scoped_rules(app)}
        for rule in app.url_map.iter_rules():
            if rule.rule in CALLER_ONLY_RULES:
                assert not rule.arguments and rule.methods - {"HEAD", "OPTIONS"} == {"GET"}, rule.rule
            elif rule.rule.startswith(API_PREFIX):
                assert "bot_id" in rule.arguments, f"{rule.rule} serves API data without a bot id in its path"
        for method, rule in matrix:
            unknown = rule.arguments - rival.keys()
            assert not unknown, f"{method} {rule.rule}: add B's object for {unknown} to the `rival` fixture"

    def test_bot_a_is_refused_every_operation_on_bot_b_and_b_is_unchanged(self, app, http, tenant, other_tenant,
                                                                          rival):
        before = rows_of_bot(app, rival["bot_id"])
        for method, rule in operations(app):
            path = path_of(app, rule, rival)
            response = send(http, method, path, tenant.headers)
            assert_problem(response, 403)
            assert response.get_json()["type"] == "/problems/wrong-bot", path
            assert not [secret for secret in RIVAL_SECRETS if secret in response.get_data(as_text=True)], path
            if method == "GET":  # the same path with B's own key is B's data: the matrix hits real objects
                assert http.get(path, headers=other_tenant.headers).status_code == 200, path
        assert rows_of_bot(app, rival["bot_id"]) == before

    def test_bot_a_cannot_reach_b_s_objects_through_its_own_bot_id(self, app, http, tenant, rival):
        before = rows_of_bot(app, rival["bot_id"])
        checked = 0
        for method, rule in operations(app):
            if not {"tracking_id", "client_id", "webhook_id"} & rule.arguments:
                continue
            response = send(http, method, path_of(app, rule, {**rival, "bot_id": tenant.bot_id}), tenant.headers)
            assert_problem(response, 404)
            checked += 1
        listing = http.get(path_of(app, next(r for r in bot_scoped_rules(app) if "client_code" in r.arguments),
                                   {**rival, "bot_id": tenant.bot_id}), headers=tenant.headers)
        assert listing.status_code == 200 and listing.get_json()["total"] == 0
        assert checked >= 3
        assert rows_of_bot(app, rival["bot_id"]) == before


# --- API2:2023 --------------------------------------------------------------------------------------------

def near_miss(key):
    """A well-formed key (valid checksum) one character away from a real one: only the lookup can refuse it."""
    body = key[:-6]
    body = body[:5] + ("A" if body[5] != "A" else "B") + body[6:]
    return body + _checksum(body)


def malformed_shapes(key):
    return {
        "empty": "", "wrong prefix": "tk_" + key[3:], "upper-case prefix": "TB_" + key[3:],
        "whole key lower-cased": key.lower() if key.lower() != key else key.upper(),
        "too short": key[:-1], "too long": key + "A", "far too long": key * 200,
        "bad checksum": key[:-1] + ("A" if key[-1] != "A" else "B"),
        "one random character changed": key[:8] + ("A" if key[8] != "A" else "B") + key[9:],
        "non-base62 character": key[:10] + "-" + key[11:], "base64 padding": key[:-1] + "=",
        "space inside": key[:10] + " " + key[11:], "tab inside": key[:10] + "\t" + key[11:],
        "cyrillic homoglyph": key[:10] + "а" + key[11:],
        "utf-8 bytes": ("tb_" + "ж" * 16).encode().decode("latin-1"),
        "bearer scheme": "Bearer " + key, "two keys": key + "," + key, "near miss": near_miss(key),
    }


class TestAPI2BrokenAuthentication:
    """API2:2023 Broken Authentication. Keys are `tb_` + 32 base62 characters with a checksum, presented in
    the X-API-Key header only; anything else, and a revoked or expired key, is one uniform 401 problem. The
    server stores only an HMAC-SHA256 of each key under a secret pepper and looks keys up by that digest, so
    neither the application nor the database ever compares the secret itself, character by character."""

    def test_every_malformed_key_shape_is_a_401_problem(self, http, tenant):
        for shape, key in malformed_shapes(tenant.key).items():
            response = http.get(f"/api/v1/bots/{tenant.bot_id}", headers={"X-API-Key": key})
            assert response.status_code == 401, shape
            assert response.content_type == PROBLEM and "X-API-Key" in response.headers["WWW-Authenticate"], shape
        assert http.get(f"/api/v1/bots/{tenant.bot_id}", headers=tenant.headers).status_code == 200

    @pytest.mark.parametrize("parameter", ["api_key", "X-API-Key"])
    def test_a_key_in_the_query_string_is_never_accepted(self, http, tenant, parameter):
        path = f"/api/v1/bots/{tenant.bot_id}"
        assert_problem(http.get(path, query_string={parameter: tenant.key}), 401)
        assert_problem(http.get(path, query_string={parameter: tenant.key}, headers=tenant.headers), 401)

    def test_revoked_and_expired_keys_get_the_same_401_as_an_invented_one(self, app, http, tenant):
        path = f"/api/v1/bots/{tenant.bot_id}"
        invented = assert_problem(http.get(path, headers={"X-API-Key": generate_plain_key()}), 401)
        _, revoked_key = in_app(app, issue_key, tenant.bot_id, "revoked")
        _, expired_key = in_app(app, issue_key, tenant.bot_id, "expired", 1)

        def revoke_and_expire():
            revoke_key(db.session.execute(db.select(ApiKey.id).filter_by(name="revoked")).scalar_one())
            db.session.execute(db.update(ApiKey).filter_by(name="expired").values(expires_at=utcnow()))
            db.session.commit()
        in_app(app, revoke_and_expire)
        for key in (revoked_key, expired_key):
            refused = assert_problem(http.get(path, headers={"X-API-Key": key}), 401)
            assert {**refused, "request_id": None} == {**invented, "request_id": None}

    def test_the_secret_never_reaches_the_database_only_its_peppered_hmac_does(self, app, http, tenant):
        statements = []

        def record(connection, cursor, statement, parameters, context, executemany):
            statements.append(f"{statement} {parameters!r}")
        engine = in_app(app, lambda: db.engine)
        event.listen(engine, "before_cursor_execute", record)
        try:
            assert http.get(f"/api/v1/bots/{tenant.bot_id}", headers=tenant.headers).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", record)
        digest = in_app(app, hash_key, tenant.key)
        assert any(digest in statement for statement in statements), "the key is not looked up by its digest"
        assert not [s for s in statements if tenant.key in s or tenant.key[3:] in s]

    def test_a_leaked_key_table_is_useless_without_the_pepper(self, app, tenant):
        repeppered = make_app_like(app, API_KEY_PEPPER="another-pepper")
        try:
            response = repeppered.test_client().get(f"/api/v1/bots/{tenant.bot_id}", headers=tenant.headers)
        finally:
            dispose_app(repeppered)
        assert response.status_code == 401


# --- API3:2023 --------------------------------------------------------------------------------------------

# Stored or computed by the server, never by a client. (total_cost_usd is not here: the client may set it and
# the server computes it only when it is left out, as the product document says.)
SERVER_OWNED = {"bot_id": 456, "id": 999, "created_at": "2020-01-01T00:00:00+00:00",
                "updated_at": "2020-01-01T00:00:00+00:00", "current_status": "delivered",
                "history": [{"status": "delivered"}], "api_key_id": 1, "is_active": False}
INTERNAL_NAMES = {"key_hash", "pepper", "api_key_pepper", "password", "secret", "revoked_at", "client_address"}


class TestAPI3BrokenObjectPropertyLevelAuthorization:
    """API3:2023 Broken Object Property Level Authorization. Request bodies are marshmallow schemas with
    unknown=RAISE: a property the client may not write (bot id, ids, timestamps, the status history) is a 422
    naming it, and changes nothing. Responses are schemas too: no key hash, no pepper, and the only bot and key
    ids in them are the caller's own."""

    @pytest.mark.parametrize("name", sorted(SERVER_OWNED))
    def test_a_server_owned_property_in_a_create_is_a_422_and_creates_nothing(self, http, tenant, name):
        path = f"/api/v1/tracking/{tenant.bot_id}"
        body = {"tracking_number": "MASS-0001", "client_code": "CLIENT123", name: SERVER_OWNED[name]}
        problem = assert_problem(http.post(path, headers=tenant.headers, json=body), 422)
        assert name in problem["errors"]
        assert http.get(path, headers=tenant.headers).get_json()["total"] == 0

    def test_server_owned_properties_in_an_update_are_a_422_and_change_nothing(self, app, http, tenant, own):
        path = f"/api/v1/tracking/{tenant.bot_id}/{own['tracking_id']}"
        before = http.get(path, headers=tenant.headers).get_json()
        for name, value in SERVER_OWNED.items():
            problem = assert_problem(http.put(path, headers=tenant.headers, json={"note": "x", name: value}), 422)
            assert name in problem["errors"], name
        assert http.get(path, headers=tenant.headers).get_json() == before

    def test_no_response_carries_internal_properties_or_another_key_s_identity(self, app, http, tenant, own,
                                                                               other_tenant):
        secrets = (tenant.key, tenant.key[3:], in_app(app, hash_key, tenant.key), app.config["API_KEY_PEPPER"],
                   other_tenant.key[:9])
        responses = [http.get(path_of(app, rule, own), headers=tenant.headers)
                     for method, rule in operations(app) if method == "GET"]
        responses.append(http.post(f"/api/v1/tracking/{tenant.bot_id}", headers=tenant.headers,
                                   json={"tracking_number": "NEW-1", "client_code": "CLIENT123"}))
        for response in responses:
            assert response.status_code in (200, 201), response.request.path
            members = list(json_members(response.get_json()))
            assert not INTERNAL_NAMES & {name for name, _ in members}, response.request.path
            assert all(value == tenant.bot_id for name, value in members if name == "bot_id")
            assert all(value in (None, tenant.key_id) for name, value in members if name in ("key_id", "api_key_id"))
            assert not [s for s in secrets if s in response.get_data(as_text=True)], response.request.path


# --- API4:2023 --------------------------------------------------------------------------------------------

class TestAPI4UnrestrictedResourceConsumption:
    """API4:2023 Unrestricted Resource Consumption. A page holds at most 100 items, a body at most
    MAX_CONTENT_LENGTH (1 MiB; nginx refuses the same before reading it), and a key at most its requests per
    minute (60 by default, set per key), counted in Redis across workers (test_ratelimit covers the stores)."""

    def test_every_paged_list_refuses_more_than_100_items_naming_the_maximum(self, app, http, tenant, own):
        paged = {path for path, item in openapi_document(http)["paths"].items()
                 for parameter in item.get("get", {}).get("parameters", []) if parameter["name"] == "page_size"}
        assert paged, "no operation takes page_size"
        for template in paged:
            path = template.format(**own)
            problem = assert_problem(http.get(path, headers=tenant.headers, query_string={"page_size": 101}), 422)
            assert "page_size" in problem["errors"] and "100" in problem["detail"], path
            assert http.get(path, headers=tenant.headers, query_string={"page_size": 100}).status_code == 200

    def test_a_body_over_the_limit_is_a_413_problem_and_stores_nothing(self, app, http, tenant):
        limit = app.config["MAX_CONTENT_LENGTH"]
        assert 0 < limit <= 1024 * 1024
        path = f"/api/v1/tracking/{tenant.bot_id}"
        body = {"tracking_number": "BIG-1", "client_code": "CLIENT123", "note": "n" * limit}
        assert_problem(http.post(path, headers=tenant.headers, json=body), 413)
        assert http.get(path, headers=tenant.headers).get_json()["total"] == 0

    def test_a_key_s_own_limit_of_two_per_minute_gives_a_429_on_the_third_request(self, app, tenant):
        _, key = in_app(app, issue_key, tenant.bot_id, "small", None, 2)
        limited = make_app_like(app)  # fresh in-memory counters: key ids repeat after a wipe
        try:
            http = limited.test_client()
            codes = [http.get(f"/api/v1/bots/{tenant.bot_id}", headers={"X-API-Key": key}) for _ in range(3)]
        finally:
            dispose_app(limited)
        assert [r.status_code for r in codes] == [200, 200, 429]
        assert_problem(codes[2], 429)
        assert codes[2].headers["X-RateLimit-Limit"] == "2" and int(codes[2].headers["Retry-After"]) >= 1

    def test_the_platform_admin_api_pages_at_most_100_items_and_spends_a_budget_per_token(self, app, tenant):
        """The admin API's surface is bounded alike: its paged lists refuse more than 100 items, and each platform
        token has ADMIN_RATE_LIMIT_PER_MINUTE (here 5), a 429 past it."""
        limited = make_app_like(app, ADMIN_RATE_LIMIT_PER_MINUTE=5)
        try:
            http = limited.test_client()
            headers = {"Authorization": f"Bearer {in_app(limited, issue_token, 'platform')[1]}"}
            document = http.get("/api/admin/openapi.json").get_json()
            paged = sorted(path for path, item in document["paths"].items()
                           for parameter in item.get("get", {}).get("parameters", [])
                           if parameter["name"] == "page_size")
            assert len(paged) >= 2, paged
            answers = [http.get(path.format(bot_id=tenant.bot_id, key_id=tenant.key_id), headers=headers,
                                query_string={"page_size": 101}) for path in paged[:2]]
            for answer in answers:
                assert "page_size" in assert_problem(answer, 422)["errors"]
            spent = [http.get("/api/admin/v1/bots", headers=headers) for _ in range(4)]
        finally:
            dispose_app(limited)
        assert [answer.status_code for answer in spent] == [200, 200, 200, 429]
        assert assert_problem(spent[-1], 429)["type"] == "/problems/rate-limited"


# --- API5:2023 --------------------------------------------------------------------------------------------

OPERATOR_PROBES = [("POST", "/api/v1/bots"), ("POST", "/api/v1/bots/{bot_id}/keys"), ("GET", "/api/v1/keys"),
                   ("DELETE", "/api/v1/bots/{bot_id}"), ("PUT", "/api/v1/bots/{bot_id}"),
                   ("PATCH", "/api/v1/bots/{bot_id}"), ("GET", "/api/v1/security/events"),
                   ("POST", "/api/v1/security/unblock"), ("GET", "/api/v1/admin"), ("GET", "/api/v1/bots")]


class TestAPI5BrokenFunctionLevelAuthorization:
    """API5:2023 Broken Function Level Authorization. Operator functions (creating bots and keys, revoking,
    limits, security events, unblocking) exist as `flask` CLI commands on the servers and, for the bot platform's
    backend, as the platform admin API (/api/admin/v1), which takes only a platform token and answers every bot key
    with a 401; a bot key can only read its bot and read and write its tracking numbers. /metrics needs no key but
    nginx does not route it (docker/nginx.conf; tests/test_e2e_nginx.py probes it through nginx), and it holds
    no tenant identifiers. A method a route does not allow is a 405 problem."""

    def test_operator_functions_are_cli_commands_or_platform_admin_routes(self, app, http, tenant):
        """Outside the platform admin API (/api/admin/v1, a platform token's), no route manages bots, keys or
        security; there, every route refuses a bot key with the 401 of a missing credential."""
        assert {"bots", "keys", "security", "platform-tokens"} <= set(app.cli.commands)
        admin_rules = []
        for rule in app.url_map.iter_rules():
            if rule.rule.startswith(ADMIN_PREFIX) or rule.rule.startswith("/api/admin/openapi.json") or \
                    rule.rule == "/api/admin/docs":
                admin_rules.append(rule)
                continue
            assert not re.search(r"keys|admin|security|unblock|events", rule.rule), rule.rule
            if rule.methods & {"POST", "PUT", "PATCH", "DELETE"}:
                assert "bot_id" in rule.arguments and not rule.rule.startswith("/api/v1/bots"), rule.rule
        operations = [(rule, method) for rule in admin_rules if rule.rule.startswith(ADMIN_PREFIX)
                      for method in rule.methods & set(CHECKED_METHODS)]
        assert operations
        for rule, method in operations:
            path = path_of(app, rule, {name: tenant.bot_id if name == "bot_id" else tenant.key_id
                                       for name in rule.arguments})
            response = http.open(path, method=method, headers=tenant.headers, json={"is_active": True})
            assert_problem(response, 401)

    def test_a_bot_key_reaches_no_operator_function_and_cannot_change_its_bot(self, app, http, tenant):
        before = rows_of_bot(app, tenant.bot_id)
        body = {"is_active": True, "subscription_status": "active", "name": "Renamed", "rate_limit_per_minute": 9999}
        for method, template in OPERATOR_PROBES:
            response = http.open(template.format(bot_id=tenant.bot_id), method=method, headers=tenant.headers,
                                 json=body)
            assert response.status_code in (404, 405), (method, template, response.status_code)
            assert response.content_type == PROBLEM
        assert rows_of_bot(app, tenant.bot_id) == before

    def test_nginx_routes_only_the_api_docs_problem_pages_and_health_checks(self):
        config = (REPO / "docker" / "nginx.conf").read_text()
        proxied = set()
        for location in re.finditer(r"location\s+([^{]+?)\s*\{([^}]*)\}", config):
            if "proxy_pass" in location.group(2):
                proxied.add(location.group(1))
        assert proxied == {"/api/", "/problems/", "= /healthz", "= /readyz"}

    def test_metrics_carry_no_tenant_identifiers(self, app, http, tenant, own):
        path = f"/api/v1/tracking/{tenant.bot_id}/{own['tracking_id']}"
        assert http.get(path, headers=tenant.headers).status_code == 200
        scrape = http.get("/metrics").get_data(as_text=True)
        assert "/api/v1/tracking/{bot_id}/{tracking_id}" in scrape
        assert f"/{tenant.bot_id}/" not in scrape and tenant.key[:9] not in scrape

    def test_every_method_a_route_does_not_allow_is_a_405_problem(self, app, http, tenant, own):
        refused = 0
        for rule in bot_scoped_rules(app):
            for method in set(CHECKED_METHODS) - rule.methods:
                response = send(http, method, path_of(app, rule, own), tenant.headers)
                assert_problem(response, 405)
                assert set(rule.methods) <= {m.strip() for m in response.headers["Allow"].split(",")}
                refused += 1
        assert refused


# --- API6:2023 --------------------------------------------------------------------------------------------

class TestAPI6UnrestrictedAccessToSensitiveBusinessFlows:
    """API6:2023 Unrestricted Access to Sensitive Business Flows. The flows worth automating against this API
    are guessing keys and scraping: a burst of invalid keys from one address blocks it (before any lookup,
    and a 'security event' for the operator), keys probing other bots and keys hammering their limit are
    recorded (test_security_events), and scraping is bounded by page size and rate limit (API4). Checked here:
    once blocked, a guesser cannot tell a correct guess from a wrong one."""

    def test_after_a_burst_of_guesses_a_correct_key_gets_the_same_answer_as_a_wrong_one(self, app, tenant):
        guarded = make_app_like(app, INVALID_KEY_BURST=3, RATE_LIMIT_PER_ADDRESS=100)
        attacker = {"REMOTE_ADDR": "203.0.113.66"}
        path = f"/api/v1/bots/{tenant.bot_id}"
        try:
            http = guarded.test_client()
            guesses = [http.get(path, headers={"X-API-Key": generate_plain_key()}, environ_base=attacker)
                       for _ in range(3)]
            wrong = http.get(path, headers={"X-API-Key": generate_plain_key()}, environ_base=attacker)
            right = http.get(path, headers=tenant.headers, environ_base=attacker)
            elsewhere = http.get(path, headers=tenant.headers)
        finally:
            dispose_app(guarded)
        assert [r.status_code for r in guesses] == [401] * 3
        assert assert_problem(right, 429)["type"] == "/problems/address-blocked"
        assert {**right.get_json(), "request_id": None} == {**assert_problem(wrong, 429), "request_id": None}
        assert elsewhere.status_code == 200
        kinds = in_app(app, lambda: db.session.execute(text("SELECT kind FROM security_events")).scalars().all())
        assert kinds == ["invalid-key-burst"]


# --- API7:2023 --------------------------------------------------------------------------------------------

URL_LIKE_NAME = re.compile(r"url|uri|href|link|webhook|callback|endpoint|host", re.IGNORECASE)


# The webhook feature's names: its `url` is the one URL a client gives the server (checked by
# tracker_api/webhooks/addresses.py when saved and again after DNS before each delivery).
WEBHOOK_NAMES = {"url", "webhooks", "webhook_id"}
INTERNAL_URLS = ("http://127.0.0.1/", "http://localhost:6379/", "http://169.254.169.254/latest/meta-data/",
                 "http://10.1.2.3/", "http://[::1]/", "http://[::ffff:169.254.169.254]/", "gopher://example.com/")


class TestAPI7ServerSideRequestForgery:
    """API7:2023 Server Side Request Forgery. The API fetches nothing on a client's behalf but webhooks: the bot
    gives a URL that the delivery worker POSTs events to. That URL must be http(s) to a public address: loopback,
    private, link-local (cloud metadata), multicast and unspecified addresses are refused when it is saved, and
    again right before each delivery, after DNS, connecting to the very address checked; no redirect is followed
    (test_webhooks covers the delivery side). WEBHOOK_ALLOWED_HOSTS is the operator's exception, not the bot's."""

    def test_no_operation_but_the_webhooks_takes_a_url(self, http):
        document = openapi_document(http)
        members = list(json_members(document))
        names = {parameter.get("name") for name, value in members if name == "parameters" for parameter in value}
        names |= {field for name, value in members if name == "properties" for field in value}
        assert {"bot_id", "tracking_number", "note"} <= names, "the walk found no parameters or properties"
        assert not [n for n in names - WEBHOOK_NAMES if URL_LIKE_NAME.search(n)], names
        with_url = {f'"#/components/schemas/{name}"' for name, schema in document["components"]["schemas"].items()
                    if "url" in schema.get("properties", {})}
        taking_url = {f"{method} {path}" for path, item in document["paths"].items() for method, operation in
                      item.items() if isinstance(operation, dict)
                      and any(ref in json.dumps(operation.get("requestBody", {})) for ref in with_url)}
        assert taking_url and all("/webhooks/" in operation for operation in taking_url), taking_url
        formats = {value for name, value in json_members(document) if name == "format"}
        assert not formats & {"uri", "url", "uri-reference", "iri", "hostname", "ipv4", "ipv6"}, formats
        assert not [path for path, item in document["paths"].items()
                    for operation in item.values() if isinstance(operation, dict) and "callbacks" in operation]

    def test_a_webhook_url_to_an_internal_address_is_refused_when_created_or_changed(self, http, tenant, own):
        for url in INTERNAL_URLS:
            created = http.post(f"/api/v1/webhooks/{tenant.bot_id}", headers=tenant.headers, json={"url": url})
            assert "url" in assert_problem(created, 422)["errors"], url
            changed = http.patch(f"/api/v1/webhooks/{tenant.bot_id}/{own['webhook_id']}", headers=tenant.headers,
                                 json={"url": url})
            assert "url" in assert_problem(changed, 422)["errors"], url


# --- API8:2023 --------------------------------------------------------------------------------------------

def production_environment(monkeypatch, **extra):
    """What ProductionConfig insists on (the settings classes read the rest at import)."""
    for name, value in {"TRACKER_ENV": "production", "DATABASE_URL": "sqlite://", "API_KEY_PEPPER": "p" * 32,
                        "REDIS_URL": "redis://127.0.0.1:6379/11",
                        "WEBHOOK_SECRET_KEYS": base64.urlsafe_b64encode(b"k" * 32).decode(), **extra}.items():
        monkeypatch.setenv(name, value)


def header_sample(app, http, tenant, own):
    """One response of every kind the app gives: API data, each error, docs, assets, health, metrics."""
    bot = f"/api/v1/bots/{tenant.bot_id}"
    tracking = f"/api/v1/tracking/{tenant.bot_id}"
    oversized = {"note": "n" * app.config["MAX_CONTENT_LENGTH"]}
    return {
        "200": http.get(bot, headers=tenant.headers),
        "201": http.post(tracking, headers=tenant.headers, json={"tracking_number": "H-1", "client_code": "C1"}),
        "401": http.get(bot), "403": http.get("/api/v1/bots/456", headers=tenant.headers),
        "404": http.get(f"{tracking}/999999", headers=tenant.headers), "405": http.delete(bot, headers=tenant.headers),
        "413": http.post(tracking, headers=tenant.headers, json=oversized),
        "422": http.get(tracking, headers=tenant.headers, query_string={"page_size": 0}),
        "HEAD": http.head(bot, headers=tenant.headers), "OPTIONS": http.options(bot),
        "healthz": http.get("/healthz"), "readyz": http.get("/readyz"), "metrics": http.get("/metrics"),
        "openapi": http.get("/api/openapi.json"), "swagger-ui": http.get("/api/docs"),
        "redoc": http.get("/api/redoc"), "asset": http.get("/api/docs/assets/swagger-ui/swagger-ui-bundle.js"),
        "unknown": http.get("/no-such-page"),
    }


class TestAPI8SecurityMisconfiguration:
    """API8:2023 Security Misconfiguration. Production runs without debug; an unexpected error is a bare 500
    problem (the traceback goes to the log only); no CORS is granted to any origin (the API is for servers,
    not browsers on other sites); every response carries tracker_api/web/security_headers.py's headers: nosniff,
    no framing, no referrer, no-store (except the docs assets, cached a day) and a Content-Security-Policy,
    `default-src 'none'` for data and just what Swagger UI and ReDoc need for the docs pages. That those
    pages still work under it is proved in real Chromium by tests/test_docs_browser.py, which fails on any
    console error, CSP violations included."""

    def test_production_settings_have_debug_and_testing_off(self, monkeypatch):
        production_environment(monkeypatch)
        app = create_app(SQLALCHEMY_DATABASE_URI="sqlite://")
        assert (app.debug, app.testing, app.config["PROPAGATE_EXCEPTIONS"]) == (False, False, None)

    def test_flask_debug_in_the_environment_cannot_turn_debug_on_in_production(self, monkeypatch):
        production_environment(monkeypatch, FLASK_DEBUG="1")
        assert create_app(SQLALCHEMY_DATABASE_URI="sqlite://").debug is False

    def test_an_unexpected_error_is_a_500_problem_without_a_traceback(self, app, tenant, monkeypatch, caplog):
        def explode(bot_id):
            raise RuntimeError("internal detail: dsn=postgresql://admin:hunter2@db/prod")
        monkeypatch.setattr("tracker_api.resources.bots.service.get_bot", explode)
        production_like = make_app_like(app, TESTING=False)
        try:
            response = production_like.test_client().get(f"/api/v1/bots/{tenant.bot_id}", headers=tenant.headers)
        finally:
            dispose_app(production_like)
        assert_problem(response, 500)
        body = response.get_data(as_text=True)
        for leak in ("Traceback", "RuntimeError", "hunter2", ".py", "line "):
            assert leak not in body, leak
        assert "hunter2" in caplog.text and "Traceback" in caplog.text  # ...but the operator gets it all

    def test_no_origin_is_granted_cross_origin_access(self, http, tenant):
        origin = {"Origin": "https://evil.example"}
        preflight = http.options(f"/api/v1/bots/{tenant.bot_id}", headers={
            **origin, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "X-API-Key"})
        actual = http.get(f"/api/v1/bots/{tenant.bot_id}", headers={**origin, **tenant.headers})
        docs = http.get("/api/openapi.json", headers=origin)
        for response in (preflight, actual, docs):
            assert not [name for name in response.headers.keys() if name.lower().startswith("access-control-")]

    def test_every_kind_of_response_carries_the_security_headers(self, app, http, tenant, own):
        for kind, response in header_sample(app, http, tenant, own).items():
            headers = response.headers
            assert headers.get("X-Content-Type-Options") == "nosniff", kind
            assert headers.get("X-Frame-Options") == "DENY", kind
            assert headers.get("Referrer-Policy") == "no-referrer", kind
            assert csp_directives(response).get("frame-ancestors") == ["'none'"], kind
            expected_cache = "public, max-age=86400" if kind == "asset" else "no-store"
            assert headers.get("Cache-Control") == expected_cache, kind
            if response.mimetype != "text/html":
                assert csp_directives(response)["default-src"] == ["'none'"], kind

    @pytest.mark.parametrize("page", ["/api/docs", "/api/redoc"])
    def test_the_docs_pages_policy_allows_their_own_scripts_and_nothing_from_elsewhere(self, http, page):
        response = http.get(page)
        html = response.get_data(as_text=True)
        policy = csp_directives(response)
        inline = re.findall(r"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", html, re.DOTALL)
        for script in inline:
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in policy["script-src"], "an inline script the policy would block"
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "blob:"} & set(policy["script-src"])
        assert policy["default-src"] == ["'none'"] and policy["connect-src"] == ["'self'"]
        assert "blob:" in policy["worker-src"]  # ReDoc's search runs in a worker made from a blob
        for source in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert source.startswith("/") and not source.startswith("//"), source  # all covered by 'self'


# --- API9:2023 --------------------------------------------------------------------------------------------

# The rules that are not API operations, so not in the OpenAPI document, and why.
NOT_API_OPERATIONS = {
    "/api/openapi.json": "the document itself",
    "/api/docs": "Swagger UI, an HTML page about the API",
    "/api/redoc": "ReDoc, an HTML page about the API",
    "/api/docs/assets/swagger-ui/<path:filename>": "Swagger UI's static files",
    "/api/docs/assets/redoc/<path:filename>": "ReDoc's static files",
    "/api/docs/assets/redoc/redoc.standalone.js": "ReDoc's script, served with a local logo",
    "/api/admin/openapi.json": "the platform admin API's document",
    "/api/admin/docs": "the platform admin API's Swagger UI",
    "/api/widget.js": "the tracking widget's script, which companies paste into their pages",
    "/healthz": "load balancer probe, no data",
    "/readyz": "load balancer probe, no data",
    "/metrics": "Prometheus scrape, not routed by nginx (API5)",
    "/problems/": "the error catalogue, an HTML page about the API's problems",
    "/problems/<slug>": "the HTML page a problem's `type` points at",
}
RULE_ARGUMENT = re.compile(r"<(?:[^<>]*:)?([^<>:]+)>")


class TestAPI9ImproperInventoryManagement:
    """API9:2023 Improper Inventory Management. Every route the app serves is either an operation of the
    OpenAPI document or one of NOT_API_OPERATIONS (docs, health, metrics), and every documented operation is
    served; a new route must join one or the other. Only v1 exists: no unversioned or other-version copy of
    the API answers."""

    def test_every_rule_is_documented_or_listed_and_every_documented_operation_is_served(self, app, http):
        served = {(RULE_ARGUMENT.sub(r"{\1}", rule.rule), method.lower())
                  for rule in app.url_map.iter_rules() if rule.rule not in NOT_API_OPERATIONS
                  for method in rule.methods - {"HEAD", "OPTIONS"}}
        document = openapi_document(http)
        admin_document = http.get("/api/admin/openapi.json").get_json()  # the platform's, apart from the public
        documented = {(path, method) for spec in (document, admin_document) for path, item in spec["paths"].items()
                      for method in item if method in {m.lower() for m in CHECKED_METHODS}}
        assert documented and served == documented
        assert set(NOT_API_OPERATIONS) <= {rule.rule for rule in app.url_map.iter_rules()}, "a stale entry"
        assert document["info"]["version"] == "v1"

    def test_only_v1_is_served(self, app, http, tenant):
        assert {rule.rule.split("/")[2] for rule in app.url_map.iter_rules()
                if rule.rule.startswith("/api/v")} == {"v1"}
        for prefix in ("/api/v0", "/api/v2", "/api", "", "/v1", "/api/V1", "/api/v1.0"):
            response = http.get(f"{prefix}/tracking/{tenant.bot_id}", headers=tenant.headers)
            assert response.status_code == 404, prefix
        assert http.get(f"/api/v1/tracking/{tenant.bot_id}", headers=tenant.headers).status_code == 200


# --- API10:2023 -------------------------------------------------------------------------------------------

HTTP_CLIENTS = {"requests", "httpx", "aiohttp", "urllib.request", "urllib3", "http.client", "pycurl", "smtplib",
                "ftplib", "xmlrpc.client", "socket"}
# The webhook sender, the one place that calls out: urllib3 to POST, socket to resolve the name it then checks.
WEBHOOK_SENDER = {"tracker_api/webhooks/delivery.py": {"urllib3"}, "tracker_api/webhooks/addresses.py": {"socket"}}


def imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


class TestAPI10UnsafeConsumptionOfAPIs:
    """API10:2023 Unsafe Consumption of APIs. The server consumes no third-party API; the one thing it calls is
    the bots' webhook receivers, and only to POST: it verifies TLS certificates against the URL's host name,
    connects and reads with short timeouts, follows no redirect, reads at most WEBHOOK_RESPONSE_MAX_BYTES of
    the answer and trusts nothing in it but the status code. The other direction applies too: integrators'
    systems consume this API, so what it returns is data, never markup, and what it is sent is parsed
    defensively."""

    def test_the_server_imports_no_http_client_but_the_webhook_sender(self):
        sources = list((REPO / "tracker_api").rglob("*.py"))
        assert sources
        for source in sources:
            name = str(source.relative_to(REPO))
            used = set(imported_modules(source)) & HTTP_CLIENTS
            assert used <= WEBHOOK_SENDER.get(name, set()), f"{name} imports {used}"

    def test_the_webhook_sender_verifies_tls_with_short_timeouts_and_no_retries(self, app):
        from tracker_api.webhooks.addresses import parse_target
        from tracker_api.webhooks.delivery import _pool
        pool = _pool(parse_target("https://hooks.example.com/in"), "93.184.215.14", app.config)
        assert pool.cert_reqs == "CERT_REQUIRED" and pool.assert_hostname == "hooks.example.com"
        assert pool.conn_kw["server_hostname"] == "hooks.example.com" and pool.retries is False
        assert pool.timeout.connect_timeout <= 5 and pool.timeout.read_timeout <= 15
        assert app.config["WEBHOOK_RESPONSE_MAX_BYTES"] <= 64 * 1024

    def test_markup_stored_by_one_system_is_returned_as_inert_json(self, http, tenant):
        markup = '<script>alert(document.cookie)</script><img src=x onerror="alert(1)">'
        created = http.post(f"/api/v1/tracking/{tenant.bot_id}", headers=tenant.headers,
                            json={"tracking_number": "XSS-1", "client_code": "C1", "note": markup})
        assert created.status_code == 201
        read = http.get(f"/api/v1/tracking/{tenant.bot_id}/{created.get_json()['id']}", headers=tenant.headers)
        assert read.get_json()["note"] == markup  # kept as the text it was...
        assert read.mimetype == "application/json"  # ...served as data a browser will not sniff or run
        assert read.headers["X-Content-Type-Options"] == "nosniff"
        assert csp_directives(read)["default-src"] == ["'none'"]

    @pytest.mark.parametrize("literal", ["1e999", "-1e999", "9" * 400],
                             ids=["overflowing-float", "negative-overflow", "400-digit-integer"])
    def test_numbers_beyond_any_sane_range_are_a_422(self, http, tenant, literal):
        body = json.dumps({"tracking_number": "NUM-1", "client_code": "C1", "quantity": "X"}).replace('"X"', literal)
        response = http.post(f"/api/v1/tracking/{tenant.bot_id}", headers={**tenant.headers,
                                                                           "Content-Type": "application/json"},
                             data=body)
        assert "quantity" in assert_problem(response, 422)["errors"]

    def test_an_integer_longer_than_python_parses_is_a_4xx_not_a_500(self, http, tenant):
        body = '{"tracking_number": "NUM-2", "client_code": "C1", "quantity": ' + "9" * 5000 + "}"
        response = http.post(f"/api/v1/tracking/{tenant.bot_id}", headers={**tenant.headers,
                                                                           "Content-Type": "application/json"},
                             data=body)
        assert "number is too long" in assert_problem(response, 400)["detail"]


# --- API4:2023, bulk imports (appended with issue 5's imports) ----------------------------------------------

@pytest.mark.parametrize("resource, row", [("tracking", {"tracking_number": "BULK-{n}", "client_code": "C1"}),
                                           ("clients", {"client_code": "BULK-{n}"})])
def test_api4_an_import_over_the_row_limit_is_a_413_naming_the_maximum_and_stores_nothing(app, http, tenant,
                                                                                          resource, row):
    limit = app.config.get("IMPORT_MAX_ROWS", 1000)
    assert limit == 1000  # the documented default
    rows = [{name: value.format(n=n) for name, value in row.items()} for n in range(limit + 1)]
    path = f"/api/v1/{resource}/{tenant.bot_id}"
    problem = assert_problem(http.post(f"{path}/import", headers=tenant.headers, json=rows), 413)
    assert "at most 1000 rows" in problem["detail"] and problem["max_rows"] == 1000
    assert http.get(path, headers=tenant.headers).get_json()["total"] == 0
    assert http.post(f"{path}/import", headers=tenant.headers, json=rows[:limit]).status_code == 200
