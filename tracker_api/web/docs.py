"""Swagger UI and ReDoc assets, served by the app from the openapi-ui-bundles package: no CDN needed."""
import hashlib
import io
from functools import cache
from pathlib import Path

from flask import Blueprint, send_file, send_from_directory
from openapi_ui_bundles import redoc, swagger_ui

blp = Blueprint("docs_assets", __name__, url_prefix="/api/docs/assets")
ONE_DAY = 24 * 3600
REDOC_SCRIPT = "redoc.standalone.js"
# ReDoc's side menu shows Redocly's logo from their CDN: a request to a third party on every visit, and a
# broken image offline. The bundle ships the same picture, so the script is served pointing at that copy.
REDOC_CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
REDOC_LOCAL_LOGO = b"/api/docs/assets/redoc/logo-mini.svg"


@blp.get("/swagger-ui/<path:filename>")
def swagger_ui_asset(filename):
    return send_from_directory(swagger_ui.static_path, filename, max_age=ONE_DAY)


@blp.get("/redoc/<path:filename>")
def redoc_asset(filename):
    return send_from_directory(redoc.static_path, filename, max_age=ONE_DAY)


@cache
def redoc_script_without_cdn():
    script = (Path(redoc.static_path) / REDOC_SCRIPT).read_bytes()
    return script.replace(REDOC_CDN_LOGO, REDOC_LOCAL_LOGO)


@blp.get(f"/redoc/{REDOC_SCRIPT}")
def redoc_script():
    script = redoc_script_without_cdn()
    return send_file(io.BytesIO(script), mimetype="text/javascript", max_age=ONE_DAY,
                     etag=hashlib.sha256(script).hexdigest()[:32])
