"""The tracking widget's API side: publishable keys (`tb_pk_...`) and what they may do, the public lookup
GET /api/v1/widget/{bot_id}/track/{tracking_number}, its CORS (per key's origins) and its own rate limits; and
/api/widget.js. Tests taking `app` run on SQLite and PostgreSQL. The browser side: test_widget_browser.py."""
import json

import pytest

from conftest import dispose_app, in_app, make_app_like, make_tracking
from tracker_api.access.keys import is_well_formed, issue_key, normalize_origin, revoke_key
from tracker_api.resources.tracking.service import update_tracking

SHOP = "https://shop.example"
FOREIGN = "https://evil.example"
PROBLEM = "application/problem+json"
NUMBER = "ABC123456"
PREFLIGHT = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-api-key"}
CHECKED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def lookup_path(bot_id, number=NUMBER):
    return f"/api/v1/widget/{bot_id}/track/{number}"


def issue_publishable(app, bot_id, *origins, **options):
    return in_app(app, lambda: issue_key(bot_id, "website widget", origins=list(origins), **options))[1]


@pytest.fixture
def widget_key(app, tenant):
    return issue_publishable(app, tenant.bot_id, SHOP)


@pytest.fixture
def parcel(app, tenant):
    """One parcel that went from pending to in_transit, with the fields a customer must never see."""
    tracking_id = make_tracking(app, tenant.bot_id)
    in_app(app, update_tracking, tenant.bot_id, tracking_id, {"status": "in_transit"})
    return tracking_id


def from_page(key, origin=SHOP):
    """The headers the widget's fetch sends from a page on `origin`."""
    return {"X-API-Key": key, "Origin": origin}


