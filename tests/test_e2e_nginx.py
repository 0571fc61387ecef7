"""The deployment as it ships: Debian's nginx with docker/nginx.conf in front of two gunicorn instances started
with docker/gunicorn.conf.py (as two app hosts would be), on a fresh PostgreSQL database and Redis. Through
nginx: every endpoint by curl (examples/curl.sh); the product document's JavaScript, Python and PHP examples;
a forged X-Forwarded-For; an oversized body; /metrics kept private; one rate-limit budget for every worker of
both instances. `make e2e-deps` installs nginx, php and node; without them these tests skip (fail in CI)."""
import http.client
import itertools
import re
import shutil
import subprocess
import sys
import uuid

import pytest
import requests

from conftest import (
    REDIS_TEST_URL,
    dispose_app,
    flush_test_redis,
    fresh_postgres_database,
    make_bot_tenant,
    make_client,
    make_migrated_app,
    require_service,
    worker_suffix,
)
from servers import GUNICORN_CONF, REPO, Gunicorn, Nginx, Stack, clean_env, nginx_binary
from test_ratelimit_gunicorn import fire

pytestmark = pytest.mark.slow
EXAMPLES = REPO / "examples"
BOT_IDS = itertools.count(2001)
PER_ADDRESS_BUDGET = 20
# Linux answers for all of 127.0.0.0/8: a client bound to another loopback address than nginx's own shows
# whether the app logs the client nginx saw, or nginx.
CLIENT_ADDRESS = "127.0.0.2"


def require_program(name, install_hint):
    if not shutil.which(name):
        require_service(f"{name} is not installed ({install_hint}; `make e2e-deps` installs it)")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if nginx_binary() is None:
        require_service("nginx is not installed (Debian: nginx-light; `make e2e-deps` installs it)")
    database_url = fresh_postgres_database(f"tracker_api_e2e_{worker_suffix()}")
    flush_test_redis()
    app = make_migrated_app(database_url, REDIS_URL=REDIS_TEST_URL)
    env = clean_env(TRACKER_ENV="production", DATABASE_URL=database_url, REDIS_URL=REDIS_TEST_URL, TRUSTED_PROXIES=1,
                    API_KEY_PEPPER=app.config["API_KEY_PEPPER"],
                    WEBHOOK_SECRET_KEYS=",".join(app.config["WEBHOOK_SECRET_KEYS"]),
                    RATE_LIMIT_PER_ADDRESS=PER_ADDRESS_BUDGET)
    hosts = []
    try:
        for _ in range(2):
            hosts.append(Gunicorn(tmp_path_factory.mktemp("app-host"), env, 2, "-c", str(GUNICORN_CONF)))
        nginx = Nginx(tmp_path_factory.mktemp("nginx"), [host.port for host in hosts])
    except Exception:
        for host in hosts:
            host.stop()
        raise
    yield Stack(app, nginx, hosts)
    nginx.stop()
    for host in hosts:
        host.stop()
    dispose_app(app)


@pytest.fixture(autouse=True)
def fresh_counters(stack):
    flush_test_redis()


@pytest.fixture
def tenant(stack):
    """A new bot (so a fresh 60/minute budget) with the client the examples ask about."""
    tenant = make_bot_tenant(stack.app, next(BOT_IDS))
    make_client(stack.app, tenant.bot_id, "CLIENT123")
    return tenant


def example_env(stack, tenant):
    return clean_env(TRACKER_API_URL=f"{stack.url}/api/v1", TRACKER_API_KEY=tenant.key, TRACKER_BOT_ID=tenant.bot_id)


def run_example(command, env):
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=30)


# --- the integrator's view ----------------------------------------------------------------------------------

