"""The delivery worker (`flask --app wsgi webhooks worker`): claims due deliveries, signs and POSTs them, records
the answer, and schedules retries.

Claims: a worker takes a batch with one short transaction that sets a lease (lease_token, leased_until) on each
row, and sends after that transaction committed. On PostgreSQL the candidates are read `FOR UPDATE SKIP LOCKED`,
so workers on any number of hosts pass each other's claims by without waiting; the conditional UPDATE that sets the
lease (only on a row whose lease is free) is what makes a double claim impossible on every database. SQLite has no
row locks: run a single worker there. A worker that dies mid-send loses nothing: its lease runs out and another
worker (or itself, restarted) sends the delivery again, so a receiver may see an event twice and de-duplicates by
X-Tracker-Event-Id. Why no job engine (Celery, RQ): the outbox table already is the queue, in the same database as
the change, so nothing has to be copied into a broker and nothing is lost when Redis is down.

Order: a delivery is not claimed while an earlier delivery of the same subject (parcel or client) to the same
endpoint is still pending, so event N+1 of a parcel never reaches a receiver before N succeeded (or was given up).
"""
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import certifi
import urllib3
from flask import current_app
from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from ..models.types import utcnow
from .addresses import UnsafeUrl, address_to_connect, parse_target
from .signing import signature_header, signing_secrets

log = logging.getLogger(__name__)
USER_AGENT = "TrackerAPI-Webhooks/1.0"


