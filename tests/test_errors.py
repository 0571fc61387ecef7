"""Errors: every error is problem+json with a readable detail, and no input of any kind produces a 500."""
import json
import re
from dataclasses import dataclass

import pytest

from conftest import in_app, make_tenant, make_tracking, wipe
from tracker_api.access.keys import find_usable_key

BOT = 123
TRACKING = f"/api/v1/tracking/{BOT}"
PROBLEM_MEMBERS = ("type", "title", "status", "detail", "request_id")
SANE_GENERATED_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
STATUSES = ("pending", "in_transit", "delivered", "issued", "cancelled")
VALID_BODY = {"tracking_number": "ABC123456", "client_code": "CLIENT123", "status": "pending", "quantity": 5,
              "weight_kg": 10.5, "price_per_kg_usd": 14.29, "total_cost_usd": 150.0, "note": "Хрупкое"}


def assert_problem(response, status):
    """The body every error shares: RFC 9457 members, a human `detail`, and the request id of the response."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    for member in PROBLEM_MEMBERS:
        assert member in body, f"{member} missing from {body}"
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"].strip()
    assert body["request_id"] and body["request_id"] == response.headers["X-Request-ID"]
    return body


def assert_validation_problem(response, *fields):
    body = assert_problem(response, 422)
    assert isinstance(body["errors"], dict) and body["errors"]
    for field in fields:
        assert field in body["errors"], f"{field} not named in {body['errors']}"
    return body


def assert_not_a_server_error(response):
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400:
        assert_problem(response, response.status_code)


@pytest.fixture
def tracking_id(app, tenant):
    return make_tracking(app, tenant.bot_id, tracking_number="EXISTING-1")


@dataclass
class Scene:
    app: object
    http: object
    tenant: object
    tracking_id: int


_scenes = {}


@pytest.fixture(params=["sqlite", "postgresql"])
def scene(request):
    """A tenant with one tracking number, for the many tests whose requests are all refused before any write.

    Wiping and rebuilding the database costs more than the request under test, so the scene is built once
    per database and reused until another test's `app` fixture wipes it (its key is then gone).
    """
    app = request.getfixturevalue(f"{request.param}_app")
    cached = _scenes.get(request.param)
    if cached is None or in_app(app, find_usable_key, cached.tenant.key) is None:
        wipe(app)
        tenant = make_tenant(app, BOT, "Demo Cargo", "@demo_cargo_bot")
        cached = _scenes[request.param] = Scene(app, app.test_client(), tenant,
                                                make_tracking(app, BOT, tracking_number="EXISTING-1"))
    return cached


def post_raw(http, tenant, data, content_type="application/json", path=TRACKING):
    headers = dict(tenant.headers)
    if content_type:
        headers["Content-Type"] = content_type
    return http.post(path, data=data, headers=headers)


# --- the body of a tracking number: every field, every wrong kind of value ------------------------

WRONG_VALUES = [
    # wrong JSON types
    ("tracking_number", 123), ("tracking_number", None), ("tracking_number", True), ("tracking_number", []),
    ("tracking_number", {"value": "ABC"}), ("client_code", 42), ("client_code", None), ("client_code", False),
    ("client_code", ["CLIENT123"]), ("client_code", {}), ("status", {"value": "pending"}), ("status", 1),
    ("status", None), ("status", True), ("status", ["pending"]), ("quantity", "5"), ("quantity", "five"),
    ("quantity", True), ("quantity", 1.5), ("quantity", None), ("quantity", []), ("quantity", {"n": 5}),
    ("weight_kg", True), ("weight_kg", "heavy"), ("weight_kg", []), ("weight_kg", {"kg": 1}),
    ("price_per_kg_usd", False), ("price_per_kg_usd", "cheap"), ("price_per_kg_usd", [1]),
    ("total_cost_usd", []), ("total_cost_usd", True), ("total_cost_usd", {"usd": 1}),
    ("note", ["a"]), ("note", {"a": 1}), ("note", 7), ("note", True),
    # out of range, huge, negative, too precise
    ("quantity", 0), ("quantity", -1), ("quantity", 10**30), ("quantity", 2**63), ("quantity", 2**63 - 1),
    ("quantity", 1_000_001), ("weight_kg", -1), ("weight_kg", 10**30), ("weight_kg", 0.0001),
    ("weight_kg", "1e400"), ("price_per_kg_usd", -0.01), ("price_per_kg_usd", 10**30), ("price_per_kg_usd", 0.001),
    ("total_cost_usd", -1), ("total_cost_usd", 10**30), ("total_cost_usd", 12345678901.0),
    ("total_cost_usd", 0.001),
    # NaN and infinities spelled as strings
    ("quantity", "NaN"), ("quantity", "Infinity"), ("weight_kg", "NaN"), ("weight_kg", "Infinity"),
    ("weight_kg", "-Infinity"), ("price_per_kg_usd", "NaN"), ("total_cost_usd", "Infinity"),
    # unknown values, NUL bytes, control characters, forbidden characters
    ("status", "PENDING"), ("status", "unknown"), ("status", "pending\x00"), ("status", ""),
    ("tracking_number", ""), ("tracking_number", "ABC\x00123"), ("tracking_number", "ABC\n123"),
    ("tracking_number", "ABC 123"), ("tracking_number", "-ABC123"), ("client_code", ""),
    ("client_code", "CLI\x00ENT"), ("client_code", "\x1b[31mRED"), ("note", "a\x00b"), ("note", "bell\x07"),
    ("note", "escape \x1b[0m"), ("note", "\x7f"),
    # overlong strings
    ("tracking_number", "A" * 65), ("client_code", "C" * 65), ("note", "n" * 2001),
    ("tracking_number", "A" * 100_000),
]


def value_id(value):
    text = repr(value)
    return text if len(text) <= 24 else text[:20] + "..."


@pytest.mark.parametrize("field,value", WRONG_VALUES, ids=[f"{f}={value_id(v)}" for f, v in WRONG_VALUES])
def test_a_wrong_value_in_a_create_is_a_422_naming_the_field(scene, field, value):
    http, tenant = scene.http, scene.tenant
    response = http.post(TRACKING, headers=tenant.headers, json={**VALID_BODY, field: value})
    assert_validation_problem(response, field)


@pytest.mark.parametrize("field,value", WRONG_VALUES, ids=[f"{f}={value_id(v)}" for f, v in WRONG_VALUES])
def test_a_wrong_value_in_an_update_is_a_422_naming_the_field(scene, field, value):
    http, tenant, tracking_id = scene.http, scene.tenant, scene.tracking_id
    response = http.put(f"{TRACKING}/{tracking_id}", headers=tenant.headers, json={field: value})
    assert_validation_problem(response, field)


def test_a_refused_create_stores_nothing(http, tenant):
    assert http.post(TRACKING, headers=tenant.headers, json={**VALID_BODY, "quantity": "5"}).status_code == 422
    assert http.get(TRACKING, headers=tenant.headers).get_json()["total"] == 0


RAW_NUMBERS = [  # JSON Python's parser accepts but json.dumps cannot write: out-of-range floats, NaN literals
    ("weight_kg", "1e400"), ("weight_kg", "-1e400"), ("quantity", "1e400"), ("total_cost_usd", "1e400"),
    ("weight_kg", "NaN"), ("quantity", "NaN"), ("price_per_kg_usd", "Infinity"), ("quantity", "-Infinity"),
    ("quantity", "99999999999999999999999999999999999999"),
]


@pytest.mark.parametrize("field,literal", RAW_NUMBERS, ids=[f"{f}={v}" for f, v in RAW_NUMBERS])
def test_out_of_range_and_non_finite_json_numbers_are_a_422(scene, field, literal):
    http, tenant = scene.http, scene.tenant
    body = json.dumps({**VALID_BODY, field: "PLACEHOLDER"}).replace('"PLACEHOLDER"', literal)
    assert_validation_problem(post_raw(http, tenant, body), field)


@pytest.mark.parametrize("field,value", [("tracking_number", "A" * 64), ("client_code", "C" * 64),
                                         ("note", "n" * 2000), ("quantity", 1_000_000), ("weight_kg", 9999999.999),
                                         ("total_cost_usd", 9999999999.99), ("note", "📦 emoji and 中文")],
                         ids=["tracking_number=64", "client_code=64", "note=2000", "quantity=max", "weight=max",
                              "total_cost=max", "note=non-bmp"])
def test_values_at_the_limits_are_accepted(http, tenant, field, value):
    body = {**VALID_BODY, field: value}
    if field == "weight_kg":
        body["price_per_kg_usd"] = None
    response = http.post(TRACKING, headers=tenant.headers, json=body)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()[field] == value


def test_a_total_cost_derived_beyond_the_money_maximum_is_a_422_not_a_500(http, tenant):
    body = {"tracking_number": "HEAVY-1", "client_code": "CLIENT123", "weight_kg": 9999999.999,
            "price_per_kg_usd": 9999999999.99}
    response = http.post(TRACKING, headers=tenant.headers, json=body)
    assert_validation_problem(response)


def test_a_lone_surrogate_in_a_string_is_a_422_not_a_500(scene):
    http, tenant = scene.http, scene.tenant
    body = json.dumps({**VALID_BODY, "note": "PLACEHOLDER"}).replace("PLACEHOLDER", "\\ud800")
    assert_validation_problem(post_raw(http, tenant, body), "note")


@pytest.mark.parametrize("unknown", [["bot_id"], ["id"], ["bot_id", "id"], ["current_status"], ["created_at"],
                                     ["Tracking_Number"]])
def test_unknown_fields_are_a_422_naming_them(scene, unknown):
    http, tenant = scene.http, scene.tenant
    body = {**VALID_BODY, **{name: 456 for name in unknown}}
    body_problem = assert_validation_problem(http.post(TRACKING, headers=tenant.headers, json=body), *unknown)
    for name in unknown:
        assert name in body_problem["detail"]


def test_unknown_fields_in_an_update_are_a_422_naming_them(scene):
    http, tenant, tracking_id = scene.http, scene.tenant, scene.tracking_id
    response = http.put(f"{TRACKING}/{tracking_id}", headers=tenant.headers, json={"status": "issued", "bot_id": 456})
    assert_validation_problem(response, "bot_id")


# --- the body as a whole: JSON or not, object or not, how big ----------------------------------------

@pytest.mark.parametrize("data", ['{"tracking_number": ', "{", "{'tracking_number': 'A1'}", "tracking_number=A1",
                                  '{"a": 1} trailing', b"\xff\xfe{", "   "],
                         ids=["truncated", "brace", "single-quotes", "form-like", "trailing", "not-utf8", "blank"])
def test_a_body_that_is_not_json_is_a_400(scene, data):
    http, tenant = scene.http, scene.tenant
    body = assert_problem(post_raw(http, tenant, data), 400)
    assert "JSON" in body["detail"]


@pytest.mark.parametrize("data", ["[" * 100_000, '{"a":' * 50_000], ids=["nested-arrays", "nested-objects"])
def test_deeply_nested_json_is_a_400_not_a_500(scene, data):
    http, tenant = scene.http, scene.tenant
    assert_problem(post_raw(http, tenant, data), 400)


@pytest.mark.parametrize("data", ["[]", json.dumps([VALID_BODY]), "42", '"ABC123456"', "true", "null"],
                         ids=["empty-array", "array-of-body", "number", "string", "bool", "null"])
def test_a_json_body_that_is_not_an_object_is_a_422(scene, data):
    http, tenant = scene.http, scene.tenant
    assert_validation_problem(post_raw(http, tenant, data))


def test_an_empty_json_body_is_a_422_naming_the_required_fields(scene):
    http, tenant = scene.http, scene.tenant
    assert_validation_problem(post_raw(http, tenant, b""), "tracking_number", "client_code")


@pytest.mark.parametrize("content_type,data", [
    ("application/x-www-form-urlencoded", "tracking_number=ABC123456&client_code=CLIENT123"),
    ("text/plain", json.dumps(VALID_BODY)),
    ("multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--xyz--"),
    (None, json.dumps(VALID_BODY)),
], ids=["form", "text-plain", "multipart", "no-content-type"])
def test_a_body_that_is_not_sent_as_json_is_a_415(scene, content_type, data):
    http, tenant = scene.http, scene.tenant
    body = assert_problem(post_raw(http, tenant, data, content_type), 415)
    assert "application/json" in body["detail"]


def test_json_with_a_charset_parameter_is_accepted(http, tenant):
    response = post_raw(http, tenant, json.dumps(VALID_BODY), "application/json; charset=utf-8")
    assert response.status_code == 201


def test_a_body_over_the_size_limit_is_a_413_problem(scene):
    http, tenant = scene.http, scene.tenant
    limit = scene.app.config["MAX_CONTENT_LENGTH"]
    data = json.dumps({**VALID_BODY, "note": "n" * (limit + 1)})
    assert_problem(post_raw(http, tenant, data), 413)


# --- updates and duplicates ----------------------------------------------------------------------------

@pytest.mark.parametrize("data", ["{}", "null", "[]"])
def test_an_update_without_any_field_is_a_422(scene, data):
    http, tenant, tracking_id = scene.http, scene.tenant, scene.tracking_id
    response = http.put(f"{TRACKING}/{tracking_id}", data=data,
                        headers={**tenant.headers, "Content-Type": "application/json"})
    assert_validation_problem(response)


def test_a_duplicate_create_is_a_409_naming_the_existing_id(http, tenant):
    first = http.post(TRACKING, headers=tenant.headers, json=VALID_BODY)
    assert first.status_code == 201
    body = assert_problem(http.post(TRACKING, headers=tenant.headers, json={**VALID_BODY, "quantity": 9}), 409)
    assert body["existing_id"] == first.get_json()["id"]
    assert VALID_BODY["tracking_number"] in body["detail"]
    listing = http.get(TRACKING, headers=tenant.headers).get_json()
    assert listing["total"] == 1 and listing["tracking_numbers"][0]["quantity"] == 5


def test_renaming_to_an_existing_number_is_a_409_naming_the_existing_id(http, tenant, tracking_id):
    other = http.post(TRACKING, headers=tenant.headers, json=VALID_BODY).get_json()
    response = http.put(f"{TRACKING}/{other['id']}", headers=tenant.headers, json={"tracking_number": "EXISTING-1"})
    body = assert_problem(response, 409)
    assert body["existing_id"] == tracking_id
    assert http.get(f"{TRACKING}/{other['id']}", headers=tenant.headers).get_json()["tracking_number"] == "ABC123456"


# --- query strings -----------------------------------------------------------------------------------

LISTS = [TRACKING, f"/api/v1/clients/{BOT}", f"{TRACKING}/by-client/CLIENT123"]
BAD_PAGING = [("page", "0"), ("page", "-1"), ("page", "abc"), ("page", "1.5"), ("page", ""),
              ("page", "99999999999999999999"), ("page_size", "0"), ("page_size", "-5"), ("page_size", "abc"),
              ("page_size", "101"), ("page_size", "1e3")]


@pytest.mark.parametrize("path", LISTS, ids=["tracking", "clients", "by-client"])
@pytest.mark.parametrize("parameter,value", BAD_PAGING, ids=[f"{p}={v or 'empty'}" for p, v in BAD_PAGING])
def test_bad_paging_is_a_422_naming_the_parameter(scene, path, parameter, value):
    http, tenant = scene.http, scene.tenant
    assert_validation_problem(http.get(path, headers=tenant.headers, query_string={parameter: value}), parameter)


@pytest.mark.parametrize("path", LISTS, ids=["tracking", "clients", "by-client"])
def test_a_page_size_over_100_is_refused_with_the_maximum_in_the_detail(scene, path):
    http, tenant = scene.http, scene.tenant
    body = assert_validation_problem(http.get(path, headers=tenant.headers, query_string={"page_size": 101}),
                                     "page_size")
    assert "100" in body["detail"]
    assert http.get(path, headers=tenant.headers, query_string={"page_size": 100}).status_code == 200


@pytest.mark.parametrize("value", ["unknown", "PENDING", "pending,issued", "", "\x00"])
def test_an_unknown_status_filter_is_a_422_listing_every_status(scene, value):
    http, tenant = scene.http, scene.tenant
    response = http.get(TRACKING, headers=tenant.headers, query_string={"status_filter": value})
    body = assert_validation_problem(response, "status_filter")
    for status in STATUSES:
        assert status in body["detail"]
        assert status in json.dumps(body["errors"]["status_filter"])


@pytest.mark.parametrize("value", ["A\x00B", "C" * 65, "has space"])
def test_a_bad_client_code_filter_is_a_422(scene, value):
    http, tenant = scene.http, scene.tenant
    assert_validation_problem(http.get(TRACKING, headers=tenant.headers, query_string={"client_code": value}),
                              "client_code")


# --- paths: absurd ids, odd client codes, unknown routes, wrong methods ----------------------------------

@pytest.mark.parametrize("path", [
    f"{TRACKING}/99999999999999999999999", f"{TRACKING}/{2**63 - 1}", f"{TRACKING}/{2**63}", f"{TRACKING}/0",
    f"{TRACKING}/-1", f"{TRACKING}/abc", f"{TRACKING}/1e3", f"/api/v1/clients/{BOT}/99999999999999999999999",
    f"/api/v1/clients/{BOT}/{2**63 - 1}", f"/api/v1/clients/{BOT}/0",
])
def test_absurd_object_ids_are_a_404_problem(scene, path):
    http, tenant = scene.http, scene.tenant
    assert_problem(http.get(path, headers=tenant.headers), 404)


def test_an_absurd_id_in_an_update_is_a_404_problem(scene):
    http, tenant = scene.http, scene.tenant
    response = http.put(f"{TRACKING}/99999999999999999999999", headers=tenant.headers, json={"status": "issued"})
    assert_problem(response, 404)


@pytest.mark.parametrize("client_code", ["A%00B", "%1B%5B31m", "C" * 5000, "%F0%9F%93%A6", "%FF%FE", "..%2F..",
                                         "a%20b"],
                         ids=["nul", "escape", "overlong", "emoji", "bad-utf8", "dot-dot", "space"])
def test_odd_client_codes_in_the_path_never_produce_a_500(scene, client_code):
    http, tenant = scene.http, scene.tenant
    assert_not_a_server_error(http.get(f"{TRACKING}/by-client/{client_code}", headers=tenant.headers))


@pytest.mark.parametrize("path", ["/nope", "/api/v1/nope", "/api/v2/tracking/123", f"{TRACKING}/1/extra",
                                  "/api/v1/tracking", "/api/docs/assets/swagger-ui/no-such-file.js"])
def test_unknown_routes_are_a_404_problem(scene, path):
    http, tenant = scene.http, scene.tenant
    assert_problem(http.get(path, headers=tenant.headers), 404)


@pytest.mark.parametrize("method,path,allowed", [
    ("PATCH", f"{TRACKING}/1", {"GET", "PUT", "DELETE"}),
    ("POST", f"{TRACKING}/1/history", {"GET"}),
    ("PUT", TRACKING, {"GET", "POST"}),
    ("DELETE", TRACKING, {"GET", "POST"}),
    ("PATCH", f"/api/v1/bots/{BOT}", {"GET"}),
    ("DELETE", f"/api/v1/clients/{BOT}", {"GET", "POST"}),
    ("POST", f"/api/v1/statistics/{BOT}/overview", {"GET"}),
    ("POST", "/healthz", {"GET"}),
    ("DELETE", "/api/openapi.json", {"GET"}),
])
def test_a_wrong_method_is_a_405_problem_with_allow(scene, method, path, allowed):
    http, tenant = scene.http, scene.tenant
    response = http.open(path, method=method, headers=tenant.headers)
    assert_problem(response, 405)
    assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}


# --- every kind of error, one shape ----------------------------------------------------------------

def test_authentication_errors_are_problems_too(http, tenant, other_tenant):
    assert_problem(http.get(TRACKING), 401)
    assert_problem(http.get(TRACKING, headers={"X-API-Key": "tb_invalid"}), 401)
    assert_problem(http.get("/api/v1/tracking/456", headers=tenant.headers), 403)


def test_an_unexpected_exception_is_a_500_problem_that_leaks_nothing(app, http, tenant, monkeypatch):
    def explode(bot_id):
        raise RuntimeError("secret internals: password=hunter2")
    monkeypatch.setattr("tracker_api.resources.bots.service.get_bot", explode)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    response = http.get(f"/api/v1/bots/{BOT}", headers=tenant.headers)
    assert_problem(response, 500)
    assert "hunter2" not in response.get_data(as_text=True)
    assert "RuntimeError" not in response.get_data(as_text=True)


# --- X-Request-ID -------------------------------------------------------------------------------------

@pytest.mark.parametrize("path,status", [(f"/api/v1/bots/{BOT}", 200), ("/healthz", 200), (f"{TRACKING}/999", 404),
                                         (f"{TRACKING}?page=0", 422)])
def test_a_sane_request_id_is_echoed(scene, path, status):
    http, tenant = scene.http, scene.tenant
    response = http.get(path, headers={**tenant.headers, "X-Request-ID": "abc-123-def-456"})
    assert response.status_code == status
    assert response.headers["X-Request-ID"] == "abc-123-def-456"
    if status >= 400:
        assert response.get_json()["request_id"] == "abc-123-def-456"


def test_a_sane_request_id_is_echoed_on_a_401(scene):
    http = scene.http
    response = http.get(TRACKING, headers={"X-Request-ID": "gateway.req:0042"})
    assert response.status_code == 401
    assert response.headers["X-Request-ID"] == "gateway.req:0042"
    assert response.get_json()["request_id"] == "gateway.req:0042"


@pytest.mark.parametrize("incoming", ["x" * 200, "has spaces in it", "tab\there-12345", "semi;colon;12345",
                                      "<script>alert(1)</script>", "caf\xe9-latin1-12345", "bell\x07-12345678", ""],
                         ids=["too-long", "spaces", "tab", "semicolons", "markup", "non-ascii", "control", "empty"])
def test_an_insane_request_id_is_replaced_by_a_generated_one(scene, incoming):
    http, tenant = scene.http, scene.tenant
    response = http.get(f"{TRACKING}/999", headers={**tenant.headers, "X-Request-ID": incoming})
    generated = response.headers["X-Request-ID"]
    assert generated != incoming
    assert SANE_GENERATED_ID.match(generated)
    assert response.get_json()["request_id"] == generated


def test_every_response_gets_its_own_generated_request_id(scene):
    http, tenant = scene.http, scene.tenant
    ids = {http.get(f"/api/v1/bots/{BOT}", headers=tenant.headers).headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5
    assert all(SANE_GENERATED_ID.match(request_id) for request_id in ids)