ENDPOINTS = ["POST /tracking/{bot}", "GET /tracking/{bot}", "GET /tracking/{bot}/{id}", "PUT /tracking/{bot}/{id}",
             "GET /tracking/{bot}/{id}/history", "GET /widget/{bot}/track/{tracking_number}",
             "GET /tracking/{bot}/by-client/CLIENT123", "GET /tracking/{bot}/by-number/{tracking_number}",
             "PUT /tracking/{bot}/by-number/{tracking_number}", "GET /tracking/{bot}",
             "DELETE /tracking/{bot}/{id}", "POST /tracking/{bot}/{id}/restore", "POST /tracking/{bot}/import",
             "POST /clients/{bot}", "GET /clients/{bot}", "GET /clients/{bot}/{id}", "PATCH /clients/{bot}/{id}",
             "PUT /clients/{bot}/{id}", "PUT /clients/{bot}/by-code/CLIENT123", "DELETE /clients/{bot}/{id}",
             "POST /clients/{bot}/{id}/restore", "POST /clients/{bot}/import", "GET /export/{bot}/tracking", "GET /export/{bot}/clients",
             "GET /statistics/{bot}/overview", "GET /statistics/{bot}/tracking", "GET /bots/{bot}",
             "GET /bots/{bot}/usage", "GET /me",
             "POST /webhooks/{bot}", "GET /webhooks/{bot}", "GET /webhooks/{bot}/{id}", "PATCH /webhooks/{bot}/{id}",
             "POST /webhooks/{bot}/{id}/rotate-secret", "POST /webhooks/{bot}/{id}/test",
             "GET /webhooks/{bot}/{id}/deliveries", "POST /webhooks/{bot}/{id}/deliveries/{id}/redeliver",
             "DELETE /webhooks/{bot}/{id}"]


def test_every_endpoint_answers_curl_through_nginx(stack, tenant):
    require_program("curl", "Debian: curl")
    result = run_example(["bash", str(EXAMPLES / "curl.sh")], example_env(stack, tenant))
    assert result.returncode == 0, result.stderr
    called = [re.sub(r"/by-code/\w+", "/by-code/CLIENT123", re.sub(r"/\d+", "/{id}", line.replace(
        f"/{tenant.bot_id}", "/{bot}"))).split("?")[0].replace("/api/v1", "") for line in result.stderr.splitlines()]
    called = [re.sub(r"/(track|by-number)/[^/]+$", r"/\1/{tracking_number}", line) for line in called]
    assert called == ENDPOINTS, result.stderr
    assert '"current_status":"in_transit"' in result.stdout


def test_the_curl_walkthrough_covers_every_operation_of_the_api(stack):
    document = requests.get(f"{stack.url}/api/openapi.json", timeout=10).json()
    operations = {f"{method.upper()} {path}" for path, item in document["paths"].items()
                  for method in item if method in ("get", "post", "put", "patch", "delete")}
    documented = {re.sub(r"\{\w+_id\}", "{id}", operation.replace("{bot_id}", "{bot}").replace("/api/v1", ""))
                  .replace("{client_code}", "CLIENT123") for operation in operations}
    assert documented == set(ENDPOINTS)


@pytest.mark.parametrize("program,example,install_hint", [
    ("node", "tracking.js", "Node 18 or later, for fetch"),
    (sys.executable, "tracking.py", "the project's virtualenv"),
    ("php", "tracking.php", "Debian: php-cli php-curl"),
], ids=["javascript", "python", "php"])
def test_the_product_document_examples_create_and_read_tracking_numbers(stack, tenant, program, example,
                                                                         install_hint):
    require_program(program, install_hint)
    if program == "php" and subprocess.run(["php", "-r", "exit(extension_loaded('curl') ? 0 : 1);"]).returncode:
        require_service("php's curl extension is not installed (Debian: php-curl; `make e2e-deps` installs it)")
    result = run_example([program, str(EXAMPLES / example)], example_env(stack, tenant))
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^Created \w+ \(id \d+, pending\)$", result.stdout, re.MULTILINE), result.stdout
    assert "CLIENT123 has 1 tracking number(s)" in result.stdout


def test_an_example_exits_non_zero_and_says_why_when_the_key_is_wrong(stack, tenant):
    env = {**example_env(stack, tenant), "TRACKER_API_KEY": "tb_" + "x" * 32}
    result = run_example([sys.executable, str(EXAMPLES / "tracking.py")], env)
    assert result.returncode == 1
    assert "401" in result.stderr and "A valid API key is required" in result.stderr


