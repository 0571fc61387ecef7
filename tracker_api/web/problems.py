"""The error catalogue: every problem the API can answer with, one entry each, the only place a problem type is named.

A typed problem's `type` is `/problems/<slug>`, a page the app serves (web/problem_pages.py) saying what happened
and how to fix it, in English and Russian. A problem whose status says it all has the type `about:blank` and the
status phrase as its title (RFC 9457, 4.2.1): one entry per status, on the catalogue's index page. `problem()`
(errors.py) takes an entry (or a status with an `about:blank` entry) and refuses anything else under TESTING;
tests/test_problem_catalogue.py finds every call site and checks the guide's error table against this registry.

To add a problem type, add one entry below and answer with it:

    NEW_THING = typed("new-thing", 409, _l("Title"), _l("What happened."), _l("How to fix it."))
    return problem(problems.NEW_THING, gettext("What happened to this request."))

(a status that a plain `abort(status, message=...)` answers needs its `blank(...)` entry the same way). Then
`make translations` and write the Russian of the new messages in tracker_api/translations/ru/LC_MESSAGES/messages.po
(web/i18n.py says more), and add the row to the error tables of docs/API_INTEGRATION_GUIDE.md and its docs/ru twin:
the tests name whatever is missing.
"""
from dataclasses import dataclass

from .i18n import lazy_gettext as _l

PAGES = "/problems"
BLANK = "about:blank"


@dataclass(frozen=True)
class ProblemType:
    """One kind of problem: its status, its title and the page's two paragraphs (lazy strings, read per language)."""

    status: int
    slug: str | None  # None: about:blank
    title: object
    happened: object
    fix: object

    @property
    def type(self):
        return f"{PAGES}/{self.slug}" if self.slug else BLANK


BY_SLUG: dict[str, ProblemType] = {}
BY_STATUS: dict[int, ProblemType] = {}  # the about:blank problems


def typed(slug, status, title, happened, fix):
    """Register a problem type with its own page."""
    if slug in BY_SLUG:
        raise ValueError(f"problem type {slug} registered twice")
    BY_SLUG[slug] = ProblemType(status, slug, title, happened, fix)
    return BY_SLUG[slug]


def blank(status, title, happened, fix):
    """Register the about:blank problem of a status; its title is the status phrase, HTTPStatus(status).phrase in
    English (RFC 9457), which tests/test_problem_catalogue.py checks."""
    if status in BY_STATUS:
        raise ValueError(f"the about:blank problem of {status} registered twice")
    BY_STATUS[status] = ProblemType(status, None, title, happened, fix)
    return BY_STATUS[status]


def registered(kind):
    """The entry for `kind` (an entry, or a status answered with about:blank), or None if the catalogue lacks it."""
    if isinstance(kind, ProblemType):
        return kind if BY_SLUG.get(kind.slug) is kind or BY_STATUS.get(kind.status) is kind else None
    return BY_STATUS.get(kind)


def catalogue():
    """Every entry, by status, the about:blank one of a status first."""
    return sorted([*BY_STATUS.values(), *BY_SLUG.values()], key=lambda entry: (entry.status, entry.slug or ""))


# --- problems with a type of their own ---------------------------------------------------------------------------
VALIDATION_ERROR = typed(
    "validation-error", 422, _l("Invalid fields"),
    _l("A field of the body, a query parameter or a header is missing or invalid. `errors` names each field with "
       "its messages; `_body` holds what concerns the body as a whole."),
    _l("Correct the fields named in `errors` and send the request again; resending it unchanged gives the same "
       "answer."))
IMPORT_REJECTED = typed(
    "import-rejected", 422, _l("Import rejected"),
    _l("At least one row of the import has an error, so nothing was imported. `errors` lists the failing rows, "
       "`results` every row and `counts` how many were valid."),
    _l("Fix the rows named in `errors` and send the whole import again: it is all or nothing."))
INVALID_IDEMPOTENCY_KEY = typed(
    "invalid-idempotency-key", 400, _l("Invalid Idempotency-Key"),
    _l("The Idempotency-Key header is not 1 to 255 visible ASCII characters."),
    _l("Send a key such as a UUID made once per operation, and the same key when you retry it."))
