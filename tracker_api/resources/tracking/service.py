"""Tracking numbers: queries and writes, each write with its status history in the same transaction."""
from decimal import ROUND_HALF_UP, Decimal

from flask_smorest import abort
from sqlalchemy import bindparam, func, select

from ...writes import restore
from ...writes.change_numbers import record_restoration
from ...extensions import db
from ...models import StatusEvent, TrackingNumber
from ...models.types import utcnow
from ...serialization.schemas import MONEY_MAXIMUM
from ...webhooks import outbox
from ...writes import idempotency, parcel_statements, totals
from ...writes.change_numbers import next_change_seq, next_change_seqs
from ...writes.feed import Feed
from ...writes.imports import Importer
from ..conflicts import flush_or_conflict, write_or_conflict
from ..pagination import count_rows, newest_first_bound, page_items
from ..records import bot_record, delete_bot_record, not_found
from ...web.i18n import gettext, lazy_gettext
from .schemas import TrackingCreateSchema

CENT = Decimal("0.01")
TRACKING_NUMBER = lazy_gettext("Tracking number")  # what the 404 and the 409 name
# A list page reads rows, not ORM objects: building 50 TrackingNumbers cost more than the query itself. The row
# carries what TrackingNumberSchema reads, under the same names.
LIST_COLUMNS = (*TrackingNumber.__table__.columns, TrackingNumber.status.label("current_status"))


def _rows_with_kept_total(by_status):
    """SELECT of the list's columns for the bot :bot_id's parcels, with its kept total (of status :status when
    `by_status`) as a column of every row: one round trip instead of two."""
    return (select(*LIST_COLUMNS, totals.TRACKING_TOTALS[by_status].scalar_subquery().label("total"))
            .where(TrackingNumber.bot_id == bindparam("bot_id")))


def _page_with_kept_total(by_status):
    """A newest-first page of :bot_id's parcels (of status :status when `by_status`) with the kept total. Built
    once, with bound parameters."""
    statement = _rows_with_kept_total(by_status)
    if by_status:
        statement = statement.where(TrackingNumber.status == bindparam("status"))
    else:
        statement = statement.where(newest_first_bound(TrackingNumber, bindparam("bot_id")))
    return statement.order_by(TrackingNumber.id.desc()).limit(bindparam("limit")).offset(bindparam("offset"))


PAGES_WITH_KEPT_TOTAL = {by_status: _page_with_kept_total(by_status) for by_status in (False, True)}


def _deep_page_with_kept_total():
    """A page far down the newest-first list (:offset past totals.BUCKETED_OFFSET) with the kept total, in one
    round trip: it starts in the id bucket holding its first row (totals.ROW_BUCKET, a CTE read twice and
    computed once) and skips only the rows before it in that bucket. A plain `id <` bound, not
    newest_first_bound: PostgreSQL 15 positions a backward scan on a row comparison by its first column only,
    and would walk the bot's newer rows (0.4 ms against 13-70 ms at a million rows). Past the last row there is
    no bucket, so the bound is NULL: no rows. :bucket_width is totals.ID_BUCKET_WIDTH."""
    found = totals.ROW_BUCKET.cte("row_bucket")
    below = select((found.c.bucket + 1) * bindparam("bucket_width")).scalar_subquery()
    skip = func.coalesce(select(bindparam("offset") - found.c.before).scalar_subquery(), 0)  # SQLite: no NULL
    return (_rows_with_kept_total(False).where(TrackingNumber.id < below)
            .order_by(TrackingNumber.id.desc()).limit(bindparam("limit")).offset(skip))


DEEP_PAGE_WITH_KEPT_TOTAL = _deep_page_with_kept_total()
TRACKING_FEED = Feed(TrackingNumber, "tracking", "tracking_numbers", total=totals.TRACKING_TOTALS[False],
                     columns=LIST_COLUMNS, client_column=TrackingNumber.client_code)


