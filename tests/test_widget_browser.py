"""The tracking widget in a real browser, as a company's customer meets it: headless Chromium (tests/browser.py,
nothing beyond this machine) opens examples/widget.html served from the company's site (one origin), which
loads /api/widget.js from the API served by gunicorn with docker/gunicorn.conf.py on PostgreSQL and Redis
(another origin). The customer types a tracking number and sees the parcel's timeline; the same page on a site
the key was not issued for gets nothing (the pre-flight is refused, so the browser blocks the lookup). While the
page is visible the widget asks again for the parcel it shows, with If-None-Match: 304s on the wire until the
status changes, then the new status on the page; a hidden page asks nothing.
Screenshots go to $ARTIFACTS_DIR (default test-artifacts/)/widget/."""
import functools
import threading
import time
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from browser import LOCAL_HOST_NAME, artifacts_directory, by_css, missing_browser
from conftest import (
    REDIS_TEST_URL,
    dispose_app,
    flush_test_redis,
    fresh_postgres_database,
    in_app,
    make_migrated_app,
    make_tenant,
    make_tracking,
    require_service,
    worker_suffix,
)
from servers import GUNICORN_CONF, REPO, Gunicorn, clean_env, free_port
from tracker_api.access.keys import issue_key
from tracker_api.resources.tracking.service import update_tracking

pytestmark = pytest.mark.slow
BOT_ID = 3101
NUMBER = "WIDGET000001"
LIVE_NUMBER = "WIDGET000002"  # the live-update test changes its status; the other tests keep NUMBER as it is
REFRESH_SECONDS = 10  # the widget's shortest data-refresh
EXAMPLE_PAGE = REPO / "examples" / "widget.html"
EXAMPLE_API = "https://your-api-domain.com"
EXAMPLE_KEY = "tb_pk_your_publishable_key_here"
WAIT_SECONDS = 20


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


class StaticSite:
    """A company's web site: a directory served over HTTP on its own port, so its own origin."""

    def __init__(self, directory):
        self.port = free_port()
        self.origin = f"http://{LOCAL_HOST_NAME}:{self.port}"
        handler = functools.partial(QuietHandler, directory=str(directory))
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@dataclass
class WidgetStack:
    app: object  # the app on the stack's database, for writes the page should notice
    api: Gunicorn
    api_origin: str
    key: str
    shop: StaticSite  # the origin the key was issued for
    foreign: StaticSite  # another site that copied the snippet, key and all


def page_for(directory, api_origin, key):
    """examples/widget.html as the company would publish it: its own API address, key and bot id; and
    live.html, the same with the shortest refresh interval."""
    page = EXAMPLE_PAGE.read_text().replace(EXAMPLE_API, api_origin).replace(EXAMPLE_KEY, key)
    page = page.replace('data-bot="123"', f'data-bot="{BOT_ID}"')
    (directory / "widget.html").write_text(page)
    (directory / "live.html").write_text(page.replace('data-lang="ru"',
                                                      f'data-lang="ru" data-refresh="{REFRESH_SECONDS}"'))
    return directory


def seed(app):
    """The bot and its parcel, pending and then in transit."""
    make_tenant(app, BOT_ID, "Widget Cargo", "@widget_cargo_bot")
    tracking_id = make_tracking(app, BOT_ID, tracking_number=NUMBER)
    in_app(app, update_tracking, BOT_ID, tracking_id, {"status": "in_transit"})


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    reason = missing_browser()
    if reason:
        require_service(reason)
    database_url = fresh_postgres_database(f"tracker_api_widget_browser_{worker_suffix()}")
    flush_test_redis()
    app = make_migrated_app(database_url, REDIS_URL=REDIS_TEST_URL)
    seed(app)
    env = clean_env(TRACKER_ENV="production", DATABASE_URL=database_url, REDIS_URL=REDIS_TEST_URL,
                    API_KEY_PEPPER=app.config["API_KEY_PEPPER"],
                    WEBHOOK_SECRET_KEYS=",".join(app.config["WEBHOOK_SECRET_KEYS"]))
    api = Gunicorn(tmp_path_factory.mktemp("widget-api"), env, 2, "-c", str(GUNICORN_CONF))
    api_origin = f"http://{LOCAL_HOST_NAME}:{api.port}"
    sites = []
    try:
        shop_root = tmp_path_factory.mktemp("widget-shop")
        shop = StaticSite(shop_root)  # serving first, its page written once the key for its origin exists
        sites.append(shop)
        key = in_app(app, lambda: issue_key(BOT_ID, "shop widget", origins=[shop.origin])[1])
        page_for(shop_root, api_origin, key)
        foreign = StaticSite(page_for(tmp_path_factory.mktemp("widget-foreign"), api_origin, key))
        sites.append(foreign)
        yield WidgetStack(app, api, api_origin, key, shop, foreign)
    finally:
        for site in sites:
            site.stop()
        api.stop()
        dispose_app(app)


