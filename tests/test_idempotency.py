"""Idempotency-Key on POST: a retry replays the first answer and creates nothing; the key is bound to its first
request and to the API key that sent it; twins sent at once create one record; a retry after a crash before
or after the commit creates exactly one; records expire after IDEMPOTENCY_TTL_HOURS."""
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from conftest import Tenant, in_app, make_tenant, make_tracking
from test_concurrency import json_body, race
from tracker_api.access.keys import issue_key
from tracker_api.extensions import db
from tracker_api.models import IdempotencyRecord, StatusEvent, TrackingNumber
from tracker_api.models.types import utcnow
from tracker_api.resources.tracking import service as tracking_service

PATH = "/api/v1/tracking/123"
KEY = "crm-import-2025-01-27-0001"


class WorkerKilled(BaseException):
    """A worker dying mid-request (SIGKILL, OOM): no error handler and no after_request hook runs, only the
    teardown that gives the connection back, whose transaction the database then rolls back."""


def post(http, tenant, body, key=KEY, path=PATH):
    headers = {**tenant.headers, **({"Idempotency-Key": key} if key is not None else {})}
    return http.post(path, json=body, headers=headers)


def count(app, model):
    return in_app(app, lambda: db.session.scalar(db.select(db.func.count()).select_from(model)))


def records(app):
    return in_app(app, lambda: db.session.scalars(db.select(IdempotencyRecord).order_by(IdempotencyRecord.id)).all())


def edit_records(app, **values):
    def edit():
        db.session.execute(db.update(IdempotencyRecord).values(**values))
        db.session.commit()
    in_app(app, edit)


def second_key(app, bot_id):
    def issue():
        api_key, plain_key = issue_key(bot_id, "second integration")
        return Tenant(bot_id, api_key.id, plain_key)
    return in_app(app, issue)


def crash_creates(monkeypatch, *, after_commit):
    """The next create dies as a killed worker would, before its commit or right after it."""
    create = tracking_service.create_tracking

    def dying(*args, **kwargs):
        if after_commit:
            create(*args, **kwargs)
        raise WorkerKilled()
    monkeypatch.setattr(tracking_service, "create_tracking", dying)


def assert_replay_of(replayed, original):
    assert replayed.status_code == original.status_code
    assert replayed.get_data() == original.get_data() and replayed.mimetype == original.mimetype
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in original.headers


# --- replays ----------------------------------------------------------------------------------------------

def test_a_retry_replays_the_first_answer_and_creates_nothing(app, http, tenant):
    first = post(http, tenant, json_body())
    retry = post(http, tenant, json_body())

    assert first.status_code == 201
    assert_replay_of(retry, first)
    assert count(app, TrackingNumber) == 1 and count(app, StatusEvent) == 1
    [record] = records(app)
    assert (record.state, record.key_id, record.response_status) == ("completed", tenant.key_id, 201)
    assert (record.resource_kind, record.resource_id) == ("tracking_numbers", first.get_json()["id"])


def test_the_same_key_with_another_body_is_a_422_naming_the_header(app, http, tenant):
    assert post(http, tenant, json_body()).status_code == 201
    reused = post(http, tenant, json_body(tracking_number="XYZ987654"))

    assert reused.status_code == 422 and reused.mimetype == "application/problem+json"
    assert reused.get_json()["type"] == "/problems/idempotency-key-reused"
    assert "Idempotency-Key" in reused.get_json()["detail"]
    assert count(app, TrackingNumber) == 1


def test_the_same_key_on_another_path_is_another_request(app, http, tenant):
    assert post(http, tenant, json_body()).status_code == 201
    assert post(http, tenant, json_body(), path=PATH + "?source=crm").status_code == 422


def test_without_the_header_every_post_runs(app, http, tenant):
    assert post(http, tenant, json_body(), key=None).status_code == 201
    assert post(http, tenant, json_body(), key=None).status_code == 409
    assert records(app) == []


def test_other_methods_ignore_the_header(app, http, tenant):
    tracking_id = make_tracking(app, 123)
    headers = {**tenant.headers, "Idempotency-Key": KEY}
    for status in ("in_transit", "delivered"):
        answer = http.put(f"{PATH}/{tracking_id}", json={"status": status}, headers=headers)
        assert answer.status_code == 200 and answer.get_json()["current_status"] == status
    assert records(app) == []


# --- scoping: the API key, never the bot ------------------------------------------------------------------

