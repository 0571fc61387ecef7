"""The reference's code samples (tracker_api/web/code_samples.py): every operation of /api/openapi.json carries a
curl, JavaScript, Python and PHP sample (`x-codeSamples`, ReDoc's language tabs); every sample is valid code
(bash -n, node --check, php -l, Python's compile), uses the placeholders of examples/, and every one of them runs
for real against the server `make run` starts (tests/test_examples.py's gunicorn), with the example path values
swapped for records that exist, as a reader would; the document's description introduces the API."""
import re
import subprocess
import sys
import time

import flask
import marshmallow as ma
import pytest
import requests
from flask.views import MethodView
from flask_smorest import Blueprint

from config import TestConfig
from servers import REPO, clean_env
from test_examples import DEMO_BOT_ID, EXAMPLES, new_key, require_program, server  # noqa: F401 (a fixture)
from tracker_api import create_app
from tracker_api.resources.paths import PATH_EXAMPLES
from tracker_api.web.code_samples import API_KEY, BASE_URL, NoExample, register_code_samples
from tracker_api.web.errors import Api

LANGUAGES = ["curl", "JavaScript", "Python", "PHP"]
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
SUFFIX = {"curl": ".sh", "JavaScript": ".mjs", "Python": ".py", "PHP": ".php"}  # the JavaScript is an ES module
RUNNER = {"curl": ("bash", "bash"), "JavaScript": ("node", "Node 18+ for fetch"),
          "PHP": ("php", "Debian: php-cli php-curl"), "Python": (sys.executable, "the virtualenv")}
SYNTAX_CHECK = {"curl": ["bash", "-n"], "JavaScript": ["node", "--check"], "PHP": ["php", "-l"]}
TEMPLATE_ARGUMENT = re.compile(r"{([^{}]+)}")
RULE_ARGUMENT = re.compile(r"<(?:[^<>]*:)?([^<>:]+)>")  # <int(min=1, max=...):bot_id> -> bot_id


@pytest.fixture(scope="module")
def document(sqlite_app):
    return sqlite_app.test_client().get("/api/openapi.json").get_json()


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def samples(document):
    for path, method, operation in operations(document):
        for sample in operation["x-codeSamples"]:
            yield path, method, sample


# --- in the document -----------------------------------------------------------------------------------------------

def test_every_operation_has_one_sample_per_language_in_redoc_s_shape(document):
    assert len(list(operations(document))) >= 30
    for path, method, operation in operations(document):
        code_samples = operation["x-codeSamples"]
        assert [sample["lang"] for sample in code_samples] == LANGUAGES, (method, path)
        for sample in code_samples:
            assert set(sample) == {"lang", "label", "source"} and sample["label"] and sample["source"].strip()


def calls(language, method):
    """How a sample of `language` names the HTTP method."""
    return {"curl": "" if method == "get" else f"-X {method.upper()} ", "JavaScript": f'method: "{method.upper()}"',
            "Python": f"requests.{method}(", "PHP": f"CURLOPT_CUSTOMREQUEST => '{method.upper()}'"}[language]


def test_every_sample_calls_its_operation_with_the_examples_placeholders(document):
    for path, method, sample in samples(document):
        example_path = TEMPLATE_ARGUMENT.sub(lambda match: str(PATH_EXAMPLES[match.group(1)]), path)
        assert BASE_URL + example_path in sample["source"], (method, path, sample["lang"])
        assert calls(sample["lang"], method) in sample["source"], (method, path, sample["lang"])
        assert f"X-API-Key: {API_KEY}" in sample["source"] or f'"X-API-Key": "{API_KEY}"' in sample["source"] \
            or f"'X-API-Key': '{API_KEY}'" in sample["source"], (method, path, sample["lang"])


def test_the_placeholders_are_those_of_examples():
    for example in ("tracking.py", "tracking.js", "tracking.php", "curl.sh"):
        text = (EXAMPLES / example).read_text()
        assert BASE_URL in text and API_KEY in text, example


def test_a_sample_with_a_body_sends_the_documented_example(document):
    create = document["paths"]["/api/v1/tracking/{bot_id}"]["post"]["x-codeSamples"]
    for sample in create:
        assert "ABC123456" in sample["source"] and "Хрупкое" in sample["source"], sample["lang"]
        sends_json = {"curl": "-H 'Content-Type: application/json'", "JavaScript": '"Content-Type": "application/json"',
                      "Python": "json={", "PHP": "'Content-Type: application/json'"}[sample["lang"]]
        assert sends_json in sample["source"], sample["lang"]


def test_the_description_introduces_authentication_errors_limits_pagination_and_the_change_feed(document):
    description = document["info"]["description"]
    for words in ("X-API-Key", "application/problem+json", "429", "Retry-After", "page_size", "updated_since",
                  "next_cursor", "docs/API_INTEGRATION_GUIDE.md", "Postman"):
        assert words in description, words
    assert len(description.splitlines()) < 40  # an introduction; the guide has the rest


