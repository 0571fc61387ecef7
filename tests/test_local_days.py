"""Local days: a bot's IANA time zone (set by `flask bots set-timezone`, shown on GET /bots/{bot_id}) makes the
statistics' `created_per_day` count that zone's days; `?tz=` overrides it per request; an unknown zone is a 422
naming it. The kept totals are per quarter hour of UTC (totals.py), so a day of 23 or 25 hours, a zone with a
half-hour offset and a change of the bot's zone all count exactly. Both databases."""
from datetime import datetime, timezone

import pytest

from conftest import assert_totals_exact, in_app
from tracker_api.resources.statistics import service as statistics_service
from tracker_api.resources.tracking.service import create_tracking

BOT = 123
STATISTICS = f"/api/v1/statistics/{BOT}/tracking"


def utc(text):
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


@pytest.fixture
def now(monkeypatch):
    """Fix the statistics' clock, so that the 30-day window holds the DST change a test is about."""
    def set_now(text):
        monkeypatch.setattr(statistics_service, "utcnow", lambda: utc(text))
    return set_now


def add_parcels(app, *moments):
    for index, moment in enumerate(moments):
        in_app(app, create_tracking, BOT, {"tracking_number": f"T{index}-{moment[:10]}", "client_code": "C1",
                                           "status": "pending"}, at=utc(moment))


def per_day(http, tenant, **query):
    response = http.get(STATISTICS, headers=tenant.headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert len(body["created_per_day"]) == 30
    return body["timezone"], {row["date"]: row["created"] for row in body["created_per_day"] if row["created"]}


def cli(app, *args):
    result = app.test_cli_runner().invoke(args=[str(arg) for arg in args])
    return result


def test_a_new_bot_counts_utc_days_and_shows_its_zone(http, tenant):
    bot = http.get(f"/api/v1/bots/{BOT}", headers=tenant.headers).get_json()
    assert bot["timezone"] == "UTC"
    assert per_day(http, tenant)[0] == "UTC"


def test_a_25_hour_day_in_berlin_holds_both_of_its_two_thirty_hours(app, http, tenant, now):
    """Europe/Berlin went from CEST (+2) back to CET (+1) at 01:00 UTC on 2026-10-25: 02:30 local happened twice."""
    now("2026-11-05T12:00:00")
    add_parcels(app, "2026-10-24T21:55:00",  # 23:55 CEST on the 24th
                "2026-10-24T22:10:00",  # 00:10 CEST on the 25th
                "2026-10-25T00:30:00", "2026-10-25T01:30:00",  # 02:30 CEST, then 02:30 CET
                "2026-10-25T22:50:00",  # 23:50 CET on the 25th
                "2026-10-25T23:05:00")  # 00:05 CET on the 26th
    result = cli(app, "bots", "set-timezone", BOT, "Europe/Berlin")
    assert result.exit_code == 0, result.output
    assert http.get(f"/api/v1/bots/{BOT}", headers=tenant.headers).get_json()["timezone"] == "Europe/Berlin"
    assert per_day(http, tenant) == ("Europe/Berlin", {"2026-10-24": 1, "2026-10-25": 4, "2026-10-26": 1})
    assert per_day(http, tenant, tz="UTC") == ("UTC", {"2026-10-24": 2, "2026-10-25": 4})
    assert_totals_exact(app)


def test_a_23_hour_day_in_new_york_by_the_tz_parameter(app, http, tenant, now):
    """America/New_York went from EST (-5) to EDT (-4) at 07:00 UTC on 2026-03-08: that day had 23 hours."""
    now("2026-03-20T12:00:00")
    add_parcels(app, "2026-03-08T04:59:00",  # 23:59 EST on the 7th
                "2026-03-08T05:00:00",  # midnight EST: the 8th begins
                "2026-03-09T03:59:00",  # 23:59 EDT on the 8th
                "2026-03-09T04:00:00")  # midnight EDT: the 9th
    assert per_day(http, tenant, tz="America/New_York") == (
        "America/New_York", {"2026-03-07": 1, "2026-03-08": 2, "2026-03-09": 1})
    assert per_day(http, tenant)[1] == {"2026-03-08": 2, "2026-03-09": 2}  # the bot's own zone: UTC


def test_a_half_hour_dst_change_on_lord_howe_island(app, http, tenant, now):
    """Australia/Lord_Howe goes from +10:30 to +11 at 02:00 local on 2026-10-04 (15:30 UTC on the 3rd): a day of
    23 and a half hours, whose both midnights are half past a UTC hour."""
    now("2026-10-20T00:00:00")
    add_parcels(app, "2026-10-03T13:29:00", "2026-10-03T13:30:00",  # 23:59 on the 3rd; midnight, the 4th
                "2026-10-04T12:59:00", "2026-10-04T13:00:00")  # 23:59 (+11) on the 4th; midnight, the 5th
    assert per_day(http, tenant, tz="Australia/Lord_Howe")[1] == {"2026-10-03": 1, "2026-10-04": 2,
                                                                  "2026-10-05": 1}


def test_a_change_of_the_bots_zone_moves_its_days_and_loses_no_parcel(app, http, tenant, now):
    """Asia/Almaty is UTC+5 (since 2024); Asia/Kolkata UTC+5:30, a zone whose midnight is half past a UTC hour."""
    now("2026-11-20T12:00:00")
    add_parcels(app, "2026-11-05T18:29:00", "2026-11-05T18:31:00", "2026-11-05T18:59:00", "2026-11-05T19:00:00",
                "2026-11-19T23:00:00")
    assert per_day(http, tenant)[1] == {"2026-11-05": 4, "2026-11-19": 1}
    cli(app, "bots", "set-timezone", BOT, "Asia/Almaty")
    assert per_day(http, tenant) == ("Asia/Almaty", {"2026-11-05": 3, "2026-11-06": 1, "2026-11-20": 1})
    cli(app, "bots", "set-timezone", BOT, "Asia/Kolkata")
    assert per_day(http, tenant) == ("Asia/Kolkata", {"2026-11-05": 1, "2026-11-06": 3, "2026-11-20": 1})
    assert per_day(http, tenant, tz="Asia/Almaty")[1] == {"2026-11-05": 3, "2026-11-06": 1, "2026-11-20": 1}
    assert_totals_exact(app)


def test_the_window_is_the_last_30_days_of_the_zone_today_included(app, http, tenant, now):
    now("2026-11-30T20:30:00")  # already 1 December in Almaty (01:30)
    add_parcels(app, "2026-11-30T20:00:00", "2026-11-01T18:00:00", "2026-11-01T19:30:00")
    body = http.get(STATISTICS, headers=tenant.headers, query_string={"tz": "Asia/Almaty"}).get_json()
    days = [row["date"] for row in body["created_per_day"]]
    assert days[0] == "2026-11-02" and days[-1] == "2026-12-01" and len(set(days)) == 30
    assert {row["date"]: row["created"] for row in body["created_per_day"] if row["created"]} == {
        "2026-11-02": 1, "2026-12-01": 1}  # 2026-11-01T18:00Z is 23:00 on 1 November there: outside


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "localtime", "../../etc/passwd", "europe/berlin", "", "X" * 65])
def test_an_unknown_zone_is_a_422_naming_it(http, tenant, name):
    response = http.get(STATISTICS, headers=tenant.headers, query_string={"tz": name})
    assert response.status_code == 422 and response.content_type == "application/problem+json"
    body = response.get_json()
    assert list(body["errors"]) == ["tz"]
    if name and len(name) <= 64:
        assert repr(name) in body["detail"] and "IANA" in body["detail"]


