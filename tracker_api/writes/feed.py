"""The change feed behind `?updated_since=` and `?cursor=` on the list endpoints: a bot's changed records and
tombstones in the order the changes committed (see writes/change_numbers.py), one page at a time, with an opaque cursor.

Why it has no gaps while writes go on: each page reads the bot's committed change number first (the high-water
mark) and returns only changes up to it. A change that commits later gets a higher number, so the next page
finds it; a record that changes again while a client walks moves past the mark and is met again, newest state,
further on. Keyset pages (change_seq > cursor) cost the same at any depth: no OFFSET.

One client's feed (the tracking list's `client_code`) is the same walk over that client's parcels, and its
removals are the parcels deleted while they were the client's and those that moved to another client (change_numbers.py
records both, numbered with the write): a copy of one client's parcels that applies them stays exact. Its
cursors name the client, so a cursor of one client's walk cannot go on another's.
"""
import heapq
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select

from ..extensions import db
from ..models import Bot, DeletedRecord
from ..serialization.cursors import cursor_kind, decode_cursor, encode_cursor


@dataclass
class FeedPage:
    records: list
    deleted: list
    next_cursor: str
    has_more: bool


class Feed:
    """The change feed of one list: its statements built once, with bound parameters.

    `total` is a SELECT of the list's total for :bot_id (the answer's `total`); `columns`, when given, are what
    the records are read as (rows, not ORM objects, where the caller only dumps them; change_seq among them).
    `client_column`, when given, is the model's client code: the feed can then be one client's."""

    def __init__(self, model, kind, list_name, *, total, columns=None, client_column=None):
        self.model, self.kind, self.list_name, self.columns = model, kind, list_name, columns
        self.client_column = client_column
        bot = model.bot_id == bindparam("bot_id")
        high_water = select(Bot.change_seq).where(Bot.id == bindparam("bot_id")).scalar_subquery()
        removals = (DeletedRecord.bot_id == bindparam("bot_id")) & (DeletedRecord.kind == kind)
        # [whole feed, one client's]: (head, records, removals). The head is the bot's committed change number
        # (the high-water mark) and the list's total, in one round trip.
        self.statements = {False: (select(high_water, func.coalesce(total.scalar_subquery(), 0)),
                                   self._records(bot),
                                   _changed(DeletedRecord, removals & (DeletedRecord.reason == "deleted")))}
        if client_column is not None:
            client = bot & (client_column == bindparam("client_code"))
            client_total = select(func.count()).select_from(model).where(client).scalar_subquery()
            self.statements[True] = (select(high_water, client_total), self._records(client),
                                     _changed(DeletedRecord, removals
                                              & (DeletedRecord.client_code == bindparam("client_code"))))

    def _records(self, scope):
        changed = _changed(self.model, scope)
        return changed.with_only_columns(*self.columns) if self.columns else changed

    def response(self, bot_id, page_size, *, cursor=None, updated_since=None, client_code=None):
        """A list endpoint's answer in feed mode: the page under the list's name, its total, the feed members."""
        head = self.statements[bool(client_code)][0]
        high_water, total = db.session.execute(head, {"bot_id": bot_id, "client_code": client_code}).one()
        page = self.page(bot_id, page_size, high_water, cursor=cursor, updated_since=updated_since,
                         client_code=client_code)
        return {self.list_name: page.records, "total": total, "deleted": page.deleted,
                "next_cursor": page.next_cursor, "has_more": page.has_more}

    def page(self, bot_id, page_size, high_water, *, cursor=None, updated_since=None, client_code=None):
        """One page of the bot's (or one client's) changes up to `high_water`: records and removals in change
        order."""
        kind = cursor_kind(self.kind, client_code)
        after = (decode_cursor(kind, cursor) if cursor
                 else self._start_after(bot_id, updated_since, high_water, client_code))
        parameters = {"bot_id": bot_id, "client_code": client_code, "after": after, "high_water": high_water,
                      "limit": page_size + 1}
        _, records_statement, removals_statement = self.statements[bool(client_code)]
        records = (db.session.execute(records_statement, parameters).all() if self.columns
                   else db.session.scalars(records_statement, parameters).all())
        tombstones = db.session.scalars(removals_statement, parameters).all()
        # One change number per change, records and tombstones alike: merged in that order. (A move numbers its
        # removal from the old client and the record alike; one client's feed never holds both.)
        changes = list(heapq.merge(((record.change_seq, True, record) for record in records),
                                   ((tombstone.change_seq, False, tombstone) for tombstone in tombstones),
                                   key=lambda change: change[0]))
        page, has_more = changes[:page_size], len(changes) > page_size
        last = page[-1][0] if has_more else max(after, high_water)
        records = [change for _, is_record, change in page if is_record]
        # A page lists records and removals apart, so it must never hold both for one id, or a copy could not tell
        # which came last. A record always comes last (it is listed at its latest change, which follows any
        # removal of its id: a move back to the client, a restore, SQLite handing a deleted id out again), so
        # its earlier removals are left out.
        present = {record.id for record in records}
        return FeedPage(records=records,
                        deleted=[change for _, is_record, change in page
                                 if not is_record and change.record_id not in present],
                        next_cursor=encode_cursor(kind, last), has_more=has_more)

    def _start_after(self, bot_id, updated_since, high_water, client_code=None):
        """The change number just before the first change made at or after `updated_since` (its records' times
        and removals' times); the latest one when nothing changed since."""
        model = self.model
        records = [model.bot_id == bot_id, model.updated_at >= updated_since]
        removals = [DeletedRecord.bot_id == bot_id, DeletedRecord.kind == self.kind,
                    DeletedRecord.deleted_at >= updated_since]
        if client_code:
            records.append(self.client_column == client_code)
            removals.append(DeletedRecord.client_code == client_code)
        else:
            removals.append(DeletedRecord.reason == "deleted")
        first_record = db.session.scalar(select(func.min(model.change_seq)).where(*records))
        first_removal = db.session.scalar(select(func.min(DeletedRecord.change_seq)).where(*removals))
        firsts = [seq for seq in (first_record, first_removal) if seq is not None]
        return min(firsts) - 1 if firsts else high_water


def _changed(model, scope):
    """Changes after :after up to :high_water, oldest first, :limit of them."""
    return (select(model).where(scope, model.change_seq > bindparam("after"),
                                model.change_seq <= bindparam("high_water"))
            .order_by(model.change_seq).limit(bindparam("limit")))
