"""Tracking numbers: the list, create, read and update endpoints behave as the product document describes.

Malformed input, duplicates' 409 body, paging errors and unknown status filters are in test_errors.py;
another bot's data is in test_isolation.py. This module checks what a correct request gets back.
"""
import json
from datetime import datetime, timedelta
from decimal import Decimal

import marshmallow as ma
import pytest

from conftest import SAMPLE_TRACKING, executed_statements, in_app, make_tenant, make_tracking, make_webhook
from tracker_api.access.keys import issue_key
from tracker_api.extensions import db
from tracker_api.models import ApiKey, StatusEvent, TrackingNumber
from tracker_api.models.types import utcnow
from tracker_api.resources.tracking.service import create_tracking, update_tracking

BOT = 123
TRACKING = f"/api/v1/tracking/{BOT}"
# The product document's create body and the record its list example shows.
DOCUMENT_BODY = {"tracking_number": "ABC123456", "client_code": "CLIENT123", "status": "pending", "quantity": 5,
                 "weight_kg": 10.5, "price_per_kg_usd": 14.29, "total_cost_usd": 150.00, "note": "Хрупкое"}
RECORD_TYPES = {"id": int, "tracking_number": str, "client_code": str, "current_status": str, "quantity": int,
                "weight_kg": float, "price_per_kg_usd": float, "total_cost_usd": float, "note": str,
                "created_at": str, "updated_at": str}


def exact(response):
    """The response body with every JSON number read as the Decimal it spells, so 0.3 is not 0.30000000000000004."""
    return json.loads(response.get_data(as_text=True), parse_float=Decimal)


def utc_time(text):
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert moment.utcoffset() == timedelta(0), f"{text} does not say it is UTC"
    return moment


def create(http, tenant, **fields):
    response = http.post(f"/api/v1/tracking/{tenant.bot_id}", headers=tenant.headers, json=fields)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def history(app, tracking_id):
    """(previous_status, status, source, api_key_id) of each history row, oldest first."""
    def read():
        events = db.session.scalars(db.select(StatusEvent).where(StatusEvent.tracking_id == tracking_id)
                                    .order_by(StatusEvent.id))
        return [(e.previous_status, e.status, e.source, e.api_key_id) for e in events]
    return in_app(app, read)


def listed(http, tenant, path=TRACKING, **query):
    response = http.get(path, headers=tenant.headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return [item["tracking_number"] for item in body["tracking_numbers"]], body["total"]


# --- the list, in the product document's shape ---------------------------------------------------------

def test_the_list_has_the_product_documents_shape_keys_and_types(http, tenant):
    create(http, tenant, **DOCUMENT_BODY)
    response = http.get(TRACKING, headers=tenant.headers, query_string={"page": 1, "page_size": 50,
                                                                        "status_filter": "pending"})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"tracking_numbers", "total"}
    assert body["total"] == 1
    [item] = body["tracking_numbers"]
    assert set(item) == set(RECORD_TYPES)
    for key, kind in RECORD_TYPES.items():
        assert type(item[key]) is kind, f"{key}: {item[key]!r} is not a {kind.__name__}"
    assert {key: item[key] for key in ("tracking_number", "client_code", "current_status", "quantity", "weight_kg",
                                       "price_per_kg_usd", "total_cost_usd", "note")} == \
        {"tracking_number": "ABC123456", "client_code": "CLIENT123", "current_status": "pending", "quantity": 5,
         "weight_kg": 10.5, "price_per_kg_usd": 14.29, "total_cost_usd": 150.0, "note": "Хрупкое"}
    assert utc_time(item["created_at"]) == utc_time(item["updated_at"])


def test_an_empty_bot_lists_nothing_with_a_total_of_zero(http, tenant):
    assert http.get(TRACKING, headers=tenant.headers).get_json() == {"tracking_numbers": [], "total": 0}


# --- create -------------------------------------------------------------------------------------------

def test_create_returns_201_with_the_full_record_the_get_returns_too(http, tenant):
    before = utcnow()
    response = http.post(TRACKING, headers=tenant.headers, json=DOCUMENT_BODY)
    assert response.status_code == 201
    record = response.get_json()
    assert set(record) == set(RECORD_TYPES)
    assert isinstance(record["id"], int) and record["id"] > 0
    assert before <= utc_time(record["created_at"]) == utc_time(record["updated_at"]) <= utcnow()
    expected = {**DOCUMENT_BODY, "current_status": DOCUMENT_BODY["status"]}
    del expected["status"]
    assert {key: record[key] for key in expected} == expected
    assert http.get(f"{TRACKING}/{record['id']}", headers=tenant.headers).get_json() == record


