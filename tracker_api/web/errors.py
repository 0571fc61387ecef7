"""Problem details (RFC 9457) for every error: `type`, `title`, `status`, `detail`, the request id and,
for 422, the field errors. Each problem is an entry of the catalogue (problems.py), its title and detail in the
request's language (i18n.py). Unexpected exceptions are logged and answered with a bare 500 problem. An error answer's
transaction is rolled back by database.roll_back_error_answer, so this module needs nothing else of the project."""
import logging
from http import HTTPStatus

import flask_smorest
import marshmallow as ma
from flask import Response, current_app, g, json, request

from . import problems
from .i18n import current_language, gettext, localize, localize_field_errors

log = logging.getLogger(__name__)
PROBLEM_MIMETYPE = "application/problem+json"


class ProblemSchema(ma.Schema):
    """Documents the error body (RFC 9457 problem details); responses are built by `problem()`."""

    class Meta:
        # RFC 9457 extension members: a problem may carry more, e.g. the 409's `existing_id`.
        unknown = ma.INCLUDE

    type = ma.fields.String(required=True, metadata={
        "example": problems.BLANK, "description": f"The kind of problem: `{problems.BLANK}` when the status says it "
        f"all, else `{problems.PAGES}/...`, a page of this API that says what happened and how to fix it (all of "
        f"them: `{problems.PAGES}/`)."})
    title = ma.fields.String(required=True, metadata={
        "example": "Invalid fields", "description": "A short summary of the kind of problem, in the language asked "
        "for with Accept-Language (en or ru)."})
    status = ma.fields.Integer(required=True, metadata={"example": 422})
    detail = ma.fields.String(required=True, metadata={
        "example": "page_size: Must be between 1 and 100.", "description": "A sentence for people, in the language "
        "asked for with Accept-Language (en or ru); its wording may change, so branch on `type` and `status`."})
    request_id = ma.fields.String(metadata={"example": "0f5a3c1e9b7d4c2a8e6f1b3d5a7c9e0f"})
    errors = ma.fields.Dict(metadata={"description": "422 only: the messages for each invalid field"})


def problem(kind, detail, *, headers=None, **extra):
    """A problem+json response for `kind`, an entry of the catalogue (problems.py) or a status answered with its
    about:blank entry; `detail` in the request's language; `extra` members (e.g. `existing_id`) join the body."""
    if "type_" in extra or "title" in extra:
        raise TypeError("problem() takes the type and title from its entry in web/problems.py")
    entry = problems.registered(kind) or _unregistered(kind)
    body = {
        "type": entry.type,
        "title": str(entry.title),
        "status": entry.status,
        "detail": str(detail),
        "request_id": g.get("request_id"),
        **extra,
    }
    response = current_app.response_class(json.dumps(body), status=entry.status, mimetype=PROBLEM_MIMETYPE)
    response.headers.extend(headers or {})
    response.headers["Content-Language"] = current_language()
    response.vary.add("Accept-Language")
    return response


def _unregistered(kind):
    """A problem the catalogue lacks fails under test; in production it is logged and sent as about:blank."""
    message = f"problem {kind!r} is not in the catalogue (tracker_api/web/problems.py)"
    if current_app.testing:
        raise LookupError(message)
    log.error(message)
    status = getattr(kind, "status", kind)
    return problems.ProblemType(status, None, HTTPStatus(status).phrase, "", "")


def _flatten_field_errors(messages):
    """webargs nests errors by location ({"json": {...}, "query": {...}}); integrators want fields."""
    fields = {}
    for location_errors in messages.values():
        if isinstance(location_errors, dict):
            fields.update(location_errors)
        else:
            fields.setdefault("_body", []).extend(location_errors)
    return fields


def _describe(field_errors):
    """One readable sentence from the field errors, for clients that show only `detail`."""
    parts = []
    for field, messages in list(field_errors.items())[:5]:
        message = messages[0] if isinstance(messages, list) and messages else messages
        message = message.rstrip(".") if isinstance(message, str) else gettext("invalid")
        parts.append(message if field in ("_body", "_schema") else f"{field}: {message}")
    return "; ".join(parts) + "."


class Api(flask_smorest.Api):
    """flask-smorest's Api with problem+json errors, documented and produced."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self):
        # flask-smorest documents its error responses with the success content type; ours differ.
        self.DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_MIMETYPE
        try:
            super()._register_responses()
        finally:
            del self.DEFAULT_RESPONSE_CONTENT_TYPE

    def handle_http_exception(self, error):
        if error.code == 304:  # If-None-Match matched: no body, the ETag the client already has
            return Response(status=304, headers={"ETag": f'"{g.not_modified_etag}"'})
        data = getattr(error, "data", None) or {}
        # werkzeug's own headers (e.g. Allow on a 405) minus its HTML content type
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        headers.update(data.get("headers") or {})
        if error.code == 500:
            log.error("unhandled exception on %s %s", request.method, request.path,
                      exc_info=getattr(error, "original_exception", None) or error)
            return problem(500, gettext("The server failed to handle this request; it has been logged."))
        if "messages" in data:
            field_errors = localize_field_errors(_flatten_field_errors(data["messages"]))
            if error.code == 422:
                return problem(problems.VALIDATION_ERROR, _describe(field_errors), errors=field_errors,
                               headers=headers)
            return problem(error.code, _describe(field_errors), headers=headers)
        detail = localize(data.get("message") or error.description)
        return problem(error.code, detail, headers=headers, **data.get("extra", {}))
