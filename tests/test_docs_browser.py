"""The interactive docs in a real browser, as an integrator meets them: headless Chromium (tests/browser.py, no
network beyond this machine) opens Swagger UI and ReDoc through Debian's nginx with docker/nginx.conf, in front
of gunicorn with docker/gunicorn.conf.py on PostgreSQL and Redis. Swagger UI renders every operation, takes a
key in Authorize and runs the tracking list with "Try it out"; ReDoc renders every operation with its code samples
as language tabs; neither page asks any other host for anything. Screenshots go to $ARTIFACTS_DIR (default
test-artifacts/)/docs-browser/."""
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import requests

from browser import LOCAL_HOST_NAME, artifacts_directory, by_css, missing_browser
from conftest import (
    REDIS_TEST_URL,
    dispose_app,
    flush_test_redis,
    fresh_postgres_database,
    make_client,
    make_migrated_app,
    make_tenant,
    make_tracking,
    require_service,
    worker_suffix,
)
from servers import GUNICORN_CONF, REPO, Gunicorn, Nginx, clean_env, nginx_binary

pytestmark = pytest.mark.slow
BOT_ID = 3001
TRACKING_NUMBER = "DOCS0000001"
TRACKING_LIST_PATH = "/api/v1/tracking/{bot_id}"
REDOC_TRACKING_LIST = "tag/tracking/paths/~1api~1v1~1tracking~1{bot_id}/get"  # a JSON pointer to the operation
WAIT_SECONDS = 20
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@dataclass
class DocsSite:
    url: str  # by LOCAL_HOST_NAME, as the browser reaches it
    key: str
    operations: int  # in the OpenAPI document


@pytest.fixture(scope="module")
def docs_site(tmp_path_factory):
    """nginx in front of one gunicorn host (two workers), production settings, one bot with one parcel."""
    reason = missing_browser() if nginx_binary() else "nginx is not installed (Debian: nginx-light; `make e2e-deps`)"
    if reason:
        require_service(reason)
    database_url = fresh_postgres_database(f"tracker_api_browser_{worker_suffix()}")
    flush_test_redis()
    app = make_migrated_app(database_url, REDIS_URL=REDIS_TEST_URL)
    tenant = make_tenant(app, BOT_ID, "Docs Cargo", "@docs_cargo_bot")
    make_client(app, BOT_ID, "CLIENT123")
    make_tracking(app, BOT_ID, tracking_number=TRACKING_NUMBER)
    env = clean_env(TRACKER_ENV="production", DATABASE_URL=database_url, REDIS_URL=REDIS_TEST_URL,
                    API_KEY_PEPPER=app.config["API_KEY_PEPPER"],
                    WEBHOOK_SECRET_KEYS=",".join(app.config["WEBHOOK_SECRET_KEYS"]), TRUSTED_PROXIES=1)
    host = Gunicorn(tmp_path_factory.mktemp("docs-app-host"), env, 2, "-c", str(GUNICORN_CONF))
    try:
        nginx = Nginx(tmp_path_factory.mktemp("docs-nginx"), [host.port])
    except Exception:
        host.stop()
        raise
    document = requests.get(f"{nginx.url}/api/openapi.json", timeout=10).json()
    operations = sum(method in HTTP_METHODS for item in document["paths"].values() for method in item)
    yield DocsSite(f"http://{LOCAL_HOST_NAME}:{nginx.port}", tenant.key, operations)
    nginx.stop()
    host.stop()
    dispose_app(app)


@pytest.fixture(scope="module")
def artifacts():
    return artifacts_directory(REPO, "docs-browser")


def wait_for(driver, locator, timeout=WAIT_SECONDS):
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout).until(expected_conditions.visibility_of_element_located(locator))


def operation_block(driver, method, path):
    from selenium.webdriver.common.by import By
    return wait_for(driver, (By.XPATH, f"//div[contains(@class, 'opblock-{method}')]"
                                       f"[.//*[@data-path='{path}']]"))


def enter_key(driver, key):
    """Swagger UI's Authorize button, then the key in the dialog's X-API-Key field."""
    driver.find_element(*by_css(".auth-wrapper button.authorize")).click()
    wait_for(driver, by_css(".modal-ux input#api_key_value")).send_keys(key)


def confirm_key(driver):
    """The dialog's Authorize, then Close."""
    driver.find_element(*by_css(".auth-btn-wrapper button.authorize")).click()
    wait_for(driver, by_css(".auth-btn-wrapper button.btn-done")).click()


def execute_with(driver, block, parameters):
    """Open an operation, "Try it out" (unless the page opened in that mode), fill parameters, Execute."""
    block.find_element(*by_css(".opblock-summary-control")).click()
    wait_for(driver, by_css(f"#{block.get_attribute('id')} .opblock-body"))
    try_it_out = block.find_elements(*by_css("button.try-out__btn"))
    if try_it_out and try_it_out[0].text.strip() == "Try it out":
        try_it_out[0].click()
    for name, value in parameters.items():
        field = block.find_element(*by_css(f"tr[data-param-name='{name}'] input"))
        field.clear()
        field.send_keys(str(value))
    block.find_element(*by_css("button.execute")).click()
    status = wait_for(driver, by_css(f"#{block.get_attribute('id')} .live-responses-table .response .response-col_status"))
    body = block.find_element(*by_css(".live-responses-table .response-col_description pre"))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", status)
    return status.text.strip(), body.text