# --- valid code -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("language", LANGUAGES)
def test_every_sample_is_valid_code(document, language, tmp_path):
    sources = [(f"{method} {path}", sample["source"]) for path, method, sample in samples(document)
               if sample["lang"] == language]
    for number, (name, source) in enumerate(sources):
        if language == "Python":
            compile(source, name, "exec")
            continue
        require_program(SYNTAX_CHECK[language][0], RUNNER[language][1])
        file = tmp_path / f"sample{number}{SUFFIX[language]}"
        file.write_text(source)
        result = subprocess.run([*SYNTAX_CHECK[language], str(file)], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, f"{name}:\n{source}\n{result.stdout}{result.stderr}"


# --- for any Api, e.g. the admin API's --------------------------------------------------------------------------------

class Thing(ma.Schema):
    name = ma.fields.String(required=True, metadata={"example": "Widget"})
    id = ma.fields.Integer(dump_only=True, metadata={"example": 5})


def small_api():
    """An Api of its own (as the admin API's), documenting PUT /api/admin/things/{thing_id}."""
    app = flask.Flask(__name__)
    app.config.update(API_TITLE="Admin", API_VERSION="v1", OPENAPI_VERSION="3.0.3")
    api = Api(app)
    blp = Blueprint("things", __name__, url_prefix="/api/admin/things")

    @blp.route("/<int:thing_id>")
    class ThingById(MethodView):
        @blp.arguments(Thing)
        @blp.response(200, Thing)
        def put(self, fields, thing_id):
            return {"id": thing_id, **fields}

    return api, blp


def test_another_api_gets_samples_with_its_own_path_examples_and_key_header():
    api, blp = small_api()
    register_code_samples(api, {"thing_id": 5}, key_header="X-Admin-Token")
    api.register_blueprint(blp)
    samples = {sample["lang"]: sample["source"]
               for sample in api.spec.to_dict()["paths"]["/api/admin/things/{thing_id}"]["put"]["x-codeSamples"]}
    assert set(samples) == set(LANGUAGES)
    assert f"'{BASE_URL}/api/admin/things/5'" in samples["Python"] and "'name': 'Widget'" in samples["Python"]
    assert "'id'" not in samples["Python"]  # read-only: not sent
    assert all("X-Admin-Token" in source and "X-API-Key" not in source for source in samples.values())


def test_an_operation_without_an_example_for_a_path_parameter_is_refused_when_documented():
    api, blp = small_api()
    register_code_samples(api, {})
    with pytest.raises(NoExample, match="thing_id"):
        api.register_blueprint(blp)


def test_samples_must_be_registered_before_the_operations_are_documented():
    api, blp = small_api()
    api.register_blueprint(blp)
    with pytest.raises(RuntimeError, match="before the blueprints"):
        register_code_samples(api, {"thing_id": 5})


# --- run for real against `make run`'s server ------------------------------------------------------------------------

class Records:
    """The records a sample's path names, made to exist (or, for a create, not to exist yet) through the API."""

    def __init__(self, server, key):
        self.api = requests.Session()
        self.api.headers["X-API-Key"] = key
        self.url = server.api_url + f"/{{}}/{DEMO_BOT_ID}"

    def call(self, method, resource, suffix="", **kwargs):
        response = self.api.request(method, self.url.format(resource) + suffix, timeout=10, **kwargs)
        assert response.ok, response.text
        return response.json() if response.content else None

    def find(self, resource, field, value):
        """The id of the record whose `field` is `value`, or None (every test record belongs to CLIENT123)."""
        listed = {"tracking": "tracking_numbers", "clients": "clients"}[resource]
        params = {"page_size": 100, **({"client_code": "CLIENT123"} if resource == "tracking" else {})}
        return next((item["id"] for item in self.call("GET", resource, params=params)[listed]
                     if item[field] == value), None)

    def tracking_id(self, number="ABC123456"):
        return self.find("tracking", "tracking_number", number) or self.call(
            "POST", "tracking", json={"tracking_number": number, "client_code": "CLIENT123"})["id"]

    def client_id(self, code="CLIENT123"):
        found = self.find("clients", "client_code", code)
        return found or self.call("POST", "clients", json={"client_code": code})["id"]

    def webhook_id(self):
        return self.call("POST", "webhooks", json={"url": "https://crm.example.com/hooks/sample"})["id"]

    def delivery_id(self, webhook_id):
        return self.call("POST", "webhooks", f"/{webhook_id}/test")["id"]

    def remove(self, resource, record_id):
        if record_id is not None:
            self.call("DELETE", resource, f"/{record_id}")

    def clean_up(self):
        """Webhooks a bot may have are few: delete every one this test made (or the sample did)."""
        for webhook in self.call("GET", "webhooks")["webhooks"]:
            if webhook["url"].startswith("https://crm.example.com/"):
                self.remove("webhooks", webhook["id"])


def real_values(records, path, method):
    """A value for each of the path's parameters naming a record that exists; a DELETE gets a record of its own, and
    a restore a record of its own that it deleted."""
    names = TEMPLATE_ARGUMENT.findall(path)
    restoring = path.endswith("/restore")
    own = method == "delete" or restoring
    values = {"bot_id": DEMO_BOT_ID, "client_code": "CLIENT123", "tracking_number": "ABC123456"}
    records.client_id()  # CLIENT123 and ABC123456 exist unless a create just made them anew
    records.tracking_id()
    if "tracking_id" in names:
        values["tracking_id"] = records.tracking_id(f"DEL{time.time_ns() % 10**9}" if own else "ABC123456")
        if restoring:
            records.remove("tracking", values["tracking_id"])
    if "client_id" in names:
        values["client_id"] = records.client_id(f"DEL{time.time_ns() % 10**9}" if own else "CLIENT123")
        if restoring:
            records.remove("clients", values["client_id"])
    if "webhook_id" in names:
        values["webhook_id"] = records.webhook_id()
    if "delivery_id" in names:
        values["delivery_id"] = records.delivery_id(values["webhook_id"])
    return values


CREATES = {"/api/v1/tracking/{bot_id}": ("tracking", "tracking_number", "ABC123456"),
           "/api/v1/clients/{bot_id}": ("clients", "client_code", "CLIENT123")}


def make_room_for_a_create(records, path, method):
    """A create of the example record (ABC123456, CLIENT123) needs it gone first; the sample makes it again."""
    if method == "post" and path in CREATES:
        resource, field, value = CREATES[path]
        records.remove(resource, records.find(resource, field, value))


def success_properties(document, operation):
    """The property names of the operation's documented success body."""
    status = next(status for status in operation["responses"] if status.startswith("2"))
    schema = operation["responses"][status].get("content", {}).get("application/json", {}).get("schema", {})
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return set(schema.get("properties", {})), status


@pytest.fixture(scope="module")
def served_document(server):  # noqa: F811 (the fixture imported above)
    return requests.get(server.gunicorn.url + "/api/openapi.json", timeout=10).json()


def all_operations():
    """Every v1 operation ("method path"), from the routes (tests/test_openapi.py checks the document has them all)."""
    app = create_app(TestConfig(), SQLALCHEMY_DATABASE_URI="sqlite://")
    routes = [(RULE_ARGUMENT.sub(r"{\1}", rule.rule), rule.methods - {"HEAD", "OPTIONS"})
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")]
    return sorted(f"{method.lower()} {path}" for path, methods in routes for method in methods)


@pytest.mark.slow
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("operation_name", all_operations())
def test_every_sample_runs_against_the_make_run_server(server, served_document, language, operation_name,  # noqa: F811
                                                      tmp_path):
    program, hint = RUNNER[language]
    require_program(program, hint)
    method, path = operation_name.split(" ", 1)
    operation = served_document["paths"][path][method]
    source = next(sample["source"] for sample in operation["x-codeSamples"] if sample["lang"] == language)
    key = new_key(server)
    records = Records(server, key)
    try:
        values = real_values(records, path, method)
        make_room_for_a_create(records, path, method)
        example_path = TEMPLATE_ARGUMENT.sub(lambda match: str(PATH_EXAMPLES[match.group(1)]), path)
        real_path = TEMPLATE_ARGUMENT.sub(lambda match: str(values[match.group(1)]), path)
        # What a reader does: their server, their key, their records' ids
        source = source.replace(BASE_URL + example_path, server.gunicorn.url + real_path).replace(API_KEY, key)
        assert server.gunicorn.url + real_path in source and key in source
        file = tmp_path / f"sample{SUFFIX[language]}"
        file.write_text(source)
        result = subprocess.run([program, str(file)], cwd=REPO, env=clean_env(), capture_output=True, text=True,
                                timeout=30)
        assert result.returncode == 0, f"{source}\n{result.stdout}{result.stderr}"
        properties, status = success_properties(served_document, operation)
        if properties:  # JSON: the answer printed, its members by name
            assert any(re.search(rf"\b{name}\b", result.stdout) for name in properties), result.stdout
        elif "content" in operation["responses"][status]:  # CSV or NDJSON, printed as it came
            assert result.stdout.strip(), source
        else:  # no body: the status printed
            assert result.stdout.strip().endswith(status), result.stdout
        if method == "post" and path in CREATES:
            assert records.find(*CREATES[path]) is not None
        if method == "delete":
            assert requests.get(server.gunicorn.url + real_path, headers={"X-API-Key": key},
                                timeout=10).status_code == 404
    finally:
        records.clean_up()
