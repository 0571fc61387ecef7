"""Idempotency-Key on every POST: a retried request gets the first attempt's answer instead of running twice.

A client that loses an answer (a timeout, a dropped connection) cannot know whether its POST happened; with
an Idempotency-Key it simply sends the same request again. How, for any POST route, present or future:

- Claim (before the view, after authentication, so the API key is known): the key's record is looked up in
  `idempotency_records`, scoped to the API key. None: a 'processing' record with a lease is inserted and
  committed on a connection of its own, so a concurrent twin sees it at once; the unique (key_id,
  idempotency_key) constraint lets exactly one of two twins insert it.
- Mark: when the request's own session commits, the record becomes 'committed' (with the table and id of the
  first row the request inserted) in the same transaction as the change, so "it happened" and the change can
  never be apart: a retry after a crash between the commit and the stored answer knows the change is there.
- Store: after the view, the answer (status, body, content type, Location) is stored and the record becomes
  'completed'; from then on the same key and body replay it, with `Idempotent-Replayed: true`.
- The same key with another request (method, path, query or body differ) is a 422. A twin still running is
  waited for up to IDEMPOTENCY_WAIT_SECONDS, then answered 409 with Retry-After. A 'processing' record whose
  lease has run out belongs to an attempt that died before committing (the lease outlasts gunicorn's timeout
  and the statement timeout), so nothing of it exists and the retry takes the claim over.

Which answers are kept: every answer below 500 (so a retried 422 is the same 422), except 409 and 429, which
depend on the moment rather than on the request (another write, a spent budget): for those, and for a 5xx
that committed nothing, the claim is released and a retry runs again. A 5xx after the commit leaves the record
'committed', and a retry renders the created resource as it is now.

Records live IDEMPOTENCY_TTL_HOURS (24); an expired one is ignored, and each claim deletes a few expired
records, so the table holds about one TTL's worth of keyed POSTs without a scheduled job.
"""
import hashlib
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, g, has_app_context, request
from flask_smorest import abort
from sqlalchemy import delete, event, insert, inspect, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..access.authentication import current_key, current_key_id
from ..extensions import db
from ..models import IDEMPOTENCY_STATES, IdempotencyRecord
from ..models.types import utcnow
from ..web import problems
from ..web.errors import problem
from ..web.i18n import gettext

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
WELL_FORMED = re.compile(r"[!-~]{1,255}")  # visible ASCII, no spaces
PROCESSING, COMMITTED, COMPLETED = IDEMPOTENCY_STATES
MOMENTARY_STATUSES = {409, 429}  # answers of the moment, not of the request: never kept (see above)
RECORDS = IdempotencyRecord.__table__
POLL_SECONDS = 0.05
PURGE_BATCH = 20  # more than one claim ever creates, so purging keeps up with expiry
CLAIM_ATTEMPTS = 3  # a record may vanish between our look-ups (released by a failing twin, or expired)

# Written into each POST operation (resources/blueprint.py), not as a shared component: tools that read an operation's
# own parameters (and tests/test_openapi.py) then see the header without resolving a reference.
PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": ("Send the same key when you retry this request: for 24 hours (the default) the first "
                    f"attempt's answer is replayed (with `{REPLAYED_HEADER}: true`) instead of creating a second "
                    "record. Unique per API key; reusing it with a different request is a 422; while the first "
                    "attempt is still running, a 409 with Retry-After."),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$",
               "example": "crm-import-2025-01-27-0001"},
}
# What a POST can answer because of the header: invalid, reused with another request, still in progress.
RESPONSES = {400: "BAD_REQUEST", 409: "CONFLICT", 422: "UNPROCESSABLE_ENTITY"}


def register_idempotency(app):
    """Claims before POST views (register after authentication), answers stored after them. Settings: config's
    IDEMPOTENCY_*."""
    app.before_request(claim_or_replay)
    app.after_request(store_answer)


@dataclass
class Claim:
    """This request's hold on its record; `token` proves it is still ours if a lease was ever taken over."""

    record_id: int
    token: str
    session: object  # the request's session: its commit carries the 'committed' mark
    resource: tuple | None = None  # (table, id) of the first row the request inserted
    committed: bool = False


# --- before the view --------------------------------------------------------------------------------------

def claim_or_replay():
    """Claim the key for this request, or answer from the record a previous attempt left."""
    idempotency_key = request.headers.get(HEADER)
    if idempotency_key is None or request.method != "POST" or request.url_rule is None or current_key_id() is None:
        return None
    if not WELL_FORMED.fullmatch(idempotency_key):
        return problem(problems.INVALID_IDEMPOTENCY_KEY,
                       gettext("%(header)s must be 1-255 visible ASCII characters (no spaces).", header=HEADER))
    fingerprint = request_fingerprint()
    for _ in range(CLAIM_ATTEMPTS):
        outcome = claim_key(idempotency_key, fingerprint) or answer_from_record(idempotency_key, fingerprint)
        if isinstance(outcome, Claim):
            g.idempotency_claim = outcome
            return None
        if outcome is not None:
            return outcome
    return in_progress()


