"""Statistics: exact figures from a known data set, per status and per UTC day, for one bot only."""
import json
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from conftest import in_app, make_client
from tracker_api.extensions import db
from tracker_api.models import TrackingNumber
from tracker_api.models.types import utcnow
from tracker_api.resources.tracking.service import create_tracking, update_tracking

BOT = 123
OVERVIEW = f"/api/v1/statistics/{BOT}/overview"
TRACKING_STATISTICS = f"/api/v1/statistics/{BOT}/tracking"
STATUSES = ("pending", "in_transit", "delivered", "issued", "cancelled")
WINDOW_DAYS = 30


def exact(response):
    """The body with JSON numbers read as the Decimals they spell: a float sum would show 0.30000000000000004."""
    return json.loads(response.get_data(as_text=True), parse_float=Decimal)


def midnight(day):
    return datetime.combine(day, time(), tzinfo=timezone.utc)


def add_parcel(app, bot_id, number, status, at, weight_kg=None, total_cost_usd=None, price_per_kg_usd=None):
    fields = {"tracking_number": number, "client_code": "CLIENT123", "status": status, "quantity": 1,
              **{name: Decimal(value) for name, value in (("weight_kg", weight_kg), ("total_cost_usd", total_cost_usd),
                                                          ("price_per_kg_usd", price_per_kg_usd)) if value}}
    in_app(app, create_tracking, bot_id, fields, at=at)


@pytest.fixture
def today():
    return utcnow().date()


@pytest.fixture
def known_data(app, tenant, other_tenant, today):
    """Our bot's parcels (figures in the test below) and the other bot's, on the same days and statuses."""
    now = utcnow()
    first_day = today - timedelta(days=WINDOW_DAYS - 1)
    ours = [
        ("P-TODAY", "pending", now, "0.1", "0.10", None),
        ("P-YESTERDAY", "pending", midnight(today - timedelta(days=1)) + timedelta(hours=23), "0.2", "0.20", None),
        ("ABC123456", "in_transit", midnight(today - timedelta(days=1)), "10.5", "150.00", None),
        ("D-FIRST-DAY", "delivered", midnight(first_day), "2.345", None, "14.29"),  # 33.51005 -> 33.51
        ("C-JUST-BEFORE", "cancelled", midnight(first_day) - timedelta(seconds=1), None, None, None),
        ("I-OLD", "issued", midnight(today - timedelta(days=45)), "1", "14.29", None),
    ]
    for number, status, at, weight_kg, total_cost_usd, price in ours:
        add_parcel(app, tenant.bot_id, number, status, at, weight_kg, total_cost_usd, price)
    for number, status, at, *_ in ours:
        add_parcel(app, other_tenant.bot_id, number, status, at, "1000", "99999.99")
    for code in ("CLIENT123", "CLIENT7"):
        make_client(app, tenant.bot_id, code)
    for code in ("CLIENT123", "CLIENT7", "CLIENT8"):
        make_client(app, other_tenant.bot_id, code)


def test_tracking_statistics_give_exact_totals_by_status(http, tenant, known_data):
    response = http.get(TRACKING_STATISTICS, headers=tenant.headers)
    assert response.status_code == 200
    body = exact(response)
    assert set(body) >= {"total_tracking_numbers", "total_weight_kg", "total_cost_usd", "by_status",
                         "created_per_day"}
    assert body["by_status"] == {
        "pending": {"count": 2, "total_weight_kg": Decimal("0.3"), "total_cost_usd": Decimal("0.3")},
        "in_transit": {"count": 1, "total_weight_kg": Decimal("10.5"), "total_cost_usd": Decimal("150")},
        "delivered": {"count": 1, "total_weight_kg": Decimal("2.345"), "total_cost_usd": Decimal("33.51")},
        "issued": {"count": 1, "total_weight_kg": Decimal("1"), "total_cost_usd": Decimal("14.29")},
        "cancelled": {"count": 1, "total_weight_kg": Decimal("0"), "total_cost_usd": Decimal("0")},
    }
    assert (body["total_tracking_numbers"], body["total_weight_kg"], body["total_cost_usd"]) == \
        (6, Decimal("14.145"), Decimal("198.1"))


