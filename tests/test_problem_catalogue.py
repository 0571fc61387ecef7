"""The error catalogue (tracker_api/web/problems.py): the code sends no problem the catalogue lacks (every call site
found in the source, and problem() refusing an unregistered one under TESTING), and every entry has its page, in
English and Russian, served without a key and under the HTML pages' security policy."""
import ast
import html
import re
from http import HTTPStatus

import pytest
from flask import Flask, render_template_string
from flask_babel import Babel, force_locale

from servers import REPO
from tracker_api.web import problems
from tracker_api.web.errors import problem
from tracker_api.web.security_headers import DOCS_POLICY, script_sources

PACKAGE = REPO / "tracker_api"
CATALOGUE = PACKAGE / "web" / "problems.py"
ERRORS = PACKAGE / "web" / "errors.py"
PROBLEM_TYPE_LITERAL = re.compile(r"""["'](?:/problems/[a-z0-9-]+|about:blank)["']""")
CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
TYPED = sorted(problems.BY_SLUG)


def call_sites():
    """(file, line, callee, call) of every problem(...) and abort(...) call in the package."""
    for source in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Call):
                callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
                if callee in ("problem", "abort"):
                    yield source, node.lineno, callee, node


def problem_of(callee, call):
    """The catalogue entry a call site answers with, or the reason it cannot be told from the source."""
    kind = call.args[0] if call.args else None
    if isinstance(kind, ast.Attribute) and isinstance(kind.value, ast.Name) and kind.value.id == "problems":
        entry = getattr(problems, kind.attr, None)
        return entry if isinstance(entry, problems.ProblemType) else f"problems.{kind.attr} is not an entry"
    if isinstance(kind, ast.Constant) and isinstance(kind.value, int):
        if callee == "abort" and kind.value == 422 and any(word.arg == "messages" for word in call.keywords):
            return problems.VALIDATION_ERROR  # errors.py answers an abort with field messages so
        return problems.registered(kind.value) or f"no about:blank entry for {kind.value}"
    return f"{ast.unparse(kind) if kind else 'nothing'}: neither an entry nor a status"


def test_every_call_site_sends_a_problem_of_the_catalogue():
    sites = list(call_sites())
    assert len(sites) > 30  # the scan sees the code
    unknown = []
    for source, line, callee, call in sites:
        if source == ERRORS:  # the handler's problem(error.code, ...) is checked at run time (below)
            continue
        entry = problem_of(callee, call)
        if not isinstance(entry, problems.ProblemType):
            unknown.append(f"{source.relative_to(REPO)}:{line}: {entry}")
    assert unknown == [], "problems the catalogue (tracker_api/web/problems.py) lacks:\n" + "\n".join(unknown)


def test_the_call_sites_use_the_typed_problems_of_the_catalogue():
    used = {problem_of(callee, call) for source, _, callee, call in call_sites() if source != ERRORS}
    assert {entry.slug for entry in used if isinstance(entry, problems.ProblemType) and entry.slug} | \
        {"validation-error"} == set(problems.BY_SLUG), "an entry no code sends, or one sent only from errors.py"


def test_no_problem_type_is_spelled_out_outside_the_catalogue():
    for source in PACKAGE.rglob("*.py"):
        if source != CATALOGUE:
            assert not PROBLEM_TYPE_LITERAL.search(source.read_text()), source.relative_to(REPO)


def bare_app(testing):
    """An app with nothing but Flask-Babel, as errors.py needs."""
    app = Flask(__name__)
    app.testing = testing
    Babel(app)
    return app


def test_problem_refuses_under_test_what_the_catalogue_lacks():
    app = bare_app(testing=True)
    stray = problems.ProblemType(403, "made-up", "Made up", "", "")
    with app.test_request_context():
        with pytest.raises(LookupError, match="418"):
            problem(418, "I'm a teapot.")
        with pytest.raises(LookupError, match="made-up"):
            problem(stray, "Not registered.")
        with pytest.raises(TypeError, match="problems.py"):
            problem(404, "A free string type.", type_="/problems/made-up")


