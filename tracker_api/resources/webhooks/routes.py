"""Webhook endpoints: /api/v1/webhooks/{bot_id}/..., their secrets, test events and delivery log."""
from flask.views import MethodView

from ..blueprint import Blueprint
from ..paths import BOT_ID, RECORD_ID
from . import service
from .schemas import (
    DeliveryListQuerySchema,
    DeliveryListSchema,
    DeliverySchema,
    WebhookCreateSchema,
    WebhookListSchema,
    WebhookSchema,
    WebhookUpdateSchema,
    WebhookWithSecretSchema,
)

blp = Blueprint("webhooks", __name__, url_prefix="/webhooks",
                description="Signed HTTP callbacks for every change to tracking numbers and clients")
WEBHOOK_ID = f"<int(min=1, max={2**31 - 1}):webhook_id>"
QUEUED = "Queued: the worker sends it within seconds; follow it in the delivery log."


@blp.route(f"/{BOT_ID}")
class Webhooks(MethodView):
    @blp.response(200, WebhookListSchema)
    def get(self, bot_id):
        """List the bot's webhook endpoints"""
        return service.list_endpoints(bot_id)

    @blp.arguments(WebhookCreateSchema)
    @blp.response(201, WebhookWithSecretSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, fields, bot_id):
        """Create a webhook endpoint; the answer holds its signing secret, shown this once"""
        return service.create_endpoint(bot_id, fields)


@blp.route(f"/{BOT_ID}/{WEBHOOK_ID}")
class WebhookById(MethodView):
    @blp.response(200, WebhookSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, bot_id, webhook_id):
        """Get one webhook endpoint, with the reason it was disabled if it was"""
        return service.get_endpoint(bot_id, webhook_id)

    @blp.arguments(WebhookUpdateSchema)
    @blp.response(200, WebhookSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def patch(self, changes, bot_id, webhook_id):
        """Change a webhook endpoint's URL, events, description, or enable or disable it"""
        return service.update_endpoint(bot_id, webhook_id, changes)

    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, bot_id, webhook_id):
        """Delete a webhook endpoint and its delivery log"""
        service.delete_endpoint(bot_id, webhook_id)


@blp.route(f"/{BOT_ID}/{WEBHOOK_ID}/rotate-secret")
class WebhookSecret(MethodView):
    @blp.response(200, WebhookWithSecretSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, bot_id, webhook_id):
        """Rotate the signing secret: the old one keeps signing too for a grace period (24 h)"""
        return service.rotate_secret(bot_id, webhook_id)


@blp.route(f"/{BOT_ID}/{WEBHOOK_ID}/test")
class WebhookTest(MethodView):
    @blp.response(202, DeliverySchema, description=QUEUED)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, bot_id, webhook_id):
        """Send a test event (webhook.test) to this endpoint"""
        return service.send_test_event(bot_id, webhook_id)


@blp.route(f"/{BOT_ID}/{WEBHOOK_ID}/deliveries")
class WebhookDeliveries(MethodView):
    @blp.arguments(DeliveryListQuerySchema, location="query")
    @blp.response(200, DeliveryListSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, query, bot_id, webhook_id):
        """List the endpoint's deliveries, newest first: status, attempts, last answer and error, timing"""
        return service.list_deliveries(bot_id, webhook_id, **query)


@blp.route(f"/{BOT_ID}/{WEBHOOK_ID}/deliveries/{RECORD_ID.format('delivery_id')}/redeliver")
class WebhookRedelivery(MethodView):
    @blp.response(202, DeliverySchema, description=QUEUED)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, bot_id, webhook_id, delivery_id):
        """Send a delivery's event again, as a new delivery with the same event id"""
        return service.redeliver(bot_id, webhook_id, delivery_id)
