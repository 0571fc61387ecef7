"""The API's documentation: /api/openapi.json documents every v1 route with its summary, its errors (as
problem+json) and the X-API-Key scheme, carries the product document's examples and is a well-formed
OpenAPI 3.0 document; Swagger UI (/api/docs) and ReDoc (/api/redoc) load only assets the app serves itself,
so they work with no internet access, and Swagger UI keeps the key entered in Authorize."""
import json
import re
from html.parser import HTMLParser

import pytest

PROBLEM = "application/problem+json"
AUTH_ERRORS = ("401", "403", "429")
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
PARAMETER_LOCATIONS = {"query", "header", "path", "cookie"}
RULE_ARGUMENT = re.compile(r"<(?:[^<>]*:)?([^<>:]+)>")  # <int(min=1, max=...):bot_id> -> bot_id
TEMPLATE_ARGUMENT = re.compile(r"{([^{}]+)}")


@pytest.fixture(scope="module")
def http(sqlite_app):
    """The documentation touches no tenant data: one database is enough."""
    return sqlite_app.test_client()


@pytest.fixture(scope="module")
def spec(http):
    response = http.get("/api/openapi.json")  # no key: the docs are public
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def resolve(spec, node):
    """Follow a local $ref (#/components/...) to what it names."""
    while isinstance(node, dict) and "$ref" in node:
        assert node["$ref"].startswith("#/"), node["$ref"]
        target = spec
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def api_routes(app):
    """(OpenAPI path, method) for every rule under /api/v1 that Flask would dispatch."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                yield RULE_ARGUMENT.sub(r"{\1}", rule.rule), method.lower()


# --- coverage, summaries, security, errors -------------------------------------------------------------

def test_every_v1_route_is_a_documented_operation_and_nothing_else_is(sqlite_app, spec):
    routes = set(api_routes(sqlite_app))
    documented = {(path, method) for path, method, _ in operations(spec) if path.startswith("/api/v1/")}
    assert len(routes) >= 10  # the product document's ten endpoints, at least
    assert routes == documented


def test_every_operation_has_a_summary_and_a_tag(spec):
    declared_tags = {tag["name"] for tag in spec["tags"]}
    for path, method, operation in operations(spec):
        assert operation.get("summary", "").strip(), (method, path)
        assert operation["tags"] and set(operation["tags"]) <= declared_tags, (method, path)


def test_every_operation_requires_the_x_api_key_header_scheme(spec):
    schemes = spec["components"]["securitySchemes"]
    api_key_schemes = {name for name, scheme in schemes.items()
                       if scheme == {**scheme, "type": "apiKey", "in": "header", "name": "X-API-Key"}}
    assert api_key_schemes
    for path, method, operation in operations(spec):
        requirements = operation.get("security", spec.get("security"))
        assert requirements, (method, path)  # an empty list would mean "no key needed"
        assert all(set(requirement) <= set(schemes) for requirement in requirements)
        assert any(set(requirement) & api_key_schemes for requirement in requirements), (method, path)


def test_every_operation_documents_the_auth_and_rate_limit_refusals(spec):
    for path, method, operation in operations(spec):
        assert set(AUTH_ERRORS) <= set(operation["responses"]), (method, path)
    limited = resolve(spec, spec["paths"]["/api/v1/bots/{bot_id}"]["get"]["responses"]["429"])
    assert {"Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(limited["headers"])


def test_every_error_response_is_problem_json(spec):
    problem = resolve(spec, {"$ref": "#/components/schemas/Problem"})
    assert {"type", "title", "status", "detail"} <= set(problem["properties"])
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            if status == "default" or int(status) >= 400:
                content = resolve(spec, response)["content"]
                assert list(content) == [PROBLEM], (method, path, status)
                assert resolve(spec, content[PROBLEM]["schema"]) == problem


def test_a_real_refusal_is_what_the_document_says(http):
    response = http.get("/api/v1/bots/123")
    assert response.status_code == 401 and response.mimetype == PROBLEM
    assert {"type", "title", "status", "detail"} <= set(response.get_json())


# --- the product document's examples -------------------------------------------------------------------

def examples(spec, schema_name):
    properties = spec["components"]["schemas"][schema_name]["properties"]
    return {name: field.get("example") for name, field in properties.items()}


def test_tracking_schemas_carry_the_product_documents_examples(spec):
    listed = examples(spec, "TrackingNumber")
    assert {name: listed[name] for name in ("id", "tracking_number", "client_code", "current_status", "quantity",
                                            "weight_kg", "total_cost_usd")} == {
        "id": 1, "tracking_number": "ABC123456", "client_code": "CLIENT123", "current_status": "pending",
        "quantity": 5, "weight_kg": 10.5, "total_cost_usd": 150.00}
    assert listed["created_at"].startswith("2025-01-27T10:00:00") and listed["updated_at"].startswith("2025-01-27")
    assert examples(spec, "TrackingCreate") == {
        "tracking_number": "ABC123456", "client_code": "CLIENT123", "status": "pending", "quantity": 5,
        "weight_kg": 10.5, "price_per_kg_usd": 14.29, "total_cost_usd": 150.00, "note": "Хрупкое"}
    assert examples(spec, "TrackingUpdate")["status"] == "in_transit"
    assert examples(spec, "TrackingList")["total"] == 1


def test_overview_and_bot_schemas_carry_the_product_documents_examples(spec):
    assert examples(spec, "Overview") == {"total_clients": 150, "total_tracking_numbers": 500, "pending": 50,
                                          "in_transit": 200, "delivered": 200, "issued": 40, "cancelled": 10}
    assert examples(spec, "Bot") == {"id": 123, "name": "Название компании", "username": "@company_bot",
                                     "is_active": True, "subscription_status": "active", "timezone": "Asia/Almaty",
                                     "is_sandbox": False}


# --- a well-formed OpenAPI 3.0 document (openapi-spec-validator is not a dependency) --------------------

def all_refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from all_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from all_refs(value)


def test_the_document_has_the_required_top_level_fields(spec):
    assert re.fullmatch(r"3\.0\.\d+", spec["openapi"])
    assert spec["info"]["title"] and spec["info"]["version"]
    assert spec["paths"] and all(path.startswith("/") for path in spec["paths"])


def test_every_reference_resolves(spec):
    refs = set(all_refs(spec))
    assert refs
    for ref in refs:
        assert isinstance(resolve(spec, {"$ref": ref}), dict), ref


def test_every_path_parameter_is_declared_and_every_parameter_is_well_formed(spec):
    for path, item in spec["paths"].items():
        for method, operation in ((m, o) for m, o in item.items() if m in HTTP_METHODS):
            parameters = [resolve(spec, p) for p in item.get("parameters", []) + operation.get("parameters", [])]
            for parameter in parameters:
                assert parameter["in"] in PARAMETER_LOCATIONS and parameter["name"], parameter
                assert "schema" in parameter or "content" in parameter, parameter
            keys = [(parameter["name"], parameter["in"]) for parameter in operation.get("parameters", [])]
            assert len(keys) == len(set(keys)), (method, path, keys)
            in_path = {parameter["name"] for parameter in parameters if parameter["in"] == "path"}
            assert in_path == set(TEMPLATE_ARGUMENT.findall(path)), (method, path)
            assert all(parameter.get("required") is True for parameter in parameters if parameter["in"] == "path")


def test_every_response_and_request_body_is_well_formed(spec):
    operation_ids = []
    for path, method, operation in operations(spec):
        assert operation["responses"], (method, path)
        for status, response in operation["responses"].items():
            assert status == "default" or re.fullmatch(r"[1-5]\d\d", status), (method, path, status)
            response = resolve(spec, response)
            assert response["description"], (method, path, status)
            for media in response.get("content", {}).values():
                assert "schema" in media
        if "requestBody" in operation:
            body = resolve(spec, operation["requestBody"])
            assert body["content"] and all("schema" in media for media in body["content"].values())
        if "operationId" in operation:
            operation_ids.append(operation["operationId"])
    assert len(operation_ids) == len(set(operation_ids))


def test_every_schema_has_a_valid_type(spec):
    types = {"object", "array", "string", "number", "integer", "boolean"}
    for name, schema in spec["components"]["schemas"].items():
        assert schema.get("type") in types, name
        for field_name, field in schema.get("properties", {}).items():
            assert "$ref" in field or "allOf" in field or field.get("type") in types, (name, field_name)
            if field.get("type") == "array":
                assert "items" in field, (name, field_name)
        assert set(schema.get("required", [])) <= set(schema.get("properties", {})), name


# --- Swagger UI and ReDoc, offline --------------------------------------------------------------------

class AssetReferences(HTMLParser):
    """Every URL a page makes the browser load: script src, link href, img src, and spec-url."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value and name in ("src", "href", "spec-url"):
                self.urls.append(value)