def list_tracking(bot_id, page, page_size, status_filter=None, client_code=None, cursor=None, updated_since=None):
    """A page of the bot's tracking numbers, newest first; or, given a cursor or updated_since, of its changes
    (of one client's, given client_code)."""
    if cursor or updated_since:
        return TRACKING_FEED.response(bot_id, page_size, cursor=cursor, updated_since=updated_since,
                                      client_code=client_code)
    offset = (page - 1) * page_size
    if not client_code:
        statement = (PAGES_WITH_KEPT_TOTAL[bool(status_filter)] if status_filter or offset < totals.BUCKETED_OFFSET
                     else DEEP_PAGE_WITH_KEPT_TOTAL)
        rows = db.session.execute(statement, {"bot_id": bot_id, "status": status_filter, "limit": page_size,
                                              "offset": offset, "bucket_width": totals.ID_BUCKET_WIDTH}).all()
        # A page past the end has no row to carry the total: it is asked for alone.
        total = rows[0].total if rows else totals.tracking_total(bot_id, status_filter)
        return {"tracking_numbers": rows, "total": total}
    # A client's parcels have no kept total: counting them is an index range of their own.
    statement = (select_tracking(bot_id, status_filter, client_code).with_only_columns(*LIST_COLUMNS)
                 .order_by(TrackingNumber.id.desc()))
    total = count_rows(statement)
    return {"tracking_numbers": page_items(statement, page, page_size, total, rows=True), "total": total}


def select_tracking(bot_id, status_filter=None, client_code=None):
    """The bot's tracking numbers, filtered as the list and the export filter them."""
    statement = db.select(TrackingNumber).where(TrackingNumber.bot_id == bot_id)
    if status_filter:
        statement = statement.where(TrackingNumber.status == status_filter)
    if client_code:
        statement = statement.where(TrackingNumber.client_code == client_code)
    return statement


def get_tracking(bot_id, tracking_id, *, for_update=False):
    """One of this bot's tracking numbers (records.bot_record). `for_update` locks the row until commit, so
    concurrent updates queue and each records the status the one before it left."""
    return bot_record(TrackingNumber, bot_id, tracking_id, TRACKING_NUMBER, for_update=for_update)


_BY_NUMBER = db.select(TrackingNumber).where(TrackingNumber.bot_id == bindparam("bot_id"),
                                             TrackingNumber.tracking_number == bindparam("tracking_number"))
# A parcel replaced by number: what a field left out of the body becomes (create's defaults come from the schema).
REPLACED_FIELDS = dict.fromkeys(("weight_kg", "price_per_kg_usd", "total_cost_usd", "note"))


def get_tracking_by_number(bot_id, tracking_number):
    """One of this bot's tracking numbers by its number (what a CRM knows it by). The 404 does not repeat the
    number, so an answer about a parcel this bot lacks never carries another bot's code (test_isolation.py
    looks for them in every answer)."""
    record = db.session.scalar(_BY_NUMBER, {"bot_id": bot_id, "tracking_number": tracking_number})
    if record is None:
        abort(404, message=gettext("This bot has no tracking number with that number."))
    return record


def put_tracking_by_number(bot_id, tracking_number, fields, *, api_key_id=None, precondition=None):
    """Create the parcel with this number, or replace it with `fields` (fields left out: the create defaults,
    the total derived as a create derives it). Returns (record, created). The bot's lock is taken before the
    look-up, so a concurrent write of the same number queues behind this one rather than racing it; then the
    create or the update runs as its own route would, history and events included. `precondition` (If-Match)
    is checked on the existing row, or refuses the create."""
    next_change_seqs(bot_id, 0)
    existing = db.session.scalar(_BY_NUMBER, {"bot_id": bot_id, "tracking_number": tracking_number})
    if existing is None:
        if precondition:
            precondition(None)
        return create_tracking(bot_id, {**fields, "tracking_number": tracking_number}, api_key_id=api_key_id), True
    replacement = {**REPLACED_FIELDS, **fields}
    _derive_total_unless_given(replacement)  # as a create derives it, from the body alone
    replacement.setdefault("total_cost_usd", None)
    return update_tracking(bot_id, existing.id, replacement, api_key_id=api_key_id, precondition=precondition), False


def get_history(bot_id, tracking_id):
    """One of this bot's tracking numbers with every status it has taken, oldest first."""
    record = get_tracking(bot_id, tracking_id)
    return {"tracking_id": record.id, "tracking_number": record.tracking_number,
            "current_status": record.status, "history": status_history(record)}


def status_history(record):
    """Every status a parcel has taken, oldest first (its history and the widget's timeline)."""
    return db.session.scalars(db.select(StatusEvent).where(StatusEvent.tracking_id == record.id)
                              .order_by(StatusEvent.id)).all()