def request_fingerprint():
    """SHA-256 of what makes a retry "the same request": method, path, query string and the body, byte for byte
    (each length-prefixed, so that no two different requests run together into one input)."""
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode("utf-8", "replace"), request.query_string,
                 request.get_data(cache=True)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def claim_key(idempotency_key, fingerprint):
    """Insert a 'processing' record in a transaction of its own, committed before the view runs so that a twin
    sees it; an expired record of the same key is deleted first. None if a live record exists."""
    now, token = utcnow(), secrets.token_hex(16)
    this_key = (RECORDS.c.key_id == current_key_id()) & (RECORDS.c.idempotency_key == idempotency_key)
    try:
        with db.engine.begin() as connection:
            connection.execute(delete(RECORDS).where(this_key, RECORDS.c.expires_at <= now))
            result = connection.execute(insert(RECORDS).values(
                key_id=current_key_id(), idempotency_key=idempotency_key, request_fingerprint=fingerprint,
                claim_token=token, state=PROCESSING, created_at=now, locked_until=now + lease(),
                expires_at=now + timedelta(hours=current_app.config["IDEMPOTENCY_TTL_HOURS"])))
    except IntegrityError:  # the unique (key_id, idempotency_key): another attempt holds the key
        return None
    purge_expired()
    return Claim(result.inserted_primary_key[0], token, db.session())


def answer_from_record(idempotency_key, fingerprint):
    """The answer the key's record gives this request, a Claim if its lease was taken over, or None if there
    is no live record (any more): then the caller claims again."""
    record = settled_record(idempotency_key, fingerprint)
    if record is None:
        return None
    if record.request_fingerprint != fingerprint:
        return problem(problems.IDEMPOTENCY_KEY_REUSED, gettext(
            "This %(header)s was already used with a different request (method, path or body); send a new key with "
            "a new request.", header=HEADER))
    if record.state == PROCESSING:
        return in_progress() if record.locked_until > utcnow() else take_over(record)
    return replay(record)


def settled_record(idempotency_key, fingerprint):
    """The key's live record, once a twin that is still running it has finished or IDEMPOTENCY_WAIT_SECONDS
    have passed: a client's quick retry usually meets its first attempt about to answer."""
    deadline = time.monotonic() + current_app.config["IDEMPOTENCY_WAIT_SECONDS"]
    while True:
        record = find_record(idempotency_key)
        running = (record is not None and record.state == PROCESSING and record.locked_until > utcnow()
                   and record.request_fingerprint == fingerprint)
        if not running or time.monotonic() >= deadline:
            return record
        time.sleep(POLL_SECONDS)


def find_record(idempotency_key):
    """The calling API key's record of `idempotency_key`, unless it has expired (then it is as good as gone)."""
    with db.engine.connect() as connection:
        record = connection.execute(select(RECORDS).where(
            RECORDS.c.key_id == current_key_id(), RECORDS.c.idempotency_key == idempotency_key)).first()
    return record if record is not None and record.expires_at > utcnow() else None


def take_over(record):
    """Claim a record whose lease ran out: its attempt died before committing. None if another retry was
    quicker (the caller looks again)."""
    now, token = utcnow(), secrets.token_hex(16)
    with db.engine.begin() as connection:
        taken = connection.execute(update(RECORDS).where(
            RECORDS.c.id == record.id, RECORDS.c.state == PROCESSING, RECORDS.c.locked_until <= now,
        ).values(claim_token=token, locked_until=now + lease())).rowcount
    return Claim(record.id, token, db.session()) if taken == 1 else None


def purge_expired():
    """Delete a few expired records. SKIP LOCKED (PostgreSQL; SQLite has no row locks and leaves it out): two
    requests purging at once never wait on, or deadlock with, each other. A failure costs only the tidying."""
    expired = (select(RECORDS.c.id).where(RECORDS.c.expires_at <= utcnow()).limit(PURGE_BATCH)
               .with_for_update(skip_locked=True))
    try:
        with db.engine.begin() as connection:
            connection.execute(delete(RECORDS).where(RECORDS.c.id.in_(expired)))
    except SQLAlchemyError:
        log.warning("purging expired idempotency records failed", exc_info=True)


def lease():
    return timedelta(seconds=current_app.config["IDEMPOTENCY_LEASE_SECONDS"])


def in_progress():
    return problem(problems.IDEMPOTENCY_KEY_IN_USE,
                   gettext("A request with this %(header)s is still being processed; retry shortly.", header=HEADER),
                   headers={"Retry-After": "2"})


# --- replays ----------------------------------------------------------------------------------------------

def replay(record):
    """The stored answer; or, if the first attempt committed but died before storing it, the created resource
    as it is now, with the status the route answers on success."""
    if record.state == COMPLETED:
        response = current_app.response_class(record.response_body, status=record.response_status,
                                              content_type=record.response_content_type)
        if record.response_location:
            response.headers["Location"] = record.response_location
    else:
        response = render_created(record)
    response.headers[REPLAYED_HEADER] = "true"
    return response