def test_request_bodies_and_query_arguments_are_loaded_by_schemas_built_once(http, tenant, monkeypatch):
    """Given a schema class, webargs would build an instance of it (copying every field) on every request: 12% of a
    create's CPU (resources/blueprint.py)."""
    built = []
    monkeypatch.setattr(ma.Schema, "__init__", lambda schema, *args, __init=ma.Schema.__init__, **kwargs: (
        built.append(type(schema).__name__), __init(schema, *args, **kwargs))[1])
    created = http.post(TRACKING, headers=tenant.headers, json=DOCUMENT_BODY)
    updated = http.put(f"{TRACKING}/{created.get_json()['id']}", headers=tenant.headers, json={"status": "issued"})
    listed = http.get(f"{TRACKING}?status=issued&page=1&page_size=10", headers=tenant.headers)
    assert (created.status_code, updated.status_code, listed.get_json()["total"]) == (201, 200, 1)
    assert built == []


def test_create_with_only_the_required_fields_fills_the_defaults(app, http, tenant):
    record = create(http, tenant, tracking_number="ABC123456", client_code="CLIENT123")
    assert record["current_status"] == "pending"
    assert record["quantity"] == 1
    assert (record["weight_kg"], record["price_per_kg_usd"], record["total_cost_usd"], record["note"]) == \
        (None, None, None, None)


def test_create_records_the_first_status_in_the_history(app, http, tenant):
    record = create(http, tenant, **{**DOCUMENT_BODY, "status": "in_transit"})
    assert history(app, record["id"]) == [(None, "in_transit", "api", tenant.key_id)]


@pytest.mark.parametrize("weight_kg,price_per_kg_usd,total_cost_usd", [
    (10.5, 14.29, "150.05"),   # 150.045: half-up makes 150.05 where banker's rounding would make 150.04
    (3, 19.99, "59.97"),       # 59.97 exactly, though 3 * 19.99 in floating point is 59.97000000000001
    (2.5, 0.01, "0.03"),       # 0.025: half-up, where banker's rounding would make 0.02
    (0.4, 0.01, "0"),          # 0.004 rounds down to nothing
    (1.005, 1, "1.01"),        # 1.005 is 1.00499999... as a float: the rounding must be decimal
], ids=["document-values", "float-artefact", "half-up", "down", "binary-half"])
def test_an_omitted_total_cost_is_weight_times_price_rounded_half_up_to_cents(http, tenant, weight_kg,
                                                                               price_per_kg_usd, total_cost_usd):
    response = http.post(TRACKING, headers=tenant.headers, json={
        "tracking_number": "ABC123456", "client_code": "CLIENT123", "weight_kg": weight_kg,
        "price_per_kg_usd": price_per_kg_usd})
    assert response.status_code == 201
    assert exact(response)["total_cost_usd"] == Decimal(total_cost_usd)


def test_a_given_total_cost_is_kept_even_when_it_differs_from_weight_times_price(http, tenant):
    record = create(http, tenant, **DOCUMENT_BODY)  # 10.5 × 14.29 = 150.05, the document says 150.00
    assert record["total_cost_usd"] == 150.0


@pytest.mark.parametrize("priced", [{"weight_kg": 10.5}, {"price_per_kg_usd": 14.29}, {}],
                         ids=["weight-only", "price-only", "neither"])
def test_no_total_cost_is_invented_without_both_weight_and_price(http, tenant, priced):
    record = create(http, tenant, tracking_number="ABC123456", client_code="CLIENT123", **priced)
    assert record["total_cost_usd"] is None


