"""The Russian docs (docs/ru/) keep step with the English ones (docs/): each English page has a Russian twin and
links to it, the twin links back, both have the same sections (as many headings of each level, in the same order)
and the same fenced code blocks byte for byte, so every Russian sample is one that tests/test_docs_samples.py
checks (and tests/test_examples.py runs) for the English page. Either side drifting fails here."""
import re

import pytest

from servers import REPO
from test_docs_samples import fenced_blocks

DOCS = REPO / "docs"
TRANSLATED = ["API_QUICK_START.md", "API_INTEGRATION_GUIDE.md", "FAQ.md"]
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*$")
FENCE = re.compile(r"^\s*```")
INLINE_CODE = re.compile(r"`[^`]*`|\]\([^)]*\)|https?://\S+")
CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
LATIN = re.compile(r"[a-z]", re.IGNORECASE)


def prose_lines(path):
    """(number, line) of the lines outside fenced code blocks."""
    lines, inside = [], False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if FENCE.match(line):
            inside = not inside
        elif not inside:
            lines.append((number, line))
    return lines


def numbered_headings(path):
    return [(number, len(match.group(1)), match.group(2)) for number, line in prose_lines(path)
            if (match := HEADING.match(line))]


def headings(path):
    """(level, text) of every heading outside code blocks, in order."""
    return [(level, text) for _, level, text in numbered_headings(path)]


def code_blocks(path):
    """(section, language, text) of every fenced block: its section is the number of headings above it, so a block
    moved to another section is a drift too."""
    heading_lines = [number for number, _, _ in numbered_headings(path)]
    return [(sum(number < block.line for number in heading_lines), block.language, block.text)
            for block in fenced_blocks(path)]


def check_same_sections(english, russian):
    ours, theirs = headings(english), headings(russian)
    for index, ((level, text), (their_level, their_text)) in enumerate(zip(ours, theirs)):
        assert level == their_level, (f"heading {index + 1}: {'#' * level} {text!r} in {english.name} but "
                                      f"{'#' * their_level} {their_text!r} in ru/{russian.name}")
    assert len(ours) == len(theirs), (f"{english.name} has {len(ours)} headings, ru/{russian.name} {len(theirs)}; "
                                      f"the first unmatched: {(ours + theirs)[min(len(ours), len(theirs))]}")


def check_same_code_blocks(english, russian):
    ours, theirs = code_blocks(english), code_blocks(russian)
    for index, (block, their_block) in enumerate(zip(ours, theirs)):
        assert block == their_block, (f"code block {index + 1} of {english.name} differs in ru/{russian.name}:\n"
                                      f"{block}\n--- against ---\n{their_block}")
    assert len(ours) == len(theirs), f"{english.name} has {len(ours)} code blocks, ru/{russian.name} {len(theirs)}"


def cyrillic_share(path):
    """Of the letters in the prose (inline code, link targets and URLs left out), the share that is Cyrillic."""
    text = INLINE_CODE.sub("", "\n".join(line for _, line in prose_lines(path)))
    cyrillic, latin = len(CYRILLIC.findall(text)), len(LATIN.findall(text))
    return cyrillic / max(cyrillic + latin, 1)


@pytest.fixture(params=TRANSLATED)
def pair(request):
    return DOCS / request.param, DOCS / "ru" / request.param


def test_each_english_page_and_its_russian_twin_link_to_each_other(pair):
    english, russian = pair
    assert russian.is_file(), f"docs/ru/{russian.name} is missing"
    assert f"](ru/{english.name})" in english.read_text(), f"{english.name} does not link to ru/{english.name}"
    assert f"](../{english.name})" in russian.read_text(), f"ru/{russian.name} does not link back to ../{english.name}"


def test_the_twins_have_the_same_sections_in_the_same_order(pair):
    check_same_sections(*pair)


def test_the_twins_have_the_same_code_blocks_byte_for_byte(pair):
    check_same_code_blocks(*pair)


def test_the_russian_twin_is_written_in_russian(pair):
    """An English page copied over unchanged would pass the two checks above; its prose is mostly Latin."""
    english, russian = pair
    assert cyrillic_share(russian) > 0.6, f"ru/{russian.name}: {cyrillic_share(russian):.0%} of its prose is Cyrillic"
    assert cyrillic_share(english) < 0.1


def test_every_translated_page_is_in_the_list():
    """A new English page with a Russian twin is kept in step too: the twins in docs/ru/ are exactly the list."""
    assert sorted(path.name for path in (DOCS / "ru").glob("*.md")) == sorted(TRANSLATED)


def test_a_drift_on_either_side_is_caught(tmp_path):
    english, russian = tmp_path / "en.md", tmp_path / "ru.md"
    english.write_text("# Title\n\n## One\n\n```sh\nmake run\n```\n\n## Two\n\n### Detail\n")
    russian.write_text("# Заголовок\n\n## Один\n\n```sh\nmake run\n```\n\n## Два\n\n### Подробности\n")
    check_same_sections(english, russian)
    check_same_code_blocks(english, russian)
    for drifted in ("# Заголовок\n\n## Один\n\n```sh\nmake run\n```\n\n## Два\n",  # a section missing
                    "# Заголовок\n\n## Один\n\n```sh\nmake run\n```\n\n### Два\n\n### Подробности\n",  # a level moved
                    "# Заголовок\n\n## Один\n\n## Два\n\n### Подробности\n\n```sh\nmake run\n```\n"):  # order
        russian.write_text(drifted)
        with pytest.raises(AssertionError):
            check_same_sections(english, russian)
            check_same_code_blocks(english, russian)
    for drifted in ("```sh\nmake  run\n```\n", "```bash\nmake run\n```\n",
                    "```sh\nmake run\n```\n```sh\nmake test\n```\n", ""):
        russian.write_text(f"# Заголовок\n\n## Один\n\n{drifted}\n## Два\n\n### Подробности\n")
        with pytest.raises(AssertionError):
            check_same_code_blocks(english, russian)