def _derive_total_cost(fields, record=None):
    """Fill in total_cost_usd = weight_kg × price_per_kg_usd, rounded to cents, when `fields` write a weight or a
    price but no total: the other factor comes from `fields`, else from the stored `record`. Returns why the
    product cannot be stored (past the column's maximum), else None."""
    if "total_cost_usd" in fields or not {"weight_kg", "price_per_kg_usd"} & fields.keys():
        return None
    weight = fields.get("weight_kg", getattr(record, "weight_kg", None))
    price = fields.get("price_per_kg_usd", getattr(record, "price_per_kg_usd", None))
    if weight is None or price is None:
        return None
    total = (weight * price).quantize(CENT, ROUND_HALF_UP)
    if total > MONEY_MAXIMUM:
        return gettext("weight_kg × price_per_kg_usd = %(total)s exceeds the maximum %(maximum)s; give "
                       "total_cost_usd.", total=total, maximum=MONEY_MAXIMUM)
    fields["total_cost_usd"] = total
    return None


def _derive_total_cost_or_422(fields, record=None):
    error = _derive_total_cost(fields, record)
    if error:
        abort(422, messages={"json": {"total_cost_usd": [error]}})


def _derive_total_unless_given(fields):
    """A null total is no total: it is left out and derived from the fields' own weight and price, as a left-out
    one (a create, a replace by number)."""
    if fields.get("total_cost_usd") is None:
        fields.pop("total_cost_usd", None)
        _derive_total_cost_or_422(fields)


def _status_event(record, previous_status, source, api_key_id):
    """The history row of the status `record` has just taken."""
    return StatusEvent(tracking_id=record.id, bot_id=record.bot_id, status=record.status,
                       previous_status=previous_status, source=source, api_key_id=api_key_id,
                       created_at=record.updated_at)


def _record_status(record, previous_status, source, api_key_id):
    db.session.add(_status_event(record, previous_status, source, api_key_id))


def create_tracking(bot_id, fields, *, source="api", api_key_id=None, at=None):
    """Create a parcel and its first history row; `at` backdates it (demo data, imports). On PostgreSQL in one
    statement (writes/parcel_statements.py); else both rows are ready before the bot's lock is taken, and go in one
    flush: the history row, added through the relationship, gets the parcel's id from that flush."""
    fields = dict(fields)
    _derive_total_unless_given(fields)
    now = at or utcnow()
    if _on_postgresql():
        return _create_in_one_statement(bot_id, {**fields, "created_at": now, "updated_at": now}, source, api_key_id)
    record = TrackingNumber(bot_id=bot_id, created_at=now, updated_at=now, **fields)
    record.history.append(_status_event(record, None, source, api_key_id))
    record.change_seq = next_change_seq(bot_id)
    db.session.add(record)
    flush_or_conflict(TrackingNumber.tracking_number, bot_id, fields["tracking_number"], TRACKING_NUMBER)
    db.session.commit()
    return record


def _create_in_one_statement(bot_id, values, source, api_key_id):
    """PostgreSQL's create: the statement writes the parcel, its history row, the change number and the totals;
    its webhook event (when the bot has an enabled endpoint) and its Idempotency-Key mark go in the same
    transaction, before the commit."""
    record, has_webhooks = write_or_conflict(
        lambda: parcel_statements.create_parcel(bot_id, values, source, api_key_id),
        TrackingNumber.tracking_number, bot_id, values["tracking_number"], TRACKING_NUMBER)
    if has_webhooks:
        outbox.announce(db.session(), [(bot_id, "tracking.created", record, record.change_seq, {})])
    idempotency.note_created(db.session(), TrackingNumber.__tablename__, record.id)
    db.session.commit()
    return record


def _on_postgresql():
    return db.session.get_bind().dialect.name == "postgresql"