@pytest.fixture(scope="module")
def artifacts():
    return artifacts_directory(REPO, "widget")


def wait_until(driver, condition):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, WAIT_SECONDS).until(condition)


def search(driver, number):
    """Type a number into the widget's box and press Enter."""
    from selenium.webdriver.common.keys import Keys
    field = wait_until(driver, lambda d: d.find_element(*by_css(".tracker-widget input")))
    field.clear()
    field.send_keys(number, Keys.ENTER)


def fetch_from_page(driver, url, key):
    """What the page's own JavaScript gets when it calls the API with the key: 'status N' or 'blocked: ...'."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {headers: {'X-API-Key': arguments[1]}})"
        ".then(r => done('status ' + r.status), e => done('blocked: ' + e.name));", url, key)


def test_a_customer_on_the_shop_s_page_looks_up_a_parcel_and_sees_its_timeline(stack, chromium, screenshot):
    driver = chromium.driver
    driver.get(f"{stack.shop.origin}/widget.html")
    search(driver, NUMBER)
    steps = wait_until(driver, lambda d: d.find_elements(*by_css(".tracker-widget-timeline li")))
    assert [step.get_attribute("data-status") for step in steps] == ["in_transit", "pending"]  # newest first
    assert driver.find_element(*by_css(".tracker-widget-status")).text == "В пути"
    assert "Ожидает отправки" in steps[1].text
    screenshot("widget-timeline")

    search(driver, "NO-SUCH-NUMBER")
    message = wait_until(driver, lambda d: d.find_elements(*by_css(".tracker-widget-message")))
    assert message[0].text == "Посылка с таким трек-номером не найдена."
    screenshot("widget-not-found")

    requested = chromium.requested_urls()
    assert f"{stack.api_origin}/api/widget.js" in requested
    assert {urlsplit(url).netloc for url in requested} <= {urlsplit(stack.shop.origin).netloc,
                                                           urlsplit(stack.api_origin).netloc}, requested
    assert [m for m in chromium.console_errors() if "/favicon.ico" not in m and "404" not in m] == []
    chromium.quit()
    assert chromium.outside_sockets() == []


def test_the_widget_speaks_english_when_asked(stack, chromium, screenshot):
    driver = chromium.driver
    driver.get(f"{stack.shop.origin}/widget.html")
    wait_until(driver, lambda d: d.find_elements(*by_css(".tracker-widget")))
    driver.execute_script(
        "const script = document.createElement('script');"
        "script.src = arguments[0]; script.dataset.key = arguments[1]; script.dataset.bot = arguments[2];"
        "script.dataset.lang = 'en'; script.dataset.target = 'english';"
        "const host = document.createElement('div'); host.id = 'english'; document.body.appendChild(host);"
        "document.body.appendChild(script);", f"{stack.api_origin}/api/widget.js", stack.key, str(BOT_ID))
    english = wait_until(driver, lambda d: d.find_elements(*by_css("#english .tracker-widget")))[0]
    english.find_element(*by_css("input")).send_keys(NUMBER)
    english.find_element(*by_css("button")).click()
    status = wait_until(driver, lambda d: d.find_elements(*by_css("#english .tracker-widget-status")))[0]
    assert status.text == "In transit"
    screenshot("widget-english")


def test_the_same_snippet_on_a_foreign_site_is_refused_and_the_browser_blocks_the_lookup(stack, chromium,
                                                                                        screenshot):
    driver = chromium.driver
    seen_before = len(stack.api.request_lines())
    driver.get(f"{stack.foreign.origin}/widget.html")
    search(driver, NUMBER)
    message = wait_until(driver, lambda d: d.find_elements(*by_css(".tracker-widget-message")))
    assert message[0].text == "Не удалось выполнить поиск; попробуйте позже."
    assert not driver.find_elements(*by_css(".tracker-widget-timeline"))
    screenshot("widget-foreign-origin")

    lookup = f"{stack.api_origin}/api/v1/widget/{BOT_ID}/track/{NUMBER}"
    assert fetch_from_page(driver, lookup, stack.key).startswith("blocked: TypeError")
    lookups = [(line["method"], line["status"]) for line in stack.api.request_lines()[seen_before:]
               if line["path"].endswith(NUMBER)]
    assert lookups and set(lookups) == {("OPTIONS", 403)}  # refused at the pre-flight: the GET was never sent

    driver.get(f"{stack.shop.origin}/widget.html")  # the same call from the shop's own page goes through
    wait_until(driver, lambda d: d.find_elements(*by_css(".tracker-widget")))
    assert fetch_from_page(driver, lookup, stack.key) == "status 200"


def lookups_since(stack, seen_before, number):
    """(method, status) of the API's lookups of `number` logged since the first `seen_before` request lines."""
    return [(line["method"], line["status"]) for line in stack.api.request_lines()[seen_before:]
            if line["path"].endswith(number)]


