"""What the widget may show a company's customer: a parcel's number, status and status timeline, nothing else
(no ids, client codes, prices, weights, notes, or who set a status)."""
import marshmallow as ma

from ...models import STATUSES
from ...serialization.schemas import UTCDateTimeField


class PublicStatusSchema(ma.Schema):
    status = ma.fields.String(metadata={"enum": list(STATUSES), "example": "in_transit"})
    changed_at = UTCDateTimeField(attribute="created_at", metadata={"example": "2025-01-28T09:30:00+00:00"})


class PublicTrackingSchema(ma.Schema):
    tracking_number = ma.fields.String(metadata={"example": "ABC123456"})
    current_status = ma.fields.String(metadata={"enum": list(STATUSES), "example": "in_transit"})
    updated_at = UTCDateTimeField(metadata={"example": "2025-01-28T09:30:00+00:00"})
    history = ma.fields.List(ma.fields.Nested(PublicStatusSchema), metadata={
        "description": "Every status the parcel has taken, oldest first; the last is its current status."})