def test_exact_decimals_survive_the_round_trip(http, tenant):
    body = {"tracking_number": "ABC123456", "client_code": "CLIENT123", "weight_kg": 0.3, "price_per_kg_usd": 0.1,
            "total_cost_usd": 0.3}
    created = http.post(TRACKING, headers=tenant.headers, json=body)
    stored = http.get(f"{TRACKING}/{created.get_json()['id']}", headers=tenant.headers)
    for response in (created, stored):
        record = exact(response)
        assert (record["weight_kg"], record["price_per_kg_usd"], record["total_cost_usd"]) == \
            (Decimal("0.3"), Decimal("0.1"), Decimal("0.3"))
    derived = exact(http.post(TRACKING, headers=tenant.headers, json={
        "tracking_number": "DEF789", "client_code": "CLIENT123", "weight_kg": 0.1, "price_per_kg_usd": 3}))
    assert derived["total_cost_usd"] == Decimal("0.3")  # 0.1 * 3 in floating point is 0.30000000000000004


def test_the_most_precise_values_are_stored_without_loss(http, tenant):
    record = create(http, tenant, tracking_number="ABC123456", client_code="CLIENT123", weight_kg=1234567.891,
                    price_per_kg_usd=0.07, total_cost_usd=86419.75)
    stored = exact(http.get(f"{TRACKING}/{record['id']}", headers=tenant.headers))
    assert (stored["weight_kg"], stored["price_per_kg_usd"], stored["total_cost_usd"]) == \
        (Decimal("1234567.891"), Decimal("0.07"), Decimal("86419.75"))


def test_the_same_number_may_exist_in_another_bot(http, tenant, other_tenant):
    theirs = create(http, other_tenant, **DOCUMENT_BODY)
    ours = create(http, tenant, **DOCUMENT_BODY)
    assert ours["id"] != theirs["id"]
    assert listed(http, tenant) == (["ABC123456"], 1)
    assert listed(http, other_tenant, path="/api/v1/tracking/456") == (["ABC123456"], 1)


def test_a_duplicate_names_the_own_bots_record_not_the_other_bots(http, tenant, other_tenant):
    create(http, other_tenant, **DOCUMENT_BODY)
    ours = create(http, tenant, **DOCUMENT_BODY)
    response = http.post(TRACKING, headers=tenant.headers, json=DOCUMENT_BODY)
    assert response.status_code == 409
    assert response.get_json()["existing_id"] == ours["id"]


# --- read one ----------------------------------------------------------------------------------------

def test_get_by_id_returns_that_record_and_a_missing_id_is_a_404(http, tenant):
    first = create(http, tenant, **DOCUMENT_BODY)
    second = create(http, tenant, **{**DOCUMENT_BODY, "tracking_number": "DEF789", "client_code": "CLIENT7"})
    assert http.get(f"{TRACKING}/{first['id']}", headers=tenant.headers).get_json() == first
    assert http.get(f"{TRACKING}/{second['id']}", headers=tenant.headers).get_json() == second
    missing = http.get(f"{TRACKING}/{second['id'] + 1}", headers=tenant.headers)
    assert missing.status_code == 404
    assert str(second["id"] + 1) in missing.get_json()["detail"]


# --- update --------------------------------------------------------------------------------------------

def test_a_status_change_is_returned_stored_and_recorded_in_the_history(app, http, tenant):
    record = create(http, tenant, **DOCUMENT_BODY)
    response = http.put(f"{TRACKING}/{record['id']}", headers=tenant.headers, json={"status": "in_transit"})
    assert response.status_code == 200
    updated = response.get_json()
    assert updated["current_status"] == "in_transit"
    assert utc_time(updated["updated_at"]) > utc_time(record["updated_at"])
    assert updated["created_at"] == record["created_at"]
    unchanged = {key: value for key, value in record.items() if key not in ("current_status", "updated_at")}
    assert {key: updated[key] for key in unchanged} == unchanged
    assert http.get(f"{TRACKING}/{record['id']}", headers=tenant.headers).get_json() == updated
    assert history(app, record["id"]) == [(None, "pending", "api", tenant.key_id),
                                          ("pending", "in_transit", "api", tenant.key_id)]


def test_each_status_of_a_parcels_life_is_a_history_row_stamped_with_the_update_time(app, http, tenant):
    record = create(http, tenant, **DOCUMENT_BODY)
    stamps = []
    for status in ("in_transit", "delivered", "issued"):
        response = http.put(f"{TRACKING}/{record['id']}", headers=tenant.headers, json={"status": status})
        stamps.append(utc_time(response.get_json()["updated_at"]))
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
    assert [row[:2] for row in history(app, record["id"])] == [
        (None, "pending"), ("pending", "in_transit"), ("in_transit", "delivered"), ("delivered", "issued")]
    event_times = in_app(app, lambda: db.session.scalars(db.select(StatusEvent.created_at).where(
        StatusEvent.tracking_id == record["id"]).order_by(StatusEvent.id)).all())
    assert event_times[1:] == stamps