def wait_for_lookups(stack, seen_before, number, wanted):
    """The lookups logged once `wanted(lookups)` holds (the widget works on its own clock)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        lookups = lookups_since(stack, seen_before, number)
        if wanted(lookups) or time.monotonic() > deadline:
            return lookups
        time.sleep(0.25)


def test_the_shown_parcel_refreshes_with_304s_until_its_status_changes_and_not_while_hidden(stack, chromium,
                                                                                           screenshot):
    tracking_id = make_tracking(stack.app, BOT_ID, tracking_number=LIVE_NUMBER)
    driver = chromium.driver
    driver.get(f"{stack.shop.origin}/live.html")
    seen_before = len(stack.api.request_lines())
    search(driver, LIVE_NUMBER)
    status = lambda d: d.find_elements(*by_css(".tracker-widget-status"))  # noqa: E731
    assert wait_until(driver, status)[0].text == "Ожидает отправки"

    # Unchanged: the widget asks again with the ETag it shows, and the answer is a 304 without a body (each
    # after its CORS pre-flight: a conditional request is pre-flighted every time).
    lookups = wait_for_lookups(stack, seen_before, LIVE_NUMBER, lambda found: ("GET", 304) in found)
    assert [lookup for lookup in lookups if lookup[0] == "GET"] == [("GET", 200), ("GET", 304)], lookups
    assert set(lookups) == {("GET", 200), ("GET", 304), ("OPTIONS", 204)}, lookups

    # Changed on the server: the page shows the new status on its next check, without the visitor doing anything.
    in_app(stack.app, update_tracking, BOT_ID, tracking_id, {"status": "in_transit"})
    wait_until(driver, lambda d: status(d) and status(d)[0].text == "В пути")
    steps = driver.find_elements(*by_css(".tracker-widget-timeline li"))
    assert [step.get_attribute("data-status") for step in steps] == ["in_transit", "pending"]
    assert lookups_since(stack, seen_before, LIVE_NUMBER).count(("GET", 200)) == 2
    screenshot("widget-live-update")

    # Hidden (another tab in front): no lookups at all; shown again: it asks at once.
    driver.execute_script("window.visibilityLog = [];"
                          "document.addEventListener('visibilitychange', function () {"
                          "  window.visibilityLog.push(document.visibilityState); });")
    shop_tab = driver.current_window_handle
    driver.switch_to.new_window("tab")
    time.sleep(1)  # a check already on its way when the tab went to the back may still arrive
    before_hiding = len(lookups_since(stack, seen_before, LIVE_NUMBER))
    time.sleep(REFRESH_SECONDS * 1.5)
    assert len(lookups_since(stack, seen_before, LIVE_NUMBER)) == before_hiding  # a check fell due: not asked
    driver.close()
    driver.switch_to.window(shop_tab)
    shown_at = time.monotonic()
    assert driver.execute_script("return window.visibilityLog") == ["hidden", "visible"]
    shown_again = wait_for_lookups(stack, seen_before, LIVE_NUMBER,
                                   lambda found: ("GET", 304) in found[before_hiding:])
    assert time.monotonic() - shown_at < REFRESH_SECONDS / 2  # at once, not an interval later
    assert [lookup for lookup in shown_again[before_hiding:] if lookup[0] == "GET"] == [("GET", 304)], shown_again