def assert_only_local_requests(chromium, site):
    requested = chromium.requested_urls()
    assert requested, "the performance log recorded no request at all"
    assert {urlsplit(url).netloc for url in requested} == {urlsplit(site.url).netloc}, requested


def assert_nothing_left_the_machine(chromium):
    """Quit the browser and read its NetLog: no connection tried beyond loopback, its own services included."""
    chromium.quit()
    assert chromium.outside_sockets() == []


def assert_no_console_errors(chromium):
    errors = [message for message in chromium.console_errors() if "/favicon.ico" not in message]
    assert errors == []


def test_swagger_ui_renders_every_operation_and_runs_the_tracking_list_with_an_authorized_key(
        docs_site, chromium, screenshot):
    driver = chromium.driver
    driver.get(docs_site.url + "/api/docs")
    block = operation_block(driver, "get", TRACKING_LIST_PATH)
    assert "List tracking numbers" in block.text
    assert len(driver.find_elements(*by_css(".opblock"))) == docs_site.operations
    screenshot("swagger-ui-operations")

    enter_key(driver, docs_site.key)
    screenshot("swagger-ui-authorize")
    confirm_key(driver)
    assert driver.find_elements(*by_css(".auth-wrapper button.authorize.locked"))  # the padlock closes
    status, body = execute_with(driver, block, {"bot_id": BOT_ID})
    screenshot("swagger-ui-try-it-out")
    assert status == "200", body
    assert f'"tracking_number": "{TRACKING_NUMBER}"' in body and '"total": 1' in body

    assert_only_local_requests(chromium, docs_site)
    assert_no_console_errors(chromium)
    assert_nothing_left_the_machine(chromium)


def test_swagger_ui_without_authorizing_shows_the_401_problem(docs_site, chromium):
    driver = chromium.driver
    driver.get(docs_site.url + "/api/docs")
    status, body = execute_with(driver, operation_block(driver, "get", TRACKING_LIST_PATH), {"bot_id": BOT_ID})
    assert status == "401" and "A valid API key is required" in body
    assert_only_local_requests(chromium, docs_site)
    assert_nothing_left_the_machine(chromium)


def show_code_sample(driver, section, label):
    """ReDoc's language tabs of an operation (its x-codeSamples): every language is there; open `label`'s tab."""
    samples = wait_for(driver, by_css(f"[data-section-id='{section}'] [data-rttabs]"))  # Request samples first
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", samples)
    tabs = samples.find_elements(*by_css("li.react-tabs__tab"))
    assert [tab.text for tab in tabs] == ["curl", "JavaScript (fetch)", "Python (requests)", "PHP (cURL)"]
    next(tab for tab in tabs if tab.text == label).click()
    shown = wait_for(driver, by_css(f"[data-section-id='{section}'] .react-tabs__tab-panel--selected pre"))
    assert "requests.get(" in shown.text and "X-API-Key" in shown.text


def test_redoc_renders_every_operation_without_asking_another_host(docs_site, chromium, screenshot):
    driver = chromium.driver
    driver.get(docs_site.url + "/api/redoc")
    heading = wait_for(driver, by_css(".api-info h1"))
    assert heading.text.startswith("Tracker API")
    menu_operations = driver.find_elements(*by_css("li[data-item-id*='/paths/']"))
    assert len(menu_operations) == docs_site.operations
    operation = wait_for(driver, by_css(f"[data-section-id='{REDOC_TRACKING_LIST}'] h2"))
    assert operation.text.startswith("List tracking numbers")
    screenshot("redoc")
    show_code_sample(driver, REDOC_TRACKING_LIST, "Python (requests)")
    screenshot("redoc-code-samples")

    assert_only_local_requests(chromium, docs_site)  # ReDoc's attribution logo included (tracker_api/web/docs.py)
    logo = driver.find_element(*by_css("img[alt='redocly logo']"))  # ReDoc drops it when it fails to load
    assert driver.execute_script("return arguments[0].naturalWidth", logo) > 0
    assert_no_console_errors(chromium)
    assert_nothing_left_the_machine(chromium)


def test_a_problem_page_in_russian_renders_under_its_security_policy(docs_site, chromium, screenshot):
    """The page a problem's `type` points at, through nginx, as a Russian-speaking developer opens it from an
    answer; its link to the English page works. A CSP violation would be a console error."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium.driver
    driver.get(docs_site.url + "/problems/wrong-bot?lang=ru")
    assert wait_for(driver, by_css("h1")).text == "Чужой бот"
    assert driver.find_element(*by_css("html")).get_attribute("lang") == "ru"
    assert "Что случилось" in driver.find_element(*by_css("main")).text
    screenshot("problem-page-ru")
    driver.find_element(*by_css("a[hreflang='en']")).click()
    WebDriverWait(driver, WAIT_SECONDS).until(lambda browser: browser.find_element(*by_css("h1")).text == "Wrong bot")
    driver.get(docs_site.url + "/problems/?lang=ru")
    assert wait_for(driver, by_css("h1")).text == "Проблемы, которыми отвечает API"
    assert driver.find_element(*by_css("#wrong-bot a")).get_attribute("href").endswith("/problems/wrong-bot?lang=ru")
    screenshot("problem-catalogue-ru")
    assert_only_local_requests(chromium, docs_site)
    assert_no_console_errors(chromium)
    assert_nothing_left_the_machine(chromium)
