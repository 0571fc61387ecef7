"""Conditional requests: an ETag on every GET of a record or list, If-None-Match → 304, and If-Match on PUT,
PATCH and DELETE → 412 when the record changed since it was read (lost-update protection for offline edits).
If-Match stays optional: the product document's clients send none. Both databases."""
import hashlib
import json

import pytest

from conftest import in_app, make_client, make_tracking
from tracker_api.extensions import db
from tracker_api.models import Client, TrackingNumber

BOT = 123
TRACKING = f"/api/v1/tracking/{BOT}"
CLIENTS = f"/api/v1/clients/{BOT}"


@pytest.fixture
def records(app, tenant):
    tracking_id = make_tracking(app, BOT)
    client_id = make_client(app, BOT)
    return {"tracking_id": tracking_id, "client_id": client_id}


def read_paths(records):
    """Every GET of a record or list. Not here: a key's usage (it changes with every request, this one
    included) and the exports (streams, for which a hash would mean reading everything twice)."""
    tracking, client = records["tracking_id"], records["client_id"]
    return [TRACKING, f"{TRACKING}?status_filter=pending", f"{TRACKING}/{tracking}", f"{TRACKING}/{tracking}/history",
            f"{TRACKING}/by-client/CLIENT123", f"{TRACKING}?updated_since=1970-01-01T00:00:00Z", CLIENTS,
            f"{CLIENTS}/{client}", f"/api/v1/statistics/{BOT}/overview", f"/api/v1/statistics/{BOT}/tracking",
            f"/api/v1/bots/{BOT}"]


def test_every_read_has_an_etag_and_if_none_match_gives_a_304_without_a_body(http, tenant, records):
    for path in read_paths(records):
        first = http.get(path, headers=tenant.headers)
        assert first.status_code == 200 and first.headers.get("ETag", "").startswith('"'), path
        again = http.get(path, headers={**tenant.headers, "If-None-Match": first.headers["ETag"]})
        assert (again.status_code, again.data, again.headers["ETag"]) == (304, b"", first.headers["ETag"]), path
        assert again.headers["X-RateLimit-Remaining"] and again.headers["X-Request-ID"]  # the usual headers too


def test_a_change_gives_a_new_etag_and_a_full_answer(http, tenant, records):
    path = f"{TRACKING}/{records['tracking_id']}"
    before = http.get(path, headers=tenant.headers).headers["ETag"]
    list_before = http.get(TRACKING, headers=tenant.headers).headers["ETag"]
    http.put(path, headers=tenant.headers, json={"status": "in_transit"})
    after = http.get(path, headers={**tenant.headers, "If-None-Match": before})
    assert after.status_code == 200 and after.get_json()["current_status"] == "in_transit"
    assert after.headers["ETag"] != before
    assert http.get(TRACKING, headers={**tenant.headers, "If-None-Match": list_before}).status_code == 200


def test_the_etag_of_a_write_answer_is_the_etag_of_the_next_read(http, tenant, records):
    path = f"{CLIENTS}/{records['client_id']}"
    written = http.patch(path, headers=tenant.headers, json={"name": "Новое имя"})
    assert written.headers["ETag"] == http.get(path, headers=tenant.headers).headers["ETag"]


@pytest.mark.parametrize("method, path, body", [
    ("PUT", "tracking", {"status": "delivered"}),
    ("DELETE", "tracking", None),
    ("PATCH", "client", {"name": "Офлайн-правка"}),
    ("PUT", "client", {"client_code": "CLIENT123", "name": "Офлайн-правка"}),
    ("DELETE", "client", None),
])
def test_a_write_with_a_stale_if_match_is_a_412_and_changes_nothing(app, http, tenant, records, method, path,
                                                                     body):
    url = f"{TRACKING}/{records['tracking_id']}" if path == "tracking" else f"{CLIENTS}/{records['client_id']}"
    stale = http.get(url, headers=tenant.headers).headers["ETag"]
    touch = {"note": "someone else"} if path == "tracking" else {"phone": "+77010000000"}
    assert http.open(url, method="PUT" if path == "tracking" else "PATCH", headers=tenant.headers,
                     json=touch).status_code == 200  # another device's edit, after our read
    before = snapshot(app)
    refused = http.open(url, method=method, headers={**tenant.headers, "If-Match": stale},
                        **({"json": body} if body else {}))
    assert refused.status_code == 412 and refused.content_type == "application/problem+json"
    assert "changed since you read it" in refused.get_json()["detail"]
    assert snapshot(app) == before

    fresh = http.get(url, headers=tenant.headers).headers["ETag"]
    accepted = http.open(url, method=method, headers={**tenant.headers, "If-Match": fresh},
                         **({"json": body} if body else {}))
    assert accepted.status_code == (204 if method == "DELETE" else 200)


def test_if_match_is_optional_and_a_star_matches_any_version(http, tenant, records):
    path = f"{TRACKING}/{records['tracking_id']}"
    assert http.put(path, headers=tenant.headers, json={"status": "in_transit"}).status_code == 200
    starred = http.put(path, headers={**tenant.headers, "If-Match": "*"}, json={"status": "delivered"})
    assert starred.status_code == 200


def test_two_offline_edits_of_one_version_the_second_is_refused(http, tenant, records):
    path = f"{TRACKING}/{records['tracking_id']}"
    version = http.get(path, headers=tenant.headers).headers["ETag"]
    first = http.put(path, headers={**tenant.headers, "If-Match": version}, json={"status": "in_transit"})
    second = http.put(path, headers={**tenant.headers, "If-Match": version}, json={"status": "cancelled"})
    assert (first.status_code, second.status_code) == (200, 412)
    assert http.get(path, headers=tenant.headers).get_json()["current_status"] == "in_transit"


def test_the_openapi_document_describes_optional_if_match_and_the_304_and_412(http):
    paths = http.get("/api/openapi.json").get_json()["paths"]
    put = paths["/api/v1/tracking/{bot_id}/{tracking_id}"]["put"]
    if_match = next(parameter for parameter in put["parameters"] if parameter.get("name") == "If-Match")
    assert if_match["required"] is False and "412" in put["responses"] and "428" not in put["responses"]
    get = paths["/api/v1/tracking/{bot_id}"]["get"]
    assert "304" in get["responses"] and any(parameter.get("name") == "If-None-Match"
                                              for parameter in get["parameters"])
    assert "ETag" in get["responses"]["200"]["headers"]


def snapshot(app):
    def read():
        return ([tuple(row) for row in db.session.execute(db.select(TrackingNumber.__table__))],
                [tuple(row) for row in db.session.execute(db.select(Client.__table__))])
    return in_app(app, read)


def test_the_etag_is_the_hash_of_the_whole_answer(http, tenant, records):
    """sha1 of the answer's JSON with sorted keys: any field of any item changes it (Blueprint._generate_etag)."""
    response = http.get(f"/api/v1/tracking/{tenant.bot_id}", headers=tenant.headers)
    canonical = json.dumps(response.get_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert response.headers["ETag"].strip('"') == hashlib.sha1(canonical.encode()).hexdigest()
