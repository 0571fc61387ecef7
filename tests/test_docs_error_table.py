"""The integration guide's error table (English and Russian) names every problem the code can send: each
`/problems/...` type and each status that a `problem(...)` or `abort(...)` call in tracker_api/ answers with, and
the 304 of a matched If-None-Match. A new problem type or status in the code fails here until the table has it."""
import re

import pytest

from servers import REPO

PACKAGE = REPO / "tracker_api"
GUIDES = [REPO / "docs" / "API_INTEGRATION_GUIDE.md", REPO / "docs" / "ru" / "API_INTEGRATION_GUIDE.md"]
PROBLEM_TYPE = re.compile(r"""type_=["'](/problems/[a-z0-9-]+)["']""")
STATUS_CALL = re.compile(r"\b(?:problem|abort)\(\s*(\d{3})\b")
TABLE_ROW = re.compile(r"^\| (\d{3}) \| (`[^`]+`|\([^)]*\)) \|", re.MULTILINE)


def sent_by_the_code():
    """(problem types, statuses) that the package's source spells out."""
    types, statuses = set(), {304}  # 304: flask-smorest's NotModified, answered by errors.py without a body
    for source in PACKAGE.rglob("*.py"):
        text = source.read_text()
        types |= set(PROBLEM_TYPE.findall(text))
        statuses |= {int(status) for status in STATUS_CALL.findall(text)}
    return types, statuses


def error_table(guide):
    """(status, type) of each row of the guide's error table; the 304's "(no body)", in either language, as None."""
    return {(int(status), kind.strip("`") if kind.startswith("`") else None)
            for status, kind in TABLE_ROW.findall(guide.read_text())}


def test_the_code_sends_the_problems_this_test_expects():
    types, statuses = sent_by_the_code()
    assert {"/problems/validation-error", "/problems/wrong-bot", "/problems/import-rejected"} <= types
    assert {401, 403, 404, 409, 412, 422, 503} <= statuses


@pytest.mark.parametrize("guide", GUIDES, ids=lambda path: str(path.relative_to(REPO)))
def test_the_error_table_lists_every_problem_type_and_status_the_code_sends(guide):
    types, statuses = sent_by_the_code()
    rows = error_table(guide)
    assert types - {kind for _, kind in rows} == set(), "problem types missing from the error table"
    assert statuses - {status for status, _ in rows} == set(), "statuses missing from the error table"
    assert {kind for _, kind in rows if kind and kind.startswith("/problems/")} <= types, \
        "the table names a type never sent"


def test_the_english_and_russian_tables_have_the_same_rows():
    english, russian = (error_table(guide) for guide in GUIDES)
    assert english == russian
