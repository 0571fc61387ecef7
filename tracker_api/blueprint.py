"""The Blueprint every resource uses: flask-smorest's, with a body parser that insists on JSON."""
import json
from http import HTTPStatus

import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request


class JsonOnlyParser(FlaskParser):
    """A body sent as form data or text is a 415 that says so, not a confusing 'field required'."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            if req.content_length or req.get_data(cache=True):
                abort(415, message="Send the request body as JSON with Content-Type: application/json.")
            return core.missing
        try:
            return super()._raw_load_json(req)
        except RecursionError:  # json.loads on thousands of nested brackets
            abort(400, message="Invalid JSON body: nested too deeply.")
        except json.JSONDecodeError:
            raise  # webargs' own handling: an empty body is a missing one, anything else a 400
        except ValueError:  # json.loads on an integer past Python's digit limit
            abort(400, message="Invalid JSON body: a number is too long.")


# Every operation under the API prefix can answer these, whatever its own responses are: the auth hook's
# refusals, the rate limiter's 429 (RATE_LIMITED is registered by ratelimit.py with its headers) and the router's
# 404 for a path id that is not a number in range (paths.py).
COMMON_RESPONSES = {401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 429: "RATE_LIMITED"}
# And an operation that reads a JSON body these, from JsonOnlyParser and MAX_CONTENT_LENGTH.
BODY_RESPONSES = {400: "BAD_REQUEST", 413: HTTPStatus(413).name, 415: "UNSUPPORTED_MEDIA_TYPE"}


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = JsonOnlyParser()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._document_common_responses)

    @staticmethod
    def _document_common_responses(doc, doc_info, **kwargs):
        responses = doc.setdefault("responses", {})
        common = {**COMMON_RESPONSES, **(BODY_RESPONSES if "requestBody" in doc else {})}
        for status, response_name in common.items():
            responses.setdefault(status, response_name)
        return doc
