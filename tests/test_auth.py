"""Authentication: which keys open the API, which are refused and how, and what is stored about them."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import text

from conftest import in_app, make_tenant
from tracker_api.access.keys import generate_plain_key, is_well_formed, revoke_key
from tracker_api.extensions import db
from tracker_api.models import ApiKey, Bot
from tracker_api.models.types import utcnow

PROTECTED = "/api/v1/bots/123"
KEY_FORMAT = re.compile(r"^tb_[A-Za-z0-9]{32}$")
PUBLIC_PATHS = ["/healthz", "/readyz", "/api/docs", "/api/redoc", "/api/openapi.json",
                "/api/docs/assets/swagger-ui/swagger-ui-bundle.js", "/api/docs/assets/swagger-ui/swagger-ui.css",
                "/api/docs/assets/redoc/redoc.standalone.js"]


def refusal(response):
    """The parts of a 401 that must not vary with the reason (request_id always does)."""
    body = response.get_json()
    return response.status_code, {name: body[name] for name in ("type", "title", "status", "detail")}


@pytest.fixture
def missing_key_refusal(http, tenant):
    response = http.get(PROTECTED)
    assert response.status_code == 401
    return refusal(response)


def with_last_char_changed(key):
    return key[:-1] + ("A" if key[-1] != "A" else "B")


def malformed_variants(key):
    return {
        "empty": "",
        "wrong prefix": "tk_" + key[3:],
        "upper-case prefix": "TB_" + key[3:],
        "no prefix": key[3:],
        "one character short": key[:-1],
        "one character long": key + "A",
        "non-base62 character": key[:10] + "-" + key[11:],
        "space inside": key[:10] + " " + key[11:],
        "bad checksum": with_last_char_changed(key),
        "bearer scheme": "Bearer " + key,
        "just the prefix": "tb_",
    }


MALFORMED = list(malformed_variants("tb_" + "x" * 32))


# --- refusals: one uniform 401 ---------------------------------------------------------------

def test_missing_key_is_refused_with_401_problem_and_www_authenticate(http, tenant):
    response = http.get(PROTECTED)
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert "X-API-Key" in response.headers["WWW-Authenticate"]
    body = response.get_json()
    assert body["status"] == 401 and body["detail"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert "Demo Cargo" not in response.get_data(as_text=True)


@pytest.mark.parametrize("shape", MALFORMED)
def test_malformed_key_is_refused_like_a_missing_one(http, tenant, missing_key_refusal, shape):
    response = http.get(PROTECTED, headers={"X-API-Key": malformed_variants(tenant.key)[shape]})
    assert refusal(response) == missing_key_refusal
    assert "X-API-Key" in response.headers["WWW-Authenticate"]


def test_well_formed_but_unknown_key_is_refused_like_a_missing_one(http, tenant, missing_key_refusal):
    unknown = generate_plain_key()
    assert is_well_formed(unknown)
    response = http.get(PROTECTED, headers={"X-API-Key": unknown})
    assert refusal(response) == missing_key_refusal
    assert "WWW-Authenticate" in response.headers


def test_revoked_key_is_refused_like_an_unknown_one(app, http, tenant, missing_key_refusal):
    in_app(app, revoke_key, tenant.key_id)
    response = http.get(PROTECTED, headers=tenant.headers)
    assert refusal(response) == missing_key_refusal
    assert "WWW-Authenticate" in response.headers


def test_revocation_takes_effect_on_the_very_next_request(app, http, tenant):
    assert http.get(PROTECTED, headers=tenant.headers).status_code == 200
    in_app(app, revoke_key, tenant.key_id)
    assert http.get(PROTECTED, headers=tenant.headers).status_code == 401


def test_expired_key_is_refused_like_an_unknown_one(app, http, tenant, missing_key_refusal):
    def expire():
        db.session.get(ApiKey, tenant.key_id).expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    in_app(app, expire)
    response = http.get(PROTECTED, headers=tenant.headers)
    assert refusal(response) == missing_key_refusal
    assert "WWW-Authenticate" in response.headers


def test_key_expiring_in_the_future_still_works(app, http, tenant):
    def expire_tomorrow():
        db.session.get(ApiKey, tenant.key_id).expires_at = utcnow() + timedelta(days=1)
        db.session.commit()
    in_app(app, expire_tomorrow)
    assert http.get(PROTECTED, headers=tenant.headers).status_code == 200


def test_a_valid_key_in_the_header_opens_its_own_bot(http, tenant):
    response = http.get(PROTECTED, headers=tenant.headers)
    assert response.status_code == 200
    assert response.get_json()["id"] == tenant.bot_id


@pytest.mark.parametrize("parameter", ["api_key", "X-API-Key"])
def test_key_in_the_query_string_is_refused_alone(http, tenant, parameter):
    response = http.get(PROTECTED, query_string={parameter: tenant.key})
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert "header" in response.get_json()["detail"]
    assert "Demo Cargo" not in response.get_data(as_text=True)


def test_key_in_the_query_string_is_refused_even_alongside_a_valid_header(http, tenant):
    # A key in a URL leaks into logs and browser history; refusing it loudly teaches integrators not to.
    response = http.get(PROTECTED, query_string={"api_key": tenant.key}, headers=tenant.headers)
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert "WWW-Authenticate" in response.headers
    assert "X-API-Key header" in response.get_json()["detail"]
    assert "Demo Cargo" not in response.get_data(as_text=True)


def test_key_of_an_inactive_bot_gets_403(app, http, tenant):
    def deactivate():
        db.session.get(Bot, tenant.bot_id).is_active = False
        db.session.commit()
    in_app(app, deactivate)
    response = http.get(PROTECTED, headers=tenant.headers)
    assert response.status_code == 403
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 403 and "inactive" in body["detail"]
    assert "Demo Cargo" not in response.get_data(as_text=True)


def test_unknown_route_under_the_api_without_key_is_401_not_404(http, tenant):
    # Without a key, the API does not tell which paths exist.
    response = http.get("/api/v1/no-such-resource/123")
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("path", PUBLIC_PATHS)
def test_docs_and_health_need_no_key(http, path):
    response = http.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:200]
    assert response.get_data()


@pytest.mark.parametrize("path", ["/healthz", "/api/openapi.json"])
def test_docs_and_health_ignore_a_bad_key(http, path):
    assert http.get(path, headers={"X-API-Key": "tb_nonsense"}).status_code == 200


# --- key format -----------------------------------------------------------------------------------

def test_generated_key_is_tb_and_32_base62_characters():
    for _ in range(200):
        key = generate_plain_key()
        assert KEY_FORMAT.match(key), key
        assert is_well_formed(key)


def test_generated_keys_are_unique():
    keys = {generate_plain_key() for _ in range(2000)}
    assert len(keys) == 2000
    # ...and not merely different in the checksum: the random parts differ too
    assert len({key[3:20] for key in keys}) == 2000


def test_changing_any_single_character_breaks_the_checksum():
    key = generate_plain_key()
    for position in range(3, len(key)):
        replacement = "a" if key[position] != "a" else "b"
        altered = key[:position] + replacement + key[position + 1:]
        assert not is_well_formed(altered), (position, altered)


@pytest.mark.parametrize("shape", MALFORMED)
def test_malformed_shapes_are_not_well_formed(shape):
    assert not is_well_formed(malformed_variants(generate_plain_key())[shape])


# --- storage and usage ----------------------------------------------------------------------------

def test_database_stores_only_a_hash_and_a_short_display_prefix(app, tenant):
    other = make_tenant(app, 789, "Third Cargo", "@third_cargo_bot")

    def rows():
        return [dict(row._mapping) for row in db.session.execute(text("SELECT * FROM api_keys ORDER BY id"))]
    stored = in_app(app, rows)
    assert len(stored) == 2
    for row, plain_key in zip(stored, (tenant.key, other.key)):
        for column, value in row.items():
            assert plain_key not in str(value), column
            assert plain_key[3:] not in str(value), column
        assert plain_key.startswith(row["prefix"])
        assert 3 < len(row["prefix"]) <= 12
        assert row["key_hash"] and row["key_hash"] != plain_key


def test_last_used_at_is_set_by_a_request(app, http, tenant):
    def last_used():
        return db.session.get(ApiKey, tenant.key_id).last_used_at
    assert in_app(app, last_used) is None
    before = utcnow()
    assert http.get(PROTECTED, headers=tenant.headers).status_code == 200
    used_at = in_app(app, last_used)
    assert used_at is not None
    assert before - timedelta(seconds=5) <= used_at <= utcnow() + timedelta(seconds=5)

