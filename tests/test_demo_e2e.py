"""`make run`, end to end, as its recipe runs it: `flask --app wsgi db upgrade` on a new SQLite file,
`flask --app wsgi demo --port PORT`, then `gunicorn --workers 1 --threads 8 wsgi:app` with that
DATABASE_URL and no REDIS_URL. The curl command the demo prints is run exactly as printed, and the key it
prints works on every endpoint of the running server."""
import json
import shlex
import subprocess

import pytest
import requests

from servers import Gunicorn, clean_env, free_port, run_flask
from walkthrough import DEMO_BOT_ID, DEMO_TRACKING_NUMBERS, walk_every_endpoint

pytestmark = pytest.mark.slow


def printed(output, label):
    """The value after `label` on the line of the demo's output that starts with it."""
    [value] = [line.strip()[len(label):].strip() for line in output.splitlines() if line.strip().startswith(label)]
    return value


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The server `make run` leaves running, and what its demo step printed."""
    directory = tmp_path_factory.mktemp("make_run")
    port = free_port()
    env = clean_env(DATABASE_URL=f"sqlite:///{directory / 'tracker_api.sqlite3'}")
    migrated = run_flask("db", "upgrade", env=env)
    assert migrated.returncode == 0, migrated.stderr
    seeded = run_flask("demo", "--port", port, env=env)
    assert seeded.returncode == 0, seeded.stderr
    server = Gunicorn(directory, env, 1, "--threads", "8", port=port)
    yield env, seeded.stdout, server
    server.stop()


def test_the_printed_curl_command_works_as_printed(demo):
    _, output, server = demo
    key, curl = printed(output, "API key:"), printed(output, "curl")
    assert f"bot id:  {DEMO_BOT_ID}" in output
    curl = "curl " + curl
    assert f"{server.url}/api/v1/tracking/{DEMO_BOT_ID}" in curl and key in curl  # nothing to substitute
    answer = subprocess.run(curl, shell=True, capture_output=True, text=True, timeout=30)
    assert answer.returncode == 0, answer.stderr
    body = json.loads(answer.stdout)
    assert body["total"] >= DEMO_TRACKING_NUMBERS  # the walk through every endpoint adds one
    assert "ABC123456" in {item["tracking_number"] for item in body["tracking_numbers"]}
    status = subprocess.run(shlex.split(curl) + ["-s", "-o", "/dev/null", "-w", "%{http_code}"],
                            capture_output=True, text=True, timeout=30)
    assert status.stdout == "200"


def test_the_printed_key_works_on_every_endpoint(demo):
    _, output, server = demo
    key = printed(output, "API key:")

    def send(method, path, body=None):
        response = requests.request(method, server.url + path, json=body, headers={"X-API-Key": key}, timeout=30)
        assert response.headers["X-RateLimit-Limit"] == "60"  # the development default, counted in memory
        return response.status_code, response.json() if response.content else None
    walk_every_endpoint(send)


def test_swagger_ui_and_its_assets_are_served_by_the_demo_server(demo):
    _, output, server = demo
    assert f"{server.url}/api/docs" in output
    page = requests.get(server.url + "/api/docs", timeout=10)
    assert page.status_code == 200 and "/api/docs/assets/swagger-ui/swagger-ui-bundle.js" in page.text
    bundle = requests.get(server.url + "/api/docs/assets/swagger-ui/swagger-ui-bundle.js", timeout=10)
    assert bundle.status_code == 200 and "javascript" in bundle.headers["Content-Type"]


def test_running_the_demo_again_gives_a_new_key_for_the_same_data(demo):
    env, output, server = demo
    again = run_flask("demo", "--json", env=env)
    assert again.returncode == 0, again.stderr
    printed_again = json.loads(again.stdout)
    assert printed_again["key"] != printed(output, "API key:")
    listed = requests.get(f"{server.url}/api/v1/statistics/{DEMO_BOT_ID}/overview", timeout=10,
                          headers={"X-API-Key": printed_again["key"]})
    assert listed.status_code == 200 and listed.json()["total_clients"] == 8