def test_an_update_without_a_status_changes_the_fields_but_writes_no_history(app, http, tenant):
    record = create(http, tenant, **DOCUMENT_BODY)
    changes = {"note": "Не кантовать", "quantity": 6, "client_code": "CLIENT7", "total_cost_usd": 155.5}
    response = http.put(f"{TRACKING}/{record['id']}", headers=tenant.headers, json=changes)
    assert response.status_code == 200
    updated = response.get_json()
    assert {key: updated[key] for key in changes} == changes
    assert updated["current_status"] == "pending"
    assert utc_time(updated["updated_at"]) > utc_time(record["updated_at"])
    assert history(app, record["id"]) == [(None, "pending", "api", tenant.key_id)]


def test_an_update_can_clear_the_optional_fields(http, tenant):
    record = create(http, tenant, **DOCUMENT_BODY)
    response = http.put(f"{TRACKING}/{record['id']}", headers=tenant.headers,
                        json={"note": None, "weight_kg": None, "price_per_kg_usd": None, "total_cost_usd": None})
    assert response.status_code == 200
    stored = http.get(f"{TRACKING}/{record['id']}", headers=tenant.headers).get_json()
    assert (stored["note"], stored["weight_kg"], stored["price_per_kg_usd"], stored["total_cost_usd"]) == \
        (None, None, None, None)
    assert (stored["quantity"], stored["current_status"]) == (5, "pending")


def test_setting_the_status_it_already_has_writes_no_history(app, http, tenant):
    record = create(http, tenant, **DOCUMENT_BODY)
    response = http.put(f"{TRACKING}/{record['id']}", headers=tenant.headers, json={"status": "pending"})
    assert response.status_code == 200 and response.get_json()["current_status"] == "pending"
    assert len(history(app, record["id"])) == 1


def test_changing_the_weight_recomputes_an_omitted_total_cost(http, tenant):
    record = create(http, tenant, tracking_number="ABC123456", client_code="CLIENT123", weight_kg=10.5,
                    price_per_kg_usd=14.29)
    response = http.put(f"{TRACKING}/{record['id']}", headers=tenant.headers, json={"weight_kg": 2})
    assert exact(response)["total_cost_usd"] == Decimal("28.58")
    response = http.put(f"{TRACKING}/{record['id']}", headers=tenant.headers,
                        json={"weight_kg": 3, "total_cost_usd": 40})
    assert exact(response)["total_cost_usd"] == Decimal("40")


def test_a_rename_to_an_existing_number_changes_nothing_at_all(app, http, tenant):
    existing = create(http, tenant, **{**DOCUMENT_BODY, "tracking_number": "DEF789"})
    record = create(http, tenant, **DOCUMENT_BODY)
    response = http.put(f"{TRACKING}/{record['id']}", headers=tenant.headers,
                        json={"tracking_number": "DEF789", "status": "delivered", "note": "renamed"})
    assert response.status_code == 409
    assert response.get_json()["existing_id"] == existing["id"]
    assert http.get(f"{TRACKING}/{record['id']}", headers=tenant.headers).get_json() == record
    assert http.get(f"{TRACKING}/{existing['id']}", headers=tenant.headers).get_json() == existing
    assert history(app, record["id"]) == [(None, "pending", "api", tenant.key_id)]


def test_a_rename_to_a_number_only_another_bot_has_is_allowed(http, tenant, other_tenant):
    create(http, other_tenant, **{**DOCUMENT_BODY, "tracking_number": "DEF789"})
    record = create(http, tenant, **DOCUMENT_BODY)
    response = http.put(f"{TRACKING}/{record['id']}", headers=tenant.headers, json={"tracking_number": "DEF789"})
    assert response.status_code == 200 and response.get_json()["tracking_number"] == "DEF789"


def test_an_update_of_a_missing_id_is_a_404_and_creates_nothing(http, tenant):
    response = http.put(f"{TRACKING}/41", headers=tenant.headers, json={"status": "in_transit"})
    assert response.status_code == 404
    assert listed(http, tenant) == ([], 0)


# --- what a write costs the database -----------------------------------------------------------------------

