"""Code samples in an OpenAPI document: every operation gets curl, JavaScript, Python and PHP samples as
`x-codeSamples` (ReDoc's language tabs), one template per language filled from the operation: its method, its path
with example values, the query parameters that have an example, and its example body. Works for any flask-smorest
Api: register_code_samples(api, path_examples) before its blueprints are registered."""
import json
import re
import textwrap
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlencode

from apispec import BasePlugin

# The placeholders of examples/ (and of the product document), so that a sample reads like the examples.
BASE_URL = "https://your-api-domain.com"
API_KEY = "tb_your_api_key_here"
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
    body: object = None  # the JSON body, when has_body
    has_body: bool = False
    answer: str = "json"  # "json" (parsed and printed), "text" (printed as it is) or "none" (the status printed)


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


def sample_request(path, method, operation, resolve, path_examples):
    """The request an operation's samples send: path parameters from the operation's examples or `path_examples`,
    query and header parameters that are required or have an example, the example body."""
    parameters = [resolve(parameter) for parameter in operation.get("parameters", ())]
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
    query = {}
    for parameter in parameters:
        if parameter["in"] == "query" and (parameter.get("required") or "example" in parameter
                                            or "example" in parameter.get("schema", {})):
            query[parameter["name"]] = parameter_example(parameter)
    if query:
        url += "?" + urlencode(query)
    request = {"method": method.upper(), "url": url, "answer": answer_kind(operation, resolve)}
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


def shell_quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def curl_sample(request):
    method = "" if request.method == "GET" else f" -X {request.method}"
    lines = [f"curl --silent --show-error --fail-with-body{method} {shell_quote(request.url)}",
             f"-H {shell_quote('X-API-Key: ' + API_KEY)}"]
    if request.has_body:
        lines += [f"-H {shell_quote('Content-Type: ' + JSON)}", f"--data-binary {shell_quote(json_text(request.body))}"]
    if request.answer == "none":
        lines.append("--write-out '%{http_code}\\n'")
    return " \\\n  ".join(lines)


def javascript_sample(request):
    headers = {"X-API-Key": API_KEY, **({"Content-Type": JSON} if request.has_body else {})}
    options = [f"method: {json.dumps(request.method)}", f"headers: {json.dumps(headers)}"]
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
    arguments = [repr(request.url), f"headers={{'X-API-Key': {API_KEY!r}}}"]
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
    headers = [f"X-API-Key: {API_KEY}", *([f"Content-Type: {JSON}"] if request.has_body else [])]
    options = [f"CURLOPT_CUSTOMREQUEST => '{request.method}'",
               "CURLOPT_HTTPHEADER => [" + ", ".join(php_string(header) for header in headers) + "]"]
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


# --- into a document ------------------------------------------------------------------------------------------------

def reference_resolver(document):
    """A function that follows a local $ref (#/components/...) in `document` to what it names."""
    def resolve(node):
        while isinstance(node, dict) and "$ref" in node:
            target = document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node
    return resolve


def add_code_samples(document, path_examples):
    """Add `x-codeSamples` to every operation of an OpenAPI document (a dict) that has none yet."""
    resolve = reference_resolver(document)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                operation.setdefault("x-codeSamples", code_samples(
                    sample_request(path, method, with_path_parameters(operation, item), resolve, path_examples)))
    return document


def with_path_parameters(operation, item):
    """The operation with its path item's parameters too (the operation's own win), as a client sees it."""
    own = {(p.get("name"), p.get("in")) for p in operation.get("parameters", ())}
    shared = [p for p in item.get("parameters", ()) if (p.get("name"), p.get("in")) not in own]
    return {**operation, "parameters": [*operation.get("parameters", ()), *shared]}


class CodeSamplesPlugin(BasePlugin):
    """Adds the samples as each operation is documented, so the served document, `flask openapi write` and any
    other reader of the spec all carry them. Runs after the marshmallow plugin: schemas are references by then."""

    def __init__(self, path_examples):
        self.path_examples = path_examples
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
                request = sample_request(path, method, operation, self.resolve, self.path_examples)
                operation.setdefault("x-codeSamples", code_samples(request))


def register_code_samples(api, path_examples):
    """Give every operation `api` documents from now on its code samples; `path_examples` holds a value for each
    path parameter whose documentation has no example (e.g. {"bot_id": 123})."""
    if api.spec.to_dict()["paths"]:
        raise RuntimeError("register_code_samples() must run before the blueprints are registered")
    api.spec.plugins.append(CodeSamplesPlugin(path_examples))
    api.spec.plugins[-1].init_spec(api.spec)
