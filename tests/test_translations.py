"""Russian for every message the API can send (tracker_api/web/i18n.py): the catalogue has a translation for each
message in the code (extracted as `make translations` does), its compiled .mo matches its .po, the libraries'
messages we translate are the ones they send, and real requests with `Accept-Language: ru` come back in Russian with
the machine-readable parts unchanged."""
import inspect
import re

import marshmallow as ma
import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from marshmallow import validate
from webargs import flaskparser

from conftest import make_tracking
from servers import REPO
from tracker_api.serialization.spreadsheets import XLSX_TYPE
from tracker_api.web import i18n

CATALOGUE = REPO / "tracker_api" / "translations" / "ru" / "LC_MESSAGES"
EXTRA_KEYWORDS = ("lazy_gettext", "_l", "N_")  # beside Babel's defaults (gettext, _, ...): as in the Makefile
CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
PLACEHOLDERS = re.compile(r"%\(\w+\)s|\{\w+(?:![rs])?\}")


def russian_catalogue():
    with open(CATALOGUE / "messages.po", "rb") as po:
        return read_po(po, locale="ru")


def messages_in_the_code():
    """Every message id the code and the page templates mark, as `make translations` collects them."""
    with open(REPO / "babel.cfg") as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    keywords = {**DEFAULT_KEYWORDS, **{keyword: None for keyword in EXTRA_KEYWORDS}}
    return {message for _, _, message, _, _ in extract_from_dir(str(REPO), method_map, options_map, keywords)}


def test_the_makefile_collects_messages_as_this_test_does():
    recipe = (REPO / "Makefile").read_text().split("\ntranslations:", 1)[1]
    assert all(f"-k {keyword}" in recipe for keyword in EXTRA_KEYWORDS) and "-F babel.cfg" in recipe


def test_every_message_of_the_code_has_its_russian():
    in_code, catalogue = messages_in_the_code(), russian_catalogue()
    assert len(in_code) > 150  # the extraction sees the code
    translated = {message.id for message in catalogue if message.id and message.string and not message.fuzzy}
    assert sorted(in_code - translated) == [], "messages without Russian: run `make translations`, fill the msgstr"
    stale = {message.id for message in catalogue if message.id} - in_code
    assert stale == set(), "messages the code no longer has: run `make translations`"


def test_each_translation_keeps_the_values_of_its_message():
    for message in russian_catalogue():
        if message.id:
            assert sorted(PLACEHOLDERS.findall(message.id.replace("!r}", "}"))) == \
                sorted(PLACEHOLDERS.findall(message.string)), message.id
            assert CYRILLIC.search(message.string) or message.id in {"loopback", "multicast"}, message.id


def test_the_compiled_catalogue_is_the_po_file():
    with open(CATALOGUE / "messages.mo", "rb") as mo:
        compiled = {message.id: message.string for message in read_mo(mo) if message.id}
    assert compiled == {message.id: message.string for message in russian_catalogue() if message.id}, \
        "messages.mo is stale: run `make translations`"


# --- the libraries' messages ------------------------------------------------------------------------------------

def marshmallow_messages():
    """Every message marshmallow's fields, schemas and validators can send, with Range's spelled out."""
    messages = set(ma.Schema._default_error_messages.values())
    for field in vars(ma.fields).values():
        if inspect.isclass(field) and issubclass(field, ma.fields.Field):
            for cls in field.__mro__:
                messages |= set(getattr(cls, "default_error_messages", {}).values())
    for validator in vars(validate).values():
        if inspect.isclass(validator) and issubclass(validator, validate.Validator):
            messages |= {value for name, value in vars(validator).items()
                         if name in ("default_message", "message_all", "message_min", "message_max",
                                     "message_equal") and "_op}" not in value}
    for min_inclusive in (True, False):
        for max_inclusive in (True, False):
            for bounds in ({"min": 1, "max": 2}, {"min": 1}, {"max": 2}):
                ranged = validate.Range(**bounds, min_inclusive=min_inclusive, max_inclusive=max_inclusive)
                # Range composes its messages with the comparisons when it is made
                messages.add(ranged.message_all if len(bounds) == 2 else (
                    ranged.message_min if "min" in bounds else ranged.message_max))
    return messages


