"""Webhooks (tracker_api/webhooks/, /api/v1/webhooks/{bot_id}): a real HTTP receiver on loopback gets every change,
signed, in order per parcel, retried after an outage, never sent to a private address unless the operator allows it.

The receiver's host, 127.0.0.1, is loopback: tests that deliver to it allow it with WEBHOOK_ALLOWED_HOSTS, as an
operator would for a receiver on their own network. Workers run in this process (`run_worker(once=True)`) or as
real `flask --app wsgi webhooks worker` processes.
"""
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from webhook_receiver import Receiver

from conftest import in_app, make_tenant, make_webhook, require_service
from servers import REPO, clean_env
from tracker_api.extensions import db
from tracker_api.models import TrackingNumber, WebhookDelivery, WebhookEndpoint, WebhookEvent
from tracker_api.models.types import utcnow
from tracker_api.webhooks import addresses
from tracker_api.webhooks.delivery import retry_delay, run_worker
from tracker_api.webhooks.signing import new_secret
from tracker_api.writes.change_numbers import next_change_seq

EXAMPLES = REPO / "examples"
PARCEL = {"tracking_number": "HOOK000001", "client_code": "CLIENT123", "status": "pending"}


def load_example_verifier():
    spec = importlib.util.spec_from_file_location("webhook_verify", EXAMPLES / "webhook_verify.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.verify_signature


verify_signature = load_example_verifier()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def loopback_allowed(app, monkeypatch):
    """The operator allows the tests' receiver host."""
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOWED_HOSTS", ("127.0.0.1",))
    return app


def create_webhook(http, tenant, url, **fields):
    response = http.post(f"/api/v1/webhooks/{tenant.bot_id}", json={"url": url, **fields}, headers=tenant.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def deliver(app):
    """One worker run: everything due now, then stop."""
    in_app(app, run_worker, once=True)


def deliveries(app, **filters):
    def read():
        rows = db.session.scalars(select(WebhookDelivery).filter_by(**filters).order_by(WebhookDelivery.id)).all()
        return [{"id": row.id, "status": row.status, "attempts": row.attempts, "code": row.last_status_code,
                 "error": row.last_error, "next_attempt_at": row.next_attempt_at, "type": row.event.type,
                 "leased_until": row.leased_until} for row in rows]
    return in_app(app, read)


def make_due(app):
    """Time passes: every pending delivery is due now (instead of after its backoff)."""
    def run():
        db.session.execute(update(WebhookDelivery).where(WebhookDelivery.status == "pending")
                           .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    in_app(app, run)


def events_of(receiver):
    return [(json.loads(request.body)["data"].get("tracking_number", {}).get("tracking_number"), request.event_type)
            for request in receiver.requests]


# --- delivery and signatures ---------------------------------------------------------------------------------

def test_a_change_reaches_the_receiver_signed_with_the_endpoint_secret(loopback_allowed, http, tenant, receiver):
    app = loopback_allowed
    webhook = create_webhook(http, tenant, receiver.url)
    assert webhook["secret"].startswith("whsec_") and webhook["events"][0] == "tracking.created"
    created = http.post(f"/api/v1/tracking/{tenant.bot_id}", json=PARCEL, headers=tenant.headers).get_json()

    deliver(app)

    [request] = receiver.requests
    event = json.loads(request.body)
    assert request.path == "/hooks" and request.headers["Content-Type"] == "application/json"
    assert request.event_type == event["type"] == "tracking.created"
    assert request.event_id == event["id"] and len(event["id"]) == 36
    assert event["bot_id"] == tenant.bot_id and event["data"]["tracking_number"]["id"] == created["id"]
    assert event["data"]["tracking_number"] == http.get(f"/api/v1/tracking/{tenant.bot_id}/{created['id']}",
                                                        headers=tenant.headers).get_json()  # the API's own shape
    assert verify_signature(webhook["secret"], request.headers["X-Tracker-Signature"], request.body)
    assert not verify_signature("whsec_wrong", request.headers["X-Tracker-Signature"], request.body)
    assert not verify_signature(webhook["secret"], request.headers["X-Tracker-Signature"], request.body + b" ")
    [logged] = http.get(f"/api/v1/webhooks/{tenant.bot_id}/{webhook['id']}/deliveries",
                        headers=tenant.headers).get_json()["deliveries"]
    assert logged["status"] == "succeeded" and logged["attempts"] == 1 and logged["last_status_code"] == 200
    assert logged["event_id"] == event["id"] and logged["last_error"] is None
    assert logged["last_duration_ms"] >= 0 and logged["delivered_at"] and logged["next_attempt_at"] is None
    assert "secret" not in http.get(f"/api/v1/webhooks/{tenant.bot_id}/{webhook['id']}",
                                    headers=tenant.headers).get_json()


@pytest.mark.parametrize("program,install_hint", [(sys.executable, "the virtualenv"), ("node", "Node 18+"),
                                                  ("php", "Debian: php-cli")], ids=["python", "javascript", "php"])
def test_the_verification_examples_accept_a_real_delivery_and_refuse_a_forged_one(loopback_allowed, http, tenant,
                                                                                   receiver, program, install_hint):
    if not shutil.which(program):
        require_service(f"{program} is not installed ({install_hint})")
    webhook = create_webhook(http, tenant, receiver.url)
    http.post(f"/api/v1/clients/{tenant.bot_id}", json={"client_code": "CLIENT9", "name": "Алия"},
              headers=tenant.headers)
    deliver(loopback_allowed)
    [request] = receiver.requests
    example = str(EXAMPLES / f"webhook_verify.{ {'node': 'js', 'php': 'php'}.get(program, 'py') }")

    def run(secret, body):
        env = clean_env(WEBHOOK_SECRET=secret, WEBHOOK_SIGNATURE=request.headers["X-Tracker-Signature"])
        return subprocess.run([program, example], input=body, env=env, capture_output=True, timeout=30)

    valid = run(webhook["secret"], request.body)
    assert valid.returncode == 0, valid.stderr
    assert valid.stdout.decode().strip() == f"valid client.created {request.event_id}"
    assert run(webhook["secret"], request.body.replace("Алия".encode(), "Aliya".encode())).returncode == 1
    assert run("whsec_not_the_secret", request.body).returncode == 1


def test_every_event_type_in_order_with_its_data(loopback_allowed, http, tenant, receiver):
    app = loopback_allowed
    create_webhook(http, tenant, receiver.url)
    base = f"/api/v1/tracking/{tenant.bot_id}"
    parcel = http.post(base, json=PARCEL, headers=tenant.headers).get_json()
    http.put(f"{base}/{parcel['id']}", json={"status": "in_transit"}, headers=tenant.headers)
    http.put(f"{base}/{parcel['id']}", json={"note": "Хрупкое"}, headers=tenant.headers)
    http.put(f"{base}/{parcel['id']}", json={"note": "Хрупкое"}, headers=tenant.headers)  # changes nothing
    http.delete(f"{base}/{parcel['id']}", headers=tenant.headers)
    client = http.post(f"/api/v1/clients/{tenant.bot_id}", json={"client_code": "C1"}, headers=tenant.headers)
    client_path = f"/api/v1/clients/{tenant.bot_id}/{client.get_json()['id']}"
    http.patch(client_path, json={"name": "Алия"}, headers=tenant.headers)
    http.delete(client_path, headers=tenant.headers)

    deliver(app)

    # Each parcel's and each client's events in order; between the two, in any order.
    events = sorted((json.loads(request.body) for request in receiver.requests), key=lambda event: event["sequence"])
    assert [event["type"] for event in events] == [
        "tracking.created", "tracking.status_changed", "tracking.updated", "tracking.deleted",
        "client.created", "client.updated", "client.deleted"]
    assert events[1]["data"]["previous_status"] == "pending"
    assert events[1]["data"]["tracking_number"]["current_status"] == "in_transit"
    assert events[2]["data"]["changed"] == ["note"] and events[2]["data"]["tracking_number"]["note"] == "Хрупкое"
    assert events[3]["data"]["tracking_number"]["tracking_number"] == "HOOK000001"
    assert events[5]["data"]["client"]["name"] == "Алия" and events[6]["data"]["client"]["client_code"] == "C1"
    assert len({event["sequence"] for event in events}) == len(events)
    tracking_types = [request.event_type for request in receiver.requests if request.event_type.startswith("tr")]
    assert tracking_types == [event["type"] for event in events[:4]]
    assert len({event["id"] for event in events}) == len(events)


def test_an_endpoint_gets_only_the_events_it_subscribes_to(loopback_allowed, http, tenant, receiver):
    create_webhook(http, tenant, receiver.url, events=["tracking.status_changed"])
    base = f"/api/v1/tracking/{tenant.bot_id}"
    parcel = http.post(base, json=PARCEL, headers=tenant.headers).get_json()
    http.put(f"{base}/{parcel['id']}", json={"status": "delivered"}, headers=tenant.headers)
    deliver(loopback_allowed)
    assert [request.event_type for request in receiver.requests] == ["tracking.status_changed"]


def test_an_event_is_written_with_its_change_or_not_at_all(app, http, tenant):
    make_webhook(app, tenant.bot_id)
    base = f"/api/v1/tracking/{tenant.bot_id}"
    assert http.post(base, json=PARCEL, headers=tenant.headers).status_code == 201
    assert http.post(base, json=PARCEL, headers=tenant.headers).status_code == 409  # rolled back
    assert http.post(f"/api/v1/tracking/{tenant.bot_id}/import", headers=tenant.headers, json=[
        {"tracking_number": "IMP1", "client_code": "C"}, {"tracking_number": "IMP2", "client_code": "C",
                                                          "status": "nonsense"}]).status_code == 422
    assert [row["type"] for row in deliveries(app)] == ["tracking.created"]
    assert in_app(app, lambda: db.session.scalar(select(func.count()).select_from(WebhookEvent))) == 1


def test_an_import_writes_one_event_per_row_each_for_its_own_parcel(app, http, tenant):
    make_webhook(app, tenant.bot_id)
    rows = [{"tracking_number": f"IMP{n}", "client_code": "C"} for n in range(5)]
    results = http.post(f"/api/v1/tracking/{tenant.bot_id}/import", json=rows, headers=tenant.headers).get_json()

    def stored():
        return [(event.subject, json.loads(event.payload)["data"]["tracking_number"]["tracking_number"])
                for event in db.session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))]
    assert in_app(app, stored) == [(f"tracking:{row['id']}", f"IMP{n}") for n, row in enumerate(results["results"])]


def test_a_bot_without_webhooks_stores_no_events(app, http, tenant, other_tenant):
    make_webhook(app, other_tenant.bot_id)
    http.post(f"/api/v1/tracking/{tenant.bot_id}", json=PARCEL, headers=tenant.headers)
    assert in_app(app, lambda: db.session.scalar(select(func.count()).select_from(WebhookEvent))) == 0


def write_parcel_unnumbered(bot_id, tracking_number):
    """A parcel written straight through the ORM, as code that bypasses the bot's lock would write it."""
    db.session.add(TrackingNumber(bot_id=bot_id, tracking_number=tracking_number, client_code="C", status="pending"))
    db.session.commit()


def test_an_endpoint_saved_after_the_bots_lock_in_the_same_transaction_gets_the_write(app, tenant):
    """The lock statement found no endpoint (writes/change_numbers.py), but the transaction saved one since."""
    def write():
        next_change_seq(tenant.bot_id)
        db.session.add(WebhookEndpoint(bot_id=tenant.bot_id, url="https://hooks.example.com/tracker",
                                       events="tracking.created", enabled=True, secret=new_secret()))
        write_parcel_unnumbered(tenant.bot_id, "HOOK1")
    in_app(app, write)
    assert [row["type"] for row in deliveries(app)] == ["tracking.created"]


def test_what_the_bots_lock_found_ends_with_its_transaction(app, tenant):
    def write():
        next_change_seq(tenant.bot_id)  # no endpoint yet
        db.session.commit()
        make_webhook(app, tenant.bot_id)  # in a session of its own
        write_parcel_unnumbered(tenant.bot_id, "HOOK1")
    in_app(app, write)
    assert [row["type"] for row in deliveries(app)] == ["tracking.created"]


# --- retries, ordering, giving up --------------------------------------------------------------------------------

def test_a_receiver_that_was_down_gets_the_event_on_a_later_attempt(loopback_allowed, http, tenant, receiver):
    app = loopback_allowed
    create_webhook(http, tenant, receiver.url)
    port = receiver.port
    receiver.stop()  # the receiver is down
    http.post(f"/api/v1/tracking/{tenant.bot_id}", json=PARCEL, headers=tenant.headers)

    deliver(app)
    [failed] = deliveries(app)
    assert failed["status"] == "pending" and failed["attempts"] == 1 and failed["code"] is None
    assert "Connection" in failed["error"] or "refused" in failed["error"].lower()
    assert failed["next_attempt_at"] > utcnow() + timedelta(seconds=15)  # backing off (30 s +-25 %)
    deliver(app)
    assert deliveries(app)[0]["attempts"] == 1  # not due yet

    back = Receiver(port)  # the receiver is back
    try:
        make_due(app)
        deliver(app)
        [delivered] = deliveries(app)
        assert delivered["status"] == "succeeded" and delivered["attempts"] == 2 and delivered["code"] == 200
        assert [request.event_type for request in back.requests] == ["tracking.created"]
    finally:
        back.stop()


def test_retries_back_off_exponentially_with_jitter_for_at_least_a_day(app):
    config = app.config
    assert config["WEBHOOK_RETRY_HOURS"] >= 24
    first, later = [retry_delay(1, config) for _ in range(50)], [retry_delay(30, config) for _ in range(50)]
    assert all(22.5 <= delay <= 37.5 for delay in first) and len(set(first)) > 1  # 30 s +-25 %
    assert 45 <= retry_delay(2, config) <= 75 and 90 <= retry_delay(3, config) <= 150
    assert all(5400 <= delay <= 9000 for delay in later)  # capped at 2 h +-25 %


def test_a_parcel_s_events_are_never_sent_before_the_earlier_ones_succeeded(loopback_allowed, http, tenant,
                                                                            receiver):
    app = loopback_allowed
    create_webhook(http, tenant, receiver.url)
    base = f"/api/v1/tracking/{tenant.bot_id}"
    first = http.post(base, json={**PARCEL, "tracking_number": "ORDERA"}, headers=tenant.headers).get_json()
    second = http.post(base, json={**PARCEL, "tracking_number": "ORDERB"}, headers=tenant.headers).get_json()
    for status in ("in_transit", "delivered"):
        http.put(f"{base}/{first['id']}", json={"status": status}, headers=tenant.headers)
    http.put(f"{base}/{second['id']}", json={"status": "in_transit"}, headers=tenant.headers)
    receiver.behaviour.statuses = [503]  # ORDERA's first event fails once

    deliver(app)
    assert events_of(receiver) == [("ORDERA", "tracking.created"), ("ORDERB", "tracking.created"),
                                   ("ORDERB", "tracking.status_changed")]  # ORDERA waits for its first event

    make_due(app)
    deliver(app)
    a_events = [json.loads(request.body) for request in receiver.requests
                if b"ORDERA" in request.body]
    assert [(event["type"], event["data"].get("previous_status")) for event in a_events] == [
        ("tracking.created", None), ("tracking.created", None), ("tracking.status_changed", "pending"),
        ("tracking.status_changed", "in_transit")]
    assert [event["sequence"] for event in a_events[1:]] == sorted(event["sequence"] for event in a_events[1:])
    assert {row["status"] for row in deliveries(app)} == {"succeeded"}


def test_an_endpoint_that_keeps_failing_is_disabled_and_the_bot_sees_why(loopback_allowed, http, tenant, receiver,
                                                                         monkeypatch):
    app = loopback_allowed
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_HOURS", 0)  # the retry window has passed
    webhook = create_webhook(http, tenant, receiver.url)
    path = f"/api/v1/webhooks/{tenant.bot_id}/{webhook['id']}"
    receiver.behaviour.status = 500
    http.post(f"/api/v1/tracking/{tenant.bot_id}", json=PARCEL, headers=tenant.headers)

    deliver(app)
    shown = http.get(path, headers=tenant.headers).get_json()
    assert shown["enabled"] is False and shown["disabled_at"]
    assert "HTTP 500" in shown["disabled_reason"] and "enable" in shown["disabled_reason"]
    [failed] = http.get(f"{path}/deliveries?status=failed", headers=tenant.headers).get_json()["deliveries"]
    assert failed["last_status_code"] == 500 and failed["last_error"] == "HTTP 500"
    assert http.post(f"{path}/test", headers=tenant.headers).status_code == 409  # disabled

    receiver.behaviour.status = 200
    enabled = http.patch(path, json={"enabled": True}, headers=tenant.headers).get_json()
    assert enabled["enabled"] is True and enabled["disabled_reason"] is None
    again = http.post(f"{path}/deliveries/{failed['id']}/redeliver", headers=tenant.headers)
    assert again.status_code == 202 and again.get_json()["status"] == "pending"
    assert again.get_json()["event_id"] == failed["event_id"]
    deliver(app)
    assert receiver.requests[-1].event_id == failed["event_id"]
    assert http.get(f"{path}/deliveries?status=succeeded", headers=tenant.headers).get_json()["total"] == 1


def test_a_test_event_is_queued_sent_and_logged(loopback_allowed, http, tenant, receiver):
    webhook = create_webhook(http, tenant, receiver.url, events=["client.created"])
    path = f"/api/v1/webhooks/{tenant.bot_id}/{webhook['id']}"
    queued = http.post(f"{path}/test", headers=tenant.headers)
    assert queued.status_code == 202 and queued.get_json()["event_type"] == "webhook.test"
    deliver(loopback_allowed)
    [request] = receiver.requests
    assert request.event_type == "webhook.test" and request.event_id == queued.get_json()["event_id"]
    listed = http.get(f"{path}/deliveries", headers=tenant.headers).get_json()
    assert listed["total"] == 1 and listed["deliveries"][0]["status"] == "succeeded"


def test_redirects_are_not_followed(loopback_allowed, http, tenant, receiver):
    create_webhook(http, tenant, receiver.url)
    receiver.behaviour.statuses = [302]
    receiver.behaviour.headers = {"Location": "http://127.0.0.1:1/elsewhere"}
    http.post(f"/api/v1/tracking/{tenant.bot_id}", json=PARCEL, headers=tenant.headers)
    deliver(loopback_allowed)
    [row] = deliveries(loopback_allowed)
    assert len(receiver.requests) == 1 and row["status"] == "pending" and row["code"] == 302


def test_an_endless_answer_is_read_only_up_to_the_cap(loopback_allowed, http, tenant, receiver):
    create_webhook(http, tenant, receiver.url)
    receiver.behaviour.answer_bytes = 1024 ** 3  # a gigabyte
    http.post(f"/api/v1/tracking/{tenant.bot_id}", json=PARCEL, headers=tenant.headers)
    started = time.monotonic()
    deliver(loopback_allowed)
    assert time.monotonic() - started < 5
    assert deliveries(loopback_allowed)[0]["status"] == "succeeded"


# --- secrets -------------------------------------------------------------------------------------------------

def test_after_a_rotation_both_secrets_sign_until_the_grace_period_ends(loopback_allowed, http, tenant, receiver):
    app = loopback_allowed
    webhook = create_webhook(http, tenant, receiver.url)
    rotated = http.post(f"/api/v1/webhooks/{tenant.bot_id}/{webhook['id']}/rotate-secret", headers=tenant.headers)
    assert rotated.status_code == 200
    new_secret, old_secret = rotated.get_json()["secret"], webhook["secret"]
    assert new_secret != old_secret and rotated.get_json()["previous_secret_expires_at"]
    base = f"/api/v1/tracking/{tenant.bot_id}"
    parcel = http.post(base, json=PARCEL, headers=tenant.headers).get_json()
    deliver(app)
    header = receiver.requests[0].headers["X-Tracker-Signature"]
    assert header.count("v1=") == 2
    assert verify_signature(new_secret, header, receiver.requests[0].body)
    assert verify_signature(old_secret, header, receiver.requests[0].body)

    def grace_over():
        db.session.execute(update(WebhookEndpoint).values(previous_secret_expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    in_app(app, grace_over)
    http.put(f"{base}/{parcel['id']}", json={"status": "in_transit"}, headers=tenant.headers)
    deliver(app)
    header = receiver.requests[1].headers["X-Tracker-Signature"]
    assert header.count("v1=") == 1
    assert verify_signature(new_secret, header, receiver.requests[1].body)
    assert not verify_signature(old_secret, header, receiver.requests[1].body)


# --- SSRF ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/hooks", "http://localhost/hooks", "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5/hooks", "http://192.168.1.1/hooks", "http://172.16.0.1/", "http://[::1]:8080/hooks",
    "http://[::ffff:127.0.0.1]/hooks", "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:7f00:1::]/", "http://0.0.0.0/", "http://224.0.0.1/", "http://100.64.0.1/",
    "http://[fe80::1]/", "http://[fd00:ec2::254]/", "http://metadata.google.internal/computeMetadata/v1/",
    "http://intranet/hooks", "http://app.localhost/", "ftp://hooks.example.com/", "file:///etc/passwd",
    "hooks.example.com/no-scheme", "http://user:password@hooks.example.com/", "http://hooks.example.com:99999/",
])
def test_webhook_urls_to_local_addresses_are_refused(app, http, tenant, url):
    response = http.post(f"/api/v1/webhooks/{tenant.bot_id}", json={"url": url}, headers=tenant.headers)
    assert response.status_code == 422, (url, response.get_json())
    assert response.content_type == "application/problem+json" and response.get_json()["errors"]["url"]
    webhook_id, _ = make_webhook(app, tenant.bot_id)
    patched = http.patch(f"/api/v1/webhooks/{tenant.bot_id}/{webhook_id}", json={"url": url}, headers=tenant.headers)
    assert patched.status_code == 422


def test_a_name_that_resolves_to_loopback_at_delivery_time_is_refused(app, http, tenant, receiver, monkeypatch):
    """DNS rebinding: the name was public when it was saved and resolves to loopback when the worker sends."""
    create_webhook(http, tenant, f"http://hooks.example.com:{receiver.port}/hooks")
    monkeypatch.setattr(addresses, "resolve", lambda host, port: ["127.0.0.1"])
    http.post(f"/api/v1/tracking/{tenant.bot_id}", json=PARCEL, headers=tenant.headers)
    deliver(app)
    [row] = deliveries(app)
    assert receiver.requests == [] and row["status"] == "pending" and row["code"] is None
    assert "hooks.example.com resolves to a loopback address (127.0.0.1)" in row["error"]


def test_the_worker_connects_to_the_checked_address_of_an_allowed_name(app, http, tenant, receiver, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOWED_HOSTS", ("hooks.example.com",))
    monkeypatch.setattr(addresses, "resolve", lambda host, port: ["127.0.0.1"])
    create_webhook(http, tenant, f"http://hooks.example.com:{receiver.port}/hooks?source=tracker")
    http.post(f"/api/v1/tracking/{tenant.bot_id}", json=PARCEL, headers=tenant.headers)
    deliver(app)
    [request] = receiver.requests
    assert request.headers["Host"] == f"hooks.example.com:{receiver.port}" and request.path == "/hooks?source=tracker"


def test_an_allowance_withdrawn_by_the_operator_stops_deliveries(loopback_allowed, http, tenant, receiver,
                                                                 monkeypatch):
    create_webhook(http, tenant, receiver.url)
    monkeypatch.setitem(loopback_allowed.config, "WEBHOOK_ALLOWED_HOSTS", ())
    http.post(f"/api/v1/tracking/{tenant.bot_id}", json=PARCEL, headers=tenant.headers)
    deliver(loopback_allowed)
    assert receiver.requests == []
    assert "public address" in deliveries(loopback_allowed)[0]["error"]


# --- the API's own rules ----------------------------------------------------------------------------------------

def test_endpoints_are_listed_updated_and_deleted_with_their_log(app, http, tenant):
    webhook = create_webhook(http, tenant, "https://crm.example.com/hooks", description="CRM")
    path = f"/api/v1/webhooks/{tenant.bot_id}/{webhook['id']}"
    listed = http.get(f"/api/v1/webhooks/{tenant.bot_id}", headers=tenant.headers).get_json()
    assert listed["total"] == 1 and "secret" not in listed["webhooks"][0]
    changed = http.patch(path, json={"events": ["client.created", "client.created"], "enabled": False},
                         headers=tenant.headers).get_json()
    assert changed["events"] == ["client.created"] and changed["enabled"] is False
    assert changed["disabled_reason"] == "Disabled over the API."
    assert http.patch(path, json={"events": ["tracking.exploded"]}, headers=tenant.headers).status_code == 422
    assert http.patch(path, json={}, headers=tenant.headers).status_code == 422
    assert http.delete(path, headers=tenant.headers).status_code == 204
    assert http.get(path, headers=tenant.headers).status_code == 404


def test_a_bot_has_a_bounded_number_of_endpoints(app, http, tenant, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_MAX_ENDPOINTS", 2)
    for _ in range(2):
        create_webhook(http, tenant, "https://crm.example.com/hooks")
    response = http.post(f"/api/v1/webhooks/{tenant.bot_id}", json={"url": "https://crm.example.com/hooks"},
                         headers=tenant.headers)
    assert response.status_code == 409 and "at most 2" in response.get_json()["detail"]


def test_prune_keeps_pending_deliveries_and_the_recent_log(loopback_allowed, http, tenant, receiver):
    app = loopback_allowed
    create_webhook(http, tenant, receiver.url)
    base = f"/api/v1/tracking/{tenant.bot_id}"
    for number in ("OLD1", "OLD2", "NEW1"):
        http.post(base, json={**PARCEL, "tracking_number": number}, headers=tenant.headers)
    receiver.behaviour.fail_subjects = {"OLD2"}
    deliver(app)

    def age_old_ones():
        long_ago = utcnow() - timedelta(days=40)
        old = select(WebhookEvent.id).where(WebhookEvent.payload.contains("OLD"))
        db.session.execute(update(WebhookEvent).where(WebhookEvent.id.in_(old)).values(created_at=long_ago))
        db.session.execute(update(WebhookDelivery).where(WebhookDelivery.event_row_id.in_(old))
                           .values(created_at=long_ago))
        db.session.commit()
    in_app(app, age_old_ones)
    result = app.test_cli_runner().invoke(args=["webhooks", "prune", "--days", "30"])
    assert result.exit_code == 0, result.output
    assert "pruned 1 deliveries and 1 events" in result.output
    assert sorted(row["status"] for row in deliveries(app)) == ["pending", "succeeded"]  # OLD2 pending, NEW1


# --- several workers, and a worker that dies -------------------------------------------------------------------

def worker_process(app, *arguments, **settings):
    env = clean_env(TRACKER_ENV="test", DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
                    WEBHOOK_ALLOWED_HOSTS="127.0.0.1", **settings)
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "webhooks", "worker", *arguments],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_killed_worker_loses_nothing(loopback_allowed, http, tenant, receiver):
    app = loopback_allowed
    create_webhook(http, tenant, receiver.url)
    http.post(f"/api/v1/tracking/{tenant.bot_id}", json=PARCEL, headers=tenant.headers)
    receiver.behaviour.delays = [30]  # the first attempt hangs: the worker is killed in the middle of it
    worker = worker_process(app, WEBHOOK_LEASE_SECONDS="3")
    try:
        wait_for(lambda: len(receiver.requests) == 1)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    [claimed] = deliveries(app)
    assert claimed["status"] == "pending" and claimed["attempts"] == 0 and claimed["leased_until"] > utcnow()
    deliver(app)
    assert len(receiver.requests) == 1  # still leased: no second worker sends it meanwhile

    wait_for(lambda: deliveries(app)[0]["leased_until"] < utcnow(), timeout=10)
    deliver(app)
    assert [request.event_id for request in receiver.requests] == [receiver.requests[0].event_id] * 2
    assert deliveries(app)[0]["status"] == "succeeded"


def test_a_worker_stops_cleanly_on_sigterm(loopback_allowed):
    worker = worker_process(loopback_allowed)
    assert worker.stdout.readline().strip() == "webhooks worker started"  # its signal handlers are in place
    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert out.strip() == "webhooks worker stopped"


def test_a_worker_waits_out_a_database_it_cannot_reach():
    env = clean_env(TRACKER_ENV="test", DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere",
                    WEBHOOK_WORKER_POLL_SECONDS="0.2")
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "webhooks", "worker"], cwd=REPO,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert worker.stdout.readline().strip() == "webhooks worker started"
    time.sleep(2)
    assert worker.poll() is None  # still running
    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0 and "the database failed; retrying" in err


def test_several_worker_processes_never_send_one_delivery_twice(postgresql_only_app, receiver, monkeypatch):
    app = postgresql_only_app
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOWED_HOSTS", ("127.0.0.1",))
    tenant = make_tenant(app, 321, "Load Cargo", "@load_cargo_bot")
    http = app.test_client()
    create_webhook(http, tenant, receiver.url)
    base = f"/api/v1/tracking/{tenant.bot_id}"
    ids = [http.post(base, json={**PARCEL, "tracking_number": f"LOAD{n:04}"}, headers=tenant.headers).get_json()["id"]
           for n in range(20)]
    for status in ("in_transit", "delivered", "issued"):
        for tracking_id in ids:
            http.put(f"{base}/{tracking_id}", json={"status": status}, headers=tenant.headers)
    receiver.behaviour.delay = 0.01

    workers = [worker_process(app, "--once", WEBHOOK_WORKER_BATCH="3") for _ in range(3)]
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
    deliver(app)  # anything a worker left (none expected)

    received = [json.loads(request.body) for request in receiver.requests]
    assert len(received) == 80
    assert len({event["id"] for event in received}) == 80  # each event once: no delivery sent twice
    for tracking_id in ids:
        mine = [event for event in received if event["data"]["tracking_number"]["id"] == tracking_id]
        assert [event["data"]["tracking_number"]["current_status"] for event in mine] == [
            "pending", "in_transit", "delivered", "issued"]
    assert {row["status"] for row in deliveries(app)} == {"succeeded"}
