"""Swagger UI and ReDoc assets, served by the app from the openapi-ui-bundles package: no CDN needed."""
from flask import Blueprint, send_from_directory
from openapi_ui_bundles import redoc, swagger_ui

blp = Blueprint("docs_assets", __name__, url_prefix="/api/docs/assets")
ONE_DAY = 24 * 3600


@blp.get("/swagger-ui/<path:filename>")
def swagger_ui_asset(filename):
    return send_from_directory(swagger_ui.static_path, filename, max_age=ONE_DAY)


@blp.get("/redoc/<path:filename>")
def redoc_asset(filename):
    return send_from_directory(redoc.static_path, filename, max_age=ONE_DAY)
