"""Webhook shapes: an endpoint as returned (with its secret only when created or rotated), the bodies that create
and change one, and the delivery log."""
import marshmallow as ma
from marshmallow import validate

from ...models import DELIVERY_STATES, WEBHOOK_EVENT_TYPES
from ...serialization.schemas import BodySchema, PageQuerySchema, Text, UTCDateTimeField
from ...web.i18n import gettext

EVENTS_DESCRIPTION = "The event types sent to this endpoint: any of " + ", ".join(WEBHOOK_EVENT_TYPES) + "."


class WebhookSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"example": 3})
    url = ma.fields.String(metadata={"example": "https://crm.example.com/hooks/tracker"})
    events = ma.fields.List(ma.fields.String(), attribute="event_types",
                            metadata={"example": ["tracking.created", "tracking.status_changed"]})
    description = ma.fields.String(allow_none=True, metadata={"example": "CRM status sync"})
    enabled = ma.fields.Boolean(metadata={"example": True})
    disabled_reason = ma.fields.String(allow_none=True, metadata={
        "description": "Why the endpoint was disabled, when deliveries kept failing; null while enabled."})
    disabled_at = UTCDateTimeField(allow_none=True)
    previous_secret_expires_at = UTCDateTimeField(allow_none=True, metadata={
        "description": "After a rotation: until then the previous secret signs too (a second v1= signature)."})
    created_at = UTCDateTimeField(metadata={"example": "2025-01-27T10:00:00+00:00"})
    updated_at = UTCDateTimeField(metadata={"example": "2025-01-27T10:00:00+00:00"})


class WebhookWithSecretSchema(WebhookSchema):
    secret = ma.fields.String(metadata={
        "description": "The signing secret. Shown only in this answer (create, rotate): store it now.",
        "example": "whsec_3fQx9aLk2mN8pR4sT6vW0yZ1bC5dE7gH9jK2lM4nP6q"})


WebhookListSchema = ma.Schema.from_dict({
    "webhooks": ma.fields.List(ma.fields.Nested(WebhookSchema)),
    "total": ma.fields.Integer(metadata={"example": 1}),
}, name="WebhookList")


def events_field(**kwargs):
    return ma.fields.List(ma.fields.String(validate=validate.OneOf(WEBHOOK_EVENT_TYPES)),
                          validate=validate.Length(min=1, max=len(WEBHOOK_EVENT_TYPES)),
                          metadata={"description": EVENTS_DESCRIPTION,
                                    "example": ["tracking.created", "tracking.status_changed"]}, **kwargs)


def url_field(**kwargs):
    return Text(max_length=2048, min_length=1, metadata={
        "description": "An http(s) URL on a public address (loopback, private and link-local addresses are refused).",
        "example": "https://crm.example.com/hooks/tracker"}, **kwargs)


class WebhookCreateSchema(BodySchema):
    url = url_field(required=True)
    events = events_field(load_default=lambda: list(WEBHOOK_EVENT_TYPES))
    description = Text(max_length=200, allow_none=True, metadata={"example": "CRM status sync"})


class WebhookUpdateSchema(BodySchema):
    url = url_field()
    events = events_field()
    description = Text(max_length=200, allow_none=True, metadata={"example": "CRM status sync"})
    enabled = ma.fields.Boolean(metadata={
        "description": "false pauses deliveries; true resumes them (also after the endpoint was disabled)."})

    @ma.validates_schema
    def require_a_change(self, data, **kwargs):
        if not data:
            raise ma.ValidationError(gettext("Give at least one field to change, e.g. {\"enabled\": true}."))


class DeliverySchema(ma.Schema):
    id = ma.fields.Integer(metadata={"example": 42})
    event_id = ma.fields.String(attribute="event.event_id", metadata={
        "description": "The event's id (X-Tracker-Event-Id): the same on every attempt and redelivery",
        "example": "8d0f6c1e-2b7a-4c39-9f0e-5a1d3b7c9e21"})
    event_type = ma.fields.String(attribute="event.type", metadata={"example": "tracking.status_changed"})
    status = ma.fields.String(metadata={"enum": list(DELIVERY_STATES), "example": "succeeded"})
    attempts = ma.fields.Integer(metadata={"example": 1})
    next_attempt_at = UTCDateTimeField(allow_none=True, metadata={"description": "While pending: the next try"})
    last_attempt_at = UTCDateTimeField(allow_none=True)
    last_status_code = ma.fields.Integer(allow_none=True, metadata={"example": 200})
    last_error = ma.fields.String(allow_none=True, metadata={"example": None})
    last_duration_ms = ma.fields.Integer(allow_none=True, metadata={"example": 85})
    delivered_at = UTCDateTimeField(allow_none=True)
    created_at = UTCDateTimeField(metadata={"example": "2025-01-27T10:00:00+00:00"})

    @ma.post_dump(pass_original=True)
    def hide_next_attempt_when_done(self, data, delivery, **kwargs):
        if delivery.status != "pending":
            data["next_attempt_at"] = None
        return data


DeliveryListSchema = ma.Schema.from_dict({
    "deliveries": ma.fields.List(ma.fields.Nested(DeliverySchema)),
    "total": ma.fields.Integer(metadata={"example": 1}),
}, name="WebhookDeliveryList")


class DeliveryListQuerySchema(PageQuerySchema):
    status = ma.fields.String(validate=validate.OneOf(DELIVERY_STATES), metadata={
        "description": "Only deliveries in this state."})