@pytest.fixture
def pg_app(postgresql_only_app):
    """Round trips are PostgreSQL's cost (SQLite, in process, also runs one upsert per totals table)."""
    make_tenant(postgresql_only_app, BOT)
    return postgresql_only_app


def statements_of(app, function, *args):
    """The SQL statements `function(*args)` sends, each a round trip on PostgreSQL."""
    return [statement for _, statement in executed_statements(app, lambda: in_app(app, function, *args))]


def test_a_create_is_one_statement_on_postgresql(pg_app):
    """The bot's lock (which also says the bot has no webhook endpoint), the parcel, its history row, and every
    total: one statement (writes/parcel_statements.py), then the commit."""
    sent = statements_of(pg_app, create_tracking, BOT, SAMPLE_TRACKING)
    assert len(sent) == 1, sent
    assert sent[0].startswith("WITH locked AS (UPDATE bots"), sent


def test_a_create_for_a_bot_with_a_webhook_endpoint_writes_its_event_in_the_same_transaction(pg_app):
    """The statement says the bot has an endpoint: its subscribers are looked up, the event and its delivery
    written before the commit. The bot's first write in this process tries to commit alone, finds the endpoint and
    writes nothing (parcel_statements.py); its next writes go straight to the transaction."""
    make_webhook(pg_app, BOT)
    first = statements_of(pg_app, create_tracking, BOT, SAMPLE_TRACKING)
    assert len(first) == 1 + 1 + 3 and "NOT EXISTS" in first[0] and "NOT EXISTS" not in first[1], first
    sent = statements_of(pg_app, create_tracking, BOT, {**SAMPLE_TRACKING, "tracking_number": "NEXT123456"})
    assert len(sent) == 1 + 3, sent
    assert "NOT EXISTS" not in sent[0], sent
    assert "webhook_endpoints" in sent[1] and "webhook_events" in sent[2] and "webhook_deliveries" in sent[3], sent


def test_a_status_update_is_one_statement_on_postgresql(pg_app):
    """The lock, the parcel locked and read (its old status moves the totals), the change, its history row, and
    the totals: one statement (writes/parcel_statements.py), then the commit."""
    tracking_id = make_tracking(pg_app, BOT)
    sent = statements_of(pg_app, update_tracking, BOT, tracking_id, {"status": "in_transit"})
    assert len(sent) == 1, sent
    assert sent[0].startswith("WITH locked AS (UPDATE bots"), sent


@pytest.mark.parametrize("fields, precondition", [
    ({"status": "in_transit"}, lambda record: None),  # If-Match: checked on the locked row, in Python
    ({"client_code": "CLIENT999"}, None),  # a move between clients leaves a removal in the old client's feed
    ({"weight_kg": Decimal("2.5")}, None),  # the total is derived from the stored price
])
def test_an_update_with_if_match_or_of_the_client_weight_or_price_goes_through_the_orm(pg_app, fields,
                                                                                       precondition):
    """The lock, the parcel locked and read, the change, and the totals (a history row too for a new status)."""
    tracking_id = make_tracking(pg_app, BOT)
    sent = statements_of(pg_app, lambda: update_tracking(BOT, tracking_id, fields, precondition=precondition))
    assert sent[0].startswith("UPDATE bots") and "FOR UPDATE" in sent[1], sent


def test_a_bot_with_a_webhook_endpoint_looks_its_subscribers_up_and_writes_the_event(pg_app):
    make_webhook(pg_app, BOT)
    tracking_id = make_tracking(pg_app, BOT)
    sent = statements_of(pg_app, update_tracking, BOT, tracking_id, {"status": "in_transit"})
    assert len(sent) == 1 + 3, sent  # the endpoints, the event, its delivery
    assert "webhook_endpoints" in sent[1]


# --- status history ----------------------------------------------------------------------------------------

