"""Exports: every matching record of a bot, oldest first (by id), streamed in constant memory.

Records are read in keyset batches (`WHERE id > last ORDER BY id LIMIT BATCH_SIZE`, on the (bot_id, id)
indexes): no OFFSET, so the millionth row costs what the first does. Each batch is read in a transaction of
its own that ends (and hands the connection back) before the batch is encoded and sent, so a slow download
holds no transaction and no connection, and the rows are dropped once written. An export is therefore not a
snapshot: a record changed while the export runs appears as its batch found it, and one created meanwhile
may appear at the end.

Each chunk of the body is made in an app context of its own (and so a database session of its own), pushed
and popped before the chunk is handed to the server, rather than under flask.stream_with_context. That one
keeps the request context pushed from the view until the body is closed, across every yield; a reader that
interleaves other requests with a body it has started (or never reads to the end) then pops contexts out of
order ("Popped wrong request context"). The request's own context, its session and transaction included, ends
as soon as the headers are out; what the body needs is the app.
"""
import logging
from itertools import chain

from flask import Response, current_app, g, request
from flask_smorest import abort
from sqlalchemy import func, select

from ...extensions import db
from ...models import Client, TrackingNumber
from ...web.i18n import either, gettext
from ..clients.schemas import ClientSchema
from ..tracking.schemas import TrackingNumberSchema
from ..tracking.service import select_tracking
from .formats import ENCODERS

log = logging.getLogger(__name__)
BATCH_SIZE = 1000
MEDIA_TYPES = {encoder.media_type: name for name, encoder in ENCODERS.items()}  # in order of preference


def export_tracking(bot_id, export_format=None, status_filter=None, client_code=None, **options):
    statement = select_tracking(bot_id, status_filter, client_code)
    return export_response(f"tracking-{bot_id}", statement, TrackingNumber, TrackingNumberSchema(),
                           export_format, **options)


def export_clients(bot_id, export_format=None, **options):
    statement = db.select(Client).where(Client.bot_id == bot_id)
    return export_response(f"clients-{bot_id}", statement, Client, ClientSchema(), export_format, **options)


def negotiate_format(requested):
    """`format` wins; else the Accept header (none, or */*, means CSV); else a 406 naming what is offered."""
    if requested:
        return requested
    if not request.accept_mimetypes:
        return "csv"
    best = request.accept_mimetypes.best_match(list(MEDIA_TYPES))
    if best is None:
        abort(406, message=gettext("Exports are %(types)s: accept one of them, or pass %(formats)s.",
                                   types=", ".join(MEDIA_TYPES),
                                   formats=either([f"format={name}" for name in ENCODERS])))
    return MEDIA_TYPES[best]


def keyset_batches(statement, model):
    """Lists of up to BATCH_SIZE rows in id order, each read in its own short transaction (see the module). Every
    batch is read where the first is, in the request's session: from its read replica if it has one (access/replica_reads.py)."""
    last_id = 0
    read_bind = db.session().read_bind
    while True:
        db.session().read_bind = read_bind
        batch = db.session.scalars(statement.where(model.id > last_id).order_by(model.id).limit(BATCH_SIZE)).all()
        db.session.close()  # ends the transaction, returns the connection, detaches the rows (loaded as they are)
        if batch:
            yield batch
        if len(batch) < BATCH_SIZE:
            return
        last_id = batch[-1].id


def export_response(name, statement, model, schema, export_format, **options):
    """The streamed 200; the first batch is read here, while an error can still be a problem response.
    `options`: the CSV's bom and delimiter."""
    encoder = ENCODERS[negotiate_format(export_format)](schema, name, **options)
    if encoder.sent_when_complete:
        check_complete_size(statement, encoder)
    batches = keyset_batches(statement, model)
    first = next(batches, [])
    chunks = encode_stream(encoder, chain([first], batches), name, g.get("request_id"))
    body = in_app_context(current_app._get_current_object(), chunks)
    return Response(body, content_type=encoder.content_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}.{encoder.extension}"'})


def check_complete_size(statement, encoder):
    """A body sent only when complete (XLSX) must be made before a proxy gives up waiting for its first byte:
    more rows than EXPORT_XLSX_MAX_ROWS is a 422 that says what to do instead."""
    limit = current_app.config["EXPORT_XLSX_MAX_ROWS"]
    rows = db.session.scalar(select(func.count()).select_from(statement.subquery()))
    if rows > limit:
        abort(422, message=gettext("An %(format)s export holds at most %(limit)s rows and this one has %(rows)s: "
                                   "export format=csv or format=ndjson (streamed, no limit), or filter it.",
                                   format=encoder.extension.upper(), limit=limit, rows=rows),
              extra={"max_rows": limit, "rows": rows})


def in_app_context(app, chunks):
    """Each of `chunks` made inside an app context that is popped again before the chunk is yielded."""
    while True:
        with app.app_context():
            chunk = next(chunks, None)
        if chunk is None:
            return
        yield chunk


def encode_stream(encoder, batches, name, request_id):
    """The body, one chunk per batch (an encoder that sends all at the end yields its trailer's chunks; empty
    chunks are not sent: to a server writing chunked encoding an empty one would end the body). A failure is
    logged and re-raised: the server then cuts the connection."""
    rows = 0
    try:
        yield from filter(None, [encoder.header()])
        for batch in batches:
            yield from filter(None, [encoder.encode(batch)])
            rows += len(batch)
        yield from filter(None, encoder.trailer())
    except Exception:
        log.exception("export %s failed after %d rows (request %s); the response was cut short",
                      name, rows, request_id)
        raise
    finally:
        encoder.close()
