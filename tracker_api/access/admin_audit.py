"""The audit trail of the admin API: every write, with the platform token that made it, the record before and after,
and when (a sandbox's creation and resets are filed under its live bot). Written in the write's own transaction, so
a write and its record are committed (or rolled back) together."""
from datetime import date, datetime

from ..extensions import db
from ..models import AdminAuditEvent
from .platform_tokens import current_platform_token_id


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def snapshot(record, fields):
    """The named attributes of a record as JSON-ready values (None for no record)."""
    return None if record is None else {field: _plain(getattr(record, field)) for field in fields}


def record_admin_write(action, bot_id, target, before, after):
    """Add the audit record of a write to the session; the caller's commit writes both."""
    db.session.add(AdminAuditEvent(token_id=current_platform_token_id(), action=action, bot_id=bot_id, target=target,
                                   before=before, after=after))
