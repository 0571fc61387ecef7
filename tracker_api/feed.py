"""The change feed behind `?updated_since=` and `?cursor=` on the list endpoints: a bot's changed records and
tombstones in the order the changes committed (see changes.py), one page at a time, with an opaque cursor.

Why it has no gaps while writes go on: each page reads the bot's committed change number first (the high-water
mark) and returns only changes up to it. A change that commits later gets a higher number, so the next page
finds it; a record that changes again while a client walks moves past the mark and is met again, newest state,
further on. Keyset pages (change_seq > cursor) cost the same at any depth: no OFFSET.
"""
import base64
import binascii
import heapq
from dataclasses import dataclass

from sqlalchemy import func, select

from .extensions import db
from .models import Bot, DeletedRecord

CURSOR_VERSION = "v1"


class InvalidCursor(ValueError):
    pass


def encode_cursor(kind, change_seq):
    return base64.urlsafe_b64encode(f"{CURSOR_VERSION}:{kind}:{change_seq}".encode()).decode().rstrip("=")


def decode_cursor(kind, cursor):
    """The change number a cursor of this kind stands for; InvalidCursor for anything this API did not give out."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        version, cursor_kind, change_seq = text.split(":")
        if version == CURSOR_VERSION and cursor_kind == kind and change_seq.isdigit():
            return int(change_seq)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidCursor(f"Not a {kind} cursor this API gave out; start again with updated_since.")


@dataclass
class FeedPage:
    records: list
    deleted: list
    next_cursor: str
    has_more: bool


def feed_page(model, kind, bot_id, page_size, *, cursor=None, updated_since=None, columns=None):
    """One page of the bot's changes to `model` rows (`kind` names them in tombstones and cursors): ORM objects, or
    rows of `columns` (which must include change_seq) where the caller only dumps them."""
    high_water = db.session.scalar(select(Bot.change_seq).where(Bot.id == bot_id))
    after = decode_cursor(kind, cursor) if cursor else _start_after(model, kind, bot_id, updated_since, high_water)
    changed = _changed(model, model.bot_id == bot_id, after, high_water, page_size)
    records = (db.session.execute(changed.with_only_columns(*columns)).all() if columns
               else db.session.scalars(changed).all())
    tombstones = db.session.scalars(_changed(
        DeletedRecord, (DeletedRecord.bot_id == bot_id) & (DeletedRecord.kind == kind), after, high_water,
        page_size)).all()
    # One change number per change, records and tombstones alike: merged in that order.
    changes = list(heapq.merge(((record.change_seq, True, record) for record in records),
                               ((tombstone.change_seq, False, tombstone) for tombstone in tombstones),
                               key=lambda change: change[0]))
    page, has_more = changes[:page_size], len(changes) > page_size
    last = page[-1][0] if has_more else max(after, high_water)
    return FeedPage(records=[change for _, is_record, change in page if is_record],
                    deleted=[change for _, is_record, change in page if not is_record],
                    next_cursor=encode_cursor(kind, last), has_more=has_more)


def feed_response(model, kind, list_name, bot_id, page_size, *, total, cursor=None, updated_since=None,
                  columns=None):
    """A list endpoint's answer in feed mode: the page under `list_name`, the bot's `total`, and the feed members."""
    page = feed_page(model, kind, bot_id, page_size, cursor=cursor, updated_since=updated_since, columns=columns)
    return {list_name: page.records, "total": total, "deleted": page.deleted, "next_cursor": page.next_cursor,
            "has_more": page.has_more}


def _changed(model, scope, after, high_water, page_size):
    return (select(model).where(scope, model.change_seq > after, model.change_seq <= high_water)
            .order_by(model.change_seq).limit(page_size + 1))


def _start_after(model, kind, bot_id, updated_since, high_water):
    """The change number just before the first change made at or after `updated_since` (its records' times and
    deletions' times); the latest one when nothing changed since."""
    first_record = db.session.scalar(select(func.min(model.change_seq)).where(
        model.bot_id == bot_id, model.updated_at >= updated_since))
    first_deletion = db.session.scalar(select(func.min(DeletedRecord.change_seq)).where(
        DeletedRecord.bot_id == bot_id, DeletedRecord.kind == kind, DeletedRecord.deleted_at >= updated_since))
    firsts = [seq for seq in (first_record, first_deletion) if seq is not None]
    return min(firsts) - 1 if firsts else high_water
