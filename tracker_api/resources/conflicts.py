"""The 409 for a code a bot already has: tracking numbers and client codes are each unique per bot."""
from flask_smorest import abort
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..web.i18n import gettext


def flush_or_conflict(code_column, bot_id, code, what):
    """Flush pending writes; a duplicate `code` in `code_column` becomes a 409 naming the record that has it.
    `what` opens the message ("Tracking number", "Client code")."""
    return write_or_conflict(db.session.flush, code_column, bot_id, code, what)


def write_or_conflict(write, code_column, bot_id, code, what):
    """`write()`'s result; a duplicate `code` it writes becomes the 409 of flush_or_conflict."""
    try:
        return write()
    except IntegrityError:
        db.session.rollback()
        model = code_column.class_
        existing_id = db.session.scalar(db.select(model.id).where(model.bot_id == bot_id, code_column == code))
        abort(409, message=gettext("%(what)s %(code)s already exists in this bot (id %(id)s).", what=what, code=code,
                                   id=existing_id),
              extra={"existing_id": existing_id})