IDEMPOTENCY_KEY_REUSED = typed(
    "idempotency-key-reused", 422, _l("Idempotency-Key reused"),
    _l("This Idempotency-Key was already used with a different request (method, path or body)."),
    _l("Make a new key for each new operation; reuse a key only to retry exactly the same request."))
IDEMPOTENCY_KEY_IN_USE = typed(
    "idempotency-key-in-use", 409, _l("Idempotency-Key in use"),
    _l("A request with this Idempotency-Key is still being processed."),
    _l("Wait the seconds given in Retry-After, then retry with the same key: you will get that request's answer."))
IDEMPOTENCY_ANSWER_LOST = typed(
    "idempotency-answer-lost", 409, _l("Idempotent answer lost"),
    _l("The request first sent with this Idempotency-Key was carried out, but its answer was lost and what it "
       "created no longer exists."),
    _l("Read the current state of the records concerned instead of retrying."))
INVALID_API_KEY = typed(
    "invalid-api-key", 401, _l("Invalid API key"),
    _l("No API key was sent, or it is unknown, revoked or expired, or it was sent in the URL. For safety the answer "
       "is the same in every case."),
    _l("Send your bot's key in the X-API-Key header (never in the URL); if it still fails, ask the platform for a "
       "new key."))
WRONG_BOT = typed(
    "wrong-bot", 403, _l("Wrong bot"),
    _l("The bot id in the path is not the bot this API key belongs to. A key reaches only its own bot."),
    _l("Use your own bot's id in the path, or the key of the bot you mean."))
BOT_INACTIVE = typed(
    "bot-inactive", 403, _l("Bot inactive"),
    _l("This bot is switched off, so none of its API keys can be used."),
    _l("Contact the platform to have the bot switched on again."))
PUBLISHABLE_KEY = typed(
    "publishable-key", 403, _l("Publishable key not accepted"),
    _l("A publishable key (tb_pk_...) was sent to an endpoint other than the tracking widget's parcel lookup."),
    _l("Call this endpoint from your server with a secret key; publishable keys are for the widget only."))
ORIGIN_NOT_ALLOWED = typed(
    "origin-not-allowed", 403, _l("Origin not allowed"),
    _l("The tracking widget was used from a page whose origin the publishable key was not issued for, or the "
       "request had no Origin header."),
    _l("Use the widget on the site the key was issued for, or ask the platform for a key for this origin."))
SECRET_KEY_IN_BROWSER = typed(
    "secret-key-in-browser", 403, _l("Secret key sent from a browser"),
    _l("A secret API key was sent by a browser (with an Origin header) to the widget's lookup: the key is "
       "published in a web page and must be considered leaked."),
    _l("Have the key revoked and a new one issued; in web pages use a publishable key (tb_pk_...)."))
RATE_LIMITED = typed(
    "rate-limited", 429, _l("Rate limit exceeded"),
    _l("The budget of requests for this minute is spent: the API key's, the address's (without a valid key) or "
       "the tracking widget's."),
    _l("Wait the seconds given in Retry-After before the next request; spread requests out or ask for a larger "
       "budget."))
ADDRESS_BLOCKED = typed(
    "address-blocked", 429, _l("Address blocked"),
    _l("Too many requests with invalid API keys came from your address, so it is blocked for a while."),
    _l("Fix the API key your client sends, then wait the seconds given in Retry-After."))

INSUFFICIENT_SCOPE = typed(
    "insufficient-scope", 403, _l("Insufficient scope"),
    _l("The API key is valid, but its scopes do not include the one this operation needs (named in "
       "required_scope): read for GET, write for creates, updates and imports, delete for DELETE, webhooks for "
       "webhook endpoints."),
    _l("Use a key whose scopes include it, or ask the platform to add the scope to this key."))
