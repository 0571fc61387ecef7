"""The restore window: a deleted tracking number or client comes back with its id (a parcel with its history)
for RESTORE_WINDOW_DAYS; the change feed and the webhooks report it; `flask purge-deleted` erases it afterwards.
Lists, statistics and totals never count a deleted record. Both databases."""
import json
from datetime import timedelta

from sqlalchemy import select, update

from conftest import assert_totals_exact, in_app, make_webhook
from tracker_api.extensions import db
from tracker_api.models import DeletedRecord, WebhookEvent
from tracker_api.models.types import utcnow

BOT = 123
TRACKING = f"/api/v1/tracking/{BOT}"
CLIENTS = f"/api/v1/clients/{BOT}"
EPOCH = "1970-01-01T00:00:00+00:00"


def create_parcel(http, tenant, number="RESTORE1", client_code="ALICE"):
    response = http.post(TRACKING, headers=tenant.headers, json={
        "tracking_number": number, "client_code": client_code, "weight_kg": 2.5, "price_per_kg_usd": 4,
        "note": "=не формула"})
    assert response.status_code == 201, response.get_json()
    parcel = response.get_json()
    for status in ("in_transit", "delivered"):
        assert http.put(f"{TRACKING}/{parcel['id']}", headers=tenant.headers,
                        json={"status": status}).status_code == 200
    return http.get(f"{TRACKING}/{parcel['id']}", headers=tenant.headers).get_json()


def counts(http, tenant):
    overview = http.get(f"/api/v1/statistics/{BOT}/overview", headers=tenant.headers).get_json()
    statistics = http.get(f"/api/v1/statistics/{BOT}/tracking", headers=tenant.headers).get_json()
    listed = http.get(TRACKING, headers=tenant.headers).get_json()
    return (overview["total_tracking_numbers"], overview["delivered"], overview["total_clients"],
            statistics["total_weight_kg"], sum(day["created"] for day in statistics["created_per_day"]),
            listed["total"], len(listed["tracking_numbers"]))


def age_tombstones(app, days):
    def backdate():
        db.session.execute(update(DeletedRecord).values(deleted_at=utcnow() - timedelta(days=days)))
        db.session.commit()
    in_app(app, backdate)


def test_a_deleted_parcel_comes_back_with_its_id_fields_and_history(app, http, tenant):
    parcel = create_parcel(http, tenant)
    history = http.get(f"{TRACKING}/{parcel['id']}/history", headers=tenant.headers).get_json()
    before = counts(http, tenant)
    assert before == (1, 1, 0, 2.5, 1, 1, 1)

    assert http.delete(f"{TRACKING}/{parcel['id']}", headers=tenant.headers).status_code == 204
    assert counts(http, tenant) == (0, 0, 0, 0.0, 0, 0, 0)  # deleted: counted nowhere
    assert_totals_exact(app)

    restored = http.post(f"{TRACKING}/{parcel['id']}/restore", headers=tenant.headers)
    assert restored.status_code == 200, restored.get_json()
    body = restored.get_json()
    assert body["updated_at"] > parcel["updated_at"]
    assert {**body, "updated_at": None} == {**parcel, "updated_at": None}
    assert http.get(f"{TRACKING}/{parcel['id']}/history", headers=tenant.headers).get_json() == history
    assert counts(http, tenant) == before
    assert_totals_exact(app)
    assert in_app(app, lambda: db.session.scalar(select(db.func.count()).select_from(DeletedRecord))) == 0


def test_a_deleted_client_comes_back_with_its_id_and_fields(app, http, tenant):
    client = http.post(CLIENTS, headers=tenant.headers, json={
        "client_code": "ALICE", "name": "Алия", "phone": "+77011234567", "telegram_id": 5550001}).get_json()
    assert http.delete(f"{CLIENTS}/{client['id']}", headers=tenant.headers).status_code == 204
    assert http.get(CLIENTS, headers=tenant.headers).get_json()["total"] == 0
    restored = http.post(f"{CLIENTS}/{client['id']}/restore", headers=tenant.headers)
    assert restored.status_code == 200, restored.get_json()
    assert {**restored.get_json(), "updated_at": None} == {**client, "updated_at": None}
    assert http.get(CLIENTS, headers=tenant.headers).get_json()["total"] == 1
    assert counts(http, tenant)[2] == 1
    assert_totals_exact(app)


def test_the_change_feeds_show_the_deletion_then_the_record_again(http, tenant):
    parcel = create_parcel(http, tenant)
    scopes = ({}, {"client_code": "ALICE"})
    cursors = [http.get(TRACKING, headers=tenant.headers, query_string={"updated_since": EPOCH, **scope})
               .get_json()["next_cursor"] for scope in scopes]
    http.delete(f"{TRACKING}/{parcel['id']}", headers=tenant.headers)
    for index, scope in enumerate(scopes):
        page = http.get(TRACKING, headers=tenant.headers, query_string={"cursor": cursors[index], **scope}).get_json()
        assert [gone["id"] for gone in page["deleted"]] == [parcel["id"]] and page["tracking_numbers"] == []
        cursors[index] = page["next_cursor"]
    http.post(f"{TRACKING}/{parcel['id']}/restore", headers=tenant.headers)
    for index, scope in enumerate(scopes):
        page = http.get(TRACKING, headers=tenant.headers, query_string={"cursor": cursors[index], **scope}).get_json()
        assert [record["id"] for record in page["tracking_numbers"]] == [parcel["id"]] and page["deleted"] == []
    # A copy that starts afresh sees the parcel and no tombstone of it.
    fresh = http.get(TRACKING, headers=tenant.headers, query_string={"updated_since": EPOCH}).get_json()
    assert [record["id"] for record in fresh["tracking_numbers"]] == [parcel["id"]] and fresh["deleted"] == []