def assert_problem(response, status, type_=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM and response.get_json()["detail"]
    if type_:
        assert response.get_json()["type"] == type_
    return response.get_json()


def cors_headers(response):
    return {name: value for name, value in response.headers.items() if name.lower().startswith("access-control-")}


# --- key kinds ------------------------------------------------------------------------------------------------

def test_a_publishable_key_has_its_own_prefix_a_checksum_and_is_stored_as_a_hash(app, tenant):
    def issue():
        api_key, plain = issue_key(tenant.bot_id, "widget", origins=[SHOP + "/", "HTTPS://Shop.Example:443"])
        return plain, api_key.kind, api_key.origins, api_key.key_hash, api_key.prefix
    plain, kind, origins, key_hash, prefix = in_app(app, issue)
    assert plain.startswith("tb_pk_") and len(plain) == len("tb_pk_") + 32 and is_well_formed(plain)
    assert not is_well_formed(plain[:-1] + ("A" if plain[-1] != "A" else "B"))
    assert kind == "publishable" and origins == [SHOP]  # normalized as browsers send it, duplicates dropped
    assert plain not in key_hash and plain.startswith(prefix) and len(prefix) == len("tb_pk_") + 6


@pytest.mark.parametrize("text,origin", [("https://shop.example/", SHOP),
                                         ("http://Shop.example:8080", "http://shop.example:8080"),
                                         ("http://127.0.0.1:80", "http://127.0.0.1")])
def test_origins_are_normalized_as_browsers_send_them(text, origin):
    assert normalize_origin(text) == origin


@pytest.mark.parametrize("text", ["shop.example", "https://shop.example/path", "https://*.shop.example", "*",
                                  "ftp://shop.example", "https://user:pw@shop.example", "https://shop.example?x=1",
                                  "https://shop.example:99999", "null", ""])
def test_anything_but_a_bare_origin_is_refused(text):
    with pytest.raises(ValueError):
        normalize_origin(text)


def test_a_publishable_key_needs_an_origin(app, tenant):
    with pytest.raises(ValueError):
        in_app(app, issue_key, tenant.bot_id, "widget", origins=[])


# --- the lookup ---------------------------------------------------------------------------------------------------

def test_a_publishable_key_looks_up_a_parcel_s_status_and_timeline_from_its_origin(http, tenant, widget_key, parcel):
    response = http.get(lookup_path(tenant.bot_id), headers=from_page(widget_key))
    assert response.status_code == 200
    body = response.get_json()
    assert body["tracking_number"] == NUMBER and body["current_status"] == "in_transit"
    assert [step["status"] for step in body["history"]] == ["pending", "in_transit"]
    assert all(step["changed_at"].endswith("+00:00") for step in body["history"])
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert "Origin" in response.headers["Vary"]
    assert "X-RateLimit-Remaining" in response.headers["Access-Control-Expose-Headers"]


def test_the_answer_carries_no_secret_data(http, tenant, widget_key, parcel):
    response = http.get(lookup_path(tenant.bot_id), headers=from_page(widget_key))
    body = response.get_json()
    assert set(body) == {"tracking_number", "current_status", "updated_at", "history"}
    assert all(set(step) == {"status", "changed_at"} for step in body["history"])
    text = response.get_data(as_text=True)
    for stamp in (body["updated_at"], *(step["changed_at"] for step in body["history"])):
        text = text.replace(stamp, "<time>")  # its digits may spell a number below by chance (…:45.315094)
    for secret in ("CLIENT123", "Хрупкое", "150", "14.29", "10.5", '"id"', "api_key", "source", "Demo Cargo",
                   widget_key, tenant.key):
        assert secret not in text, secret


def test_an_unknown_or_impossible_number_is_a_404_that_does_not_repeat_it(http, tenant, widget_key, parcel):
    for number in ("NOPE-0001", "x" * 65, "-starts-with-a-dash", "ABC%00123", "ABC123456%0A", "АБВ123"):
        problem = assert_problem(http.get(lookup_path(tenant.bot_id, number), headers=from_page(widget_key)), 404)
        assert number.split("%")[0] not in problem["detail"]


def test_a_number_of_another_bot_is_as_absent_as_a_missing_one(app, http, tenant, other_tenant, widget_key):
    make_tracking(app, other_tenant.bot_id, tracking_number="RIVAL-SECRET-7734")
    response = http.get(lookup_path(tenant.bot_id, "RIVAL-SECRET-7734"), headers=from_page(widget_key))
    assert_problem(response, 404)
    assert "RIVAL" not in response.get_data(as_text=True)


def test_a_number_with_a_slash_is_found(app, http, tenant, widget_key):
    make_tracking(app, tenant.bot_id, tracking_number="CN/2025/0001")
    response = http.get(lookup_path(tenant.bot_id, "CN%2F2025%2F0001"), headers=from_page(widget_key))
    assert response.status_code == 200 and response.get_json()["tracking_number"] == "CN/2025/0001"


# --- scoping: what a publishable key may not do ---------------------------------------------------------------

def other_api_operations(app):
    """(method, path) for every API operation but the widget's lookup, with plausible ids filled in."""
    adapter = app.url_map.bind("localhost")
    values = {"bot_id": 123, "tracking_id": 1, "client_id": 1, "client_code": "CLIENT123", "tracking_number": NUMBER,
              "webhook_id": 1, "delivery_id": 1}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "widget.WidgetTracking":
            path = adapter.build(rule.endpoint, {name: values[name] for name in rule.arguments})
            yield from ((method, path) for method in sorted(rule.methods) if method in CHECKED_METHODS)


def test_a_publishable_key_is_refused_on_every_other_endpoint(app, http, tenant, widget_key, parcel):
    operations = list(other_api_operations(app))
    assert len(operations) >= 20
    for method, path in operations:
        for headers in ({"X-API-Key": widget_key}, from_page(widget_key)):
            response = http.open(path, method=method, headers=headers, json={"status": "cancelled"})
            problem = assert_problem(response, 403, "/problems/publishable-key")
            assert "publishable" in problem["detail"], (method, path)
            assert not cors_headers(response), (method, path)
    assert http.get(f"/api/v1/tracking/{tenant.bot_id}/{parcel}", headers=tenant.headers).get_json()[
        "current_status"] == "in_transit"


def test_a_publishable_key_of_another_bot_is_refused(app, http, tenant, other_tenant, parcel):
    rival_key = issue_publishable(app, other_tenant.bot_id, SHOP)
    assert_problem(http.get(lookup_path(tenant.bot_id), headers=from_page(rival_key)), 403, "/problems/wrong-bot")


def test_a_revoked_publishable_key_gets_the_same_401_as_an_invented_one(app, http, tenant, parcel):
    def issue_and_revoke():
        api_key, plain = issue_key(tenant.bot_id, "old widget", origins=[SHOP])
        revoke_key(api_key.id)
        return plain
    response = http.get(lookup_path(tenant.bot_id), headers=from_page(in_app(app, issue_and_revoke)))
    assert_problem(response, 401, "/problems/invalid-api-key")


def test_a_secret_key_is_refused_when_a_browser_sends_it_but_serves_a_server(http, tenant, parcel):
    browser = http.get(lookup_path(tenant.bot_id), headers={**tenant.headers, "Origin": SHOP})
    assert_problem(browser, 403, "/problems/secret-key-in-browser")
    assert not cors_headers(browser)
    server = http.get(lookup_path(tenant.bot_id), headers=tenant.headers)
    assert server.status_code == 200 and server.get_json()["current_status"] == "in_transit"
    assert not cors_headers(server)


# --- CORS ---------------------------------------------------------------------------------------------------

def test_a_foreign_origin_is_refused_without_cors_headers(http, tenant, widget_key, parcel):
    for headers in (from_page(widget_key, FOREIGN), {"X-API-Key": widget_key}, from_page(widget_key, "null"),
                    from_page(widget_key, SHOP + ":8443"), from_page(widget_key, "http://shop.example")):
        response = http.get(lookup_path(tenant.bot_id), headers=headers)
        problem = assert_problem(response, 403, "/problems/origin-not-allowed")
        assert "in_transit" not in json.dumps(problem)
        assert not cors_headers(response), headers


def test_a_preflight_from_an_allowed_origin_allows_the_key_and_if_none_match_headers_and_get_only(http, tenant,
                                                                                                  widget_key):
    response = http.options(lookup_path(tenant.bot_id), headers={"Origin": SHOP, **PREFLIGHT})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert response.headers["Access-Control-Allow-Methods"] == "GET"
    assert response.headers["Access-Control-Allow-Headers"].lower() == "x-api-key, if-none-match"
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_a_preflight_from_a_foreign_origin_or_for_another_bot_is_refused(app, http, tenant, other_tenant,
                                                                        widget_key):
    for path, origin in ((lookup_path(tenant.bot_id), FOREIGN), (lookup_path(other_tenant.bot_id), SHOP),
                         (lookup_path(tenant.bot_id), None)):
        headers = {**PREFLIGHT, **({"Origin": origin} if origin else {})}
        response = http.options(path, headers=headers)
        assert_problem(response, 403, "/problems/origin-not-allowed")
        assert not cors_headers(response)


def test_a_revoked_key_s_origins_no_longer_pass_the_preflight(app, http, tenant):
    def issue_and_revoke():
        api_key, _ = issue_key(tenant.bot_id, "old widget", origins=["https://old-shop.example"])
        revoke_key(api_key.id)
    in_app(app, issue_and_revoke)
    response = http.options(lookup_path(tenant.bot_id), headers={"Origin": "https://old-shop.example", **PREFLIGHT})
    assert_problem(response, 403)


def test_the_rest_of_the_api_grants_no_origin_even_to_a_widget_origin(http, tenant, widget_key):
    path = f"/api/v1/tracking/{tenant.bot_id}"
    preflight = http.options(path, headers={"Origin": SHOP, **PREFLIGHT})
    actual = http.get(path, headers={**tenant.headers, "Origin": SHOP})
    assert not cors_headers(preflight) and not cors_headers(actual)


# --- rate limits ------------------------------------------------------------------------------------------------

@pytest.fixture
def widget_limited_app(app, counters):
    limited = make_app_like(app, REDIS_URL=counters, RATE_LIMIT_PER_MINUTE=5, WIDGET_RATE_LIMIT_PER_KEY=4,
                            WIDGET_RATE_LIMIT_PER_ADDRESS=2)
    yield limited
    dispose_app(limited)


def visitor(address):
    return {"REMOTE_ADDR": address}


def test_each_visitor_address_has_its_own_small_budget(widget_limited_app, tenant, widget_key, parcel):
    http = widget_limited_app.test_client()
    answers = [http.get(lookup_path(tenant.bot_id), headers=from_page(widget_key), environ_base=visitor("203.0.113.7"))
               for _ in range(3)]
    assert [response.status_code for response in answers] == [200, 200, 429]
    refused = answers[-1]
    assert_problem(refused, 429, "/problems/rate-limited")
    assert "your address" in refused.get_json()["detail"] and int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["Access-Control-Allow-Origin"] == SHOP  # so the widget can say "try again later"
    assert refused.headers["X-RateLimit-Limit"] == "2"
    other_visitor = http.get(lookup_path(tenant.bot_id), headers=from_page(widget_key),
                             environ_base=visitor("198.51.100.9"))
    assert other_visitor.status_code == 200


def test_the_key_s_budget_is_shared_by_every_visitor(widget_limited_app, tenant, widget_key, parcel):
    http = widget_limited_app.test_client()
    statuses = [http.get(lookup_path(tenant.bot_id), headers=from_page(widget_key),
                         environ_base=visitor(f"203.0.113.{number}")).status_code for number in range(1, 6)]
    assert statuses == [200, 200, 200, 200, 429]
    refused = http.get(lookup_path(tenant.bot_id), headers=from_page(widget_key), environ_base=visitor("203.0.113.99"))
    assert "tracking widget" in assert_problem(refused, 429)["detail"]


def test_invented_keys_on_the_lookup_spend_the_address_s_widget_budget(widget_limited_app, tenant, caplog):
    http = widget_limited_app.test_client()
    invented = {"X-API-Key": "tb_pk_" + "x" * 32, "Origin": SHOP}
    statuses = [http.get(lookup_path(tenant.bot_id), headers=invented, environ_base=visitor("203.0.113.50")).status_code
                for _ in range(3)]
    assert statuses == [401, 401, 429]
    assert "Failed to rate limit" not in caplog.text  # counted, not swallowed as a limiter error


def test_widget_lookups_and_secret_keys_never_spend_each_other_s_budgets(widget_limited_app, tenant, widget_key,
                                                                         parcel):
    http = widget_limited_app.test_client()
    for number in range(1, 5):
        http.get(lookup_path(tenant.bot_id), headers=from_page(widget_key), environ_base=visitor(f"203.0.113.{number}"))
    secret = http.get(f"/api/v1/bots/{tenant.bot_id}", headers=tenant.headers, environ_base=visitor("203.0.113.1"))
    assert secret.status_code == 200 and secret.headers["X-RateLimit-Remaining"] == "4"
    for _ in range(5):
        http.get(f"/api/v1/bots/{tenant.bot_id}", headers=tenant.headers, environ_base=visitor("192.0.2.1"))
    # The secret key's budget is spent, and the server-side lookup with it counts against the widget's budgets
    # of the address, not the key's.
    server_side = http.get(lookup_path(tenant.bot_id), headers=tenant.headers, environ_base=visitor("192.0.2.1"))
    assert server_side.status_code == 200


# --- the script ---------------------------------------------------------------------------------------------------

def test_the_script_is_served_as_javascript_without_a_key_and_asks_no_other_host(http):
    response = http.get("/api/widget.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "max-age=3600" in response.headers["Cache-Control"]
    script = response.get_data(as_text=True)
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith(("*", "/*", "//")))
    assert "http://" not in code and "https://" not in code  # it talks to the host it came from, nothing else
    for unsafe in ("innerHTML", "eval(", "new Function", "document.write", "<style"):
        assert unsafe not in code, unsafe
    assert "Отследить посылку" in script and "Track a parcel" in script


def test_the_script_is_not_an_api_operation(http):
    paths = http.get("/api/openapi.json").get_json()["paths"]
    assert "/api/widget.js" not in paths and "/api/v1/widget/{bot_id}/track/{tracking_number}" in paths


# --- the operator's CLI -------------------------------------------------------------------------------------------

def run_cli(app, *args):
    return app.test_cli_runner().invoke(args=[str(arg) for arg in args])


def test_the_operator_issues_a_publishable_key_for_origins_and_sees_it_listed(app, tenant):
    result = run_cli(app, "keys", "create", "--bot-id", tenant.bot_id, "--name", "website widget", "--publishable",
                     "--origin", "https://Shop.example/", "--origin", "https://www.shop.example", "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert created["key"].startswith("tb_pk_") and is_well_formed(created["key"])
    assert created["kind"] == "publishable" and created["origins"] == "https://shop.example https://www.shop.example"
    assert created["rate_limit_per_minute"] == app.config["WIDGET_RATE_LIMIT_PER_KEY"]
    listed = json.loads(run_cli(app, "keys", "list", "--bot-id", tenant.bot_id, "--json").output)
    assert [(row["kind"], row["origins"]) for row in listed] == [("secret", None), ("publishable", created["origins"])]
    assert created["key"] not in run_cli(app, "keys", "list", "--bot-id", tenant.bot_id).output


@pytest.mark.parametrize("options,message", [
    (["--publishable"], "--publishable needs at least one --origin"),
    (["--origin", SHOP], "--publishable needs at least one --origin"),
    (["--publishable", "--origin", "https://shop.example/checkout"], "is not an origin"),
])
def test_a_publishable_key_without_a_valid_origin_is_not_issued(app, tenant, options, message):
    result = run_cli(app, "keys", "create", "--bot-id", tenant.bot_id, "--name", "widget", *options)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    listed = json.loads(run_cli(app, "keys", "list", "--bot-id", tenant.bot_id, "--json").output)
    assert [row["kind"] for row in listed] == ["secret"]


# --- live updates: ETag and 304 -------------------------------------------------------------------------------

def test_an_unchanged_parcel_is_a_304_without_a_body_readable_by_the_page(app, tenant, widget_key, parcel):
    fresh = make_app_like(app)  # the session app's per-address widget budget is spent by the tests before
    try:
        http = fresh.test_client()
        first = http.get(lookup_path(tenant.bot_id), headers=from_page(widget_key))
        etag = first.headers["ETag"]
        assert first.status_code == 200 and etag
        assert "ETag" in first.headers["Access-Control-Expose-Headers"].split(", ")

        again = http.get(lookup_path(tenant.bot_id), headers={**from_page(widget_key), "If-None-Match": etag})
        assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
        assert again.headers["Access-Control-Allow-Origin"] == SHOP  # the page can see the 304

        in_app(app, update_tracking, tenant.bot_id, parcel, {"status": "delivered"})
        changed = http.get(lookup_path(tenant.bot_id), headers={**from_page(widget_key), "If-None-Match": etag})
        assert changed.status_code == 200 and changed.get_json()["current_status"] == "delivered"
        assert changed.headers["ETag"] != etag
    finally:
        dispose_app(fresh)
