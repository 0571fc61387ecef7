"""The data model; importing this package registers every table with the metadata."""
from .api_key import KEY_KINDS, ApiKey
from .bot import SUBSCRIPTION_STATUSES, Bot
from .bot_totals import ClientTotal, TrackingCreatedQuarter, TrackingIdBucket, TrackingStatusTotal
from .client import Client
from .deleted_record import DELETED_KINDS, REMOVAL_REASONS, DeletedRecord
from .idempotency import IDEMPOTENCY_STATES, IdempotencyRecord
from .platform import AdminAuditEvent, PlatformToken
from .security_event import SECURITY_EVENT_KINDS, SecurityEvent
from .tracking import STATUS_SOURCES, STATUSES, StatusEvent, TrackingNumber
from .webhook import (
                      DELIVERY_STATES,
                      TEST_EVENT_TYPE,
                      WEBHOOK_EVENT_TYPES,
                      WebhookDelivery,
                      WebhookEndpoint,
                      WebhookEvent,
)

__all__ = ["AdminAuditEvent", "PlatformToken",
           "ApiKey", "Bot", "Client", "ClientTotal", "DeletedRecord", "IdempotencyRecord", "SecurityEvent",
           "StatusEvent", "TrackingCreatedQuarter", "TrackingIdBucket", "TrackingNumber", "TrackingStatusTotal",
           "WebhookDelivery", "WebhookEndpoint", "WebhookEvent", "DELIVERY_STATES", "TEST_EVENT_TYPE",
           "WEBHOOK_EVENT_TYPES",
           "DELETED_KINDS", "REMOVAL_REASONS", "KEY_KINDS", "IDEMPOTENCY_STATES", "SECURITY_EVENT_KINDS",
           "STATUS_SOURCES", "STATUSES", "SUBSCRIPTION_STATUSES"]
