"""The transactional outbox: every write to a tracking number or a client adds its webhook event, and one delivery
per subscribed endpoint, in the write's own transaction.

Why here, in a session listener (as writes/totals.py keeps the totals): an event written by the views after the commit
would be lost when the process dies between the two, and one written before would announce a change that may
roll back. Here the change and its event commit or roll back together; the worker (delivery.py) sends what is
committed, later, however long the receiver is down. The one-statement writes on PostgreSQL, which flush nothing
(writes/parcel_statements.py), call `announce` themselves before their commit.

Order: each event carries the bot's change number of the write (change_numbers.py), which increases in commit order; a
parcel's deliveries to one endpoint go out one after another in that order. One write is one event: a status
change is `tracking.status_changed` (the parcel as it is now, with `previous_status`), other changes are
`tracking.updated` (with the `changed` fields); a write that changes nothing but its time sends nothing. An event
no enabled endpoint subscribes to is not stored: the change feed already keeps the history.
"""
import json
import uuid
from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from sqlalchemy import event, insert, inspect, select
from sqlalchemy.orm import Session

from ..models import Client, DeletedRecord, TrackingNumber, WebhookDelivery, WebhookEndpoint, WebhookEvent
from ..models.types import utcnow
# change_numbers.py's before_flush also loads deleted records for us
from ..writes.change_numbers import bots_without_webhooks, is_restored

KINDS = {TrackingNumber: "tracking", Client: "client"}
PAYLOAD_KEYS = {"tracking": "tracking_number", "client": "client"}
UNSENT_COLUMNS = {"bot_id", "change_seq"}  # the envelope carries the bot and the change number
BOOKKEEPING = {"updated_at", "change_seq"}  # changed by every write: not a change of their own
# How an event shows each kind of record: the API's own JSON for it, so that a receiver parses one shape. The
# resources know their schemas and register them (resources/webhooks/service.py); this module sits below them.
RECORD_SHAPES = {}


def show_records_as(model, dump):
    """Events show `model`'s records as `dump(record)` gives them."""
    RECORD_SHAPES[model] = dump


