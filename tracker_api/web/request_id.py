"""Every response carries an X-Request-ID: a sane incoming one is echoed, otherwise one is made."""
import re
import uuid

from flask import g, request

SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def assign_request_id():
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex


def add_request_id_header(response):
    response.headers["X-Request-ID"] = g.get("request_id") or ""
    return response


def register_request_id(app):
    app.before_request(assign_request_id)
    app.after_request(add_request_id_header)
