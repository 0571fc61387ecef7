"""Bot isolation: a key reaches only its own bot's data, whatever bot id or object id the caller puts in the path.

The endpoint list is read from the app's URL map, so a route added later is covered without editing this file.
"""
import json
import re

import pytest
from sqlalchemy import text

from conftest import in_app, make_client, make_tracking, make_webhook
from tracker_api.extensions import db
from tracker_api.models import WebhookDelivery

API_PREFIX = "/api/v1/"
CHECKED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
KNOWN_ROUTES = {
    ("GET", "/api/v1/tracking/<bot_id>"),
    ("POST", "/api/v1/tracking/<bot_id>"),
    ("GET", "/api/v1/tracking/<bot_id>/<tracking_id>"),
    ("PUT", "/api/v1/tracking/<bot_id>/<tracking_id>"),
    ("GET", "/api/v1/tracking/<bot_id>/by-client/<client_code>"),
    ("GET", "/api/v1/clients/<bot_id>"),
    ("GET", "/api/v1/clients/<bot_id>/<client_id>"),
    ("GET", "/api/v1/statistics/<bot_id>/overview"),
    ("GET", "/api/v1/statistics/<bot_id>/tracking"),
    ("GET", "/api/v1/bots/<bot_id>"),
}
OBJECT_ID_ARGUMENTS = ("tracking_id", "client_id", "client_code", "tracking_number", "webhook_id", "delivery_id")

# B's data: distinctive strings that must never appear in a response to A.
SECRET_TRACKING_NUMBER = "RIVAL-SECRET-7734"
SECRET_CLIENT_CODE = "RIVALVIP0042"
SECRET_CLIENT_NAME = "Zhanibek Secretov"
SECRET_NOTE = "rival-private-note"
SECRET_PHONE = "+77019998877"
SECRET_WEBHOOK_URL = "https://rival-secret-crm.example.com/hooks"
SECRETS = (SECRET_TRACKING_NUMBER, SECRET_CLIENT_CODE, SECRET_CLIENT_NAME, SECRET_NOTE, SECRET_PHONE,
           "Rival Cargo", "@rival_cargo_bot", SECRET_WEBHOOK_URL, "whsec_")

# Valid bodies for each resource's writes, so that a refusal is the isolation's, never a validation error.
WRITE_BODIES = {
    "tracking": {
        "POST": {"tracking_number": "HIJACK-0001", "client_code": SECRET_CLIENT_CODE, "status": "pending",
                 "quantity": 1},
        "PUT": {"status": "cancelled", "note": "hijacked", "tracking_number": "HIJACKED-NUMBER"},
    },
    "clients": {
        "POST": {"client_code": "HIJACK-0001", "name": "hijacked"},
        "PUT": {"client_code": "HIJACKED-CODE", "name": "hijacked"},
        "PATCH": {"name": "hijacked", "phone": "+70000000000"},
    },
    "webhooks": {
        "POST": {"url": "https://hijack.example.com/hooks"},
        "PATCH": {"url": "https://hijack.example.com/hooks", "enabled": False},
    },
}


def normalized(rule):
    """`/tracking/<int(min=1, max=...):bot_id>` -> `/tracking/<bot_id>`."""
    return re.sub(r"<(?:[^:>]+:)?([a-z_]+)>", r"<\1>", rule)


# Routes without a bot id in the path: they answer about the calling key itself, so there is no other bot to name.
CALLER_ONLY_ROUTES = {"/api/v1/me"}


def api_routes(app, *, caller_only=False):
    """(method, rule) for every API operation the app serves, HEAD/OPTIONS aside: those scoped by a bot id in the
    path, or with `caller_only` those about the calling key."""
    return sorted({(method, rule.rule) for rule in app.url_map.iter_rules()
                   if rule.rule.startswith(API_PREFIX) and (rule.rule in CALLER_ONLY_ROUTES) == caller_only
                   for method in rule.methods if method in CHECKED_METHODS})


def route_arguments(app, rule):
    return next(r for r in app.url_map.iter_rules() if r.rule == rule).arguments


def build_path(app, rule, **values):
    endpoint = next(r.endpoint for r in app.url_map.iter_rules() if r.rule == rule)
    return app.url_map.bind("localhost").build(endpoint, values)