@dataclass
class Outcome:
    """What one attempt got: the HTTP status (None if no answer), an error, how long it took."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self):
        return self.status_code is not None and 200 <= self.status_code < 300


# --- claiming ---------------------------------------------------------------------------------------------------

def _due(now, limit):
    """Ids of deliveries that may be sent now: pending, due, unleased, enabled endpoint, nothing earlier pending
    for the same subject and endpoint."""
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(earlier.endpoint_id == WebhookDelivery.endpoint_id,
                             earlier.subject == WebhookDelivery.subject, earlier.status == "pending",
                             earlier.id < WebhookDelivery.id)
    statement = (select(WebhookDelivery.id)
                 .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                 .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
                        _lease_free(now), WebhookEndpoint.enabled.is_(True), ~blocked)
                 .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit)
                 .with_for_update(skip_locked=True, of=WebhookDelivery))
    return db.session.scalars(statement).all()


def _lease_free(now):
    return or_(WebhookDelivery.leased_until.is_(None), WebhookDelivery.leased_until < now)


def claim(limit):
    """Lease up to `limit` due deliveries to this call; returns [(delivery id, lease token)]."""
    now = utcnow()
    token = str(uuid.uuid4())
    until = now + timedelta(seconds=current_app.config["WEBHOOK_LEASE_SECONDS"])
    claimed = []
    for delivery_id in _due(now, limit):
        result = db.session.execute(update(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending", _lease_free(now))
            .values(lease_token=token, leased_until=until))
        if result.rowcount == 1:
            claimed.append(delivery_id)
    db.session.commit()
    return [(delivery_id, token) for delivery_id in claimed]


# --- sending ----------------------------------------------------------------------------------------------------

def _request(delivery, now):
    """(url, body, headers) of a delivery, signed now with every secret that signs."""
    endpoint, event = db.session.get(WebhookEndpoint, delivery.endpoint_id), delivery.event
    body = event.payload.encode()
    timestamp = int(now.timestamp())
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "X-Tracker-Event-Id": event.event_id, "X-Tracker-Event-Type": event.type,
               "X-Tracker-Delivery-Id": str(delivery.id),
               "X-Tracker-Signature": signature_header(signing_secrets(endpoint, now), timestamp, body)}
    return endpoint.url, body, headers


def post(url, body, headers, config):
    """POST to the checked address of `url`: short timeouts, no redirects, the answer read up to a cap."""
    started = time.monotonic()
    try:
        target = parse_target(url)
        address = address_to_connect(target, config["WEBHOOK_ALLOWED_HOSTS"])
        status = _send(target, address, body, headers, config)
        return Outcome(status, None if 200 <= status < 300 else f"HTTP {status}", _elapsed_ms(started))
    except UnsafeUrl as error:
        return Outcome(None, str(error), _elapsed_ms(started))
    except (urllib3.exceptions.HTTPError, OSError) as error:
        return Outcome(None, f"{type(error).__name__}: {error}"[:500], _elapsed_ms(started))


def _elapsed_ms(started):
    return int((time.monotonic() - started) * 1000)


def _pool(target, address, config):
    """A connection pool to the checked IP address; TLS still checks the certificate against the host name."""
    timeout = urllib3.Timeout(connect=config["WEBHOOK_CONNECT_TIMEOUT_SECONDS"],
                              read=config["WEBHOOK_READ_TIMEOUT_SECONDS"])
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(address, target.port, timeout=timeout, retries=False, maxsize=1,
                                           server_hostname=target.host, assert_hostname=target.host,
                                           cert_reqs="CERT_REQUIRED", ca_certs=certifi.where())
    return urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False, maxsize=1)


def _send(target, address, body, headers, config):
    """The answer's status; at most WEBHOOK_RESPONSE_MAX_BYTES of its body are read (and dropped), within the
    read timeout overall, so a receiver that drips its answer cannot hold the worker."""
    with _pool(target, address, config) as pool:
        response = pool.urlopen("POST", target.path, body=body, headers={**headers, "Host": target.host_header},
                                redirect=False, retries=False, preload_content=False, assert_same_host=False)
        try:
            deadline = time.monotonic() + config["WEBHOOK_READ_TIMEOUT_SECONDS"]
            remaining = config["WEBHOOK_RESPONSE_MAX_BYTES"]
            while remaining > 0 and time.monotonic() < deadline:
                chunk = response.read(min(remaining, 4096))
                if not chunk:
                    break
                remaining -= len(chunk)
        finally:
            response.close()
        return response.status


# --- recording ----------------------------------------------------------------------------------------------------

def retry_delay(attempts, config):
    """Seconds before attempt `attempts + 1`: doubling from the base up to the maximum, with +-25 % jitter (so
    that deliveries failed together by one outage do not all come back at once)."""
    delay = min(config["WEBHOOK_RETRY_BASE_SECONDS"] * 2 ** (attempts - 1), config["WEBHOOK_RETRY_MAX_DELAY_SECONDS"])
    return delay * random.uniform(0.75, 1.25)  # nosec B311: jitter spreads retries; it guards nothing


def _record(delivery_id, token, outcome, now, config):
    """Write an attempt's outcome, if this worker still holds the lease; a delivery given up disables its
    endpoint with the reason."""
    delivery = db.session.get(WebhookDelivery, delivery_id, populate_existing=True)
    if delivery is None or delivery.lease_token != token:
        db.session.rollback()
        return  # deleted meanwhile, or the lease ran out and another worker took it over
    delivery.attempts += 1
    delivery.last_attempt_at, delivery.last_status_code = now, outcome.status_code
    delivery.last_error, delivery.last_duration_ms = outcome.error, outcome.duration_ms
    delivery.lease_token = delivery.leased_until = None
    if outcome.succeeded:
        delivery.status, delivery.delivered_at = "succeeded", utcnow()
    elif now - delivery.created_at >= timedelta(hours=config["WEBHOOK_RETRY_HOURS"]):
        delivery.status = "failed"
        _disable(delivery, now, config)
    else:
        delivery.next_attempt_at = now + timedelta(seconds=retry_delay(delivery.attempts, config))
    db.session.commit()


def _disable(delivery, now, config):
    endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
    if endpoint.enabled:
        endpoint.enabled, endpoint.disabled_at = False, now
        endpoint.disabled_reason = (
            f"Disabled after delivery {delivery.id} failed for {config['WEBHOOK_RETRY_HOURS']:g} hours "
            f"({delivery.attempts} attempts); last error: {delivery.last_error}. Fix the receiver, then enable the "
            "endpoint again (PATCH enabled=true): its pending deliveries resume, and failed ones can be redelivered.")
        log.warning("webhook endpoint %s of bot %s disabled: %s", endpoint.id, endpoint.bot_id,
                    endpoint.disabled_reason)


def attempt(delivery_id, token):
    """Send one claimed delivery and record the outcome. Nothing is held in the database while it is sent."""
    config = current_app.config
    delivery = db.session.get(WebhookDelivery, delivery_id)
    now = utcnow()
    url, body, headers = _request(delivery, now)
    db.session.commit()  # ends the read transaction before the network wait
    outcome = post(url, body, headers, config)
    _record(delivery_id, token, outcome, now, config)
    return outcome


def deliver_due(limit=None):
    """Claim and send one batch; returns how many deliveries were attempted."""
    claimed = claim(limit or current_app.config["WEBHOOK_WORKER_BATCH"])
    for delivery_id, token in claimed:
        try:
            attempt(delivery_id, token)
        except Exception:  # one broken delivery must not stop the others; its lease runs out, it is retried
            db.session.rollback()
            log.exception("webhook delivery %s failed unexpectedly", delivery_id)
    return len(claimed)


def run_worker(once=False, should_stop=lambda: False):
    """Deliver until stopped (or, with `once`, until nothing is due); sleeps a little when nothing is due. A
    database outage is waited out (logged, retried every poll), not a crash: the outbox is where the work is."""
    while not should_stop():
        try:
            sent = deliver_due()
        except SQLAlchemyError:
            if once:
                raise
            log.exception("webhooks worker: the database failed; retrying")
            sent = 0
        finally:
            db.session.remove()
        if once and not sent:
            return
        if not sent:
            time.sleep(current_app.config["WEBHOOK_WORKER_POLL_SECONDS"])


# --- retention ------------------------------------------------------------------------------------------------------

def prune(older_than):
    """Delete finished deliveries created before `older_than`, then the events no delivery refers to any more;
    pending deliveries and their events stay whatever their age. Returns (deliveries, events) deleted."""
    finished = db.session.execute(delete(WebhookDelivery).where(
        WebhookDelivery.status.in_(("succeeded", "failed")), WebhookDelivery.created_at < older_than)).rowcount
    orphans = db.session.execute(delete(WebhookEvent).where(
        WebhookEvent.created_at < older_than,
        ~exists().where(WebhookDelivery.event_row_id == WebhookEvent.id))).rowcount
    db.session.commit()
    return finished, orphans
