"""One of a bot's records by id, and its deletion: what the tracking, client and webhook services do alike."""
import functools

from flask_smorest import abort
from sqlalchemy import bindparam, select

from ..extensions import db
from ..web.i18n import gettext
from ..writes import restore
from ..writes.change_numbers import next_change_seq, record_deletion


@functools.cache
def _by_id(model, for_update):
    """Built once per model: building a statement and its cache key anew cost more than PostgreSQL takes to run it."""
    statement = select(model).where(model.bot_id == bindparam("bot_id"), model.id == bindparam("record_id"))
    return statement.with_for_update().execution_options(populate_existing=True) if for_update else statement


def bot_record(model, bot_id, record_id, what, *, for_update=False):
    """One of this bot's records, or a 404 problem naming `what`: another bot's id is as absent as a missing one.
    `for_update` locks the row until commit, so that concurrent writes to it queue."""
    record = db.session.scalar(_by_id(model, for_update), {"bot_id": bot_id, "record_id": record_id})
    if record is None:
        not_found(what, record_id)
    return record


def not_found(what, record_id):
    """The 404 problem of a record this bot does not have."""
    abort(404, message=gettext("%(what)s %(id)s does not exist in this bot.", what=what, id=record_id))


def delete_bot_record(model, bot_id, record_id, what, *, kind, code_column, precondition=None, history=None):
    """Delete one of this bot's records under its change lock, leaving a tombstone of `kind` (named by its
    `code_column`) for the change feed, which keeps the record (and its `history(record)` rows) for the restore
    window. `precondition` (the request's If-Match) is checked on the locked row first."""
    change_seq = next_change_seq(bot_id)
    record = bot_record(model, bot_id, record_id, what, for_update=True)
    if precondition:
        precondition(record)
    snapshot = restore.snapshot(record, history(record) if history else ())
    record_deletion(record, kind, getattr(record, code_column), change_seq, snapshot=snapshot)
    db.session.commit()
