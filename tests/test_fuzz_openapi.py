"""Schemathesis against our own OpenAPI document: every operation, fed generated valid and invalid requests
in process (WSGI), on SQLite and on PostgreSQL, keeps the contract /api/openapi.json publishes.

Checks: not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
response_schema_conformance, negative_data_rejection, ignored_auth. Generation: positive and negative data,
the examples, coverage and fuzzing phases, FUZZ_EXAMPLES fuzzed cases per operation (25 here; `make fuzz` runs
1000), seeded by FUZZ_SEED and derandomized, so a failure replays. The caller is bot 123 with a valid key and
a few clients and parcels; bot 456 owns one of each, whose ids the generated paths also try.

Where the run departs from the published document, and why (each is narrow; no check is switched off):
- `bot_id` is narrowed to 123, the caller's bot. Any other id is refused with 403 before the request is read,
  which would hide every other answer; negative data still sends other bot ids, and must get the 403.
- The catch-all `default` response is dropped, so status_code_conformance demands that every status the API
  gives is listed for its operation; `default` only documents 500/503, which not_a_server_error forbids anyway.
- Cases with undeclared query parameters are filtered out: the API ignores unknown query parameters on purpose
  (cache busters, tracking tags; tests/test_tracking.py), and OpenAPI 3.0 cannot say so, so Schemathesis would
  expect them refused. Undeclared body fields are still generated, and must be refused.
- The key is not a generated header (`with-security-parameters = false`): negative cases would otherwise spend
  themselves on a missing key instead of bad data. ignored_auth still sends every operation without a key and
  with an invented one, and both must be refused.
The platform admin API's document (/api/admin/openapi.json) is fuzzed the same way, with a platform token, its
`bot_id` narrowed to the caller's bot 123 (other ids are mostly 404s that would hide the rest) and half the generated
key ids the bot's real ones.
No 429 occurs (TestConfig's budgets are out of reach), so its documented headers are checked in test_ratelimit.
The exports (/api/v1/export/...) answer text/csv, application/x-ndjson or XLSX, and response_schema_conformance
cannot judge either: Schemathesis has no deserializer for them and skips the body (an OpenAPI 3.0 schema describes
one document, while an NDJSON schema holds for each line and a CSV one is a string). Their status, content type and
required Content-Disposition header are still checked here; tests/test_export.py compares both bodies, record by
record, with what the API's JSON schemas give for the same records.
"""
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from config import TestConfig
from conftest import in_app, make_client, make_tenant, make_tracking
from tracker_api import create_app
from tracker_api.access import keys, platform_tokens

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
FUZZ_SEED = int(os.environ.get("FUZZ_SEED", "20250127"))
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance", "negative_data_rejection", "ignored_auth")
BOT_ID = 123
# Schemathesis builds its explicit cases when the module is collected, so the key must be known by then.
BOT_KEY = keys.generate_plain_key()
# The sample rows' ids on a freshly wiped database (the fixture checks them); the last of each is bot 456's.
TRACKING_IDS = [1, 2, 3, 4]
CLIENT_IDS = [1, 2, 3]


ADMIN_TOKEN = platform_tokens.generate_secret(platform_tokens.TOKEN_PREFIX)
KEY_IDS = [1, 2]  # bot 123's key, and bot 456's (a 404 under bot 123)


def fuzzed_document(url="/api/openapi.json"):
    """The document the app publishes, with the two departures the module docstring explains."""
    app = create_app(TestConfig(), SQLALCHEMY_DATABASE_URI="sqlite://")
    document = app.test_client().get(url).get_json()
    for path_item in document["paths"].values():
        for parameter in path_item.get("parameters", []):
            if parameter["name"] == "bot_id":
                parameter["schema"] = {"type": "integer", "enum": [BOT_ID]}
        for operation in path_item.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].pop("default", None)
    return document


class AppUnderTest:
    """The WSGI app every request goes to, the checks' own probes included: the current test's app."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


APP_UNDER_TEST = AppUnderTest()
schema = schemathesis.openapi.from_dict(fuzzed_document(), config=schemathesis.Config.from_dict({
    "seed": FUZZ_SEED,
    "generation": {"mode": "all", "max-examples": FUZZ_EXAMPLES, "deterministic": True, "database": "none",
                   "with-security-parameters": False},
    "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
    "auth": {"openapi": {"ApiKeyAuth": {"api_key": BOT_KEY}}},
    # Half the generated record ids are real ones, so reads and updates get past the 404.
    "dictionaries": {"tracking_ids": {"values": TRACKING_IDS}, "client_ids": {"values": CLIENT_IDS}},
    "parameters": {"path.tracking_id": {"dictionary": "tracking_ids", "probability": 0.5},
                   "path.client_id": {"dictionary": "client_ids", "probability": 0.5}},
}))
schema.app = APP_UNDER_TEST


admin_schema = schemathesis.openapi.from_dict(fuzzed_document("/api/admin/openapi.json"),
                                              config=schemathesis.Config.from_dict({
    "seed": FUZZ_SEED,
    "generation": {"mode": "all", "max-examples": FUZZ_EXAMPLES, "deterministic": True, "database": "none",
                   "with-security-parameters": False},
    "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
    "auth": {"openapi": {"PlatformToken": {"bearer": ADMIN_TOKEN}}},
    "dictionaries": {"key_ids": {"values": KEY_IDS}},
    "parameters": {"path.key_id": {"dictionary": "key_ids", "probability": 0.5}},
}))
admin_schema.app = APP_UNDER_TEST


@schema.hook
def filter_query(context, query):
    """Only declared query parameters (see the module docstring)."""
    return not query or set(query) <= {parameter.name for parameter in context.operation.query}


@pytest.fixture
def app_with_sample_data(app, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(keys, "generate_plain_key", lambda: BOT_KEY)
        tenant = make_tenant(app, BOT_ID, "Demo Cargo", "@demo_cargo_bot")
    rival = make_tenant(app, 456, "Rival Cargo", "@rival_cargo_bot")
    client_ids = [make_client(app, tenant.bot_id, code) for code in ("CLIENT123", "CLIENT456")]
    client_ids.append(make_client(app, rival.bot_id, "RIVAL1"))
    tracking_ids = [make_tracking(app, tenant.bot_id, tracking_number=f"ABC12345{n}", client_code=code)
                    for n, code in enumerate(("CLIENT123", "CLIENT123", "CLIENT456"))]
    tracking_ids.append(make_tracking(app, rival.bot_id, tracking_number="RIVAL1", client_code="RIVAL1"))
    assert (tracking_ids, client_ids) == (TRACKING_IDS, CLIENT_IDS)
    APP_UNDER_TEST.app = app
    yield app
    APP_UNDER_TEST.app = None


@admin_schema.hook("filter_query")
def filter_admin_query(context, query):
    return filter_query(context, query)


@schema.parametrize()
# One database (and its sample data) per operation, shared by that operation's generated cases: intended.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_operation_keeps_its_documented_contract(case, app_with_sample_data):
    case.call_and_validate()


@pytest.fixture
def admin_app_with_sample_data(app_with_sample_data, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(platform_tokens, "generate_secret", lambda prefix: ADMIN_TOKEN)
        in_app(app_with_sample_data, platform_tokens.issue_token, "fuzzer")
    return app_with_sample_data


@admin_schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_admin_operation_keeps_its_documented_contract(case, admin_app_with_sample_data):
    case.call_and_validate()
