"""/metrics: Prometheus text without a key; requests and latency by route template, method and status; rate-limit
refusals by budget; authentication failures by reason; and, under gunicorn with docker/gunicorn.conf.py, one
sum over every worker, kept when workers are replaced."""
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import (
    LIMITED_SETTINGS,
    dispose_app,
    fresh_postgres_database,
    make_app_like,
    make_migrated_app,
    make_tenant,
    wipe,
    worker_suffix,
)
from servers import GUNICORN_CONF, Gunicorn, clean_env
from tracker_api.access.keys import generate_plain_key

BOT = 123
BOT_ROUTE = "/api/v1/bots/{bot_id}"
REQUESTS = "tracker_api_http_requests_total"
LATENCY_COUNT = "tracker_api_http_request_duration_seconds_count"
RATE_LIMITED = "tracker_api_rate_limit_rejections_total"
AUTH_FAILURES = "tracker_api_auth_failures_total"


def samples(text):
    """{(sample name, frozenset of labels): value} from Prometheus text."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(scraped, name, **labels):
    return scraped.get((name, frozenset(labels.items())), 0)


def scrape(http):
    response = http.get("/metrics")
    assert response.status_code == 200
    return samples(response.get_data(as_text=True))


def make_metered_app(sqlite_app, **settings):
    """A new app (so its counts start at zero) on the wiped session SQLite database."""
    wipe(sqlite_app)
    return make_app_like(sqlite_app, **settings)


@pytest.fixture
def metered_app(sqlite_app):
    app = make_metered_app(sqlite_app)
    yield app
    dispose_app(app)


@pytest.fixture
def http(metered_app):
    return metered_app.test_client()


@pytest.fixture
def tenant(metered_app):
    return make_tenant(metered_app, BOT, "Demo Cargo", "@demo_cargo_bot")


def test_metrics_need_no_key_and_are_prometheus_text(http):
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    assert "X-RateLimit-Limit" not in response.headers  # neither authenticated nor counted against a budget
    openmetrics = http.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert openmetrics.content_type.startswith("application/openmetrics-text")


def test_requests_are_counted_by_route_template_method_and_status(http, tenant):
    for path in (f"/api/v1/bots/{BOT}", f"/api/v1/bots/{BOT}", f"/api/v1/tracking/{BOT}/999"):
        http.get(path, headers=tenant.headers)
    scraped = scrape(http)
    assert value(scraped, REQUESTS, route=BOT_ROUTE, method="GET", status="200") == 2
    assert value(scraped, LATENCY_COUNT, route=BOT_ROUTE, method="GET", status="200") == 2
    assert value(scraped, REQUESTS, route="/api/v1/tracking/{bot_id}/{tracking_id}", method="GET", status="404") == 1
    assert not any(f"/{BOT}" in dict(labels).get("route", "") for _, labels in scraped)  # templates, not paths


def test_invented_paths_and_methods_do_not_grow_the_series(http):
    for index in range(5):
        http.get(f"/probe-{uuid.uuid4().hex}")
        http.open("/healthz", method=f"PROBE{index}")
    scraped = scrape(http)
    series = [dict(labels) for name, labels in scraped if name == REQUESTS]
    assert value(scraped, REQUESTS, route="unrouted", method="GET", status="404") == 5
    assert value(scraped, REQUESTS, route="unrouted", method="other", status="405") == 5
    assert len(series) == 2, series


def test_authentication_failures_are_counted_by_reason(http, tenant):
    other_bot = f"/api/v1/bots/{BOT + 1}"
    http.get(f"/api/v1/bots/{BOT}")
    http.get(f"/api/v1/bots/{BOT}", headers={"X-API-Key": generate_plain_key()})
    http.get(f"/api/v1/bots/{BOT}", headers={"X-API-Key": "not-a-key"})
    http.get(other_bot, headers=tenant.headers)
    http.get(other_bot, headers=tenant.headers)
    scraped = scrape(http)
    assert {reason: value(scraped, AUTH_FAILURES, reason=reason)
            for reason in ("missing-key", "unknown-key", "malformed-key", "wrong-bot")} == {
        "missing-key": 1, "unknown-key": 1, "malformed-key": 1, "wrong-bot": 2}
    assert value(scraped, REQUESTS, route=BOT_ROUTE, method="GET", status="403") == 2


def test_rate_limit_refusals_are_counted_by_budget(sqlite_app):
    limited = make_metered_app(sqlite_app, **{**LIMITED_SETTINGS, "INVALID_KEY_BURST": 2})
    try:
        tenant = make_tenant(limited, BOT)
        http = limited.test_client()
        for _ in range(LIMITED_SETTINGS["RATE_LIMIT_PER_MINUTE"] + 2):
            http.get(f"/api/v1/bots/{BOT}", headers=tenant.headers)
        for _ in range(LIMITED_SETTINGS["RATE_LIMIT_PER_ADDRESS"] + 1):
            http.get(f"/api/v1/bots/{BOT}", environ_base={"REMOTE_ADDR": "198.51.100.1"})
        for _ in range(3):  # two invented keys block the address; the third request is refused unread
            http.get(f"/api/v1/bots/{BOT}", headers={"X-API-Key": generate_plain_key()},
                     environ_base={"REMOTE_ADDR": "198.51.100.2"})
        scraped = scrape(http)
    finally:
        dispose_app(limited)
    assert {limit: value(scraped, RATE_LIMITED, limit=limit) for limit in ("per-key", "per-address", "address-blocked")
            } == {"per-key": 2, "per-address": 1, "address-blocked": 1}
    assert value(scraped, REQUESTS, route=BOT_ROUTE, method="GET", status="429") == 4


# --- under gunicorn -------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_every_worker_s_counts_are_in_one_sum_that_outlives_replaced_workers(tmp_path):
    database_url = fresh_postgres_database(f"tracker_api_metrics_{worker_suffix()}")
    setup = make_migrated_app(database_url)
    tenant = make_tenant(setup, BOT)
    env = clean_env(DATABASE_URL=database_url, API_KEY_PEPPER=setup.config["API_KEY_PEPPER"],
                    RATE_LIMIT_PER_MINUTE=10_000, GUNICORN_MAX_REQUESTS=15, GUNICORN_MAX_REQUESTS_JITTER=0)
    server = Gunicorn(tmp_path, env, 2, "-c", str(GUNICORN_CONF))
    try:
        # One at a time, so that each worker exits after its 15th request: 40 take at least three workers.
        ids = [f"metrics-{index}-{uuid.uuid4().hex[:12]}" for index in range(40)]
        codes = [requests.get(f"{server.url}/api/v1/bots/{BOT}", timeout=30,
                              headers={**tenant.headers, "X-Request-ID": rid}).status_code for rid in ids]
        scrapes = [samples(requests.get(server.url + "/metrics", timeout=30).text) for _ in range(4)]
        served_by = {line["pid"] for line in server.lines_for(ids)}
    finally:
        server.stop()
        dispose_app(setup)
    assert codes == [200] * 40
    assert len(served_by) >= 3, served_by
    for scraped in scrapes:  # whichever worker answers, it reports every worker's requests, the dead ones' too
        assert value(scraped, REQUESTS, route=BOT_ROUTE, method="GET", status="200") == 40
        assert value(scraped, LATENCY_COUNT, route=BOT_ROUTE, method="GET", status="200") == 40
