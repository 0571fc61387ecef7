"""The change feed behind `?updated_since=` and `?cursor=` on the list endpoints: a bot's changed records and
tombstones in the order the changes committed (see writes/change_numbers.py), one page at a time, with an opaque cursor.

Why it has no gaps while writes go on: each page reads the bot's committed change number first (the high-water
mark) and returns only changes up to it. A change that commits later gets a higher number, so the next page
finds it; a record that changes again while a client walks moves past the mark and is met again, newest state,
further on. Keyset pages (change_seq > cursor) cost the same at any depth: no OFFSET.
"""
import heapq
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select

from ..extensions import db
from ..models import Bot, DeletedRecord
from ..serialization.cursors import decode_cursor, encode_cursor


@dataclass
class FeedPage:
    records: list
    deleted: list
    next_cursor: str
    has_more: bool


class Feed:
    """The change feed of one list: its statements built once, with bound parameters.

    `total` is a SELECT of the list's total for :bot_id (the answer's `total`); `columns`, when given, are what
    the records are read as (rows, not ORM objects, where the caller only dumps them; change_seq among them)."""

    def __init__(self, model, kind, list_name, *, total, columns=None):
        self.model, self.kind, self.list_name, self.columns = model, kind, list_name, columns
        # The bot's committed change number (the high-water mark) and the list's total, in one round trip.
        self.head = select(select(Bot.change_seq).where(Bot.id == bindparam("bot_id")).scalar_subquery(),
                           func.coalesce(total.scalar_subquery(), 0))
        changed = _changed(model, model.bot_id == bindparam("bot_id"))
        self.records = changed.with_only_columns(*columns) if columns else changed
        self.tombstones = _changed(DeletedRecord, (DeletedRecord.bot_id == bindparam("bot_id"))
                                   & (DeletedRecord.kind == kind))

    def response(self, bot_id, page_size, *, cursor=None, updated_since=None):
        """A list endpoint's answer in feed mode: the page under the list's name, its total, the feed members."""
        high_water, total = db.session.execute(self.head, {"bot_id": bot_id}).one()
        page = self.page(bot_id, page_size, high_water, cursor=cursor, updated_since=updated_since)
        return {self.list_name: page.records, "total": total, "deleted": page.deleted,
                "next_cursor": page.next_cursor, "has_more": page.has_more}

    def page(self, bot_id, page_size, high_water, *, cursor=None, updated_since=None):
        """One page of the bot's changes up to `high_water`: records and tombstones in change order."""
        after = (decode_cursor(self.kind, cursor) if cursor
                 else _start_after(self.model, self.kind, bot_id, updated_since, high_water))
        parameters = {"bot_id": bot_id, "after": after, "high_water": high_water, "limit": page_size + 1}
        records = (db.session.execute(self.records, parameters).all() if self.columns
                   else db.session.scalars(self.records, parameters).all())
        tombstones = db.session.scalars(self.tombstones, parameters).all()
        # One change number per change, records and tombstones alike: merged in that order.
        changes = list(heapq.merge(((record.change_seq, True, record) for record in records),
                                   ((tombstone.change_seq, False, tombstone) for tombstone in tombstones),
                                   key=lambda change: change[0]))
        page, has_more = changes[:page_size], len(changes) > page_size
        last = page[-1][0] if has_more else max(after, high_water)
        return FeedPage(records=[change for _, is_record, change in page if is_record],
                        deleted=[change for _, is_record, change in page if not is_record],
                        next_cursor=encode_cursor(self.kind, last), has_more=has_more)


def _changed(model, scope):
    """Changes after :after up to :high_water, oldest first, :limit of them."""
    return (select(model).where(scope, model.change_seq > bindparam("after"),
                                model.change_seq <= bindparam("high_water"))
            .order_by(model.change_seq).limit(bindparam("limit")))


def _start_after(model, kind, bot_id, updated_since, high_water):
    """The change number just before the first change made at or after `updated_since` (its records' times and
    deletions' times); the latest one when nothing changed since."""
    first_record = db.session.scalar(select(func.min(model.change_seq)).where(
        model.bot_id == bot_id, model.updated_at >= updated_since))
    first_deletion = db.session.scalar(select(func.min(DeletedRecord.change_seq)).where(
        DeletedRecord.bot_id == bot_id, DeletedRecord.kind == kind, DeletedRecord.deleted_at >= updated_since))
    firsts = [seq for seq in (first_record, first_deletion) if seq is not None]
    return min(firsts) - 1 if firsts else high_water