INVALID_PLATFORM_TOKEN = typed(
    "invalid-platform-token", 401, _l("Invalid platform token"),
    _l("The platform admin API needs a valid platform token in Authorization: Bearer tp_...; none was sent, or it "
       "is unknown or revoked. A bot's API key is never accepted there."),
    _l("Send the platform's token as a Bearer token; the operator issues one with flask platform-tokens create."))

# --- problems whose status says it all (about:blank) -------------------------------------------------------------
BAD_REQUEST = blank(
    400, _l("Bad Request"),
    _l("The request could not be read: the body is not valid JSON (or is nested too deeply, or holds a number too "
       "long), or an import's file is malformed: CSV that is not text in its charset or breaks the CSV rules, an "
       "NDJSON line that is not JSON, an XLSX file that is no readable workbook."),
    _l("Check how the body is encoded and send it again."))
NOT_FOUND = blank(
    404, _l("Not Found"),
    _l("There is no such record in this bot (tracking number, client, webhook endpoint, delivery, the widget's "
       "parcel), or no such path. Another bot's record is as absent as a missing one."),
    _l("Check the id and the path."))
METHOD_NOT_ALLOWED = blank(
    405, _l("Method Not Allowed"),
    _l("The path exists but does not take this method; the Allow header lists the ones it takes."),
    _l("Use one of the methods in Allow."))
NOT_ACCEPTABLE = blank(
    406, _l("Not Acceptable"),
    _l("The Accept header of an export allows neither CSV nor NDJSON."),
    _l("Pass format=csv or format=ndjson, or accept one of those types."))
CONFLICT = blank(
    409, _l("Conflict"),
    _l("The request conflicts with the bot's data: the tracking number or client code already exists (existing_id "
       "names it), the bot has as many webhook endpoints as it may, a test event went to a disabled endpoint, or "
       "the request outlived its hold on its Idempotency-Key."),
    _l("Update the existing record instead, delete or enable an endpoint first, or let the retry's answer stand; "
       "detail says which."))
GONE = blank(
    410, _l("Gone"),
    _l("The deleted record was deleted longer ago than the restore window (RESTORE_WINDOW_DAYS, 30 days unless "
       "configured): its data has been purged and it cannot be restored."),
    _l("Create the record again; restore a deleted record within the window next time."))
PRECONDITION_FAILED = blank(
    412, _l("Precondition Failed"),
    _l("If-Match does not match the record's ETag: the record changed since you read it, and nothing was written."),
    _l("Read the record again, then retry with its new ETag."))
REQUEST_TOO_LARGE = blank(
    413, _l("Request Entity Too Large"),
    _l("The body is larger than the API accepts (1 MiB), or an import has more rows than max_rows, or an XLSX "
       "import unpacks to more than the API accepts (or far more than it packs to, like a zip bomb)."),
    _l("Send less: split the import into parts."))
UNSUPPORTED_MEDIA_TYPE = blank(
    415, _l("Unsupported Media Type"),
    _l("The body is not application/json (or, for an import, none of a JSON array, NDJSON, CSV and an XLSX "
       "workbook)."),
    _l("Send JSON with Content-Type: application/json; to an import also NDJSON (application/x-ndjson), CSV "
       "(text/csv) or XLSX, with its content type."))
UNPROCESSABLE_ENTITY = blank(
    422, _l("Unprocessable Entity"),
    _l("The request is well formed but cannot be carried out as it is: an import's header names a column the "
       "import does not know (detail says how the file was read), or an XLSX export would hold more rows than "
       "EXPORT_XLSX_MAX_ROWS."),
    _l("Fix the file's header (or its charset or delimiter), or export as CSV or NDJSON, which have no row limit, "
       "or filter the export."))
INTERNAL_SERVER_ERROR = blank(
    500, _l("Internal Server Error"),
    _l("The server failed to handle this request. The fault is logged with the request id."),
    _l("Retry later; if it keeps failing, report the request_id to the platform."))
SERVICE_UNAVAILABLE = blank(
    503, _l("Service Unavailable"),
    _l("The database (or every app server) is unavailable for a moment, or a statement ran too long."),
    _l("Wait the seconds given in Retry-After, then retry."))
