"""Code samples in an OpenAPI document: every operation gets curl, JavaScript, Python and PHP samples as
`x-codeSamples` (ReDoc's language tabs), one template per language filled from the operation: its method, its path
with example values, the query and header parameters that are required or have an example (optional headers such as
Idempotency-Key or If-Match are left out), and its example body. Works for any flask-smorest Api:
register_code_samples(api, path_examples) before its blueprints are registered."""
import json
import re
import shlex
import textwrap
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlencode

from apispec import BasePlugin

# The placeholders of examples/ (and of the product document), so that a sample reads like the examples.
BASE_URL = "https://your-api-domain.com"
API_KEY = "tb_your_api_key_here"
KEY_HEADER = "X-API-Key"
LANGUAGES = (("curl", "curl"), ("JavaScript", "JavaScript (fetch)"), ("Python", "Python (requests)"),
             ("PHP", "PHP (cURL)"))
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
TEMPLATE_ARGUMENT = re.compile(r"{([^{}]+)}")
JSON = "application/json"
COMPONENT_ATTRIBUTES = {"securitySchemes": "security_schemes"}  # apispec's names for the sections


class NoExample(ValueError):
    """An operation needs a value (a path parameter, a required field) that its document gives no example of."""


@dataclass(frozen=True)
class SampleRequest:
    """What every language's sample sends, and how it shows the answer."""

    method: str  # upper case
    url: str
    headers: dict  # the key's and any other required header, not Content-Type
    body: object = None  # the JSON body, when has_body
    has_body: bool = False
    answer: str = "json"  # "json" (parsed and printed), "text" (printed as it is) or "none" (the status printed)

    @property
    def sent_headers(self):
        return {**self.headers, **({"Content-Type": JSON} if self.has_body else {})}


# --- the request, from the operation ----------------------------------------------------------------------------

def example_of(schema, resolve):
    """The example value of a schema: its own `example`, or an object of its properties' examples (required
    properties must have one), or a list of one example item."""
    schema = resolve(schema)
    if "example" in schema:
        return schema["example"]
    if schema.get("type") == "array" and "items" in schema:
        return [example_of(schema["items"], resolve)]
    if "properties" in schema:
        required = set(schema.get("required", ()))
        value = {}
        for name, field in schema["properties"].items():
            field = resolve(field)
            if field.get("readOnly"):
                continue
            try:
                value[name] = example_of(field, resolve)
            except NoExample:
                if name in required:
                    raise
        return value
    raise NoExample(f"no example for {schema}")


def parameter_example(parameter):
    for node in (parameter, parameter.get("schema", {})):
        if "example" in node:
            return node["example"]
    raise NoExample(f"no example for the {parameter['in']} parameter {parameter['name']}")


def answer_kind(operation, resolve):
    """How the sample shows the operation's success answer: parsed JSON, text (CSV, NDJSON), or only the status."""
    for status, response in sorted(operation.get("responses", {}).items(), key=lambda item: str(item[0])):
        if str(status).startswith("2"):
            response = resolve(response)
            content = response.get("content", {}) if isinstance(response, dict) else {}
            return "json" if JSON in content else "text" if content else "none"
    return "none"


def wanted(parameter):
    """Whether a sample sends a query or header parameter: when it is required or has an example to show."""
    if parameter["in"] == "query":
        return parameter.get("required") or "example" in parameter or "example" in parameter.get("schema", {})
    return parameter["in"] == "header" and parameter.get("required")


def sample_request(path, method, operation, resolve, path_examples, key_header=KEY_HEADER):
    """The request an operation's samples send: path parameters from the operation's examples or `path_examples`,
    the key in `key_header`, query and header parameters that are wanted(), the example body."""
    parameters = [p for p in map(resolve, operation.get("parameters", ())) if isinstance(p, dict)]
    in_path = {p["name"]: p for p in parameters if p["in"] == "path"}

    def path_value(match):
        name = match.group(1)
        if name in in_path:
            try:
                return str(parameter_example(in_path[name]))
            except NoExample:
                pass
        if name not in path_examples:
            raise NoExample(f"{method.upper()} {path}: no example for the path parameter {name}")
        return str(path_examples[name])

    url = BASE_URL + TEMPLATE_ARGUMENT.sub(path_value, path)
    query, headers = {}, {key_header: API_KEY}
    for parameter in filter(wanted, parameters):
        (query if parameter["in"] == "query" else headers)[parameter["name"]] = str(parameter_example(parameter))
    if query:
        url += "?" + urlencode(query)
    request = {"method": method.upper(), "url": url, "headers": headers, "answer": answer_kind(operation, resolve)}
    media = resolve(operation.get("requestBody", {})).get("content", {}).get(JSON)
    if media is not None:
        body = media["example"] if "example" in media else example_of(media["schema"], resolve)
        request.update(body=body, has_body=True)
    return SampleRequest(**request)


# --- one template per language ------------------------------------------------------------------------------------

def indent_after_first_line(text, prefix):
    first, *rest = text.split("\n")
    return "\n".join([first, *(prefix + line for line in rest)])


def json_text(value):
    return json.dumps(value, indent=2, ensure_ascii=False)


def curl_sample(request):
    method = "" if request.method == "GET" else f" -X {request.method}"
    lines = [f"curl --silent --show-error --fail-with-body{method} {shlex.quote(request.url)}",
             *(f"-H {shlex.quote(f'{name}: {value}')}" for name, value in request.sent_headers.items())]
    if request.has_body:
        lines.append(f"--data-binary {shlex.quote(json_text(request.body))}")
    if request.answer == "none":
        lines.append("--write-out '%{http_code}\\n'")
    return " \\\n  ".join(lines)


