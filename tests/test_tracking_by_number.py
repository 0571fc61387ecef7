"""A parcel by its tracking number (GET and PUT /api/v1/tracking/{bot_id}/by-number/{tracking_number}): what a
CRM that knows only the number needs; the writes are the create and update of the other routes."""
from urllib.parse import quote

import pytest
from sqlalchemy import select

from conftest import assert_totals_exact, in_app, make_tracking, make_webhook
from tracker_api.extensions import db
from tracker_api.models import StatusEvent, WebhookEvent


def by_number(tenant, number):
    return f"/api/v1/tracking/{tenant.bot_id}/by-number/{quote(number, safe='')}"


def history(app, tracking_id):
    return in_app(app, lambda: [(event.previous_status, event.status, event.source) for event in db.session.scalars(
        select(StatusEvent).where(StatusEvent.tracking_id == tracking_id).order_by(StatusEvent.id))])


def event_types(app):
    return in_app(app, lambda: db.session.scalars(select(WebhookEvent.type).order_by(WebhookEvent.id)).all())


def test_get_by_number_is_the_record_with_the_same_etag_as_by_id(http, app, tenant):
    tracking_id = make_tracking(app, tenant.bot_id, tracking_number="ABC123456")
    by_id = http.get(f"/api/v1/tracking/{tenant.bot_id}/{tracking_id}", headers=tenant.headers)

    response = http.get(by_number(tenant, "ABC123456"), headers=tenant.headers)

    assert response.status_code == 200
    assert response.get_json() == by_id.get_json()
    assert response.headers["ETag"] == by_id.headers["ETag"]
    again = http.get(by_number(tenant, "ABC123456"),
                     headers={**tenant.headers, "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_an_unknown_number_is_a_404_problem_and_another_bots_parcel_is_unknown(http, app, tenant, other_tenant):
    make_tracking(app, other_tenant.bot_id, tracking_number="RIVAL0001")
    for number in ("NOPE0001", "RIVAL0001"):
        response = http.get(by_number(tenant, number), headers=tenant.headers)
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["detail"] == "This bot has no tracking number with that number."


@pytest.mark.parametrize("number", ["AB/12", "AB//12", "AB/", "a.b_c-d/1.2"])
def test_numbers_with_characters_that_need_encoding_are_read_and_written(http, app, tenant, number):
    created = http.put(by_number(tenant, number), json={"client_code": "CLIENT123"}, headers=tenant.headers)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["tracking_number"] == number

    read = http.get(by_number(tenant, number), headers=tenant.headers)
    assert read.status_code == 200
    assert read.get_json()["id"] == created.get_json()["id"]
    listed = http.get(f"/api/v1/tracking/{tenant.bot_id}", headers=tenant.headers).get_json()
    assert [item["tracking_number"] for item in listed["tracking_numbers"]] == [number]


def test_a_number_outside_the_pattern_is_a_422_naming_the_field(http, tenant):
    response = http.put(by_number(tenant, "Я123"), json={"client_code": "CLIENT123"}, headers=tenant.headers)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["tracking_number"]


def test_put_creates_with_the_create_defaults_history_event_and_derived_total(http, app, tenant):
    make_webhook(app, tenant.bot_id)
    response = http.put(by_number(tenant, "NEW000001"), json={
        "client_code": "CLIENT123", "weight_kg": 2.5, "price_per_kg_usd": 10, "note": "=SUM(A1)"},
        headers=tenant.headers)

    assert response.status_code == 201
    body = response.get_json()
    assert (body["current_status"], body["quantity"], body["total_cost_usd"], body["note"]) == \
        ("pending", 1, 25.0, "=SUM(A1)")
    assert response.headers["ETag"]
    assert history(app, body["id"]) == [(None, "pending", "api")]
    assert event_types(app) == ["tracking.created"]
    assert_totals_exact(app)


def test_put_replaces_the_whole_parcel_records_the_status_and_feeds_the_change(http, app, tenant):
    tracking_id = make_tracking(app, tenant.bot_id, tracking_number="ABC123456", status="pending", note="old")
    make_webhook(app, tenant.bot_id)
    feed = http.get(f"/api/v1/tracking/{tenant.bot_id}?updated_since=2000-01-01T00:00:00%2B00:00",
                    headers=tenant.headers).get_json()

    response = http.put(by_number(tenant, "ABC123456"), json={"client_code": "CLIENT9", "status": "in_transit"},
                        headers=tenant.headers)

    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == tracking_id
    # a replace: what the body leaves out takes the create defaults
    assert (body["client_code"], body["current_status"], body["quantity"], body["weight_kg"], body["note"]) == \
        ("CLIENT9", "in_transit", 1, None, None)
    assert history(app, tracking_id) == [(None, "pending", "api"), ("pending", "in_transit", "api")]
    assert event_types(app) == ["tracking.status_changed"]
    changes = http.get(f"/api/v1/tracking/{tenant.bot_id}?cursor={feed['next_cursor']}",
                       headers=tenant.headers).get_json()
    assert [item["current_status"] for item in changes["tracking_numbers"]] == ["in_transit"]
    assert_totals_exact(app)


def test_put_again_with_the_same_body_is_200_and_writes_no_second_parcel(http, app, tenant):
    make_webhook(app, tenant.bot_id)
    body = {"client_code": "CLIENT123", "status": "in_transit", "quantity": 3}
    first = http.put(by_number(tenant, "SAME0001"), json=body, headers=tenant.headers)
    second = http.put(by_number(tenant, "SAME0001"), json=body, headers=tenant.headers)

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.get_json()["id"] == first.get_json()["id"]
    assert history(app, first.get_json()["id"]) == [(None, "in_transit", "api")]
    assert event_types(app) == ["tracking.created"]  # the second changed nothing but its time
    assert http.get(f"/api/v1/tracking/{tenant.bot_id}", headers=tenant.headers).get_json()["total"] == 1


def test_if_match_is_honoured_on_replace_and_refuses_a_create(http, app, tenant):
    make_tracking(app, tenant.bot_id, tracking_number="ABC123456", status="pending")
    etag = http.get(by_number(tenant, "ABC123456"), headers=tenant.headers).headers["ETag"]
    change = {"client_code": "CLIENT123", "status": "in_transit"}

    first = http.put(by_number(tenant, "ABC123456"), json=change, headers={**tenant.headers, "If-Match": etag})
    stale = http.put(by_number(tenant, "ABC123456"), json={**change, "status": "delivered"},
                     headers={**tenant.headers, "If-Match": etag})
    absent = http.put(by_number(tenant, "GONE0001"), json=change, headers={**tenant.headers, "If-Match": "*"})

    assert first.status_code == 200
    assert first.headers["ETag"] != etag
    assert stale.status_code == 412 and stale.mimetype == "application/problem+json"
    assert http.get(by_number(tenant, "ABC123456"), headers=tenant.headers).get_json()["current_status"] == \
        "in_transit"
    assert absent.status_code == 412
    assert http.get(by_number(tenant, "GONE0001"), headers=tenant.headers).status_code == 404


def test_put_body_is_checked_as_a_create_is(http, tenant):
    missing = http.put(by_number(tenant, "NEW000001"), json={"status": "in_transit"}, headers=tenant.headers)
    unknown = http.put(by_number(tenant, "NEW000001"), json={"client_code": "C1", "bot_id": 456},
                       headers=tenant.headers)
    form = http.put(by_number(tenant, "NEW000001"), data="client_code=C1", headers=tenant.headers,
                    content_type="application/x-www-form-urlencoded")

    assert (missing.status_code, unknown.status_code, form.status_code) == (422, 422, 415)
    assert "client_code" in missing.get_json()["errors"]
    assert "bot_id" in unknown.get_json()["errors"]


def test_another_bots_key_cannot_reach_the_path(http, app, tenant, other_tenant):
    response = http.put(f"/api/v1/tracking/{tenant.bot_id}/by-number/ABC1", json={"client_code": "C1"},
                        headers=other_tenant.headers)
    assert response.status_code in (403, 404)
    assert http.get(by_number(tenant, "ABC1"), headers=tenant.headers).status_code == 404


def test_the_openapi_document_describes_both_operations(http):
    spec = http.get("/api/openapi.json").get_json()
    path = spec["paths"]["/api/v1/tracking/{bot_id}/by-number/{tracking_number}"]
    assert set(path) >= {"get", "put"}
    assert {"200", "201", "412", "422"} <= set(path["put"]["responses"])
    assert "404" in path["get"]["responses"]
    assert any(parameter["name"] == "If-Match" for parameter in path["put"]["parameters"])
