"""No untested sample in the docs: every fenced block of docs/**/*.md (the Russian docs/ru/ included) and README.md
is checked against what runs; every link between the docs resolves; README.md's table names every operation.

- JavaScript, Python, PHP and HTML blocks appear verbatim (modulo indentation) in a file under examples/, which
  tests/test_examples.py and tests/test_e2e_nginx.py run against live servers.
- Shell blocks hold only commands that appear in an example script (examples/*.sh), runs of an example file,
  `make` targets of the Makefile, `flask --app wsgi ...` commands and options that the CLI has, and
  `docker compose` commands on docker/compose.yaml's services; `NAME=value` lines set the reader's variables.
- JSON blocks parse; HTTP blocks name an operation of the OpenAPI document; text blocks are free prose.
A block without a language is refused, so that none slips past unchecked."""
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
import yaml
from flask.cli import FlaskGroup, ScriptInfo

from servers import REPO

DOCUMENTS = sorted((REPO / "docs").rglob("*.md")) + [REPO / "README.md"]
LINKED_DOCUMENTS = DOCUMENTS + [REPO / "bench" / "README.md"]  # its samples are indented (not checked), its links are
EXAMPLES = REPO / "examples"
CODE_SUFFIXES = {"python": ".py", "py": ".py", "javascript": ".js", "js": ".js", "php": ".php", "html": ".html"}
SHELL = {"sh", "bash", "shell"}
FREE = {"text"}
INTERPRETERS = {"python", "python3", "node", "php", "bash", ".venv/bin/python"}
FLASK_PROGRAMS = {"flask", ".venv/bin/flask"}
COMPOSE_SUBCOMMANDS = {"up", "down", "ps", "logs", "build", "pull", "restart", "stop", "start", "config", "exec",
                       "run", "top", "images"}
COMMAND_WORDS = {"curl", "make", "flask", "python", "python3", "node", "php", "bash", "docker", "gunicorn", "pip",
                 "export", "$"} | FLASK_PROGRAMS
COMPOSE_OPTIONS_WITH_VALUES = {"-e", "--env", "-u", "--user", "-w", "--workdir", "--name", "--entrypoint"}
COMMAND_SUBSTITUTION = re.compile(r"\$\([^()]*\)")  # $(openssl rand -hex 32): a value made on the spot
FENCE = re.compile(r"^(\s*)```(\S*)\s*$")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass
class Block:
    document: Path
    line: int
    language: str
    text: str

    def __str__(self):
        name = self.document.relative_to(REPO) if self.document.is_relative_to(REPO) else self.document.name
        return f"{name}:{self.line} ({self.language or 'no language'})"


def fenced_blocks(path):
    """Every ``` fenced block of a Markdown file, with its language and its first line number."""
    blocks, lines, opened = [], path.read_text().splitlines(), None
    for number, line in enumerate(lines, 1):
        match = FENCE.match(line)
        if match and opened is None:
            opened = (number, match.group(2).lower(), [])
        elif match and not match.group(2) and opened is not None:
            blocks.append(Block(path, opened[0], opened[1], "\n".join(opened[2])))
            opened = None
        elif opened is not None:
            opened[2].append(line)
    assert opened is None, f"{path}:{opened[0]}: a fence is never closed"
    return blocks


ALL_BLOCKS = [block for document in DOCUMENTS for block in fenced_blocks(document)]


def blocks_of(languages):
    return pytest.mark.parametrize("block", [b for b in ALL_BLOCKS if b.language in languages], ids=str)


def significant_lines(text):
    return [line.strip() for line in text.splitlines() if line.strip()]


def shell_commands(text):
    """The commands of a shell text as tokens: continued lines and quotes that span lines joined, comments and
    blank lines dropped."""
    commands, pending = [], ""
    for line in text.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        try:
            tokens = shlex.split(COMMAND_SUBSTITUTION.sub("SUBSTITUTED", pending + line), comments=True)
        except ValueError:  # a quoted string goes on on the next line
            pending += line + "\n"
            continue
        pending = ""
        if tokens:
            commands.append(tokens)
    assert not pending, f"unfinished shell command: {pending}"
    return commands


def example_script_commands():
    return [tuple(command) for script in EXAMPLES.glob("*.sh") for command in shell_commands(script.read_text())]


def makefile_targets():
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.MULTILINE))


# --- the CLI, as `flask --app wsgi` sees it ----------------------------------------------------------------

@pytest.fixture(scope="module")
def flask_cli(sqlite_app):
    """The `flask` command group with the app's commands. Looking a command up pushes an app context onto the
    click context, so the context is closed (and the app context popped) when the module is done."""
    group = FlaskGroup(create_app=lambda: sqlite_app)
    with click.Context(group, obj=ScriptInfo(create_app=lambda: sqlite_app)) as context:
        yield group, context


