"""The integration guide's error table (English and Russian) is the error catalogue (tracker_api/web/problems.py):
one row or more per entry, `about:blank` ones by their status, and no row the catalogue lacks, besides the 304 of a
matched If-None-Match (no body, no problem). That the code sends only what the catalogue holds is checked by
tests/test_problem_catalogue.py."""
import re

import pytest

from servers import REPO
from tracker_api.web import problems

GUIDES = [REPO / "docs" / "API_INTEGRATION_GUIDE.md", REPO / "docs" / "ru" / "API_INTEGRATION_GUIDE.md"]
TABLE_ROW = re.compile(r"^\| (\d{3}) \| (`[^`]+`|\([^)]*\)) \|", re.MULTILINE)
NOT_MODIFIED = (304, None)  # flask-smorest's NotModified, answered by errors.py without a body


def catalogue_rows():
    """(status, type) of every problem the catalogue has."""
    return {(entry.status, entry.type) for entry in problems.catalogue()}


def error_table(guide):
    """(status, type) of each row of the guide's error table; the 304's "(no body)", in either language, as None."""
    return {(int(status), kind.strip("`") if kind.startswith("`") else None)
            for status, kind in TABLE_ROW.findall(guide.read_text())}


def test_the_catalogue_holds_the_problems_this_test_expects():
    rows = catalogue_rows()
    assert {(422, "/problems/validation-error"), (403, "/problems/wrong-bot"), (422, "/problems/import-rejected"),
            (404, "about:blank"), (412, "about:blank"), (503, "about:blank")} <= rows


@pytest.mark.parametrize("guide", GUIDES, ids=lambda path: str(path.relative_to(REPO)))
def test_the_error_table_is_the_catalogue(guide):
    rows = error_table(guide)
    assert catalogue_rows() - rows == set(), "problems of the catalogue missing from the error table"
    assert rows - catalogue_rows() - {NOT_MODIFIED} == set(), "the table has a problem the catalogue lacks"
    assert NOT_MODIFIED in rows


def test_the_english_and_russian_tables_have_the_same_rows():
    english, russian = (error_table(guide) for guide in GUIDES)
    assert english == russian
