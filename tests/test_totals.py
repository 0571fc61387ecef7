"""The totals kept per bot (tracker_api/writes/totals.py): exact after every kind of write, untouched by refused ones,
what lists and statistics answer, what deep pages are found with; and the operator's check and recount."""
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from conftest import assert_totals_exact, dispose_app, in_app, make_app_like, make_tenant
from tracker_api.extensions import db
from tracker_api.models import TrackingIdBucket, TrackingNumber, TrackingStatusTotal
from tracker_api.models.types import utcnow
from tracker_api.resources.tracking.service import create_tracking
from tracker_api.writes import totals

BOT = 123
TRACKING = f"/api/v1/tracking/{BOT}"
CLIENTS = f"/api/v1/clients/{BOT}"


def create(http, tenant, number, **fields):
    response = http.post(f"/api/v1/tracking/{tenant.bot_id}", json={"tracking_number": number, "client_code": "C1", **fields},
                         headers=tenant.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def kept(app, bot_id=BOT):
    """The bot's kept totals as the lists and statistics read them."""
    def read():
        return {"tracking": totals.tracking_total(bot_id), "clients": totals.client_total(bot_id),
                "statuses": totals.status_totals(bot_id)}
    return in_app(app, read)


def test_every_kind_of_write_keeps_the_totals_exact(app, http, tenant, other_tenant):
    first = create(http, tenant, "T1", weight_kg=2.5, price_per_kg_usd=4)
    second = create(http, tenant, "T2", status="in_transit", weight_kg=1.25, total_cost_usd=7.5)
    create(http, other_tenant, "T1")  # another bot's parcel: only its own totals move
    assert http.put(f"{TRACKING}/{first}", json={"status": "delivered"}, headers=tenant.headers).status_code == 200
    assert http.put(f"{TRACKING}/{second}", json={"weight_kg": 3, "price_per_kg_usd": 2},
                    headers=tenant.headers).status_code == 200
    assert http.put(f"{TRACKING}/{second}", json={"note": "no measure changes"},
                    headers=tenant.headers).status_code == 200
    # PostgreSQL's one-statement updates (writes/parcel_statements.py): a total alone, a status with another
    # field, the same status with a new total (back to the derived 6.00)
    for fields in ({"total_cost_usd": 9.25}, {"status": "delivered", "quantity": 2},
                   {"status": "delivered", "total_cost_usd": 6}):
        assert http.put(f"{TRACKING}/{second}", json=fields, headers=tenant.headers).status_code == 200
        assert_totals_exact(app)
    rows = [{"tracking_number": "T2", "client_code": "C1", "status": "issued"},
            {"tracking_number": "T3", "client_code": "C1", "weight_kg": 10, "total_cost_usd": 1}]
    assert http.post(f"{TRACKING}/import", json=rows, headers=tenant.headers).status_code == 200
    assert http.delete(f"{TRACKING}/{first}", headers=tenant.headers).status_code == 204
    for code in ("A", "B", "C"):
        assert http.post(CLIENTS, json={"client_code": code}, headers=tenant.headers).status_code == 201
    assert http.put(f"{CLIENTS}/by-code/D", json={}, headers=tenant.headers).status_code == 201
    client_id = http.get(CLIENTS, headers=tenant.headers).get_json()["clients"][-1]["id"]
    assert http.delete(f"{CLIENTS}/{client_id}", headers=tenant.headers).status_code == 204
    assert http.post(f"{CLIENTS}/import", json=[{"client_code": "E"}, {"client_code": "A", "name": "Ann"}],
                     headers=tenant.headers).status_code == 200

    assert_totals_exact(app)
    nothing = (0, Decimal(0), Decimal(0))  # a status the bot's parcels all left
    assert kept(app) == {"tracking": 2, "clients": 5,  # A deleted, then imported again
                         "statuses": {"issued": (1, Decimal("3.000"), Decimal("6.00")),
                                      "pending": (1, Decimal("10.000"), Decimal("1.00")),
                                      "in_transit": nothing, "delivered": nothing}}
    assert kept(app, other_tenant.bot_id)["tracking"] == 1


def test_refused_writes_leave_the_totals_as_they_were(app, http, tenant):
    parcel = create(http, tenant, "T1", weight_kg=1)
    before = kept(app)
    assert http.post(TRACKING, json={"tracking_number": "T1", "client_code": "C1"},
                     headers=tenant.headers).status_code == 409
    assert http.put(f"{TRACKING}/{parcel}", json={"status": "issued"},
                    headers={**tenant.headers, "If-Match": '"stale"'}).status_code == 412
    bad_import = [{"tracking_number": "T9", "client_code": "C1"}, {"tracking_number": "", "client_code": "C1"}]
    assert http.post(f"{TRACKING}/import", json=bad_import, headers=tenant.headers).status_code == 422
    assert kept(app) == before
    assert_totals_exact(app)


def test_lists_and_statistics_answer_the_kept_totals(app, http, tenant):
    for number, status in (("T1", "pending"), ("T2", "pending"), ("T3", "issued")):
        create(http, tenant, number, status=status)
    assert http.get(TRACKING, headers=tenant.headers).get_json()["total"] == 3
    assert http.get(f"{TRACKING}?status_filter=pending", headers=tenant.headers).get_json()["total"] == 2
    assert http.get(f"{TRACKING}?updated_since=2020-01-01T00:00:00Z", headers=tenant.headers).get_json()["total"] == 3
    # Proof that they are read, not counted: a total changed behind the app's back is what the API says.
    in_app(app, lambda: (db.session.execute(text(
        "UPDATE tracking_status_totals SET count = 40 WHERE bot_id = 123 AND status = 'issued'")), db.session.commit()))
    assert http.get(TRACKING, headers=tenant.headers).get_json()["total"] == 42
    overview = http.get(f"/api/v1/statistics/{BOT}/overview", headers=tenant.headers).get_json()
    assert (overview["total_tracking_numbers"], overview["issued"], overview["pending"]) == (42, 40, 2)


def test_created_per_day_counts_whole_utc_days_from_the_kept_days(app, http, tenant):
    today = utcnow().replace(hour=0, minute=30)
    for days_ago, count in ((0, 2), (3, 1), (29, 1), (30, 5)):  # 30 days ago is outside the window
        for n in range(count):
            in_app(app, create_tracking, BOT, {"tracking_number": f"D{days_ago}-{n}", "client_code": "C1",
                                               "status": "pending"}, at=today - timedelta(days=days_ago))
    series = http.get(f"/api/v1/statistics/{BOT}/tracking", headers=tenant.headers).get_json()["created_per_day"]
    assert len(series) == 30
    assert {row["date"]: row["created"] for row in series if row["created"]} == {
        (today - timedelta(days=days_ago)).date().isoformat(): count for days_ago, count in ((0, 2), (3, 1), (29, 1))}


# --- deep pages: found through the id buckets, equal to what OFFSET finds ---------------------------------------

@pytest.fixture
def small_buckets(monkeypatch):
    """Buckets of 4 ids, used from the first page on, so that a few dozen rows exercise every branch."""
    monkeypatch.setattr(totals, "ID_BUCKET_WIDTH", 4)
    monkeypatch.setattr(totals, "BUCKETED_OFFSET", 0)


def offset_page(app, bot_id, page, page_size):
    """The same page by plain OFFSET: what the bucket walk must equal."""
    def read():
        return list(db.session.scalars(db.select(TrackingNumber.id).where(TrackingNumber.bot_id == bot_id)
                                       .order_by(TrackingNumber.id.desc())
                                       .limit(page_size).offset((page - 1) * page_size)))
    return in_app(app, read)


def test_every_page_found_through_the_buckets_is_the_offset_page(app, http, tenant, other_tenant, small_buckets):
    """Two bots' parcels interleaved (sparse ids, empty buckets), some deleted: every page, and the pages past
    the end, equal the plain OFFSET's."""
    ids = []
    for n in range(40):
        owner = tenant if n % 3 else other_tenant
        response = http.post(f"/api/v1/tracking/{owner.bot_id}", json={"tracking_number": f"N{n}", "client_code": "C"},
                             headers=owner.headers)
        ids.append((owner, response.get_json()["id"]))
    for owner, parcel in ids[5:12]:
        assert http.delete(f"/api/v1/tracking/{owner.bot_id}/{parcel}", headers=owner.headers).status_code == 204
    assert_totals_exact(app)
    for page_size in (1, 3, 7):
        pages = 0
        for page in range(1, 40 // page_size + 3):
            answer = http.get(f"{TRACKING}?page={page}&page_size={page_size}", headers=tenant.headers).get_json()
            assert [row["id"] for row in answer["tracking_numbers"]] == offset_page(app, BOT, page, page_size), \
                (page_size, page)
            pages += bool(answer["tracking_numbers"])
        assert pages == -(-answer["total"] // page_size)


def test_the_bucket_walk_skips_empty_buckets_and_stops_past_the_end(app, small_buckets):
    def scenario():
        for parcel_id in (10, 11, 28, 30, 31):  # buckets 2 (ids 8-11) and 7 (ids 28-31)
            db.session.add(TrackingNumber(id=parcel_id, bot_id=1, tracking_number=f"P{parcel_id}", client_code="C",
                                          status="pending", created_at=utcnow(), updated_at=utcnow()))
        db.session.commit()
        db.session.execute(text("INSERT INTO tracking_id_buckets (bot_id, bucket, count) VALUES (1, 5, 0)"))
        return [tuple(db.session.execute(totals.ROW_BUCKET, {"bot_id": 1, "offset": offset}).first() or ())
                for offset in range(6)]
    make_tenant(app, 1)
    # (bucket, rows of the bot in the buckets above it): the row is in ids (bucket + 1) * 4 - 1 downwards
    assert in_app(app, scenario) == [(7, 0), (7, 0), (7, 0), (2, 3), (2, 3), ()]
    assert in_app(app, lambda: db.session.scalars(db.select(TrackingIdBucket.bucket).order_by(
        TrackingIdBucket.bucket)).all()) == [2, 7]  # the committed rows only: the test's own insert rolled back


# --- the operator's check and recount (the migration's backfill: test_migrations.py) -----------------------------

def test_check_finds_a_wrong_total_and_recount_mends_it(app, http, tenant):
    create(http, tenant, "T1", weight_kg=2)
    create(http, tenant, "T2", status="issued")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["totals", "check"]).exit_code == 0
    in_app(app, lambda: (db.session.execute(text("UPDATE tracking_status_totals SET count = 5, total_weight_kg = 9 "
                                                 "WHERE status = 'pending'")),
                         db.session.execute(text("DELETE FROM client_totals")),
                         db.session.execute(text("INSERT INTO client_totals (bot_id, count) VALUES (123, 3)")),
                         db.session.commit()))
    result = runner.invoke(args=["totals", "check"])
    assert result.exit_code == 1
    assert result.output.splitlines() == ["tracking_status_totals 123, pending: kept 5 / 9 / 0, counted 1 / 2 / 0",
                                          "client_totals 123: kept 3, counted nothing"]

    result = runner.invoke(args=["totals", "recount", "--bot-id", "123"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["totals", "check"]).exit_code == 0
    assert kept(app)["statuses"]["pending"][0] == 1


def test_writes_that_bypass_the_orm_are_caught_by_check(app, tenant):
    """The listener sees ORM flushes only: SQL by hand shows up in `totals check` (and `recount` mends it)."""
    in_app(app, lambda: (db.session.execute(text(
        "INSERT INTO tracking_numbers (bot_id, tracking_number, client_code, status, quantity, created_at, "
        "updated_at, change_seq) VALUES (123, 'RAW1', 'C', 'pending', 1, '2025-01-01 10:00:00+00', "
        "'2025-01-01 10:00:00+00', 1)")), db.session.commit()))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["totals", "check", "--bot-id", "123"]).exit_code == 1
    assert runner.invoke(args=["totals", "recount"]).exit_code == 0
    assert runner.invoke(args=["totals", "check"]).exit_code == 0
    assert in_app(app, lambda: db.session.get(TrackingStatusTotal, (123, "pending")).count) == 1


@pytest.mark.parametrize("command", ["recount", "check"])
def test_the_operator_commands_are_not_bound_by_the_requests_statement_timeout(postgresql_only_app, monkeypatch,
                                                                                command):
    """A recount or check of a million parcels takes longer than a request may (DATABASE_STATEMENT_TIMEOUT_MS): the
    command's own transaction lifts the timeout. Here the counting takes 0.2 s against a 50 ms timeout."""
    app = make_app_like(postgresql_only_app, DATABASE_STATEMENT_TIMEOUT_MS=50)
    counted = totals.recount if command == "recount" else totals.differences

    def slow(connection, bot_id=None):
        connection.execute(text("SELECT pg_sleep(0.2)"))
        return counted(connection, bot_id)
    monkeypatch.setattr(totals, "recount" if command == "recount" else "differences", slow)
    try:
        with app.app_context():  # the timeout holds everywhere else
            with pytest.raises(Exception, match="statement timeout"):
                db.session.execute(text("SELECT pg_sleep(0.2)"))
        result = app.test_cli_runner().invoke(args=["totals", command])
        assert result.exit_code == 0, (result.output, result.exception)
    finally:
        dispose_app(app)
