"""Races on PostgreSQL, for real: requests released together from threads, each with its own app context,
session and connection. Two creates of one tracking number: exactly one wins, every other gets a 409 naming
the winner. Concurrent status changes of one parcel: a history with no gaps and no forks."""
import threading
from collections import Counter

import pytest
from sqlalchemy.exc import IntegrityError

from conftest import SAMPLE_TRACKING, in_app, make_tenant, make_tracking
from tracker_api.extensions import db
from tracker_api.models import Client, StatusEvent, TrackingNumber

THREADS = 8  # well inside the engine's pool (5 + 10 overflow): waiting for a connection is not the race
ROUNDS = 3  # a race lost by luck in one round is unlikely to be lost in every round
STATUS_CYCLE = ("in_transit", "delivered", "issued", "cancelled", "pending")


@pytest.fixture
def app(postgresql_only_app):
    return postgresql_only_app


@pytest.fixture
def tenant(app):
    return make_tenant(app, 123, "Demo Cargo", "@demo_cargo_bot")


def race(count, action):
    """Run action(index) in `count` threads released at once; the results, in index order."""
    barrier = threading.Barrier(count)
    results = [None] * count
    errors = []

    def one(index):
        barrier.wait()
        try:
            results[index] = action(index)
        except Exception as error:  # re-raised below, in the test's thread
            errors.append(error)
    threads = [threading.Thread(target=one, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    if errors:
        raise errors[0]
    return results


def send_together(app, tenant, method, path, bodies):
    """One request per body, all at once, each thread with its own test client; (status, JSON) each."""
    def one(index):
        response = app.test_client().open(path, method=method, json=bodies[index], headers=tenant.headers)
        return response.status_code, response.get_json()
    return race(len(bodies), one)


def json_body(**fields):
    return {key: float(value) if key in ("weight_kg", "price_per_kg_usd", "total_cost_usd") else value
            for key, value in {**SAMPLE_TRACKING, **fields}.items()}


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_concurrent_creates_of_one_number_have_exactly_one_winner(app, tenant, round_number):
    number = f"RACE{round_number}X123456"
    bodies = [json_body(tracking_number=number, client_code=f"CLIENT{index}") for index in range(THREADS)]
    answers = send_together(app, tenant, "POST", "/api/v1/tracking/123", bodies)

    assert Counter(status for status, _ in answers) == {201: 1, 409: THREADS - 1}, answers
    [winner] = [body for status, body in answers if status == 201]
    for status, body in answers:
        if status == 409:
            assert body["existing_id"] == winner["id"] and f"(id {winner['id']})" in body["detail"]

    def stored():
        rows = db.session.scalars(db.select(TrackingNumber).filter_by(tracking_number=number)).all()
        events = db.session.scalars(db.select(StatusEvent).filter_by(tracking_id=winner["id"])).all()
        return [(row.id, row.client_code) for row in rows], [(event.previous_status, event.status) for event in events]
    rows, history = in_app(app, stored)
    assert rows == [(winner["id"], winner["client_code"])]
    assert history == [(None, "pending")]


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_concurrent_inserts_of_one_client_code_leave_one_client(app, tenant, round_number):
    """No endpoint creates clients yet (the bot does, and future imports will): the guarantee they rely on is
    the database's, one client_code per bot even when every writer checked first and found none."""
    code = f"CLIENT{round_number}RACE"

    def insert(index):
        with app.app_context():
            if db.session.scalar(db.select(Client.id).filter_by(bot_id=123, client_code=code)) is not None:
                return "seen"
            db.session.add(Client(bot_id=123, client_code=code, name=f"Writer {index}"))
            try:
                db.session.commit()
            except IntegrityError:
                db.session.rollback()
                return "conflict"
            return "created"
    outcomes = Counter(race(THREADS, insert))
    assert outcomes["created"] == 1 and outcomes["created"] + outcomes["conflict"] + outcomes["seen"] == THREADS
    count = in_app(app, lambda: db.session.scalar(
        db.select(db.func.count()).select_from(Client).filter_by(bot_id=123, client_code=code)))
    assert count == 1


def status_history(app, tracking_id):
    def read():
        events = db.session.scalars(db.select(StatusEvent).filter_by(tracking_id=tracking_id)
                                    .order_by(StatusEvent.id)).all()
        record = db.session.get(TrackingNumber, tracking_id)
        return [(event.previous_status, event.status) for event in events], record.status
    return in_app(app, read)


def assert_consistent_chain(history, current_status):
    """Each event starts where the one before it ended, and the last one ends where the parcel is."""
    assert history[0] == (None, "pending")
    for before, after in zip(history, history[1:]):
        assert after[0] == before[1], history
        assert after[0] != after[1], history  # an event is a change
    assert history[-1][1] == current_status, (history, current_status)


def test_concurrent_status_changes_leave_a_consistent_history(app, tenant):
    tracking_id = make_tracking(app, 123)
    path = f"/api/v1/tracking/123/{tracking_id}"
    for round_number in range(ROUNDS):
        bodies = [{"status": STATUS_CYCLE[(round_number + index) % len(STATUS_CYCLE)]} for index in range(THREADS)]
        answers = send_together(app, tenant, "PUT", path, bodies)
        assert [status for status, _ in answers] == [200] * THREADS, answers
        history, current_status = status_history(app, tracking_id)
        assert_consistent_chain(history, current_status)
