"""The widget's lookups: one parcel by its number, and which web origins a bot's publishable keys allow."""
import re

from flask_smorest import abort

from ...extensions import db
from ...models import ApiKey, TrackingNumber
from ...models.types import utcnow
from ...web.i18n import lazy_gettext
from ..tracking.schemas import TRACKING_NUMBER_PATTERN
from ..tracking.service import status_history

WELL_FORMED_NUMBER = re.compile(TRACKING_NUMBER_PATTERN)
MAX_NUMBER_LENGTH = 64
# Says nothing about the number typed: a page may show `detail` as it is.
NOT_FOUND = lazy_gettext("No parcel with this tracking number.")


def public_tracking(bot_id, tracking_number):
    """One of the bot's parcels, by the number a customer typed, with its status timeline (oldest first). A number
    that cannot exist is as absent as a missing one, and is never sent to the database."""
    if len(tracking_number) > MAX_NUMBER_LENGTH or not WELL_FORMED_NUMBER.fullmatch(tracking_number):
        abort(404, message=NOT_FOUND)
    record = db.session.scalar(db.select(TrackingNumber).where(TrackingNumber.bot_id == bot_id,
                                                               TrackingNumber.tracking_number == tracking_number))
    if record is None:
        abort(404, message=NOT_FOUND)
    return {"tracking_number": record.tracking_number, "current_status": record.status,
            "updated_at": record.updated_at, "history": status_history(record)}


def bot_allows_origin(bot_id, origin):
    """Whether a usable publishable key of the bot lists `origin`: what a CORS pre-flight, which carries no key,
    can be answered by."""
    keys = db.session.scalars(db.select(ApiKey).where(ApiKey.bot_id == bot_id, ApiKey.kind == "publishable",
                                                      ApiKey.revoked_at.is_(None))).all()
    now = utcnow()
    return any(origin in api_key.origins and api_key.is_usable_at(now) for api_key in keys)