def test_the_history_lists_every_status_oldest_first_with_when_and_who(app, http, tenant):
    record = create(http, tenant, **DOCUMENT_BODY)
    second_key = in_app(app, lambda: issue_key(tenant.bot_id, "crm")[1])
    stamps = [record["created_at"]]
    for status, key in (("in_transit", tenant.key), ("delivered", second_key)):
        response = http.put(f"{TRACKING}/{record['id']}", headers={"X-API-Key": key}, json={"status": status})
        stamps.append(response.get_json()["updated_at"])
    http.put(f"{TRACKING}/{record['id']}", headers=tenant.headers, json={"note": "no status change"})

    response = http.get(f"{TRACKING}/{record['id']}/history", headers=tenant.headers)
    assert response.status_code == 200
    body = response.get_json()
    assert list(body) == ["tracking_id", "tracking_number", "current_status", "history"]
    assert (body["tracking_id"], body["tracking_number"], body["current_status"]) == \
        (record["id"], "ABC123456", "delivered")
    second_key_id = in_app(app, lambda: db.session.scalar(
        db.select(ApiKey.id).where(ApiKey.bot_id == tenant.bot_id, ApiKey.name == "crm")))
    assert [(change["previous_status"], change["status"], change["source"], change["api_key_id"])
            for change in body["history"]] == [(None, "pending", "api", tenant.key_id),
                                               ("pending", "in_transit", "api", tenant.key_id),
                                               ("in_transit", "delivered", "api", second_key_id)]
    assert [utc_time(change["changed_at"]) for change in body["history"]] == [utc_time(at) for at in stamps]
    assert [row[:2] for row in history(app, record["id"])] == \
        [(change["previous_status"], change["status"]) for change in body["history"]]


def test_the_history_of_a_missing_tracking_number_is_a_404_problem(http, tenant):
    response = http.get(f"{TRACKING}/999999/history", headers=tenant.headers)
    assert response.status_code == 404 and response.content_type == "application/problem+json"
    assert "999999" in response.get_json()["detail"]


# --- filters ---------------------------------------------------------------------------------------------

@pytest.fixture
def parcels(app, tenant, other_tenant):
    """Five of our parcels across two clients and three statuses, plus the other bot's look-alikes."""
    rows = [("ABC123456", "CLIENT123", "pending"), ("ABC123457", "CLIENT123", "in_transit"),
            ("XYZ000001", "CLIENT7", "pending"), ("ABC123458", "CLIENT123", "pending"),
            ("XYZ000002", "CLIENT7", "delivered")]
    for number, client_code, status in rows:
        make_tracking(app, tenant.bot_id, tracking_number=number, client_code=client_code, status=status)
        make_tracking(app, other_tenant.bot_id, tracking_number=number, client_code=client_code, status=status)
    return rows


@pytest.mark.parametrize("query,expected", [
    ({"status_filter": "pending"}, ["ABC123458", "XYZ000001", "ABC123456"]),
    ({"status_filter": "delivered"}, ["XYZ000002"]),
    ({"status_filter": "cancelled"}, []),
    ({"client_code": "CLIENT123"}, ["ABC123458", "ABC123457", "ABC123456"]),
    ({"client_code": "CLIENT7"}, ["XYZ000002", "XYZ000001"]),
    ({"client_code": "NOBODY"}, []),
    ({"client_code": "client123"}, []),  # codes are exact, as the bot issued them
    ({"status_filter": "pending", "client_code": "CLIENT123"}, ["ABC123458", "ABC123456"]),
    ({"status_filter": "pending", "client_code": "CLIENT7"}, ["XYZ000001"]),
    ({"status_filter": "in_transit", "client_code": "CLIENT7"}, []),
], ids=lambda value: "&".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else None)
def test_filters_select_by_status_client_code_or_both(http, tenant, parcels, query, expected):
    assert listed(http, tenant, **query) == (expected, len(expected))


def test_a_filtered_list_is_paginated_with_the_total_of_all_matches(http, tenant, parcels):
    assert listed(http, tenant, status_filter="pending", page=1, page_size=2) == (["ABC123458", "XYZ000001"], 3)
    assert listed(http, tenant, status_filter="pending", page=2, page_size=2) == (["ABC123456"], 3)


def test_a_status_change_moves_the_parcel_between_filters(http, tenant, parcels):
    query = {"client_code": "CLIENT7", "status_filter": "pending"}
    [moved] = http.get(TRACKING, headers=tenant.headers, query_string=query).get_json()["tracking_numbers"]
    http.put(f"{TRACKING}/{moved['id']}", headers=tenant.headers, json={"status": "delivered"})
    assert listed(http, tenant, status_filter="pending") == (["ABC123458", "ABC123456"], 2)
    assert listed(http, tenant, status_filter="delivered") == (["XYZ000002", "XYZ000001"], 2)


