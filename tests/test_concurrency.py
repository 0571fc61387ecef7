"""Races on PostgreSQL, for real: requests released together from threads, each with its own app context,
session and connection. Two creates of one tracking number: exactly one wins, every other gets a 409 naming
the winner. Concurrent status changes of one parcel: a history with no gaps and no forks."""
import threading
from collections import Counter

import pytest
import requests
from sqlalchemy.exc import IntegrityError

from conftest import SAMPLE_TRACKING, assert_totals_exact, in_app, make_tenant, make_tracking
from servers import GUNICORN_CONF, Gunicorn, clean_env
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
def test_concurrent_puts_by_number_create_once_and_replace_in_turn(app, tenant, round_number):
    """PUT .../by-number takes the bot's lock before it looks the number up: one creates, the others replace
    what the one before them left, and the history records each status change once, with no gaps."""
    number = f"RACE{round_number}/BY-NUMBER"
    bodies = [{"client_code": "CLIENT123", "status": STATUS_CYCLE[index % len(STATUS_CYCLE)]}
              for index in range(THREADS)]
    answers = send_together(app, tenant, "PUT", f"/api/v1/tracking/123/by-number/RACE{round_number}%2FBY-NUMBER",
                            bodies)

    assert Counter(status for status, _ in answers) == {201: 1, 200: THREADS - 1}, answers
    assert len({body["id"] for _, body in answers}) == 1

    def stored():
        [row] = db.session.scalars(db.select(TrackingNumber).filter_by(tracking_number=number)).all()
        events = db.session.scalars(db.select(StatusEvent).filter_by(tracking_id=row.id)
                                    .order_by(StatusEvent.id)).all()
        return row.status, [(event.previous_status, event.status) for event in events]
    status, history = in_app(app, stored)
    assert history[0][0] is None and history[-1][1] == status
    assert all(earlier[1] == later[0] for earlier, later in zip(history, history[1:]))  # no gaps, no forks
    assert_totals_exact(app)


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_concurrent_inserts_of_one_client_code_leave_one_client(app, tenant, round_number):
    """Writers that bypass the API's services (the Telegram bot) rely on the database's own guarantee: one
    client_code per bot even when every writer checked first and found none (tests/test_clients_write.py races
    the API's creates and upserts)."""
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


# --- fifty clients at once, through gunicorn with the production config ---------------------------------------

FIFTY = 50


@pytest.fixture
def production_server(app, tenant, tmp_path):
    """gunicorn with docker/gunicorn.conf.py (4 workers x 4 threads here) on this test's PostgreSQL database."""
    env = clean_env(DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], API_KEY_PEPPER=app.config["API_KEY_PEPPER"],
                    RATE_LIMIT_PER_MINUTE=1000, GUNICORN_WORKERS=4, GUNICORN_THREADS=4)
    server = Gunicorn(tmp_path, env, 4, "-c", str(GUNICORN_CONF))
    yield server
    server.stop()


def send_fifty(server, tenant, method, path, bodies):
    """Each body from its own client thread, all released at once; (status, JSON) each."""
    def one(index):
        response = requests.request(method, server.url + path, json=bodies[index], headers=tenant.headers,
                                    timeout=60)
        return response.status_code, response.json()
    return race(len(bodies), one)


def test_fifty_parallel_creates_of_one_number_through_gunicorn_have_one_winner(app, tenant, production_server):
    number = "FIFTY0000001"
    bodies = [json_body(tracking_number=number, client_code=f"CLIENT{index}") for index in range(FIFTY)]
    answers = send_fifty(production_server, tenant, "POST", "/api/v1/tracking/123", bodies)
    assert Counter(status for status, _ in answers) == {201: 1, 409: FIFTY - 1}, Counter(s for s, _ in answers)
    [winner] = [body for status, body in answers if status == 201]
    assert {body["existing_id"] for status, body in answers if status == 409} == {winner["id"]}
    assert in_app(app, lambda: db.session.scalar(db.select(db.func.count()).select_from(TrackingNumber).where(
        TrackingNumber.tracking_number == number))) == 1
    assert_totals_exact(app)


def test_fifty_parallel_status_updates_through_gunicorn_leave_a_consistent_history(app, tenant,
                                                                                 production_server):
    tracking_id = make_tracking(app, 123)
    bodies = [{"status": STATUS_CYCLE[index % len(STATUS_CYCLE)]} for index in range(FIFTY)]
    answers = send_fifty(production_server, tenant, "PUT", f"/api/v1/tracking/123/{tracking_id}", bodies)
    assert [status for status, _ in answers] == [200] * FIFTY
    history, current_status = status_history(app, tracking_id)
    assert_consistent_chain(history, current_status)
    assert len(history) >= 5  # the cycle's statuses did change it, more than once
    assert_totals_exact(app)  # each change moved the totals from the status the one before it left


def test_parallel_imports_of_overlapping_rows_create_each_number_once(app, tenant):
    """Imports queue on the bot's lock (imports.py): each shares rows with the others, every number ends
    created exactly once with one history row, and no import fails."""
    numbers = [f"BULK{n:06d}" for n in range(40)]
    bodies = [[{"tracking_number": number, "client_code": "CLIENT123"} for number in numbers[index * 4:index * 4 + 20]]
              for index in range(THREADS)]
    answers = send_together(app, tenant, "POST", "/api/v1/tracking/123/import", bodies)

    assert [status for status, _ in answers] == [200] * THREADS, answers
    created = Counter(row["id"] for _, body in answers for row in body["results"] if row["result"] == "created")
    assert len(created) == len({number for body in bodies for number in (row["tracking_number"] for row in body)})
    assert set(created.values()) == {1}
    assert_totals_exact(app)

    def stored():
        rows = db.session.scalars(db.select(TrackingNumber).filter_by(bot_id=123)).all()
        events = db.session.scalars(db.select(StatusEvent).filter_by(bot_id=123)).all()
        return Counter(row.tracking_number for row in rows), Counter(event.tracking_id for event in events)
    by_number, events_by_parcel = in_app(app, stored)
    assert set(by_number.values()) == {1} and set(events_by_parcel.values()) == {1}
    assert set(events_by_parcel) == set(created)