@pytest.fixture
def rival_data(app, other_tenant):
    """Bot B (other_tenant) with a client, a tracking number and a webhook (with a delivery of that parcel's
    creation), full of recognisable strings."""
    webhook_id, _ = make_webhook(app, other_tenant.bot_id, SECRET_WEBHOOK_URL)
    client_id = make_client(app, other_tenant.bot_id, SECRET_CLIENT_CODE, name=SECRET_CLIENT_NAME,
                            phone=SECRET_PHONE)
    tracking_id = make_tracking(app, other_tenant.bot_id, tracking_number=SECRET_TRACKING_NUMBER,
                                client_code=SECRET_CLIENT_CODE, note=SECRET_NOTE)
    delivery_id = in_app(app, lambda: db.session.scalar(db.select(db.func.max(WebhookDelivery.id))))
    return {"bot_id": other_tenant.bot_id, "tracking_id": tracking_id, "client_id": client_id,
            "client_code": SECRET_CLIENT_CODE, "tracking_number": SECRET_TRACKING_NUMBER, "webhook_id": webhook_id,
            "delivery_id": delivery_id}


def snapshot(app):
    """Every row of every tenant table, to prove a refused write changed nothing."""
    def read():
        return {table: [tuple(row) for row in db.session.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
                for table in ("bots", "clients", "tracking_numbers", "status_events", "webhook_endpoints",
                              "webhook_events", "webhook_deliveries")}
    return in_app(app, read)


def send(http, method, path, headers):
    resource = path.removeprefix(API_PREFIX).split("/")[0]
    body = WRITE_BODIES.get(resource, {}).get(method)
    return http.open(path, method=method, headers=headers, json=body) if body else \
        http.open(path, method=method, headers=headers)


def assert_no_rival_data(response):
    body = response.get_data(as_text=True)
    for secret in SECRETS:
        assert secret not in body, f"{secret!r} leaked in {response.status_code} {body[:300]}"


def test_route_list_is_read_from_the_app_and_covers_every_known_route(app):
    routes = {(method, normalized(rule)) for method, rule in api_routes(app)}
    assert routes, "no /api/v1 routes found in the URL map"
    assert KNOWN_ROUTES <= routes, KNOWN_ROUTES - routes
    for method, rule in api_routes(app):
        assert "bot_id" in route_arguments(app, rule), f"{method} {rule} is not scoped by bot_id"
    for method, rule in api_routes(app, caller_only=True):
        assert method == "GET" and not route_arguments(app, rule), f"{method} {rule} takes arguments"


def test_a_caller_only_route_shows_the_calling_key_and_nothing_of_another_bot(app, http, tenant, rival_data):
    for method, rule in api_routes(app, caller_only=True):
        response = http.open(rule, method=method, headers=tenant.headers)
        assert response.status_code == 200 and response.get_json()["bot_id"] == tenant.bot_id, rule
        assert_no_rival_data(response)


def test_other_bots_key_is_refused_on_every_endpoint_of_a_bot(app, http, tenant, rival_data):
    before = snapshot(app)
    for method, rule in api_routes(app):
        path = build_path(app, rule, **{name: rival_data[name] for name in route_arguments(app, rule)})
        response = send(http, method, path, tenant.headers)
        assert response.status_code == 403, f"{method} {path} -> {response.status_code}"
        assert response.content_type == "application/problem+json", f"{method} {path}"
        assert_no_rival_data(response)
    assert snapshot(app) == before


def test_other_bots_key_with_a_head_request_is_refused_too(app, http, tenant, rival_data):
    for method, rule in api_routes(app):
        if method == "GET":
            path = build_path(app, rule, **{name: rival_data[name] for name in route_arguments(app, rule)})
            assert http.head(path, headers=tenant.headers).status_code == 403, path


def test_the_owner_still_reaches_every_read_endpoint(app, http, tenant, other_tenant, rival_data):
    """The matrix above is meaningful only if B's own key gets B's data on the same paths."""
    for method, rule in api_routes(app):
        if method != "GET":
            continue
        path = build_path(app, rule, **{name: rival_data[name] for name in route_arguments(app, rule)})
        response = http.get(path, headers=other_tenant.headers)
        assert response.status_code == 200, f"{path} -> {response.status_code}"


def test_own_bot_id_with_another_bots_object_ids_is_404_without_data(app, http, tenant, rival_data):
    before = snapshot(app)
    checked = 0
    for method, rule in api_routes(app):
        arguments = route_arguments(app, rule)
        if not {"tracking_id", "client_id", "webhook_id"} & arguments:
            continue
        values = {name: rival_data[name] for name in arguments}
        path = build_path(app, rule, **{**values, "bot_id": tenant.bot_id})
        response = send(http, method, path, tenant.headers)
        assert response.status_code == 404, f"{method} {path} -> {response.status_code}"
        assert response.content_type == "application/problem+json"
        assert_no_rival_data(response)
        checked += 1
    assert checked >= 3  # GET and PUT tracking number, GET client
    assert snapshot(app) == before


def test_own_bot_id_with_another_bots_client_code_lists_nothing(app, http, tenant, rival_data):
    path = f"/api/v1/tracking/{tenant.bot_id}/by-client/{SECRET_CLIENT_CODE}"
    response = http.get(path, headers=tenant.headers)
    assert response.status_code == 200
    assert response.get_json() == {"tracking_numbers": [], "total": 0}


def test_every_read_of_own_bot_shows_none_of_the_other_bots_data(app, http, tenant, rival_data):
    for method, rule in api_routes(app):
        if method != "GET":
            continue
        path = build_path(app, rule, **{**{name: rival_data[name] for name in route_arguments(app, rule)},
                                        "bot_id": tenant.bot_id})
        for query in ({}, {"client_code": SECRET_CLIENT_CODE}, {"status_filter": "pending"}):
            response = http.get(path, headers=tenant.headers, query_string=query)
            assert response.status_code in (200, 404), f"{path} {query} -> {response.status_code}"
            assert_no_rival_data(response)


def test_own_statistics_do_not_count_the_other_bots_data(app, http, tenant, rival_data):
    overview = http.get(f"/api/v1/statistics/{tenant.bot_id}/overview", headers=tenant.headers).get_json()
    assert overview["total_clients"] == 0
    assert overview["total_tracking_numbers"] == 0
    statistics = http.get(f"/api/v1/statistics/{tenant.bot_id}/tracking", headers=tenant.headers).get_json()
    assert statistics["total_tracking_numbers"] == 0


def test_refused_writes_leave_the_other_bots_data_unchanged(app, http, tenant, other_tenant, rival_data):
    tracking_path = f"/api/v1/tracking/{other_tenant.bot_id}/{rival_data['tracking_id']}"
    original = http.get(tracking_path, headers=other_tenant.headers).get_json()

    assert http.put(tracking_path, headers=tenant.headers, json=WRITE_BODIES["tracking"]["PUT"]).status_code == 403
    assert http.post(f"/api/v1/tracking/{other_tenant.bot_id}", headers=tenant.headers,
                     json=WRITE_BODIES["tracking"]["POST"]).status_code == 403
    own_path = f"/api/v1/tracking/{tenant.bot_id}/{rival_data['tracking_id']}"
    assert http.put(own_path, headers=tenant.headers, json=WRITE_BODIES["tracking"]["PUT"]).status_code == 404

    assert http.get(tracking_path, headers=other_tenant.headers).get_json() == original
    listing = http.get(f"/api/v1/tracking/{other_tenant.bot_id}", headers=other_tenant.headers).get_json()
    assert listing["total"] == 1
    assert json.dumps(listing).count("HIJACK") == 0


def test_a_create_with_the_own_bot_id_lands_in_the_own_bot_only(app, http, tenant, other_tenant, rival_data):
    body = {"tracking_number": SECRET_TRACKING_NUMBER, "client_code": SECRET_CLIENT_CODE}
    # The same number exists in bot B; in bot A it is new, not a conflict that would reveal B's id.
    response = http.post(f"/api/v1/tracking/{tenant.bot_id}", headers=tenant.headers, json=body)
    assert response.status_code == 201
    assert response.get_json()["id"] != rival_data["tracking_id"]
    rival_listing = http.get(f"/api/v1/tracking/{other_tenant.bot_id}", headers=other_tenant.headers).get_json()
    assert rival_listing["total"] == 1
