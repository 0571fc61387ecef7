"""The request log: logger `tracker_api.requests`, one JSON object per line on stdout, rejected requests included.
It names the key by id, never the key itself, and never logs the query string (a key pasted into a URL must not
land in the logs). Security events are written as JSON lines on `tracker_api.security` by the same formatter."""
import json
import logging
import os
import sys
from datetime import datetime, timezone

from flask import current_app, g, request

from ..access.caller import current_caller
from ..web.proxy import client_address

request_log = logging.getLogger("tracker_api.requests")
JSON_LOGGERS = ("tracker_api.requests", "tracker_api.security")
MAX_LOGGED_LENGTH = 512


class JsonLineFormatter(logging.Formatter):
    """A record's `fields` as one JSON object on one line (json.dumps escapes any newline in a value)."""

    def format(self, record):
        moment = datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
        fields = getattr(record, "fields", None) or {"message": record.getMessage()}
        return json.dumps({"time": moment.replace("+00:00", "Z"), "logger": record.name, **fields},
                          default=lambda value: value.isoformat() if hasattr(value, "isoformat") else str(value))


class StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time (gunicorn's, a test's capture), flushing each line."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):
        pass


def configure_json_logs():
    for logger in map(logging.getLogger, JSON_LOGGERS):
        if not any(isinstance(handler, StdoutHandler) for handler in logger.handlers):
            handler = StdoutHandler()
            handler.setFormatter(JsonLineFormatter())
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False  # one line per request, not one more per root handler


def request_fields(response):
    caller = current_caller()
    check = caller.key_check
    elapsed = caller.elapsed_seconds
    return {
        "event": "request",
        "request_id": g.get("request_id"),
        "method": request.method,
        "path": request.path[:MAX_LOGGED_LENGTH],
        "status": response.status_code,
        "duration_ms": round(elapsed * 1000, 2) if elapsed is not None else None,
        "client_ip": client_address(),
        "user_agent": (request.headers.get("User-Agent") or "")[:MAX_LOGGED_LENGTH] or None,
        "key_id": check.key_id if check else None,
        "bot_id": check.bot_id if check and check.bot_id else (request.view_args or {}).get("bot_id"),
        "refusal": caller.refusal,
        "pid": os.getpid(),
    }


def log_request(response):
    if request.path not in current_app.config["REQUEST_LOG_SKIP_PATHS"]:
        request_log.info("request", extra={"fields": request_fields(response)})
    return response


def register_request_log(app):
    configure_json_logs()
    app.after_request(log_request)