def test_every_marshmallow_message_is_in_the_catalogue():
    assert marshmallow_messages() - set(i18n.MARSHMALLOW_MESSAGES) == set()


def test_the_library_messages_are_the_ones_werkzeug_and_webargs_send():
    sent = {exception.description for exception in i18n.WERKZEUG_EXCEPTIONS}
    sent |= set(re.findall(r'\["(Invalid JSON body\.)"\]', inspect.getsource(flaskparser)))
    assert sent == set(i18n.LIBRARY_MESSAGES)


@pytest.mark.parametrize("english, russian", [
    ("Must be greater than or equal to 1 and less than or equal to 100.", "Должно быть не меньше 1 и не больше 100."),
    ("Must be one of: pending, in_transit.", "Допустимые значения: pending, in_transit."),
    ("Longer than maximum length 64.", "Длиннее допустимого: не больше 64."),
    ("Not a valid integer.", "Не целое число."),
    ("Some text no catalogue has.", "Some text no catalogue has."),
])
def test_marshmallow_messages_are_translated_with_their_values(app, english, russian):
    with app.test_request_context(headers={"Accept-Language": "ru"}):
        assert i18n.localize(english) == russian
    with app.test_request_context():
        assert i18n.localize(english) == english


@pytest.mark.parametrize("header, language", [
    ("ru", "ru"), ("ru-RU,ru;q=0.9,en-US;q=0.8", "ru"), ("en-US,en;q=0.9,ru;q=0.8", "en"), ("kk-KZ", "en"),
    ("", "en"), ("de, ru;q=0.5", "ru"),
])
def test_accept_language_picks_the_language(app, header, language):
    with app.test_request_context(headers={"Accept-Language": header} if header else {}):
        assert i18n.current_language() == language


# --- real answers --------------------------------------------------------------------------------------------------

def field_names(errors):
    """The structure of `errors` without its messages: the keys at every depth."""
    if isinstance(errors, dict):
        return {key: field_names(value) for key, value in errors.items()}
    if isinstance(errors, list):
        return [field_names(value) for value in errors if not isinstance(value, str)]
    return None


def messages(errors):
    """Every message in `errors`, where each field has a list of messages (or fields of its own)."""
    if errors is None:
        return []
    assert isinstance(errors, dict), errors
    return [message for value in errors.values()
            for message in (value if isinstance(value, list) and all(isinstance(m, str) for m in value)
                            else messages(value))]


