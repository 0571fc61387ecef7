"""GET /api/widget.js: the script a company pastes into its pages (tracker_api/static/widget.js).

Under /api/ because that is what the deployment's nginx forwards to the app (docker/nginx.conf); not an API
operation (no key, not in the OpenAPI document). Cached for an hour, so a fix reaches sites the same day.
"""
from pathlib import Path

from flask import Blueprint, send_from_directory

STATIC = Path(__file__).resolve().parents[2] / "static"
ONE_HOUR = 3600

blp = Blueprint("widget_script", __name__)


@blp.get("/api/widget.js")
def widget_script():
    return send_from_directory(STATIC, "widget.js", mimetype="text/javascript", max_age=ONE_HOUR)