def javascript_sample(request):
    options = [f"method: {json.dumps(request.method)}", f"headers: {json.dumps(request.sent_headers)}"]
    if request.has_body:
        options.append(f"body: JSON.stringify({indent_after_first_line(json_text(request.body), '  ')})")
    show = {"json": "await response.json()", "text": "await response.text()", "none": "response.status"}
    return textwrap.dedent("""\
        const response = await fetch({url}, {{
          {options},
        }});
        if (!response.ok) {{
          const problem = await response.json();  // application/problem+json
          throw new Error(`${{response.status}}: ${{problem.detail}}`);
        }}
        console.log({show});
        """).format(url=json.dumps(request.url), options=",\n  ".join(options), show=show[request.answer])


def python_sample(request):
    arguments = [repr(request.url), f"headers={request.headers!r}"]  # requests adds Content-Type for json=
    if request.has_body:
        arguments.append("json=" + literal(request.body, PYTHON, "    "))
    show = {"json": "response.json()", "text": "response.text", "none": "response.status_code"}
    return textwrap.dedent("""\
        import requests

        response = requests.{method}(
            {arguments},
            timeout=30,
        )
        if not response.ok:  # every error is application/problem+json
            raise SystemExit(f"{{response.status_code}}: {{response.json()['detail']}}")
        print({show})
        """).format(method=request.method.lower(), arguments=",\n    ".join(arguments), show=show[request.answer])


@dataclass(frozen=True)
class LiteralSyntax:
    """How a language writes a JSON value: object brackets, key separator, strings, true/false/null, indent step."""

    brackets: str
    separator: str
    string: Callable[[str], str]
    constants: dict
    step: str


def php_string(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


PYTHON = LiteralSyntax("{}", ": ", repr, {True: "True", False: "False", None: "None"}, "    ")
PHP = LiteralSyntax("[]", " => ", php_string, {True: "true", False: "false", None: "null"}, "  ")


def literal(value, syntax, indent=""):
    """`value` (JSON) as a literal of the language, one member a line, its closing bracket at `indent`."""
    inner = indent + syntax.step
    if isinstance(value, dict):
        brackets = syntax.brackets
        items = [syntax.string(key) + syntax.separator + literal(item, syntax, inner) for key, item in value.items()]
    elif isinstance(value, list):
        brackets, items = "[]", [literal(item, syntax, inner) for item in value]
    elif isinstance(value, str):
        return syntax.string(value)
    elif isinstance(value, bool) or value is None:
        return syntax.constants[value]
    else:
        return json.dumps(value)  # a number
    if not items:
        return brackets
    lines = "".join(f"{inner}{item},\n" for item in items)
    return f"{brackets[0]}\n{lines}{indent}{brackets[1]}"


def php_sample(request):
    headers = ", ".join(php_string(f"{name}: {value}") for name, value in request.sent_headers.items())
    options = [f"CURLOPT_CUSTOMREQUEST => '{request.method}'", f"CURLOPT_HTTPHEADER => [{headers}]"]
    if request.has_body:
        options.append(f"CURLOPT_POSTFIELDS => json_encode({literal(request.body, PHP, '  ')})")
    options.append("CURLOPT_RETURNTRANSFER => true")
    show = {"json": "print_r(json_decode($body, true));", "text": "echo $body;", "none": 'echo $status, "\\n";'}
    return textwrap.dedent("""\
        <?php
        $curl = curl_init({url});
        curl_setopt_array($curl, [
          {options},
        ]);
        $body = curl_exec($curl);
        $status = curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
        if ($body === false || $status >= 400) {{  // every error is application/problem+json
          fwrite(STDERR, "$status: " . (json_decode((string) $body, true)['detail'] ?? curl_error($curl)) . "\\n");
          exit(1);
        }}
        {show}
        """).format(url=php_string(request.url), options=",\n  ".join(options), show=show[request.answer])


TEMPLATES = {"curl": curl_sample, "JavaScript": javascript_sample, "Python": python_sample, "PHP": php_sample}


def code_samples(request):
    """The `x-codeSamples` of one request: a sample per language, in ReDoc's shape."""
    return [{"lang": lang, "label": label, "source": TEMPLATES[lang](request)} for lang, label in LANGUAGES]


# --- into a document, as each operation is documented -------------------------------------------------------------

class CodeSamplesPlugin(BasePlugin):
    """Adds the samples as each operation is documented, so the served document, `flask openapi write` and any
    other reader of the spec all carry them. Runs after the marshmallow plugin: schemas are references by then."""

    def __init__(self, path_examples, key_header=KEY_HEADER):
        self.path_examples, self.key_header = path_examples, key_header
        self.spec = None

    def init_spec(self, spec):
        self.spec = spec

    def resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            section, name = node["$ref"].split("/")[-2:]
            section = COMPONENT_ATTRIBUTES.get(section, section)
            components = self.spec.components
            node = {**getattr(components, section + "_lazy", {}), **getattr(components, section)}[name]
        return node

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in operations.items():
            if method in HTTP_METHODS:
                request = sample_request(path, method, operation, self.resolve, self.path_examples, self.key_header)
                operation.setdefault("x-codeSamples", code_samples(request))


def register_code_samples(api, path_examples, key_header=KEY_HEADER):
    """Give every operation `api` documents from now on its code samples; `path_examples` holds a value for each
    path parameter whose documentation has no example (e.g. {"bot_id": 123}); the key goes in `key_header`."""
    if api.spec.to_dict()["paths"]:
        raise RuntimeError("register_code_samples() must run before the blueprints are registered")
    plugin = CodeSamplesPlugin(path_examples, key_header)
    plugin.init_spec(api.spec)
    api.spec.plugins.append(plugin)
