"""The pages a problem's `type` points at: `/problems/<slug>` says what happened and how to fix it, `/problems/`
lists every problem (the about:blank ones too), in English or Russian by Accept-Language or `?lang=en|ru`.

Public like the docs: no key. HTML, so security_headers.py gives them the docs' policy (no script is needed).
"""
import re

from flask import Blueprint, abort, render_template, request
from flask_babel import force_locale

from . import problems
from .i18n import LANGUAGES, current_language

blp = Blueprint("problem_pages", __name__, url_prefix=problems.PAGES, template_folder="templates")
CODE_SPAN = re.compile(r"`([^`]+)`")


@blp.app_template_filter("code_parts")
def code_parts(text):
    """`text` as (part, is_code) pairs, a catalogue's `name` being code: the with_code macro (macros.html) puts
    those in <code>. No HTML is built here, so Jinja's autoescape escapes every part."""
    parts = CODE_SPAN.split(str(text))  # text, name, text, name, ..., text
    return [(part, index % 2 == 1) for index, part in enumerate(parts) if part]


def render_page(template, **context):
    """The page in `?lang=` if given, else by Accept-Language; the answer says which and that it varies."""
    asked = request.args.get("lang")
    language = asked if asked in LANGUAGES else current_language()
    with force_locale(language):
        html = render_template(template, language=language, languages=LANGUAGES, **context)
    return html, {"Content-Language": language, "Vary": "Accept-Language"}


@blp.get("/")
def index():
    return render_page("problem_pages/index.html", entries=problems.catalogue())


@blp.get("/<slug>")
def problem_page(slug):
    entry = problems.BY_SLUG.get(slug)
    if entry is None:
        abort(404)
    return render_page("problem_pages/problem.html", entry=entry)