def test_unknown_query_parameters_are_ignored(http, tenant, parcels):
    assert listed(http, tenant, status_filter="delivered", _="1706349600000") == (["XYZ000002"], 1)


# --- pagination ------------------------------------------------------------------------------------------

def insert_many(app, bot_id, count):
    """`count` parcels in one transaction (no history: these tests read only the list)."""
    def insert():
        now = utcnow()
        db.session.add_all(TrackingNumber(bot_id=bot_id, tracking_number=f"BULK{n:04d}", client_code="CLIENT123",
                                          status="pending", quantity=1, created_at=now, updated_at=now)
                           for n in range(1, count + 1))
        db.session.commit()
    in_app(app, insert)


def test_pages_are_newest_first_and_each_carries_the_total(http, tenant):
    for n in range(1, 6):
        create(http, tenant, tracking_number=f"ABC12345{n}", client_code="CLIENT123")
    assert listed(http, tenant, page=1, page_size=2) == (["ABC123455", "ABC123454"], 5)
    assert listed(http, tenant, page=2, page_size=2) == (["ABC123453", "ABC123452"], 5)
    assert listed(http, tenant, page=3, page_size=2) == (["ABC123451"], 5)


@pytest.mark.parametrize("page", [4, 1000])
def test_a_page_beyond_the_end_is_empty_with_the_right_total(http, tenant, page):
    for n in range(1, 6):
        create(http, tenant, tracking_number=f"ABC12345{n}", client_code="CLIENT123")
    assert listed(http, tenant, page=page, page_size=2) == ([], 5)


def test_the_default_page_is_the_first_fifty(app, http, tenant):
    insert_many(app, tenant.bot_id, 51)
    numbers, total = listed(http, tenant)
    assert total == 51
    assert numbers == [f"BULK{n:04d}" for n in range(51, 1, -1)]
    assert listed(http, tenant, page=2) == (["BULK0001"], 51)


def test_a_page_of_the_maximum_size_holds_one_hundred(app, http, tenant):
    insert_many(app, tenant.bot_id, 101)
    numbers, total = listed(http, tenant, page_size=100)
    assert (len(numbers), total, numbers[0], numbers[-1]) == (100, 101, "BULK0101", "BULK0002")


# --- by client --------------------------------------------------------------------------------------------

def test_by_client_lists_only_that_clients_parcels_newest_first(http, tenant, parcels):
    assert listed(http, tenant, path=f"{TRACKING}/by-client/CLIENT123") == \
        (["ABC123458", "ABC123457", "ABC123456"], 3)
    assert listed(http, tenant, path=f"{TRACKING}/by-client/CLIENT7") == (["XYZ000002", "XYZ000001"], 2)


def test_by_client_has_the_list_shape_and_the_same_records_as_the_filter(http, tenant, parcels):
    by_client = http.get(f"{TRACKING}/by-client/CLIENT7", headers=tenant.headers).get_json()
    filtered = http.get(TRACKING, headers=tenant.headers, query_string={"client_code": "CLIENT7"}).get_json()
    assert set(by_client) == {"tracking_numbers", "total"}
    assert by_client == filtered
    assert all(set(item) == set(RECORD_TYPES) for item in by_client["tracking_numbers"])


def test_by_client_is_paginated(http, tenant, parcels):
    path = f"{TRACKING}/by-client/CLIENT123"
    assert listed(http, tenant, path=path, page=2, page_size=2) == (["ABC123456"], 3)
    assert listed(http, tenant, path=path, page=3, page_size=2) == ([], 3)


def test_by_client_of_an_unknown_client_is_an_empty_list_not_a_404(http, tenant, parcels):
    assert listed(http, tenant, path=f"{TRACKING}/by-client/NOBODY") == ([], 0)


def test_backdated_parcels_keep_their_creation_time(app, http, tenant):
    """Imports and the demo pass `at=`: the API shows the time the parcel was really registered."""
    registered = utcnow().replace(microsecond=0) - timedelta(days=3)
    tracking_id = in_app(app, lambda: create_tracking(tenant.bot_id, {
        "tracking_number": "ABC123456", "client_code": "CLIENT123", "status": "pending", "quantity": 5},
        at=registered).id)
    record = http.get(f"{TRACKING}/{tracking_id}", headers=tenant.headers).get_json()
    assert utc_time(record["created_at"]) == utc_time(record["updated_at"]) == registered
