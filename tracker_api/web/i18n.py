"""The language of what people read in an answer: problem titles, details and field errors, English or Russian.

`Accept-Language` picks it (English when the client names neither); machine-readable parts (`type`, `status`,
field names) never change. Flask-Babel's gettext catalogue (tracker_api/translations/ru) holds every message.
Code marks its own with `gettext` when a request is being answered, `lazy_gettext` for a module constant that
becomes a detail, and `N_` for a message handed to marshmallow (which takes only str: a validator's `error=`, a
field's `error_messages`). Those, and the messages marshmallow, webargs and werkzeug write in English themselves
(marked below), are translated from their English form by `localize` when errors.py builds the answer.

To add or change a message: write it in English in the code, wrapped as above, then `make translations` and fill
in its `msgstr` in tracker_api/translations/ru/LC_MESSAGES/messages.po; `make translations` again compiles the
.mo. tests/test_translations.py fails while any message lacks its Russian.
"""
import re
from functools import cache

from flask import has_request_context, request
from flask_babel import get_locale, gettext, lazy_gettext  # noqa: F401  (re-exported for the project)
from werkzeug import exceptions

LANGUAGES = ("en", "ru")
DEFAULT_LANGUAGE = "en"
PLACEHOLDER = re.compile(r"\{(\w+)(?:![rs])?\}")


def N_(message):  # noqa: N802  (gettext's conventional no-op marker)
    """Marks a message for the catalogue without translating it: it is translated where it is shown."""
    return message


def either(names):
    """The names as `a or b` (`a or b or c`) in the request's language."""
    text = names[0]
    for name in names[1:]:
        text = gettext("%(first)s or %(second)s", first=text, second=name)
    return text


def select_language():
    """Flask-Babel's locale selector: the best of LANGUAGES by the request's Accept-Language."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT_LANGUAGE)


def current_language():
    return str(get_locale() or DEFAULT_LANGUAGE)


# marshmallow's messages, formatted in English by marshmallow itself ({...} are the values it fills in). Range's
# are spelled out per comparison, as marshmallow composes them in two steps. tests/test_translations.py checks
# that this list holds every message marshmallow's fields and validators have.
MARSHMALLOW_MESSAGES = (
    N_("Missing data for required field."), N_("Field may not be null."), N_("Invalid value."),
    N_("Unknown field."), N_("Invalid input type."), N_("Invalid type."), N_("Invalid input."),
    N_("Not a valid string."), N_("Not a valid utf-8 string."), N_("Not a valid integer."),
    N_("Not a valid number."), N_("Number too large."),
    N_("Special numeric values (nan or infinity) are not permitted."), N_("Not a valid boolean."),
    N_("Not a valid date."), N_("Not a valid {obj_type}."), N_("Not a valid {awareness} {obj_type}."),
    N_("\"{input}\" cannot be formatted as a date."), N_("\"{input}\" cannot be formatted as a {obj_type}."),
    N_("{input!r} cannot be formatted as a timedelta."), N_("Not a valid period of time."),
    N_("Not a valid list."), N_("Not a valid tuple."), N_("Not a valid mapping type."), N_("Not a valid URL."),
    N_("Not a valid email address."), N_("Not a valid UUID."), N_("Not a valid IP address."),
    N_("Not a valid IPv4 address."), N_("Not a valid IPv6 address."), N_("Not a valid IP interface."),
    N_("Not a valid IPv4 interface."), N_("Not a valid IPv6 interface."), N_("Must be one of: {choices}."),
    N_("One or more of the choices you made was in: {values}."),
    N_("One or more of the choices you made was not in: {choices}."), N_("Must be equal to {other}."),
    N_("Length must be between {min} and {max}."), N_("Length must be {equal}."),
    N_("Longer than maximum length {max}."), N_("Shorter than minimum length {min}."),
    N_("String does not match expected pattern."),
    N_("Must be greater than or equal to {min} and less than or equal to {max}."),
    N_("Must be greater than or equal to {min} and less than {max}."),
    N_("Must be greater than {min} and less than or equal to {max}."),
    N_("Must be greater than {min} and less than {max}."),
    N_("Must be greater than or equal to {min}."), N_("Must be greater than {min}."),
    N_("Must be less than or equal to {max}."), N_("Must be less than {max}."),
)
# The ones we do not know, for the statuses we answer, sent when no message was given. Checked against werkzeug and
# webargs by tests/test_translations.py.
LIBRARY_MESSAGES = (
    N_("The requested URL was not found on the server. If you entered the URL manually please check your "
       "spelling and try again."),
    N_("The method is not allowed for the requested URL."),
    N_("The data value transmitted exceeds the capacity limit."),
    N_("The browser (or proxy) sent a request that this server could not understand."),
    N_("The server does not support the media type transmitted in the request."),
    N_("The resource identified by the request is only capable of generating response entities which have "
       "content characteristics not acceptable according to the accept headers sent in the request."),
    N_("Invalid JSON body."),
)
WERKZEUG_EXCEPTIONS = (exceptions.NotFound, exceptions.MethodNotAllowed, exceptions.RequestEntityTooLarge,
                       exceptions.BadRequest, exceptions.UnsupportedMediaType, exceptions.NotAcceptable)


@cache
def _templates():
    """(regex matching a formatted English message, its template) for each message with values in it."""
    templates = []
    for template in MARSHMALLOW_MESSAGES:
        if PLACEHOLDER.search(template):
            parts = PLACEHOLDER.split(template)  # text, name, text, name, ..., text
            pattern = "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>.+?)"
                              for index, part in enumerate(parts))
            templates.append((re.compile(f"^{pattern}$", re.DOTALL), template))
    return templates


def localize(message):
    """`message` in the request's language: a lazy string is rendered; an English message from a library is looked
    up in the catalogue, whole or as one of marshmallow's templates with its values put back."""
    if not isinstance(message, str):
        return str(message)
    if current_language() == DEFAULT_LANGUAGE:
        return message
    translated = gettext(message)
    if translated != message:
        return translated
    for pattern, template in _templates():
        match = pattern.match(message)
        if match:
            values = match.groupdict()
            return PLACEHOLDER.sub(lambda name: values[name.group(1)], gettext(template))
    return message


def localize_field_errors(errors):
    """The 422's field errors with every message localized; field names (the keys) stay as they are."""
    if isinstance(errors, dict):
        return {field: localize_field_errors(messages) for field, messages in errors.items()}
    if isinstance(errors, list):
        return [localize_field_errors(message) for message in errors]
    return localize(errors)