def test_webhooks_announce_the_restoration(app, http, tenant):
    make_webhook(app, BOT)
    parcel = create_parcel(http, tenant)
    client = http.post(CLIENTS, headers=tenant.headers, json={"client_code": "ALICE"}).get_json()
    http.delete(f"{TRACKING}/{parcel['id']}", headers=tenant.headers)
    http.delete(f"{CLIENTS}/{client['id']}", headers=tenant.headers)
    http.post(f"{TRACKING}/{parcel['id']}/restore", headers=tenant.headers)
    http.post(f"{CLIENTS}/{client['id']}/restore", headers=tenant.headers)
    events = in_app(app, lambda: [(event.type, json.loads(event.payload)["data"])
                                  for event in db.session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))])
    assert [event_type for event_type, _ in events] == [
        "tracking.created", "tracking.status_changed", "tracking.status_changed", "client.created",
        "tracking.deleted", "client.deleted", "tracking.restored", "client.restored"]
    assert events[-2][1]["tracking_number"]["id"] == parcel["id"]
    assert events[-2][1]["tracking_number"]["current_status"] == "delivered"
    assert events[-1][1]["client"]["client_code"] == "ALICE"


def test_only_a_deleted_record_of_the_bot_can_be_restored(http, tenant, other_tenant):
    parcel = create_parcel(http, tenant)
    live = http.post(f"{TRACKING}/{parcel['id']}/restore", headers=tenant.headers)
    assert live.status_code == 404 and live.content_type == "application/problem+json"
    assert "nothing to restore" in live.get_json()["detail"]
    http.delete(f"{TRACKING}/{parcel['id']}", headers=tenant.headers)
    theirs = http.post(f"/api/v1/tracking/{other_tenant.bot_id}/{parcel['id']}/restore", headers=other_tenant.headers)
    assert theirs.status_code == 404
    assert http.post(f"{TRACKING}/{parcel['id']}/restore", headers=other_tenant.headers).status_code in (403, 404)
    assert http.get(f"{TRACKING}/{parcel['id']}", headers=tenant.headers).status_code == 404


def test_a_code_taken_since_the_deletion_is_a_409_and_nothing_changes(app, http, tenant):
    parcel = create_parcel(http, tenant)
    http.delete(f"{TRACKING}/{parcel['id']}", headers=tenant.headers)
    newer = http.post(TRACKING, headers=tenant.headers, json={"tracking_number": parcel["tracking_number"],
                                                              "client_code": "BOB"}).get_json()
    refused = http.post(f"{TRACKING}/{parcel['id']}/restore", headers=tenant.headers)
    assert refused.status_code == 409 and refused.content_type == "application/problem+json"
    assert str(newer["id"]) in refused.get_json()["detail"]
    assert http.delete(f"{TRACKING}/{newer['id']}", headers=tenant.headers).status_code == 204
    assert http.post(f"{TRACKING}/{parcel['id']}/restore", headers=tenant.headers).status_code == 200
    assert_totals_exact(app)


def test_after_the_window_a_restore_is_410_and_purge_deleted_erases_the_data_for_good(app, http, tenant):
    parcel = create_parcel(http, tenant)
    recent = create_parcel(http, tenant, "RECENT1")
    http.delete(f"{TRACKING}/{parcel['id']}", headers=tenant.headers)
    age_tombstones(app, 31)
    http.delete(f"{TRACKING}/{recent['id']}", headers=tenant.headers)

    late = http.post(f"{TRACKING}/{parcel['id']}/restore", headers=tenant.headers)
    assert late.status_code == 410 and late.content_type == "application/problem+json"
    assert "30 days" in late.get_json()["detail"]

    result = app.test_cli_runner().invoke(args=["purge-deleted"])
    assert result.exit_code == 0 and "purged 1 deleted records older than 30 days" in result.output
    kept = in_app(app, lambda: {row.code: row.snapshot is not None
                                for row in db.session.scalars(select(DeletedRecord))})
    assert kept == {"RESTORE1": False, "RECENT1": True}  # tombstones stay for the feed; the old one's data is gone
    assert http.post(f"{TRACKING}/{parcel['id']}/restore", headers=tenant.headers).status_code == 410
    assert http.post(f"{TRACKING}/{recent['id']}/restore", headers=tenant.headers).status_code == 200
    feed = http.get(TRACKING, headers=tenant.headers, query_string={"updated_since": EPOCH}).get_json()
    assert [gone["id"] for gone in feed["deleted"]] == [parcel["id"]]


def test_the_window_is_a_setting(app, http, tenant):
    parcel = create_parcel(http, tenant)
    http.delete(f"{TRACKING}/{parcel['id']}", headers=tenant.headers)
    age_tombstones(app, 3)
    app.config["RESTORE_WINDOW_DAYS"] = 2
    try:
        assert http.post(f"{TRACKING}/{parcel['id']}/restore", headers=tenant.headers).status_code == 410
        app.config["RESTORE_WINDOW_DAYS"] = 7
        assert http.post(f"{TRACKING}/{parcel['id']}/restore", headers=tenant.headers).status_code == 200
    finally:
        app.config["RESTORE_WINDOW_DAYS"] = 30