def test_creations_per_day_cover_the_last_30_utc_days_oldest_first_with_zeros(http, tenant, known_data, today):
    days = http.get(TRACKING_STATISTICS, headers=tenant.headers).get_json()["created_per_day"]
    assert [day["date"] for day in days] == \
        [(today - timedelta(days=offset)).isoformat() for offset in range(WINDOW_DAYS - 1, -1, -1)]
    created = {day["date"]: day["created"] for day in days}
    expected = {(today - timedelta(days=offset)).isoformat(): 0 for offset in range(WINDOW_DAYS)}
    expected[today.isoformat()] = 1
    expected[(today - timedelta(days=1)).isoformat()] = 2  # one at midnight, one at 23:00
    expected[(today - timedelta(days=WINDOW_DAYS - 1)).isoformat()] = 1  # the window's first second counts
    assert created == expected  # the parcel one second before the window, and the old one, do not


def test_a_status_change_moves_a_parcel_between_statuses_without_touching_its_creation_day(app, http, tenant,
                                                                                           known_data, today):
    def move_todays_parcel():
        tracking_id = db.session.scalar(db.select(TrackingNumber.id).where(
            TrackingNumber.bot_id == tenant.bot_id, TrackingNumber.tracking_number == "P-TODAY"))
        update_tracking(tenant.bot_id, tracking_id, {"status": "in_transit"})
    in_app(app, move_todays_parcel)
    body = exact(http.get(TRACKING_STATISTICS, headers=tenant.headers))
    assert body["by_status"]["pending"] == {"count": 1, "total_weight_kg": Decimal("0.2"),
                                            "total_cost_usd": Decimal("0.2")}
    assert body["by_status"]["in_transit"] == {"count": 2, "total_weight_kg": Decimal("10.6"),
                                               "total_cost_usd": Decimal("150.1")}
    assert body["created_per_day"][-1] == {"date": today.isoformat(), "created": 1}


def test_a_bot_without_parcels_has_zero_everywhere_and_thirty_empty_days(app, http, tenant, other_tenant, today):
    add_parcel(app, other_tenant.bot_id, "ABC123456", "pending", utcnow(), "10.5", "150.00")
    body = http.get(TRACKING_STATISTICS, headers=tenant.headers).get_json()
    zero = {"count": 0, "total_weight_kg": 0, "total_cost_usd": 0}
    assert body["by_status"] == {status: zero for status in STATUSES}
    assert (body["total_tracking_numbers"], body["total_weight_kg"], body["total_cost_usd"]) == (0, 0, 0)
    assert len(body["created_per_day"]) == WINDOW_DAYS
    assert body["created_per_day"][-1]["date"] == today.isoformat()
    assert all(day["created"] == 0 for day in body["created_per_day"])


def test_the_overview_counts_this_bots_clients_and_parcels_by_status(http, tenant, known_data):
    response = http.get(OVERVIEW, headers=tenant.headers)
    assert response.status_code == 200
    assert response.get_json() == {"total_clients": 2, "total_tracking_numbers": 6, "pending": 2, "in_transit": 1,
                                   "delivered": 1, "issued": 1, "cancelled": 1}


def test_the_overview_counts_clients_of_a_bot_without_parcels(app, http, tenant, other_tenant):
    """The client total rides on the status rows; a bot with none still has its clients counted."""
    for code in ("C1", "C2", "C3"):
        make_client(app, tenant.bot_id, code)
    add_parcel(app, other_tenant.bot_id, "ABC123456", "pending", utcnow())
    body = http.get(OVERVIEW, headers=tenant.headers).get_json()
    assert (body["total_clients"], body["total_tracking_numbers"]) == (3, 0)


def test_the_overview_of_a_bot_with_parcels_and_no_clients(app, http, tenant, other_tenant):
    make_client(app, other_tenant.bot_id, "C1")
    add_parcel(app, tenant.bot_id, "ABC123456", "in_transit", utcnow())
    body = http.get(OVERVIEW, headers=tenant.headers).get_json()
    assert (body["total_clients"], body["total_tracking_numbers"], body["in_transit"]) == (0, 1, 1)


def test_the_overview_of_an_empty_bot_has_every_key_at_zero(http, tenant):
    assert http.get(OVERVIEW, headers=tenant.headers).get_json() == {
        "total_clients": 0, "total_tracking_numbers": 0, "pending": 0, "in_transit": 0, "delivered": 0,
        "issued": 0, "cancelled": 0}