def test_problem_logs_and_sends_about_blank_in_production_for_what_the_catalogue_lacks(caplog):
    app = bare_app(testing=False)
    with app.test_request_context():
        response = problem(418, "I'm a teapot.")
    assert response.status_code == 418 and response.get_json()["type"] == "about:blank"
    assert "not in the catalogue" in caplog.text


def test_about_blank_entries_are_titled_with_their_status_phrase():
    for status, entry in problems.BY_STATUS.items():
        assert entry.type == "about:blank" and str(entry.title) == HTTPStatus(status).phrase


def test_every_entry_has_a_status_a_title_and_both_paragraphs():
    for entry in problems.catalogue():
        assert 400 <= entry.status < 600
        assert all(str(text).strip() for text in (entry.title, entry.happened, entry.fix)), entry
    assert all(entry.type == f"/problems/{slug}" for slug, entry in problems.BY_SLUG.items())


# --- the pages --------------------------------------------------------------------------------------------------

def page_text(response):
    """The page's text, tags dropped (a `name` of the catalogue is a <code> element there)."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", response.get_data(as_text=True))))


def in_language(app, language, text):
    """A catalogue text as a page in `language` shows it."""
    with app.test_request_context(), force_locale(language):
        return re.sub(r"`", "", str(text))


@pytest.mark.parametrize("slug", TYPED)
@pytest.mark.parametrize("language", ["en", "ru"])
def test_each_problem_type_has_its_page_in_both_languages(http, app, slug, language):
    entry = problems.BY_SLUG[slug]
    response = http.get(entry.type, headers={"Accept-Language": f"{language};q=0.9, *;q=0.1"})
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["Content-Language"] == language and "Accept-Language" in response.headers["Vary"]
    assert response.headers["Content-Security-Policy"] == DOCS_POLICY.format(
        script_sources=script_sources(response.get_data(as_text=True)))
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"].split("style-src")[0]
    text = page_text(response)
    for part in (entry.title, entry.happened, entry.fix):
        assert in_language(app, language, part) in text
    assert f'lang="{language}"' in response.get_data(as_text=True)
    other = "ru" if language == "en" else "en"
    assert f'href="?lang={other}"' in response.get_data(as_text=True)
    assert bool(CYRILLIC.search(in_language(app, language, entry.fix))) == (language == "ru")


def test_lang_in_the_query_wins_over_accept_language(http, app):
    response = http.get("/problems/wrong-bot?lang=ru", headers={"Accept-Language": "en"})
    assert response.headers["Content-Language"] == "ru"
    assert in_language(app, "ru", problems.WRONG_BOT.title) in page_text(response)


def test_a_page_needs_no_key_and_an_unknown_one_is_a_404_problem(http, app):
    assert http.get("/problems/rate-limited").status_code == 200
    missing = http.get("/problems/no-such-problem", headers={"Accept-Language": "ru"})
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    assert missing.get_json()["type"] == "about:blank" and CYRILLIC.search(missing.get_json()["title"])


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_index_lists_every_problem_and_links_the_typed_ones(http, app, language):
    response = http.get(f"/problems/?lang={language}")
    assert response.status_code == 200 and response.headers["Content-Language"] == language
    page, text = response.get_data(as_text=True), page_text(response)
    for entry in problems.catalogue():
        assert in_language(app, language, entry.happened) in text
        anchor = entry.slug or f"status-{entry.status}"
        assert f'id="{anchor}"' in page
        if entry.slug:
            assert f'href="/problems/{entry.slug}?lang={language}"' in page


def test_a_page_puts_the_names_in_code_and_escapes_everything(app):
    with app.test_request_context():
        page = render_template_string('{% from "problem_pages/macros.html" import with_code %}{{ with_code(text) }}',
                                      text="Send `<b>x</b>` & <script>alert(1)</script> as `name`.")
    assert page == ("Send <code>&lt;b&gt;x&lt;/b&gt;</code> &amp; &lt;script&gt;alert(1)&lt;/script&gt; as "
                    "<code>name</code>.")