def _json_value(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def record_fields(instance):
    """The record as the event shows it: its registered shape, else its columns, JSON-ready."""
    dump = RECORD_SHAPES.get(type(instance))
    if dump:
        return dump(instance)
    return {column.key: _json_value(getattr(instance, column.key)) for column in inspect(instance).mapper.column_attrs
            if column.key not in UNSENT_COLUMNS}


def _changed_columns(instance):
    """{column: old value} of the columns this flush changes (an assignment of the same value is no change)."""
    state = inspect(instance)
    changed = {}
    for column in state.mapper.column_attrs:
        history = state.attrs[column.key].history
        if history.added and (not history.deleted or history.added[0] != history.deleted[0]):
            changed[column.key] = history.deleted[0] if history.deleted else None  # None: the old value was not loaded
    return {name: old for name, old in changed.items() if name not in BOOKKEEPING}


def event_payload(event_id, event_type, bot_id, sequence, data, at=None):
    """The JSON body every endpoint receives for one event, as text (the signature covers these exact bytes)."""
    return json.dumps({"id": event_id, "type": event_type, "created_at": (at or utcnow()).isoformat(),
                       "bot_id": bot_id, "sequence": sequence, "data": data}, ensure_ascii=False)


def _deletion_seq(session, kind, instance):
    for new in session.new:
        if (isinstance(new, DeletedRecord) and new.kind == kind and new.record_id == instance.id
                and new.reason == "deleted"):
            return new.change_seq
    return instance.change_seq


def _writes_to_announce(session):
    """(bot_id, event type, subject, sequence, data) of every change this flush writes."""
    for instance in session.new:
        kind = KINDS.get(type(instance))
        if kind:
            action = "restored" if is_restored(session, instance) else "created"
            yield instance.bot_id, f"{kind}.{action}", instance, instance.change_seq, {}
    for instance in session.deleted:
        kind = KINDS.get(type(instance))
        if kind:
            yield instance.bot_id, f"{kind}.deleted", instance, _deletion_seq(session, kind, instance), {}
    for instance in session.dirty:
        kind = KINDS.get(type(instance))
        if kind and instance not in session.deleted:
            change = change_event(kind, _changed_columns(instance))
            if change:
                yield instance.bot_id, change[0], instance, instance.change_seq, change[1]


def change_event(kind, changed):
    """(event type, extra data) of a change to a record of `kind`, `changed` mapping each changed column to its old
    value; None when nothing changed."""
    if kind == "tracking" and "status" in changed:
        return "tracking.status_changed", {"previous_status": changed["status"]}
    if changed:
        return f"{kind}.updated", {"changed": sorted(changed)}
    return None


def _subscribers(session, bot_ids):
    """{(bot_id, event type): [endpoint ids]} of the bots' enabled endpoints; not looked up for a bot that had
    none when this transaction locked it (writes/change_numbers.py)."""
    bot_ids = bot_ids - bots_without_webhooks(session)
    found = defaultdict(list)
    if not bot_ids:
        return found
    rows = session.connection().execute(
        select(WebhookEndpoint.id, WebhookEndpoint.bot_id, WebhookEndpoint.events)
        .where(WebhookEndpoint.bot_id.in_(bot_ids), WebhookEndpoint.enabled.is_(True)))
    for endpoint_id, bot_id, events in rows:
        for event_type in events.split(","):
            found[bot_id, event_type].append(endpoint_id)
    return found


def enqueue(connection, events):
    """Store `events`, each (bot_id, type, subject, sequence, data, endpoint ids), and a pending delivery of each
    to each of its endpoints: two statements however many there are (an import writes a thousand). Returns the
    events' row ids, in order."""
    now = utcnow()
    rows = []
    for bot_id, event_type, subject, sequence, data, _ in events:
        event_id = str(uuid.uuid4())
        rows.append({"event_id": event_id, "bot_id": bot_id, "type": event_type, "subject": subject,
                     "sequence": sequence, "created_at": now,
                     "payload": event_payload(event_id, event_type, bot_id, sequence, data, now)})
    row_ids = connection.execute(insert(WebhookEvent).returning(WebhookEvent.id, sort_by_parameter_order=True),
                                 rows).scalars().all()
    deliveries = [{"endpoint_id": endpoint_id, "event_row_id": row_id, "subject": subject, "status": "pending",
                   "attempts": 0, "next_attempt_at": now, "created_at": now}
                  for row_id, (_, _, subject, _, _, endpoint_ids) in zip(row_ids, events)
                  for endpoint_id in endpoint_ids]
    if deliveries:
        connection.execute(insert(WebhookDelivery), deliveries)
    return row_ids


@event.listens_for(Session, "after_flush")
def _write_events(session, flush_context):
    """After each flush, the events of what it wrote, for the endpoints subscribed to them, in its transaction."""
    announce(session, list(_writes_to_announce(session)))


def announce(session, announced):
    """Store the events of `announced` writes, each (bot_id, event type, record, change number, extra data), for the
    endpoints subscribed to them, in the session's transaction. The flush listener above calls it for what a flush
    wrote; a write made without a flush (writes/parcel_statements.py) calls it itself."""
    if not announced:
        return
    subscribers = _subscribers(session, {bot_id for bot_id, *_ in announced})
    events = []
    for bot_id, event_type, instance, sequence, extra in announced:
        endpoint_ids = subscribers.get((bot_id, event_type))
        if endpoint_ids:
            kind = KINDS[type(instance)]
            data = {PAYLOAD_KEYS[kind]: record_fields(instance), **extra}
            events.append((bot_id, event_type, f"{kind}:{instance.id}", sequence, data, endpoint_ids))
    if events:
        enqueue(session.connection(), events)
