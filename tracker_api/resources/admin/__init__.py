"""The platform admin API, /api/admin/v1: what the bot platform's backend does when a company's owner presses a
button (create a bot, issue, roll or revoke a key, show usage). Its own flask-smorest Api (extensions.admin_api),
document (/api/admin/openapi.json) and Swagger UI (/api/admin/docs); callers present a platform token
(access/platform_tokens.py)."""
from ...access.platform_tokens import ADMIN_PREFIX
from .audit.routes import blp as audit_blp
from .bots.routes import blp as bots_blp
from .keys.routes import blp as keys_blp

ADMIN_BLUEPRINTS = (bots_blp, keys_blp, audit_blp)


def register_admin_blueprints(admin_api):
    for blp in ADMIN_BLUEPRINTS:
        admin_api.register_blueprint(blp, url_prefix=ADMIN_PREFIX + blp.url_prefix)