def test_another_key_of_the_same_bot_has_keys_of_its_own(app, http, tenant):
    other_key = second_key(app, 123)
    assert post(http, tenant, json_body()).status_code == 201
    answer = post(http, other_key, json_body(tracking_number="XYZ987654"))

    assert answer.status_code == 201 and "Idempotent-Replayed" not in answer.headers
    assert count(app, TrackingNumber) == 2
    assert sorted(record.key_id for record in records(app)) == sorted([tenant.key_id, other_key.key_id])


def test_another_bot_with_the_same_key_and_body_gets_its_own_record(app, http, tenant, other_tenant):
    mine = post(http, tenant, json_body())
    theirs = post(http, other_tenant, json_body(), path="/api/v1/tracking/456")

    assert mine.status_code == theirs.status_code == 201 and "Idempotent-Replayed" not in theirs.headers
    assert theirs.get_json()["id"] != mine.get_json()["id"]
    assert count(app, TrackingNumber) == 2


# --- which answers are kept -------------------------------------------------------------------------------

def test_a_validation_error_is_kept_and_replayed(app, http, tenant):
    invalid = json_body(status="lost")
    first = post(http, tenant, invalid)
    assert first.status_code == 422
    assert_replay_of(post(http, tenant, invalid), first)


def test_a_conflict_is_not_kept_so_the_retry_runs_again(app, http, tenant):
    existing_id = make_tracking(app, 123)
    first = post(http, tenant, json_body())
    assert first.status_code == 409 and records(app) == []

    in_app(app, tracking_service.delete_tracking, 123, existing_id)
    retry = post(http, tenant, json_body())
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers


def test_a_server_error_that_committed_nothing_releases_the_key(app, http, tenant, monkeypatch):
    def database_gone(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))
    with monkeypatch.context() as patch:
        patch.setattr(tracking_service, "create_tracking", database_gone)
        assert post(http, tenant, json_body()).status_code == 503
    assert records(app) == []
    assert post(http, tenant, json_body()).status_code == 201


# --- the header ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad_key", ["", "two words", "x" * 256, "caf\u00e9", "tab\there"])
def test_an_invalid_header_is_a_400_naming_it(app, http, tenant, bad_key):
    answer = post(http, tenant, json_body(), key=bad_key)

    assert answer.status_code == 400 and answer.mimetype == "application/problem+json"
    assert answer.get_json()["type"] == "/problems/invalid-idempotency-key"
    assert "Idempotency-Key" in answer.get_json()["detail"]
    assert count(app, TrackingNumber) == 0 and records(app) == []


def test_the_longest_key_is_accepted(app, http, tenant):
    assert post(http, tenant, json_body(), key="~" * 255).status_code == 201


def test_every_post_operation_documents_the_header_and_its_answers(sqlite_app):
    document = sqlite_app.test_client().get("/api/openapi.json").get_json()
    posts = [item["post"] for item in document["paths"].values() if "post" in item]
    assert posts
    for operation in posts:
        [parameter] = [parameter for parameter in operation["parameters"] if parameter["name"] == "Idempotency-Key"]
        assert (parameter["in"], parameter["required"], parameter["schema"]["maxLength"]) == ("header", False, 255)
        assert {"400", "409", "422"} <= set(operation["responses"])


# --- crashes ------------------------------------------------------------------------------------------------

def test_a_retry_after_a_crash_before_the_commit_runs_once_the_lease_has_expired(app, http, tenant, monkeypatch):
    monkeypatch.setitem(app.config, "IDEMPOTENCY_WAIT_SECONDS", 0.2)
    with monkeypatch.context() as patch:
        crash_creates(patch, after_commit=False)
        with pytest.raises(WorkerKilled):
            post(http, tenant, json_body())
    [record] = records(app)
    assert record.state == "processing" and count(app, TrackingNumber) == 0

    # The lease is still running: the first attempt might be alive, so the retry must not run yet.
    early = post(http, tenant, json_body())
    assert early.status_code == 409 and early.headers["Retry-After"]
    assert early.get_json()["type"] == "/problems/idempotency-key-in-use"

    edit_records(app, locked_until=utcnow() - timedelta(seconds=1))
    retry = post(http, tenant, json_body())
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers
    assert count(app, TrackingNumber) == 1
    assert_replay_of(post(http, tenant, json_body()), retry)