def page_assets(http, path):
    response = http.get(path)
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    parser = AssetReferences()
    parser.feed(html)
    return html, parser.urls


CONTENT_TYPES = {".js": ("application/javascript", "text/javascript"), ".css": ("text/css",),
                 ".json": ("application/json",)}


@pytest.mark.parametrize("page", ["/api/docs", "/api/redoc"])
def test_docs_pages_load_only_assets_the_app_serves(http, page):
    html, urls = page_assets(http, page)
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    assert any(url.endswith(".js") for url in urls)
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        response = http.get(url)
        assert response.status_code == 200, url
        expected = next(types for suffix, types in CONTENT_TYPES.items() if url.endswith(suffix))
        assert response.mimetype in expected, (url, response.mimetype)
        assert len(response.get_data()) > 1000, url


def test_swagger_ui_reads_the_local_document_and_keeps_the_authorized_key(http):
    html, _ = page_assets(http, "/api/docs")
    assert re.search(r'url:\s*"/api/openapi\.json"', html)
    config = json.loads(re.search(r"override_config\s*=\s*(\{.*?\});", html).group(1))
    assert config.get("persistAuthorization") is True


def test_redoc_reads_the_local_document(http):
    _, urls = page_assets(http, "/api/redoc")
    assert "/api/openapi.json" in urls


def test_an_unknown_asset_is_a_404_not_a_file_outside_the_bundle(http):
    assert http.get("/api/docs/assets/swagger-ui/no-such-file.js").status_code == 404
    assert http.get("/api/docs/assets/redoc/../__init__.py").status_code == 404


def test_redoc_shows_its_attribution_logo_from_the_app_not_from_redocly_s_cdn(http):
    script = http.get("/api/docs/assets/redoc/redoc.standalone.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert b"cdn.redoc.ly" not in script.data and b"/api/docs/assets/redoc/logo-mini.svg" in script.data
    assert http.get("/api/docs/assets/redoc/logo-mini.svg").mimetype == "image/svg+xml"
    assert http.get("/api/docs/assets/redoc/redoc.standalone.js",
                    headers={"If-None-Match": script.headers["ETag"]}).status_code == 304