def cli_command(flask_cli, words):
    """The click command that `words` (sub-command names, then arguments) name, and the arguments left."""
    command, context = flask_cli
    words = list(words)
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        subcommand = command.get_command(context, words[0])
        assert subcommand is not None, f"`{words[0]}` is not a command of `{command.name}`"
        command, words = subcommand, words[1:]
    return command, words


def check_flask_command(flask_cli, arguments):
    assert arguments[:2] == ["--app", "wsgi"], "the docs run the CLI as `flask --app wsgi ...`"
    command, rest = cli_command(flask_cli, arguments[2:])
    known = {name for parameter in command.params for name in (*parameter.opts, *parameter.secondary_opts)}
    given = {word.strip("[]").split("=")[0] for word in rest if word.strip("[]").startswith("-")}
    assert given <= known | {"--help"}, f"`{command.name}` has no option {sorted(given - known)}"
    for parameter in command.params:
        if isinstance(parameter, click.Option) and parameter.required and "--help" not in given:
            assert given & set(parameter.opts), f"`{command.name}` needs {'/'.join(parameter.opts)}"


# --- the rules for shell commands --------------------------------------------------------------------------

def without_assignments(tokens):
    while tokens and ASSIGNMENT.match(tokens[0]):
        tokens = tokens[1:]
    return tokens


def check_example_run(arguments):
    example = arguments[0]
    assert example.startswith("examples/") and (REPO / example).is_file(), f"{example} is not an example file"


def compose_services(path):
    return set(yaml.safe_load((REPO / path).read_text())["services"])


def check_docker_compose(flask_cli, arguments):
    files = [arguments[index + 1] for index, word in enumerate(arguments) if word in ("-f", "--file")]
    assert files and all((REPO / name).is_file() for name in files), f"compose files {files} must exist"
    rest = [word for index, word in enumerate(arguments) if word not in ("-f", "--file")
            and (index == 0 or arguments[index - 1] not in ("-f", "--file"))]
    assert rest and rest[0] in COMPOSE_SUBCOMMANDS, f"`docker compose {rest[:1]}` is not a compose command"
    if rest[0] in ("exec", "run"):
        service, inner = service_and_command(rest[1:])
        services = set().union(*(compose_services(name) for name in files))
        assert service in services, f"{service} is not a service of {files}"
        if inner and inner[0] in FLASK_PROGRAMS:
            check_flask_command(flask_cli, inner[1:])


def service_and_command(words):
    """`docker compose exec|run [OPTIONS] SERVICE COMMAND...` -> (SERVICE, COMMAND)."""
    index = 0
    while words[index].startswith("-"):
        index += 2 if words[index] in COMPOSE_OPTIONS_WITH_VALUES else 1
    return words[index], words[index + 1:]


def check_shell_command(flask_cli, tokens, script_commands):
    if tuple(tokens) in script_commands:
        return
    program = without_assignments(tokens)
    if not program:
        return  # NAME=value: the reader sets a variable (their own key, say)
    name, arguments = program[0], program[1:]
    if name in INTERPRETERS and arguments:
        check_example_run(arguments)
    elif name == "make":
        targets = [word for word in arguments if not ASSIGNMENT.match(word)]
        assert set(targets) <= makefile_targets(), f"make {targets}: not targets of the Makefile"
    elif name in FLASK_PROGRAMS:
        check_flask_command(flask_cli, arguments)
    elif program[:2] == ["docker", "compose"]:
        check_docker_compose(flask_cli, program[2:])
    else:
        raise AssertionError(f"`{shlex.join(tokens)}` is in no example script (examples/*.sh) and is no "
                             "documented command")


# --- the tests -------------------------------------------------------------------------------------------------

def test_the_docs_exist_and_hold_samples():
    names = {document.name for document in DOCUMENTS}
    assert {"API_QUICK_START.md", "API_INTEGRATION_GUIDE.md", "FAQ.md", "README.md"} <= names
    assert len(ALL_BLOCKS) > 20


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=str)
def test_every_block_says_its_language(block):
    """README.md's file tree has no label; elsewhere, and for anything that reads like a command, one is needed."""
    known = set(CODE_SUFFIXES) | SHELL | FREE | {"json", "http"}
    if block.language == "" and block.document.name == "README.md":
        commands = [line for line in significant_lines(block.text) if line.split()[0] in COMMAND_WORDS]
        assert commands == [], f"{block}: label the block (sh, ...) so that these are checked: {commands}"
        return
    assert block.language in known, f"{block}: label the block with one of {sorted(known)}"