def test_the_cli_refuses_an_unknown_zone_and_an_unknown_bot(app, tenant):
    refused = cli(app, "bots", "set-timezone", BOT, "Asia/Almatyy")
    assert refused.exit_code != 0 and "Unknown time zone 'Asia/Almatyy'" in refused.output
    assert "Traceback" not in refused.output
    missing = cli(app, "bots", "set-timezone", 999, "Asia/Almaty")
    assert missing.exit_code == 1 and "bot 999 does not exist" in missing.output
    created = cli(app, "bots", "create", "--id", 77, "--name", "Almaty Cargo", "--username", "@almaty_bot",
                  "--timezone", "Asia/Almaty", "--json")
    assert created.exit_code == 0 and '"timezone": "Asia/Almaty"' in created.output
    assert cli(app, "bots", "create", "--name", "X", "--username", "@x", "--timezone", "Nowhere").exit_code == 2


def test_days_are_exact_for_a_parcel_deleted_and_restored(app, http, tenant, now):
    now("2026-11-20T12:00:00")
    add_parcels(app, "2026-11-05T19:00:00")
    cli(app, "bots", "set-timezone", BOT, "Asia/Almaty")
    parcel_id = http.get(f"/api/v1/tracking/{BOT}", headers=tenant.headers).get_json()["tracking_numbers"][0]["id"]
    http.delete(f"/api/v1/tracking/{BOT}/{parcel_id}", headers=tenant.headers)
    assert per_day(http, tenant)[1] == {}
    http.post(f"/api/v1/tracking/{BOT}/{parcel_id}/restore", headers=tenant.headers)
    assert per_day(http, tenant)[1] == {"2026-11-06": 1}
    assert_totals_exact(app)