def test_a_retry_after_a_crash_after_the_commit_renders_what_was_created(app, http, tenant, monkeypatch):
    with monkeypatch.context() as patch:
        crash_creates(patch, after_commit=True)
        with pytest.raises(WorkerKilled):
            post(http, tenant, json_body())
    [record] = records(app)
    assert (record.state, record.resource_kind, record.response_status) == ("committed", "tracking_numbers", None)

    retry = post(http, tenant, json_body())
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_json() == http.get(f"{PATH}/{record.resource_id}", headers=tenant.headers).get_json()
    assert count(app, TrackingNumber) == 1 and count(app, StatusEvent) == 1


def test_a_committed_request_whose_record_was_deleted_since_says_so(app, http, tenant, monkeypatch):
    with monkeypatch.context() as patch:
        crash_creates(patch, after_commit=True)
        with pytest.raises(WorkerKilled):
            post(http, tenant, json_body())
    in_app(app, tracking_service.delete_tracking, 123, records(app)[0].resource_id)

    retry = post(http, tenant, json_body())
    assert retry.status_code == 409 and retry.get_json()["type"] == "/problems/idempotency-answer-lost"
    assert count(app, TrackingNumber) == 0


# --- twins ----------------------------------------------------------------------------------------------------

def test_a_retry_while_the_first_attempt_runs_waits_for_its_answer(app, tenant, monkeypatch):
    started, finish = threading.Event(), threading.Event()
    create = tracking_service.create_tracking

    def slow_create(*args, **kwargs):
        started.set()
        finish.wait(10)
        return create(*args, **kwargs)
    monkeypatch.setattr(tracking_service, "create_tracking", slow_create)

    def first():
        return post(app.test_client(), tenant, json_body())
    answers = {}
    thread = threading.Thread(target=lambda: answers.setdefault("first", first()))
    thread.start()
    assert started.wait(10)
    threading.Timer(0.3, finish.set).start()
    retry = post(app.test_client(), tenant, json_body())
    thread.join(10)

    assert_replay_of(retry, answers["first"])
    assert count(app, TrackingNumber) == 1


@pytest.mark.parametrize("round_number", range(3))
def test_concurrent_twins_create_one_record_on_postgresql(postgresql_only_app, round_number):
    """Threads released at once, each with its own session and connection: one runs, the others wait for its
    answer and replay it (or, past IDEMPOTENCY_WAIT_SECONDS, hear 409 in progress); never a second record."""
    app = postgresql_only_app
    tenant = make_tenant(app, 123, "Demo Cargo", "@demo_cargo_bot")
    body = json_body(tracking_number=f"TWIN{round_number}X123456")

    def send(index):
        answer = post(app.test_client(), tenant, body, key=f"twin-{round_number}")
        return answer.status_code, answer.headers.get("Idempotent-Replayed"), answer.get_data()
    answers = race(6, send)

    statuses = Counter(status for status, _, _ in answers)
    assert set(statuses) <= {201, 409} and statuses[201] >= 1, answers
    originals = [data for status, replayed, data in answers if status == 201 and replayed is None]
    assert len(originals) == 1, answers
    assert all(data == originals[0] for status, _, data in answers if status == 201)
    assert count(app, TrackingNumber) == 1 and len(records(app)) == 1


# --- expiry --------------------------------------------------------------------------------------------------

def test_a_record_lives_for_the_ttl_then_the_key_is_free_again(app, http, tenant, monkeypatch):
    monkeypatch.setitem(app.config, "IDEMPOTENCY_TTL_HOURS", 1.5)
    assert post(http, tenant, json_body()).status_code == 201
    [record] = records(app)
    assert record.expires_at - record.created_at == timedelta(hours=1.5)

    edit_records(app, expires_at=utcnow() - timedelta(seconds=1))
    reused = post(http, tenant, json_body(tracking_number="XYZ987654"))
    assert reused.status_code == 201 and "Idempotent-Replayed" not in reused.headers
    [record] = records(app)
    assert record.response_body == reused.get_data(as_text=True)


def test_each_claim_purges_expired_records(app, http, tenant):
    for index in range(3):
        assert post(http, tenant, json_body(tracking_number=f"OLD{index}X12345"), key=f"old-{index}").status_code == 201
    edit_records(app, expires_at=utcnow() - timedelta(seconds=1))
    assert post(http, tenant, json_body(), key="new").status_code == 201
    assert [record.idempotency_key for record in records(app)] == ["new"]
