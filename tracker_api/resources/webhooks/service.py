"""Webhook endpoints of one bot, their secrets, test events and the delivery log; sending is the worker's
(tracker_api/webhooks/delivery.py)."""
import uuid
from datetime import timedelta

from flask import current_app
from flask_smorest import abort

from ...extensions import db
from ...models import TEST_EVENT_TYPE, Client, TrackingNumber, WebhookDelivery, WebhookEndpoint
from ...models.types import utcnow
from ...webhooks import outbox
from ...webhooks.addresses import UnsafeUrl, check_url
from ...web.i18n import gettext, lazy_gettext
from ...webhooks.signing import new_secret
from ..clients.schemas import ClientSchema
from ..pagination import count_rows, page_items
from ..records import bot_record
from ..tracking.schemas import TrackingNumberSchema

WEBHOOK_ENDPOINT = lazy_gettext("Webhook endpoint")  # the 404's "<what> <id> does not exist"


def register_event_shapes():
    """Events show parcels and clients exactly as the API's answers do (current_status, numbers, UTC times)."""
    outbox.show_records_as(TrackingNumber, TrackingNumberSchema().dump)
    outbox.show_records_as(Client, ClientSchema().dump)


def _checked_url(url):
    """The URL if a webhook may call it; else a 422 on the `url` field saying why."""
    try:
        check_url(url, current_app.config["WEBHOOK_ALLOWED_HOSTS"])
    except UnsafeUrl as error:
        abort(422, messages={"json": {"url": [str(error)]}})
    return url


def _events_text(event_types):
    return ",".join(sorted(set(event_types), key=event_types.index))


def list_endpoints(bot_id):
    endpoints = db.session.scalars(db.select(WebhookEndpoint).where(WebhookEndpoint.bot_id == bot_id)
                                   .order_by(WebhookEndpoint.id)).all()
    return {"webhooks": endpoints, "total": len(endpoints)}


def get_endpoint(bot_id, endpoint_id):
    """One of this bot's endpoints (records.bot_record)."""
    return bot_record(WebhookEndpoint, bot_id, endpoint_id, WEBHOOK_ENDPOINT)


def create_endpoint(bot_id, fields):
    """A new endpoint with a new secret (returned once, by this call)."""
    limit = current_app.config["WEBHOOK_MAX_ENDPOINTS"]
    if count_rows(db.select(WebhookEndpoint.id).where(WebhookEndpoint.bot_id == bot_id)) >= limit:
        abort(409, message=gettext("A bot may have at most %(limit)s webhook endpoints: delete one first.",
                                   limit=limit))
    now = utcnow()
    endpoint = WebhookEndpoint(bot_id=bot_id, url=_checked_url(fields["url"]), events=_events_text(fields["events"]),
                               description=fields.get("description"), enabled=True, secret=new_secret(),
                               created_at=now, updated_at=now)
    db.session.add(endpoint)
    db.session.commit()
    return endpoint


def update_endpoint(bot_id, endpoint_id, changes):
    """Change the URL, events, description or enabled; enabling clears the reason it was disabled for."""
    endpoint = get_endpoint(bot_id, endpoint_id)
    if "url" in changes:
        endpoint.url = _checked_url(changes["url"])
    if "events" in changes:
        endpoint.events = _events_text(changes["events"])
    if "description" in changes:
        endpoint.description = changes["description"]
    if "enabled" in changes and changes["enabled"] != endpoint.enabled:
        endpoint.enabled = changes["enabled"]
        endpoint.disabled_at = None if endpoint.enabled else utcnow()
        endpoint.disabled_reason = None if endpoint.enabled else "Disabled over the API."
    endpoint.updated_at = utcnow()
    db.session.commit()
    return endpoint


def delete_endpoint(bot_id, endpoint_id):
    """Delete an endpoint and its delivery log; pending deliveries to it are dropped."""
    db.session.delete(get_endpoint(bot_id, endpoint_id))
    db.session.commit()


def rotate_secret(bot_id, endpoint_id):
    """A new secret; the old one keeps signing (a second v1= signature) for WEBHOOK_SECRET_GRACE_HOURS."""
    endpoint = get_endpoint(bot_id, endpoint_id)
    now = utcnow()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + timedelta(hours=current_app.config["WEBHOOK_SECRET_GRACE_HOURS"])
    endpoint.secret = new_secret()
    endpoint.updated_at = now
    db.session.commit()
    return endpoint


def send_test_event(bot_id, endpoint_id):
    """Queue a `webhook.test` event for this endpoint alone; the answer is its delivery, to follow in the log."""
    endpoint = get_endpoint(bot_id, endpoint_id)
    if not endpoint.enabled:
        abort(409, message=gettext("This endpoint is disabled: enable it (PATCH enabled=true) before sending a test "
                                   "event."))
    [event_row_id] = outbox.enqueue(db.session.connection(), [(
        bot_id, TEST_EVENT_TYPE, f"test:{uuid.uuid4()}", 0,
        {"message": "A test event from the Tracker API: your endpoint receives webhooks."}, [endpoint.id])])
    db.session.commit()
    return _delivery_of(endpoint.id, event_row_id)


def _delivery_of(endpoint_id, event_row_id):
    return db.session.scalars(db.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id,
                                                               WebhookDelivery.event_row_id == event_row_id)
                              .order_by(WebhookDelivery.id.desc())).first()


def list_deliveries(bot_id, endpoint_id, page, page_size, status=None):
    """The endpoint's deliveries, newest first."""
    endpoint = get_endpoint(bot_id, endpoint_id)
    statement = db.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if status:
        statement = statement.where(WebhookDelivery.status == status)
    total = count_rows(statement)
    items = page_items(statement.order_by(WebhookDelivery.id.desc()), page, page_size, total)
    return {"deliveries": items, "total": total}


def redeliver(bot_id, endpoint_id, delivery_id):
    """Send a delivery's event again, as a new delivery (same event id, so a receiver can tell it has it)."""
    endpoint = get_endpoint(bot_id, endpoint_id)
    delivery = db.session.scalar(db.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id,
                                                                  WebhookDelivery.id == delivery_id))
    if delivery is None:
        abort(404, message=gettext("Delivery %(id)s does not exist for this webhook endpoint.", id=delivery_id))
    now = utcnow()
    again = WebhookDelivery(endpoint_id=endpoint.id, event_row_id=delivery.event_row_id, subject=delivery.subject,
                            status="pending", attempts=0, next_attempt_at=now, created_at=now)
    db.session.add(again)
    db.session.commit()
    return again


