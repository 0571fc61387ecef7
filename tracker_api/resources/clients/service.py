"""Clients: queries scoped to one bot, and writes, each numbered in the bot's change sequence
(writes/change_numbers.py)."""

from ...database import retry_after_integrity_error
from ...writes import restore
from ...writes.change_numbers import record_restoration
from ...extensions import db
from ...models import Client
from ...models.types import utcnow
from ...writes import totals
from ...writes.change_numbers import next_change_seq
from ...writes.feed import Feed
from ...writes.imports import Importer
from ..conflicts import flush_or_conflict
from ..pagination import newest_first_bound, page_items
from ..records import bot_record, delete_bot_record
from ...web.i18n import lazy_gettext
from .schemas import ClientCreateSchema

CONTACT_FIELDS = ("name", "phone", "telegram_username", "telegram_id")
# What the 404 and the 409 name ("<what> <id> does not exist", "<what> <code> already exists").
CLIENT, CLIENT_CODE = lazy_gettext("Client"), lazy_gettext("Client code")


CLIENT_FEED = Feed(Client, "client", "clients", total=totals.CLIENT_TOTAL)


def list_clients(bot_id, page, page_size, cursor=None, updated_since=None):
    """A page of the bot's clients, newest first; or, given a cursor or updated_since, of its changes."""
    if cursor or updated_since:
        return CLIENT_FEED.response(bot_id, page_size, cursor=cursor, updated_since=updated_since)
    statement = (db.select(Client).where(Client.bot_id == bot_id, newest_first_bound(Client, bot_id))
                 .order_by(Client.id.desc()))
    total = totals.client_total(bot_id)
    return {"clients": page_items(statement, page, page_size, total), "total": total}


def get_client(bot_id, client_id, *, for_update=False):
    """One of this bot's clients (records.bot_record); `for_update` locks the row until commit."""
    return bot_record(Client, bot_id, client_id, CLIENT, for_update=for_update)


def _client_by_code(bot_id, client_code):
    return db.session.scalar(db.select(Client).where(Client.bot_id == bot_id, Client.client_code == client_code)
                             .with_for_update().execution_options(populate_existing=True))


def _all_fields(fields):
    """A replacement: every contact field the body leaves out becomes null, so the client is exactly the body."""
    return {**dict.fromkeys(CONTACT_FIELDS), **fields}


def _apply(client, fields, change_seq, now=None):
    for name, value in fields.items():
        setattr(client, name, value)
    client.updated_at = now or utcnow()
    client.change_seq = change_seq


def _insert(bot_id, fields, change_seq, now=None):
    now = now or utcnow()
    client = Client(bot_id=bot_id, created_at=now, updated_at=now, change_seq=change_seq, **_all_fields(fields))
    db.session.add(client)
    return client


def create_client(bot_id, fields):
    """Create a client; a code the bot already has is a 409 naming that client."""
    change_seq = next_change_seq(bot_id)
    client = _insert(bot_id, fields, change_seq)
    flush_or_conflict(Client.client_code, bot_id, fields["client_code"], CLIENT_CODE)
    db.session.commit()
    return client


def update_client(bot_id, client_id, fields, *, replace=False, precondition=None):
    """Apply `fields` (PATCH), or with `replace` make the client exactly `fields` (PUT). Always bumps
    updated_at; a rename to a code the bot already has is a 409 and changes nothing. `precondition` (the
    request's If-Match) is checked on the locked row, before anything changes."""
    change_seq = next_change_seq(bot_id)
    client = get_client(bot_id, client_id, for_update=True)
    if precondition:
        precondition(client)
    _apply(client, _all_fields(fields) if replace else fields, change_seq)
    if "client_code" in fields:
        flush_or_conflict(Client.client_code, bot_id, fields["client_code"], CLIENT_CODE)
    db.session.commit()
    return client


def upsert_client(bot_id, client_code, fields):
    """Make the client with this code exactly `fields` (its contact fields), creating it if the bot has none.
    Returns (client, created)."""
    return retry_after_integrity_error(_upsert_once, bot_id, client_code, fields)


def _upsert_once(bot_id, client_code, fields):
    change_seq = next_change_seq(bot_id)
    client = _client_by_code(bot_id, client_code)
    if client is not None:
        _apply(client, _all_fields(fields), change_seq)
        db.session.commit()
        return client, False
    client = _insert(bot_id, {**fields, "client_code": client_code}, change_seq)
    db.session.commit()
    return client, True


def delete_client(bot_id, client_id, *, precondition=None):
    """Delete a client, leaving a tombstone for the change feed. Its tracking numbers stay: they name the client
    by code, and a parcel outlives the customer record (the bot may register the code again)."""
    delete_bot_record(Client, bot_id, client_id, CLIENT, kind="client", code_column="client_code",
                      precondition=precondition)


def restore_client(bot_id, client_id):
    """Bring a client deleted within the restore window back, with its id: a change like any other (a new change
    number, updated_at now), announced as client.restored. Its code taken since is a 409."""
    change_seq = next_change_seq(bot_id)
    tombstone = restore.restorable(bot_id, "client", client_id, CLIENT)
    restore.refuse_taken_id(Client, client_id, CLIENT)
    client, _ = restore.revive(tombstone, Client)
    client.change_seq, client.updated_at = change_seq, utcnow()
    record_restoration(client, tombstone)
    flush_or_conflict(Client.client_code, bot_id, client.client_code, CLIENT_CODE)
    db.session.commit()
    return client


# --- bulk import (writes/imports.py runs it: all rows in one transaction, under the bot's lock) -------------------

def client_importer():
    """The client import's rules and writes: a new client is exactly its row (fields left out are null), an
    existing one takes the fields the row gives; both numbered and timed by the import."""
    return Importer(Client, "client_code", ClientCreateSchema(), plan_client_import, _insert, _apply)


def plan_client_import(client, fields, given):
    """(fields to write, no errors): all of a new client's, or the given fields that differ from the stored."""
    if client is None:
        return dict(fields), {}
    return {name: value for name, value in given.items() if getattr(client, name) != value}, {}