def render_created(record):
    """The resource a committed attempt created, rendered by this route's own success schema."""
    resource = load_created(record)
    if resource is None:
        if record.resource_kind:
            detail = gettext("The request sent with this %(header)s was carried out, but its answer was lost and it "
                             "created %(kind)s %(id)s, which no longer exists; read the current state instead.",
                             header=HEADER, kind=record.resource_kind, id=record.resource_id)
        else:
            detail = gettext("The request sent with this %(header)s was carried out, but its answer was lost and it "
                             "created nothing that could be shown again; read the current state instead.",
                             header=HEADER)
        return problem(problems.IDEMPOTENCY_ANSWER_LOST, detail)
    status, schema = success_response_of_view()
    if schema is None:
        return current_app.response_class(status=status)
    response = current_app.json.response(schema.dump(resource))
    response.status_code = status
    return response


def load_created(record):
    """The row recorded at commit, if it still exists and belongs to the calling key's bot."""
    mapper = next((mapper for mapper in db.Model.registry.mappers
                   if record.resource_kind and mapper.local_table.name == record.resource_kind), None)
    resource = db.session.get(mapper.class_, record.resource_id) if mapper is not None else None
    if resource is None or getattr(resource, "bot_id", current_key().bot_id) != current_key().bot_id:
        return None
    return resource


def success_response_of_view():
    """(status, schema) of this route's success answer, from the documentation flask-smorest's @blp.response
    keeps on the view: the one generic way to render what any POST route created."""
    view = current_app.view_functions[request.url_rule.endpoint]
    method = getattr(getattr(view, "view_class", None), request.method.lower(), view)
    doc = getattr(method, "_apidoc", {})
    status = (doc.get("success_status_codes") or [201])[0]
    responses = doc.get("response", {}).get("responses", {}).get(status) or [{}]
    return status, responses[0].get("schema")


# --- the request's session: the change and its mark commit together ---------------------------------------

def claim_in(session):
    """The claim whose change `session` carries: the request's own session, in a request holding a claim."""
    claim = g.get("idempotency_claim") if has_app_context() else None
    return claim if claim is not None and claim.session is session else None


@event.listens_for(db.session, "after_flush")
def note_created_row(session, flush_context):
    """Remember the first row the request inserts (its resource: a parcel before its history row)."""
    claim = claim_in(session)
    if claim is not None and claim.resource is None and session.new:
        first = min(session.new, key=lambda row: inspect(row).insert_order)
        mapper = inspect(first).mapper
        claim.resource = (mapper.local_table.name, mapper.primary_key_from_instance(first)[0])


def note_created(session, table_name, row_id):
    """What note_created_row remembers, for a write made without a flush (writes/parcel_statements.py)."""
    claim = claim_in(session)
    if claim is not None and claim.resource is None:
        claim.resource = (table_name, row_id)


@event.listens_for(db.session, "after_rollback")
def forget_created_row(session):
    claim = claim_in(session)
    if claim is not None and not claim.committed:
        claim.resource = None


@event.listens_for(db.session, "before_commit")
def mark_committed(session):
    """Mark the record 'committed' inside the transaction that commits the change. A claim taken over by
    another attempt (our lease ran out) refuses the commit: that attempt runs the request instead."""
    claim = claim_in(session)
    if claim is None or claim.committed:
        return
    session.flush()  # rows still pending: so that note_created_row has seen what this commit creates
    kind, resource_id = claim.resource or (None, None)
    marked = session.execute(update(RECORDS).where(
        RECORDS.c.id == claim.record_id, RECORDS.c.claim_token == claim.token,
    ).values(state=COMMITTED, resource_kind=kind, resource_id=resource_id)).rowcount
    if marked != 1:
        abort(409, message=gettext("This request outlived its hold on its %(header)s; another attempt has taken it "
                                   "over.", header=HEADER))


@event.listens_for(db.session, "after_commit")
def note_committed(session):
    claim = claim_in(session)
    if claim is not None:
        claim.committed = True


# --- after the view ---------------------------------------------------------------------------------------

def store_answer(response):
    """Keep the answer for replays, or release the claim so that a retry runs again (see the module doc)."""
    claim = g.pop("idempotency_claim", None)
    if claim is None:
        return response
    # A failed request's transaction is already rolled back (database.roll_back_error_answer runs first).
    kept = response.status_code < 500 and (claim.committed or response.status_code not in MOMENTARY_STATUSES)
    try:
        if kept:
            complete(claim, response)
        elif not claim.committed:
            release(claim)
    except SQLAlchemyError:  # the client has its answer; a retry meets the lease, then takes the claim over
        log.exception("storing the idempotent answer of %s %s failed", request.method, request.path)
    return response


def complete(claim, response):
    with db.engine.begin() as connection:
        connection.execute(update(RECORDS).where(
            RECORDS.c.id == claim.record_id, RECORDS.c.claim_token == claim.token,
        ).values(state=COMPLETED, response_status=response.status_code,
                 response_body=response.get_data(as_text=True), response_content_type=response.content_type,
                 response_location=response.headers.get("Location")))


def release(claim):
    with db.engine.begin() as connection:
        connection.execute(delete(RECORDS).where(
            RECORDS.c.id == claim.record_id, RECORDS.c.claim_token == claim.token, RECORDS.c.state == PROCESSING))
