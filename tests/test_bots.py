"""Bots: the bot a key belongs to, in the product document's shape, and the calling key's usage.

Counting by outcome, last use and the refusal of another bot's key are in test_audit.py; this module
checks the shapes and the `days` window of the usage report.
"""
from datetime import date, datetime, timedelta

import pytest

from conftest import dispose_app, in_app, make_app_like, make_tenant
from tracker_api.extensions import db
from tracker_api.models import Bot
from tracker_api.models.types import utcnow

BOT = 123
USAGE_KEYS = {"key_id", "bot_id", "name", "prefix", "rate_limit_per_minute", "last_used_at", "last_used_address",
              "days"}
DAY_KEYS = {"date", "total", "success", "client_error", "rate_limited", "server_error"}


def test_the_bot_is_exactly_the_product_documents_example(app):
    tenant = make_tenant(app, BOT, "Название компании", "@company_bot")
    response = app.test_client().get(f"/api/v1/bots/{BOT}", headers=tenant.headers)
    assert response.status_code == 200
    assert response.get_json() == {"id": 123, "name": "Название компании", "username": "@company_bot",
                                   "is_active": True, "subscription_status": "active", "timezone": "UTC",
                                   "is_sandbox": False}


@pytest.mark.parametrize("subscription_status", ["trial", "past_due"])
def test_the_bot_shows_its_subscription_status(app, subscription_status):
    tenant = make_tenant(app, BOT, subscription_status=subscription_status)
    body = app.test_client().get(f"/api/v1/bots/{BOT}", headers=tenant.headers).get_json()
    assert body["subscription_status"] == subscription_status


def test_a_renamed_bot_is_shown_with_its_new_name(app, http, tenant):
    def rename():
        db.session.get(Bot, BOT).name = "Новое название"
        db.session.commit()
    in_app(app, rename)
    assert http.get(f"/api/v1/bots/{BOT}", headers=tenant.headers).get_json()["name"] == "Новое название"


# --- usage of the calling key -----------------------------------------------------------------------------

@pytest.fixture
def counted(app):
    """A client of an app with its own, empty usage counters (the shared test app's memory outlives its keys)."""
    fresh = make_app_like(app)
    yield fresh.test_client()
    dispose_app(fresh)


def days_back(count):
    today = utcnow().date()
    return [(today - timedelta(days=offset)).isoformat() for offset in range(count)]


def test_usage_reports_the_key_and_the_last_seven_days_newest_first(counted, tenant):
    before = utcnow()
    for _ in range(3):
        counted.get(f"/api/v1/bots/{BOT}", headers=tenant.headers)
    response = counted.get(f"/api/v1/bots/{BOT}/usage", headers=tenant.headers)
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == USAGE_KEYS
    assert (body["key_id"], body["bot_id"], body["name"]) == (tenant.key_id, BOT, "tests")
    assert tenant.key.startswith(body["prefix"]) and len(body["prefix"]) < len(tenant.key) // 2
    assert body["rate_limit_per_minute"] == counted.application.config["RATE_LIMIT_PER_MINUTE"]
    last_used_at = datetime.fromisoformat(body["last_used_at"])
    assert last_used_at.utcoffset() == timedelta(0) and before <= last_used_at <= utcnow()
    assert body["last_used_address"] == "127.0.0.1"
    assert [day["date"] for day in body["days"]] == days_back(7)
    assert all(set(day) == DAY_KEYS for day in body["days"])
    assert body["days"][0] == {"date": days_back(1)[0], "total": 3, "success": 3, "client_error": 0,
                               "rate_limited": 0, "server_error": 0}
    assert all(day["total"] == 0 for day in body["days"][1:])


@pytest.mark.parametrize("days", [1, 30])
def test_usage_days_sets_how_many_days_are_reported(counted, tenant, days):
    response = counted.get(f"/api/v1/bots/{BOT}/usage", headers=tenant.headers, query_string={"days": days})
    assert response.status_code == 200
    assert [day["date"] for day in response.get_json()["days"]] == days_back(days)
    assert date.fromisoformat(response.get_json()["days"][-1]["date"]) == utcnow().date() - timedelta(days=days - 1)


@pytest.mark.parametrize("days", ["0", "-1", "seven", "7.5"])
def test_usage_days_outside_1_to_30_is_a_422_naming_days(http, tenant, days):
    response = http.get(f"/api/v1/bots/{BOT}/usage", headers=tenant.headers, query_string={"days": days})
    assert response.status_code == 422
    assert "days" in response.get_json()["errors"]


def test_a_new_key_has_an_empty_usage_report(counted, tenant):
    body = counted.get(f"/api/v1/bots/{BOT}/usage", headers=tenant.headers, query_string={"days": 2}).get_json()
    assert (body["last_used_at"], body["last_used_address"]) == (None, None)
    assert [day["total"] for day in body["days"]] == [0, 0]
