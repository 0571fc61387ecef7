"""Every change to a bot's tracking numbers and clients gets the bot's next change number, in commit order.

Why: a copy that synchronises (a CRM, a phone offline) pulls "everything after the last change I saw". With
timestamps it would miss rows: a transaction that started earlier may commit later with an earlier time.
Here every write first bumps `bots.change_seq` with one UPDATE, which locks the bot's row until the write
commits, so a bot's writes commit one after another and their numbers increase in commit order: a reader that
saw number N will never later find a committed change numbered below N. The lock is per bot and held only for
one short write transaction. Deletions leave a tombstone (DeletedRecord) numbered the same way, and so does a
parcel that moves to another client (a "moved" removal from the client it left: see _record_departures).

Every write to those tables must go through `next_change_seq` before it touches a row: taking the bot's lock
first is also what keeps two writes from ever waiting on each other's rows in opposite orders. The one-statement
create and status update on PostgreSQL (parcel_statements.py) take it the same way, as their statement's first part.
"""
from sqlalchemy import event, inspect, text
from sqlalchemy.orm import Session, object_session

from ..extensions import db
from ..models import Client, DeletedRecord, TrackingNumber, WebhookEndpoint
from ..models.types import utcnow

BOTS_WITHOUT_WEBHOOKS = "bots_without_webhooks"  # the session.info key of bots_without_webhooks()
RESTORED = "restored_records"  # the session.info key of is_restored()
# The lock: the bot's counter moved on by :count, and whether the bot has an enabled webhook endpoint. One text for
# next_change_seqs and for the one-statement writes, which run it as their first part (parcel_statements.py). Built
# once: building it and its cache key anew took a write longer than PostgreSQL takes to run it.
_BUMP = "UPDATE bots SET change_seq = change_seq + :count WHERE id = :bot_id"
WEBHOOK_ENABLED = "EXISTS (SELECT 1 FROM webhook_endpoints WHERE bot_id = :bot_id AND enabled)"
LOCK_SQL = f"{_BUMP} RETURNING change_seq, {WEBHOOK_ENABLED} AS has_webhooks"
_LOCK = text(LOCK_SQL)


def conditional_lock_sql(condition):
    """LOCK_SQL taken only where `condition` (our own SQL, its values bound) holds: no row, and no number used,
    otherwise. For the one-statement writes that commit alone (parcel_statements.py): they write nothing for a bot
    whose change must be announced in their transaction, so their lock is taken only by a bot without an enabled
    webhook endpoint (`NOT WEBHOOK_ENABLED`)."""
    return f"{_BUMP} AND {condition} RETURNING change_seq, false AS has_webhooks"  # nosec B608: ours


def next_change_seq(bot_id):
    """Lock the bot's change counter until commit and return its next number."""
    return next_change_seqs(bot_id, 1)


def record_deletion(record, kind, code, change_seq, at=None, snapshot=None):
    """Delete `record` and leave its tombstone numbered `change_seq` (from next_change_seq), in the same
    transaction; `snapshot` (restore.py) is what a restore brings back."""
    db.session.add(DeletedRecord(bot_id=record.bot_id, kind=kind, record_id=record.id, code=code,
                                 change_seq=change_seq, deleted_at=at or utcnow(), reason="deleted",
                                 client_code=record.client_code if kind == "tracking" else None,
                                 snapshot=snapshot))
    db.session.delete(record)


def record_restoration(record, tombstone):
    """Insert `record` again (restore.py) and drop the tombstone it leaves behind; the webhooks announce it as
    restored rather than created (is_restored)."""
    db.session.add(record)
    db.session.delete(tombstone)
    db.session.info.setdefault(RESTORED, set()).add(id(record))


def is_restored(session, instance):
    """Whether this transaction brought `instance` back from its tombstone."""
    return id(instance) in session.info.get(RESTORED, ())


def next_change_seqs(bot_id, count):
    """Lock the bot's change counter until commit and reserve `count` numbers at once; returns the first of
    them. A bulk import numbers its rows in order with one UPDATE instead of one per row; `count` 0 only takes
    the lock (an import takes it before it reads the rows it will compare). The same statement tells whether
    the bot has an enabled webhook endpoint: see bots_without_webhooks. Run on the session's connection rather
    than through the ORM, whose handling of an UPDATE (an autoflush, then loaded Bot objects brought up to date)
    cost more than the statement: rows still pending are flushed after the lock, as they should be, and nothing
    reads a loaded Bot's change_seq (feed.py selects the column)."""
    last, has_webhooks = db.session.connection().execute(_LOCK, {"bot_id": bot_id, "count": count}).one()
    without = db.session.info.setdefault(BOTS_WITHOUT_WEBHOOKS, set())
    (without.discard if has_webhooks else without.add)(bot_id)
    return last - count + 1


def bots_without_webhooks(session):
    """The bots this transaction has locked that had no enabled webhook endpoint then: the outbox
    (webhooks/outbox.py) skips its look-up of their subscribers, a round trip on every write of most bots.
    Saving an endpoint does not take the bot's lock, so a concurrent one races with a write alike whether it is
    looked for here or at the flush a moment later; one this transaction writes itself is forgotten (below)."""
    return session.info.get(BOTS_WITHOUT_WEBHOOKS, frozenset())


@event.listens_for(WebhookEndpoint, "after_insert")
@event.listens_for(WebhookEndpoint, "after_update")
@event.listens_for(WebhookEndpoint, "after_delete")
def _forget_bot_without_webhooks(mapper, connection, endpoint):
    """An endpoint this transaction writes may be one the write should announce to."""
    object_session(endpoint).info.get(BOTS_WITHOUT_WEBHOOKS, set()).discard(endpoint.bot_id)


@event.listens_for(Session, "after_transaction_end")
def _forget_bots_without_webhooks(session, transaction):
    """What the locks found holds for their transaction only."""
    if transaction.parent is None:
        session.info.pop(BOTS_WITHOUT_WEBHOOKS, None)
        session.info.pop(RESTORED, None)


@event.listens_for(Session, "before_flush")
def _load_deleted_records(session, flush_context, instances):
    """Load every column of a tracking number or client about to be deleted: the listeners that follow the
    change after the flush (writes/totals.py, webhooks/outbox.py) read it when it can no longer be loaded."""
    for instance in session.deleted:
        if isinstance(instance, (TrackingNumber, Client)):
            for column in inspect(instance).mapper.column_attrs:
                getattr(instance, column.key)


@event.listens_for(Session, "before_flush")
def _record_departures(session, flush_context, instances):
    """A parcel given another client code leaves its old client's change feed: a "moved" removal numbered with the
    write, so that a copy of that client's parcels drops it. Here, not in the services, because every writer
    (update, import, replace by number) changes the code by assigning it."""
    for instance in list(session.dirty):
        if isinstance(instance, TrackingNumber) and instance not in session.deleted:
            history = inspect(instance).attrs.client_code.history
            left = history.deleted[0] if history.deleted else None
            if left is not None and history.added and history.added[0] != left:
                session.add(DeletedRecord(bot_id=instance.bot_id, kind="tracking", record_id=instance.id,
                                          code=instance.tracking_number, change_seq=instance.change_seq,
                                          deleted_at=instance.updated_at or utcnow(), reason="moved",
                                          client_code=left))