def bad_requests(tenant, other_tenant, tracking_id):
    """(name, method, path, keyword arguments) of requests that each answer a different problem."""
    key = tenant.headers
    bot = tenant.bot_id
    return [
        ("no key", "get", f"/api/v1/bots/{bot}", {}),
        ("another bot", "get", f"/api/v1/bots/{other_tenant.bot_id}", {"headers": key}),
        ("bad query", "get", f"/api/v1/tracking/{bot}?page_size=0&status_filter=lost", {"headers": key}),
        ("bad body", "post", f"/api/v1/tracking/{bot}", {"headers": key, "json": {
            "tracking_number": "!bad", "quantity": "five", "weight_kg": 1.2345, "colour": "red"}}),
        ("no change", "put", f"/api/v1/tracking/{bot}/{tracking_id}", {"headers": key, "json": {}}),
        ("missing record", "get", f"/api/v1/tracking/{bot}/{tracking_id + 1000}", {"headers": key}),
        ("duplicate", "post", f"/api/v1/tracking/{bot}", {"headers": key, "json": {
            "tracking_number": "ABC123456", "client_code": "CLIENT123", "status": "pending"}}),
        ("changed since read", "put", f"/api/v1/tracking/{bot}/{tracking_id}", {
            "headers": {**key, "If-Match": '"stale"'}, "json": {"status": "in_transit"}}),
        ("not json", "post", f"/api/v1/tracking/{bot}", {"headers": key, "data": "x", "content_type": "text/plain"}),
        ("broken json", "post", f"/api/v1/tracking/{bot}", {
            "headers": key, "data": "{", "content_type": "application/json"}),
        ("bad idempotency key", "post", f"/api/v1/tracking/{bot}", {
            "headers": {**key, "Idempotency-Key": "has spaces"}, "json": {}}),
        ("rejected import", "post", f"/api/v1/clients/{bot}/import", {"headers": key, "json": [
            {"client_code": "NEW1", "phone": "call me"}, {"client_code": "NEW2"}, {"client_code": "NEW2"}]}),
        ("no such path", "get", "/api/v1/nothing-here", {"headers": key}),
        ("wrong method", "patch", f"/api/v1/tracking/{bot}/{tracking_id}", {"headers": key, "json": {}}),
        ("bad feed", "get", f"/api/v1/clients/{bot}?updated_since=yesterday&cursor=x", {"headers": key}),
        ("nothing to restore", "post", f"/api/v1/tracking/{bot}/{tracking_id}/restore", {"headers": key}),
        ("no such number", "get", f"/api/v1/tracking/{bot}/by-number/NOSUCH1", {"headers": key}),
        ("unknown time zone", "get", f"/api/v1/statistics/{bot}/tracking?tz=Mars/Olympus", {"headers": key}),
        ("no export format", "get", f"/api/v1/export/{bot}/tracking", {"headers": {**key, "Accept": "image/png"}}),
        ("unknown import column", "post", f"/api/v1/clients/{bot}/import", {
            "headers": key, "data": "client_code;colour\nNEW1;red\n", "content_type": "text/csv"}),
        ("import not in its charset", "post", f"/api/v1/clients/{bot}/import", {
            "headers": key, "data": b"client_code\nN\xc3\n", "content_type": "text/csv; charset=utf-8"}),
        ("unreadable workbook", "post", f"/api/v1/clients/{bot}/import", {
            "headers": key, "data": b"not a zip", "content_type": XLSX_TYPE}),
        ("bad NDJSON line", "post", f"/api/v1/clients/{bot}/import", {
            "headers": key, "data": '{"client_code": "NEW1"}\n{', "content_type": "application/x-ndjson"}),
    ]


def test_a_problem_in_russian_changes_only_what_people_read(http, tenant, other_tenant, app):
    tracking_id = make_tracking(app, tenant.bot_id)  # ABC123456 of CLIENT123
    for name, method, path, kwargs in bad_requests(tenant, other_tenant, tracking_id):
        answers = {}
        for language in ("en", "ru"):
            headers = {**kwargs.get("headers", {}), "Accept-Language": language}
            response = getattr(http, method)(path, **{**kwargs, "headers": headers})
            assert response.mimetype == "application/problem+json", (name, response.status_code)
            answers[language] = (response, response.get_json())
        (english_response, english), (russian_response, russian) = answers["en"], answers["ru"]
        assert russian_response.status_code == english_response.status_code, name
        assert russian_response.headers["Content-Language"] == "ru", name
        assert "Accept-Language" in russian_response.headers["Vary"], name
        assert (russian["type"], russian["status"]) == (english["type"], english["status"]), name
        assert field_names(russian.get("errors")) == field_names(english.get("errors")), name
        assert set(russian) == set(english), name
        for text in (russian["title"], russian["detail"], *messages(russian.get("errors"))):
            assert CYRILLIC.search(text), f"{name}: {text!r} is not Russian"
        for text in (english["title"], english["detail"], *messages(english.get("errors"))):
            assert not CYRILLIC.search(text), f"{name}: {text!r} is not English"
