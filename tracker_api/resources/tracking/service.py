"""Tracking numbers: queries and writes, each write with its status history in the same transaction."""
from decimal import ROUND_HALF_UP, Decimal

from flask_smorest import abort
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import StatusEvent, TrackingNumber
from ...models.types import utcnow
from ...pagination import paginate
from ...schemas import MONEY_MAXIMUM

CENT = Decimal("0.01")


def list_tracking(bot_id, page, page_size, status_filter=None, client_code=None):
    statement = db.select(TrackingNumber).where(TrackingNumber.bot_id == bot_id)
    if status_filter:
        statement = statement.where(TrackingNumber.status == status_filter)
    if client_code:
        statement = statement.where(TrackingNumber.client_code == client_code)
    statement = statement.order_by(TrackingNumber.id.desc())
    items, total = paginate(statement, page, page_size)
    return {"tracking_numbers": items, "total": total}


def get_tracking(bot_id, tracking_id, *, for_update=False):
    """One of this bot's tracking numbers; another bot's id is as absent as a missing one. `for_update` locks
    the row until commit, so concurrent updates queue and each records the status the one before it left."""
    statement = db.select(TrackingNumber).where(TrackingNumber.bot_id == bot_id, TrackingNumber.id == tracking_id)
    if for_update:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    record = db.session.scalar(statement)
    if record is None:
        abort(404, message=f"Tracking number {tracking_id} does not exist in this bot.")
    return record


def get_history(bot_id, tracking_id):
    """One of this bot's tracking numbers with every status it has taken, oldest first."""
    record = get_tracking(bot_id, tracking_id)
    events = db.session.scalars(db.select(StatusEvent).where(StatusEvent.tracking_id == record.id)
                                .order_by(StatusEvent.id)).all()
    return {"tracking_id": record.id, "tracking_number": record.tracking_number,
            "current_status": record.status, "history": events}


def _derive_total_cost(fields):
    """Fill in total_cost_usd from weight × price when it is not given; a product too big to store is a 422."""
    weight, price = fields.get("weight_kg"), fields.get("price_per_kg_usd")
    if fields.get("total_cost_usd") is not None or weight is None or price is None:
        return
    total = (weight * price).quantize(CENT, ROUND_HALF_UP)
    if total > MONEY_MAXIMUM:
        abort(422, messages={"json": {"total_cost_usd": [
            f"weight_kg × price_per_kg_usd = {total} exceeds the maximum {MONEY_MAXIMUM}; give total_cost_usd."]}})
    fields["total_cost_usd"] = total


def _record_status(record, previous_status, source, api_key_id):
    db.session.add(StatusEvent(tracking_id=record.id, bot_id=record.bot_id, status=record.status,
                               previous_status=previous_status, source=source, api_key_id=api_key_id,
                               created_at=record.updated_at))


def _flush_or_conflict(bot_id, tracking_number):
    """Flush pending writes; a duplicate number becomes a 409 naming the record that has it."""
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        existing_id = db.session.scalar(db.select(TrackingNumber.id).where(
            TrackingNumber.bot_id == bot_id, TrackingNumber.tracking_number == tracking_number))
        abort(409, message=f"Tracking number {tracking_number} already exists in this bot (id {existing_id}).",
              extra={"existing_id": existing_id})


def create_tracking(bot_id, fields, *, source="api", api_key_id=None, at=None):
    """Create a parcel and its first history row; `at` backdates it (demo data, imports)."""
    fields = dict(fields)
    _derive_total_cost(fields)
    now = at or utcnow()
    record = TrackingNumber(bot_id=bot_id, created_at=now, updated_at=now, **fields)
    db.session.add(record)
    _flush_or_conflict(bot_id, fields["tracking_number"])
    _record_status(record, None, source, api_key_id)
    db.session.commit()
    return record


def update_tracking(bot_id, tracking_id, changes, *, source="api", api_key_id=None, at=None):
    """Apply the given fields; a new status is recorded in the history. Always bumps updated_at."""
    record = get_tracking(bot_id, tracking_id, for_update=True)
    changes = dict(changes)
    if "total_cost_usd" not in changes and {"weight_kg", "price_per_kg_usd"} & changes.keys():
        priced = {"weight_kg": changes.get("weight_kg", record.weight_kg),
                  "price_per_kg_usd": changes.get("price_per_kg_usd", record.price_per_kg_usd)}
        _derive_total_cost(priced)
        if "total_cost_usd" in priced:
            changes["total_cost_usd"] = priced["total_cost_usd"]
    previous_status = record.status
    for name, value in changes.items():
        setattr(record, name, value)
    record.updated_at = at or utcnow()
    if "tracking_number" in changes:
        _flush_or_conflict(bot_id, changes["tracking_number"])
    if record.status != previous_status:
        _record_status(record, previous_status, source, api_key_id)
    db.session.commit()
    return record