def test_docs_are_served_through_nginx_and_json_is_compressed(stack):
    for path in ("/api/docs", "/api/redoc", "/api/docs/assets/swagger-ui/swagger-ui-bundle.js"):
        assert requests.get(stack.url + path, timeout=10).status_code == 200, path
    document = requests.get(f"{stack.url}/api/openapi.json", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert document.headers["Content-Encoding"] == "gzip"
    assert "/api/v1/tracking/{bot_id}" in document.json()["paths"]


# --- what nginx adds ------------------------------------------------------------------------------------------

def get_from(address, url, path, headers):
    """GET through a connection from `address`, as a client on another machine would come."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10, source_address=(address, 0))
    try:
        connection.request("GET", path, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def test_a_forged_forwarded_for_changes_neither_the_logged_address_nor_the_budget(stack):
    ids = [f"forged-{index}-{uuid.uuid4().hex[:12]}" for index in range(PER_ADDRESS_BUDGET + 2)]
    codes = [get_from(CLIENT_ADDRESS, stack.url, "/api/v1/bots/1",
                      {"X-Forwarded-For": f"198.51.100.{index}", "X-Real-IP": "198.51.100.99", "X-Request-ID": rid})
             for index, rid in enumerate(ids)]
    assert codes == [401] * PER_ADDRESS_BUDGET + [429] * 2  # one address's budget, whatever the header claims
    assert {line["client_ip"] for line in stack.log_lines(ids)} == {CLIENT_ADDRESS}  # nginx's peer, not nginx
    # Another client address has a budget of its own.
    assert get_from("127.0.0.3", stack.url, "/api/v1/bots/1", {}) == 401


def test_request_ids_pass_through_nginx_or_are_made_by_it(stack, tenant):
    mine = f"client-{uuid.uuid4().hex}"
    echoed = requests.get(f"{stack.url}/api/v1/bots/{tenant.bot_id}", headers={**tenant.headers, "X-Request-ID": mine},
                          timeout=10)
    assert echoed.headers["X-Request-ID"] == mine
    made = requests.get(f"{stack.url}/api/v1/bots/{tenant.bot_id}", headers=tenant.headers, timeout=10)
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])  # nginx's $request_id
    assert len(stack.log_lines([mine, made.headers["X-Request-ID"]])) == 2


def test_an_oversized_body_gets_nginx_s_413_as_problem_json_and_never_reaches_the_app(stack, tenant):
    rid = f"oversized-{uuid.uuid4().hex[:12]}"
    body = b'{"tracking_number": "BIG1", "client_code": "CLIENT123", "note": "' + b"x" * (1024 * 1024) + b'"}'
    response = requests.post(f"{stack.url}/api/v1/tracking/{tenant.bot_id}", data=body, timeout=10,
                             headers={**tenant.headers, "Content-Type": "application/json", "X-Request-ID": rid})
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 413 and "1 MiB" in problem["detail"] and problem["request_id"] == rid
    assert stack.log_lines([rid]) == []


@pytest.mark.parametrize("path", ["/metrics", "/metrics/", "//metrics", "/%6Detrics", "/api/../metrics",
                                  "/api/%2E%2E/metrics", "/healthz/../metrics"])
def test_metrics_are_private_to_the_app_hosts(stack, path):
    host, port = stack.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", path)  # sent as written: no client-side normalisation of dot segments
    response = connection.getresponse()
    body = response.read().decode()
    connection.close()
    assert response.status in (400, 403, 404), (path, response.status)
    assert "tracker_api_http_requests_total" not in body
    # Prometheus scrapes each host directly.
    assert "tracker_api_http_requests_total" in requests.get(stack.hosts[0].url + "/metrics", timeout=10).text


# --- one budget behind one upstream ---------------------------------------------------------------------------

def test_eighty_requests_at_sixty_a_minute_get_sixty_answers_from_two_instances_of_two_workers(stack, tenant):
    ids = [f"shared-{index}-{uuid.uuid4().hex[:12]}" for index in range(80)]
    responses = fire(80, lambda index: requests.get(f"{stack.url}/api/v1/bots/{tenant.bot_id}", timeout=30,
                                                    headers={**tenant.headers, "X-Request-ID": ids[index]}))
    codes = [response.status_code for response in responses]
    assert (codes.count(200), codes.count(429)) == (60, 20), codes
    assert sorted(int(response.headers["X-RateLimit-Remaining"]) for response in responses
                  if response.status_code == 200) == list(range(60))
    served = [{line["pid"] for line in host.lines_for(ids)} for host in stack.hosts]
    assert all(served) and sum(map(len, served)) >= 3, served  # both instances, and more than one worker
