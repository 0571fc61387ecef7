"""/api/admin/v1/bots: the platform's bots, their usage, security events, webhooks' health and sandbox."""
from flask.views import MethodView

from ...paths import BOT_ID
from ..blueprint import AdminBlueprint
from . import sandbox, service
from .schemas import (
    AdminBotSchema,
    BotCreateSchema,
    BotListQuerySchema,
    BotListSchema,
    BotUpdateSchema,
    BotUsageQuerySchema,
    BotUsageSchema,
    SecurityEventListSchema,
    SecurityEventQuerySchema,
    WebhookHealthListSchema,
)

blp = AdminBlueprint("admin_bots", __name__, url_prefix="/bots", description="The platform's bots")


@blp.route("")
class Bots(MethodView):
    @blp.arguments(BotListQuerySchema, location="query")
    @blp.response(200, BotListSchema)
    def get(self, query):
        """List bots, by id; filter by is_active and subscription_status"""
        return service.list_bots(**query)

    @blp.arguments(BotCreateSchema)
    @blp.response(201, AdminBotSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, fields):
        """Create a bot (when a company signs up); an id that is taken is a 409"""
        return service.add_bot(fields)


@blp.route(f"/{BOT_ID}")
class BotById(MethodView):
    @blp.response(200, AdminBotSchema)
    def get(self, bot_id):
        """Get a bot"""
        return service.get_bot(bot_id)

    @blp.arguments(BotUpdateSchema)
    @blp.response(200, AdminBotSchema)
    def patch(self, changes, bot_id):
        """Change a bot; is_active false refuses its keys from the next request on"""
        return service.update_bot(bot_id, changes)


@blp.route(f"/{BOT_ID}/usage")
class BotUsage(MethodView):
    @blp.arguments(BotUsageQuerySchema, location="query")
    @blp.response(200, BotUsageSchema)
    def get(self, query, bot_id):
        """Get a bot's usage: requests per UTC day by outcome, all keys and each key"""
        return service.bot_usage(bot_id, query["days"])


@blp.route(f"/{BOT_ID}/security-events")
class BotSecurityEvents(MethodView):
    @blp.arguments(SecurityEventQuerySchema, location="query")
    @blp.response(200, SecurityEventListSchema)
    def get(self, query, bot_id):
        """List a bot's security events, newest first; filter by kind and time"""
        return service.security_events(bot_id, **query)


@blp.route(f"/{BOT_ID}/webhooks")
class BotWebhooks(MethodView):
    @blp.response(200, WebhookHealthListSchema)
    def get(self, bot_id):
        """List a bot's webhook endpoints with their health (read-only)"""
        return service.webhooks_health(bot_id)


@blp.route(f"/{BOT_ID}/sandbox")
class BotSandbox(MethodView):
    @blp.response(200, AdminBotSchema)
    def get(self, bot_id):
        """Get a live bot's sandbox bot"""
        return sandbox.find_sandbox(bot_id)

    @blp.response(201, AdminBotSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, bot_id):
        """Create a live bot's sandbox: a linked bot with the demo data, for its own keys and webhooks"""
        return sandbox.create_sandbox(bot_id)


@blp.route(f"/{BOT_ID}/sandbox/reset")
class BotSandboxReset(MethodView):
    @blp.response(200, AdminBotSchema)
    def post(self, bot_id):
        """Reset a live bot's sandbox to exactly the demo data (its keys and webhook endpoints stay)"""
        return sandbox.reset_sandbox(bot_id)