@blocks_of(set(CODE_SUFFIXES))
def test_every_code_block_is_taken_from_an_example(block):
    wanted = significant_lines(block.text)
    suffix = CODE_SUFFIXES[block.language]
    for example in EXAMPLES.glob(f"*{suffix}"):
        lines = significant_lines(example.read_text())
        if any(lines[start:start + len(wanted)] == wanted for start in range(len(lines) - len(wanted) + 1)):
            return
    pytest.fail(f"{block}: not found verbatim in any examples/*{suffix}:\n{block.text}")


@blocks_of(SHELL)
def test_every_shell_command_is_an_example_s_or_a_documented_one(block, flask_cli):
    script_commands = example_script_commands()
    for tokens in shell_commands(block.text):
        try:
            check_shell_command(flask_cli, tokens, script_commands)
        except AssertionError as error:
            raise AssertionError(f"{block}: {error}") from None


@blocks_of({"json"})
def test_every_json_block_parses(block):
    json.loads(block.text)


@pytest.fixture(scope="module")
def operation_patterns(sqlite_app):
    paths = sqlite_app.test_client().get("/api/openapi.json").get_json()["paths"]
    return {(method.upper(), re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$"))
            for path, item in paths.items() for method in item if method != "parameters"}


@blocks_of({"http"})
def test_every_http_block_names_a_documented_operation(block, operation_patterns):
    method, target = block.text.strip().splitlines()[0].split()[:2]
    path = target.split("?")[0]
    assert any(method == known and pattern.match(path) for known, pattern in operation_patterns), \
        f"{block}: {method} {path} is not an operation of /api/openapi.json"


def test_a_sample_that_is_not_in_the_examples_is_caught(tmp_path, flask_cli):
    """The checks themselves: an edited sample or an invented command or option fails."""
    invented = Block(tmp_path / "x.md", 1, "python", "response = requests.get(url, verify=False)")
    with pytest.raises(pytest.fail.Exception):
        test_every_code_block_is_taken_from_an_example(invented)
    for command in ("curl -k https://example.com", "flask --app wsgi keys create --bot 1", "make deploy",
                    "flask --app wsgi keys forget 1", "python examples/nothing.py"):
        with pytest.raises(AssertionError):
            check_shell_command(flask_cli, shlex.split(command), example_script_commands())


# --- links between the docs -----------------------------------------------------------------------------------

LINK = re.compile(r"\]\(([^)\s]+)\)")


def heading_anchors(path):
    """GitHub's anchors for a Markdown file's headings: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+\s+(.+)$", path.read_text(), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def document_id(path):
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name


@pytest.mark.parametrize("document", LINKED_DOCUMENTS, ids=document_id)
def test_every_relative_link_and_anchor_resolves(document):
    for target in LINK.findall(document.read_text()):
        if re.match(r"^[a-z]+://", target):
            continue
        name, _, anchor = target.partition("#")
        linked = (document.parent / name).resolve() if name else document
        assert linked.exists(), f"{document_id(document)}: {target} does not exist"
        if anchor:
            assert anchor in heading_anchors(linked), \
                f"{document_id(document)}: no heading for #{anchor} in {document_id(linked)}"


@pytest.mark.parametrize("example", sorted(path for path in EXAMPLES.iterdir() if path.is_file()), ids=document_id)
def test_every_document_an_example_names_exists(example):
    """The examples' comments point readers at the docs that print them (`README.md`, `docs/...`)."""
    for name in set(re.findall(r"[\w./-]+\.md\b", example.read_text())):
        assert (REPO / name).is_file(), f"{document_id(example)} names {name}, which does not exist"


def test_a_broken_link_or_anchor_is_caught(tmp_path):
    for text in ("[gone](missing.md)", "[gone](#no-such-heading)", "[gone](../README.md#no-such-heading)"):
        document = tmp_path / "docs" / "x.md"
        document.parent.mkdir(exist_ok=True)
        document.write_text(f"# Title\n\n{text}\n")
        with pytest.raises(AssertionError):
            test_every_relative_link_and_anchor_resolves(document)


# --- README.md's endpoint table ---------------------------------------------------------------------------------

README_ROW = re.compile(r"^\| ([A-Z, ]+) \| `(/[^`]+)` \|", re.MULTILINE)


def test_the_readme_lists_every_operation_of_the_api(sqlite_app):
    """Its table (methods, path under /api/v1) is the OpenAPI document's operations, no more and no fewer."""
    paths = sqlite_app.test_client().get("/api/openapi.json").get_json()["paths"]
    documented = {(method.upper(), path) for path, item in paths.items() for method in item if method != "parameters"}
    rows = README_ROW.findall((REPO / "README.md").read_text())
    listed = {(method.strip(), "/api/v1" + path) for methods, path in rows for method in methods.split(",")}
    assert listed == documented, (f"missing from README.md: {sorted(documented - listed)}; "
                                  f"not operations: {sorted(listed - documented)}")
