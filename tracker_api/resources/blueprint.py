"""The Blueprint every resource uses: flask-smorest's, with a body parser that insists on JSON, its ETags with
If-Match optional, and responses dumped by compiled dumpers (serialization/dumping.py)."""
import hashlib
import json
from http import HTTPStatus

import flask_smorest
import marshmallow as ma
from flask import current_app, g, request
from flask_smorest.exceptions import NotModified, PreconditionFailed
from flask_smorest.utils import resolve_schema_instance
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

from ..access.authentication import document_required_scope
from ..serialization import dumping
from ..web.i18n import gettext, lazy_gettext
from ..writes import idempotency


class JsonOnlyParser(FlaskParser):
    """A body sent as form data or text is a 415 that says so, not a confusing 'field required'."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            if req.content_length or req.get_data(cache=True):
                abort(415, message=gettext("Send the request body as JSON with Content-Type: application/json."))
            return core.missing
        try:
            return super()._raw_load_json(req)
        except RecursionError:  # json.loads on thousands of nested brackets
            abort(400, message=gettext("Invalid JSON body: nested too deeply."))
        except json.JSONDecodeError:
            raise  # webargs' own handling: an empty body is a missing one, anything else a 400
        except ValueError:  # json.loads on an integer past Python's digit limit
            abort(400, message=gettext("Invalid JSON body: a number is too long."))


# Every operation under the API prefix can answer these, whatever its own responses are: the auth hook's
# refusals, the rate limiter's 429 (RATE_LIMITED is registered by rate_limits.py with its headers) and the router's
# 404 for a path id that is not a number in range (paths.py).
COMMON_RESPONSES = {401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 429: "RATE_LIMITED"}
# And an operation that reads a JSON body these, from JsonOnlyParser and MAX_CONTENT_LENGTH.
BODY_RESPONSES = {400: "BAD_REQUEST", 413: HTTPStatus(413).name, 415: "UNSUPPORTED_MEDIA_TYPE"}


IF_MATCH = {
    "name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
    "description": "The ETag of the record as you last read it: if it has changed since, nothing is written and the "
                   "answer is 412 (lost-update protection for offline edits). Optional."}
IF_NONE_MATCH = {
    "name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
    "description": "The ETag of your copy: if nothing changed, the answer is 304 with no body."}
CHANGED_SINCE_READ = lazy_gettext("The record has changed since you read it (If-Match does not match its ETag): read it "
                                  "again.")


class CompiledResponseSchema:
    """What flask-smorest's response wrapper holds instead of the schema: all it calls is `dump`."""

    def __init__(self, schema):
        self.schema = schema

    def dump(self, obj):
        return dumping.dump(self.schema, obj)


class Blueprint(flask_smorest.Blueprint):
    """ETags (flask-smorest's: a hash of the JSON a GET answers) on reads, and If-Match checked, when sent, under
    the row lock of a write (`check_etag` is called by the service once it holds the row): a client that does not
    send If-Match is not refused (flask-smorest's 428), as the product document's clients send none."""

    ARGUMENTS_PARSER = JsonOnlyParser()

    def _check_precondition(self):
        """If-Match is optional: no 428 without it."""

    def _verify_check_etag(self):
        if request.if_match:
            super()._verify_check_etag()

    def check_etag(self, etag_data, etag_schema=None):
        """412 if If-Match was sent and no longer matches the record as it is now."""
        if request.if_match:
            try:
                super().check_etag(etag_data, etag_schema)
            except PreconditionFailed:
                abort(412, message=CHANGED_SINCE_READ)

    def arguments(self, schema, *args, **kwargs):
        """flask-smorest's, with the schema built once: given a class, webargs builds an instance of it (copying
        every field) on every request (bench/README.md)."""
        return super().arguments(resolve_schema_instance(schema), *args, **kwargs)

    def response(self, status_code, schema=None, **kwargs):
        """flask-smorest's, dumping with the schema's compiled dumper; the documentation still sees the schema."""
        schema = resolve_schema_instance(schema)
        if isinstance(schema, ma.Schema):
            schema = CompiledResponseSchema(schema)
        return super().response(status_code, schema, **kwargs)

    @staticmethod
    def _make_doc_response_schema(schema):
        return schema.schema if isinstance(schema, CompiledResponseSchema) else schema

    @staticmethod
    def _generate_etag(etag_data, extra_data=None):
        """flask-smorest's ETag (sha1 of the data's JSON with sorted keys), from the compact JSON the app's orjson
        provider writes rather than a second, slower encoding with the standard library's spaced separators."""
        if extra_data:
            etag_data = (etag_data, extra_data)
        canonical = current_app.json.dumps(etag_data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha1(canonical.encode(), usedforsecurity=False).hexdigest()  # a cache validator, no secret

    def _check_not_modified(self, etag):
        if request.method in self.METHODS_CHECKING_NOT_MODIFIED and etag in request.if_none_match:
            g.not_modified_etag = etag  # web/errors.py Api answers the 304 with it, and no body
            raise NotModified

    def _prepare_etag_doc(self, doc, doc_info, **kwargs):
        doc = super()._prepare_etag_doc(doc, doc_info, **kwargs)
        doc.get("responses", {}).pop(428, None)
        ours = {"IF_MATCH": IF_MATCH, "IF_NONE_MATCH": IF_NONE_MATCH}  # flask-smorest's If-Match is required
        doc["parameters"] = [ours.get(parameter, parameter) if isinstance(parameter, str) else parameter
                             for parameter in doc.get("parameters", [])]
        return doc

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._document_common_responses)
        self._prepare_doc_cbks.append(self._document_idempotency_key)
        self._prepare_doc_cbks.append(self._document_required_scope)

    def _document_required_scope(self, doc, doc_info, *, method, **kwargs):
        return document_required_scope(doc, method, self.name)

    @staticmethod
    def _document_common_responses(doc, doc_info, **kwargs):
        responses = doc.setdefault("responses", {})
        common = {**COMMON_RESPONSES, **(BODY_RESPONSES if "requestBody" in doc else {})}
        for status, response_name in common.items():
            responses.setdefault(status, response_name)
        return doc

    @staticmethod
    def _document_idempotency_key(doc, doc_info, *, method, **kwargs):
        """Every POST takes an Idempotency-Key (writes/idempotency.py serves them all, whatever the route)."""
        if method == "post":
            doc.setdefault("parameters", []).append(dict(idempotency.PARAMETER))
            responses = doc.setdefault("responses", {})
            for status, response_name in idempotency.RESPONSES.items():
                responses.setdefault(status, response_name)
        return doc