def update_tracking(bot_id, tracking_id, fields, *, source="api", api_key_id=None, at=None, precondition=None):
    """Apply the given fields; a new status is recorded in the history. Always bumps updated_at. `precondition`
    (the request's If-Match) is checked on the locked row, before anything changes. On PostgreSQL, without a
    precondition, a change of the fields parcel_statements.UPDATABLE lists (a status, above all) is one statement."""
    if precondition is None and fields.keys() <= parcel_statements.UPDATABLE and _on_postgresql():
        return _update_in_one_statement(bot_id, tracking_id, fields, at or utcnow(), source, api_key_id)
    change_seq = next_change_seq(bot_id)
    record = get_tracking(bot_id, tracking_id, for_update=True)
    if precondition:
        precondition(record)
    fields = dict(fields)
    _derive_total_cost_or_422(fields, record)
    previous_status = record.status
    for name, value in fields.items():
        setattr(record, name, value)
    record.updated_at = at or utcnow()
    record.change_seq = change_seq
    if "tracking_number" in fields:
        flush_or_conflict(TrackingNumber.tracking_number, bot_id, fields["tracking_number"], TRACKING_NUMBER)
    if record.status != previous_status:
        _record_status(record, previous_status, source, api_key_id)
    db.session.commit()
    return record


def _update_in_one_statement(bot_id, tracking_id, fields, updated_at, source, api_key_id):
    """PostgreSQL's update of parcel_statements.UPDATABLE fields: the statement changes the parcel, writes its
    history row, the change number and the totals; its webhook event goes in the same transaction."""
    updated = parcel_statements.update_parcel(bot_id, tracking_id, fields, updated_at, source, api_key_id)
    if updated is None:
        not_found(TRACKING_NUMBER, tracking_id)
    record, has_webhooks, previous = updated
    if has_webhooks:
        change = outbox.change_event("tracking", {name: value for name, value in previous.items()
                                                  if getattr(record, name) != value})
        if change:
            outbox.announce(db.session(), [(bot_id, change[0], record, record.change_seq, change[1])])
    db.session.commit()
    return record


def delete_tracking(bot_id, tracking_id, *, precondition=None):
    """Delete a parcel with its history, leaving a tombstone for the change feed that keeps both for the restore
    window."""
    delete_bot_record(TrackingNumber, bot_id, tracking_id, TRACKING_NUMBER, kind="tracking",
                      code_column="tracking_number", precondition=precondition, history=status_history)


def restore_tracking(bot_id, tracking_id):
    """Bring a parcel deleted within the restore window back, with its id and history: a change like any other
    (a new change number, updated_at now), announced as tracking.restored. Its number taken since is a 409."""
    change_seq = next_change_seq(bot_id)
    tombstone = restore.restorable(bot_id, "tracking", tracking_id, TRACKING_NUMBER)
    restore.refuse_taken_id(TrackingNumber, tracking_id, TRACKING_NUMBER)
    record, history = restore.revive(tombstone, TrackingNumber, StatusEvent)
    record.history.extend(history)
    record.change_seq, record.updated_at = change_seq, utcnow()
    record_restoration(record, tombstone)
    flush_or_conflict(TrackingNumber.tracking_number, bot_id, record.tracking_number, TRACKING_NUMBER)
    db.session.commit()
    return record


# --- bulk import (writes/imports.py runs it: all rows in one transaction, under the bot's lock) -------------------

def tracking_importer(api_key_id=None):
    """The tracking import's rules and writes; history rows are recorded with source "import"."""
    def insert(bot_id, fields, change_seq, now):
        record = TrackingNumber(bot_id=bot_id, created_at=now, updated_at=now, change_seq=change_seq, **fields)
        db.session.add(record)
        return record

    def update(record, fields, change_seq, now):
        previous_status = record.status
        for name, value in fields.items():
            setattr(record, name, value)
        record.updated_at, record.change_seq = now, change_seq
        if record.status != previous_status:
            _record_status(record, previous_status, "import", api_key_id)

    def inserted(records):
        for record in records:
            _record_status(record, None, "import", api_key_id)

    return Importer(TrackingNumber, "tracking_number", TrackingCreateSchema(), plan_tracking_import, insert, update,
                    inserted, renamed={"current_status": "status"})  # the export's (and the API's) name


def plan_tracking_import(record, fields, given):
    """(fields to write, errors) for one imported row: a new parcel takes every field (the create defaults
    too), an existing one the given fields that differ. total_cost_usd is derived as a create or an update
    derives it; a product too large to store is the row's error."""
    planned = dict(fields) if record is None else dict(given)
    error = _derive_total_cost(planned, record)
    if error:
        return {}, {"total_cost_usd": [error]}
    if record is not None:
        planned = {name: value for name, value in planned.items() if getattr(record, name) != value}
    return planned, {}
