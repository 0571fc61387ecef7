"""The restore window: a deleted tracking number or client is kept whole in its tombstone (models/deleted_record.py)
for RESTORE_WINDOW_DAYS, and can be brought back with the same id (and a parcel with its status history).

Why a snapshot in the tombstone rather than a "deleted" flag on the row: every list, count, total, export, import
and unique code would have to learn to skip flagged rows, and one that forgot would count a deleted parcel. Here a
deleted record is gone from its table as before, so nothing counts it; a restore inserts it again, and the same
listeners that follow every write (totals.py, webhooks/outbox.py, the change numbers of changes.py) count it,
announce it (`tracking.restored`, `client.restored`) and put it back in the change feed, with a new change number.

After the window `flask purge-deleted` erases the snapshots: the data is gone for good; the tombstone (id, code,
time) stays, as the change feed needs it to tell copies to drop the record.
"""
import json
from datetime import datetime, timedelta
from decimal import Decimal

from flask import current_app
from flask_smorest import abort
from sqlalchemy import Numeric, inspect, select, update

from ..extensions import db
from ..models import ApiKey, DeletedRecord
from ..models.types import UTCDateTime, utcnow
from ..web.i18n import gettext


def window():
    return timedelta(days=current_app.config["RESTORE_WINDOW_DAYS"])


def _columns(instance):
    """A row's columns, JSON-ready (exact decimals as text, times in ISO 8601)."""
    values = {}
    for column in inspect(instance).mapper.column_attrs:
        value = getattr(instance, column.key)
        values[column.key] = (str(value) if isinstance(value, Decimal)
                              else value.isoformat() if isinstance(value, datetime) else value)
    return values


def _revive(model, values):
    """A new `model` instance with the columns `_columns` gave, in their own types again."""
    fields = {}
    for column in inspect(model).mapper.column_attrs:
        value, kind = values.get(column.key), column.expression.type
        if value is not None and isinstance(kind, UTCDateTime):
            value = datetime.fromisoformat(value)
        elif value is not None and isinstance(kind, Numeric):
            value = Decimal(value)
        fields[column.key] = value
    return model(**fields)


def snapshot(record, history=()):
    """What a tombstone keeps of a record deleted now: its columns, and its history rows."""
    return json.dumps({"record": _columns(record), "history": [_columns(event) for event in history]},
                      ensure_ascii=False)


def restorable(bot_id, kind, record_id, what):
    """The tombstone of the bot's deleted `kind` record `record_id` (the caller holds the bot's change lock): a
    404 if the bot deleted none, a 410 if it was deleted longer ago than the window (purged, or about to be).
    `what` names it in the message."""
    tombstone = db.session.scalar(
        select(DeletedRecord).where(DeletedRecord.bot_id == bot_id, DeletedRecord.kind == kind,
                                    DeletedRecord.record_id == record_id, DeletedRecord.reason == "deleted")
        .order_by(DeletedRecord.change_seq.desc()).limit(1))
    if tombstone is None:
        abort(404, message=gettext("%(what)s %(id)s was not deleted in this bot: there is nothing to restore.",
                                   what=what, id=record_id))
    days = current_app.config["RESTORE_WINDOW_DAYS"]
    if tombstone.snapshot is None or tombstone.deleted_at < utcnow() - window():
        abort(410, message=gettext("%(what)s %(id)s was deleted on %(deleted_at)s UTC, more than %(days)s days ago: "
                                   "it has been purged and cannot be restored.", what=what, id=record_id,
                                   deleted_at=f"{tombstone.deleted_at:%Y-%m-%d %H:%M}", days=days))
    return tombstone


def revive(tombstone, model, history_model=None):
    """(record, history) as the tombstone keeps them, as new instances: the record with its id, the history rows
    in their order with new ids (no answer shows them, and SQLite may have handed the old ones out again).
    History rows that named an API key deleted since keep no key."""
    kept = json.loads(tombstone.snapshot)
    record = _revive(model, kept["record"])
    history = [_revive(history_model, {**values, "id": None}) for values in kept["history"]] if history_model else []
    named = {event.api_key_id for event in history if event.api_key_id is not None}
    if named:
        existing = set(db.session.scalars(select(ApiKey.id).where(ApiKey.id.in_(named))))
        for event in history:
            if event.api_key_id not in existing:
                event.api_key_id = None
    return record, history


def refuse_taken_id(model, record_id, what):
    """409 if a live record holds the id already (SQLite may hand a deleted id out again)."""
    if db.session.get(model, record_id) is not None:
        abort(409, message=gettext("%(what)s %(id)s cannot be restored: a newer record has its id.", what=what,
                                   id=record_id))


def purge_expired(now=None):
    """Erase the snapshots of records deleted longer ago than the window; returns how many were erased."""
    cutoff = (now or utcnow()) - window()
    result = db.session.execute(update(DeletedRecord).where(
        DeletedRecord.reason == "deleted", DeletedRecord.snapshot.is_not(None),
        DeletedRecord.deleted_at < cutoff).values(snapshot=None))
    db.session.commit()
    return result.rowcount
