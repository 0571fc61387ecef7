"""Clients: create, replace, patch, delete and upsert by code, on both databases; races on PostgreSQL.

Reads (list, get) are in test_clients.py; another bot's key on these routes is in test_isolation.py.
"""
from collections import Counter
from datetime import datetime

import pytest

from conftest import in_app, make_client, make_tenant, make_tracking
from test_concurrency import THREADS, send_together
from tracker_api.extensions import db
from tracker_api.models import Bot, Client, DeletedRecord, TrackingNumber
from tracker_api.resources.clients import service

BOT = 123
CLIENTS = f"/api/v1/clients/{BOT}"
ALIYA = {"client_code": "CLIENT123", "name": "Алия Нурланова", "phone": "+77011234567",
         "telegram_username": "aliya_n", "telegram_id": 512345678}
CONTACT = ("name", "phone", "telegram_username", "telegram_id")
CLIENT_FIELDS = {"id", "client_code", *CONTACT, "created_at", "updated_at"}


def create(http, tenant, **fields):
    response = http.post(f"/api/v1/clients/{tenant.bot_id}", headers=tenant.headers, json=fields)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def read(http, tenant, client_id):
    return http.get(f"/api/v1/clients/{tenant.bot_id}/{client_id}", headers=tenant.headers)


def time_of(text):
    return datetime.fromisoformat(text)


def change_seqs(app, client_id):
    """(the client's change_seq, the bot's counter), read from the database."""
    def select():
        client = db.session.get(Client, client_id)
        return client.change_seq if client else None, db.session.get(Bot, BOT).change_seq
    return in_app(app, select)


def stored_clients(app, bot_id=BOT):
    """(id, client_code, name) of every client of a bot, by id."""
    return in_app(app, lambda: [tuple(row) for row in db.session.execute(
        db.select(Client.id, Client.client_code, Client.name).where(Client.bot_id == bot_id).order_by(Client.id))])


def assert_problem(response, status, *fields):
    assert response.status_code == status, response.get_json()
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["detail"]
    for field in fields:
        assert field in body["errors"], body
    return body


# --- create --------------------------------------------------------------------------------------------

def test_a_create_answers_201_with_the_whole_client_as_get_returns_it(http, tenant):
    response = http.post(CLIENTS, headers=tenant.headers, json=ALIYA)
    assert response.status_code == 201
    client = response.get_json()
    assert set(client) == CLIENT_FIELDS
    assert {name: client[name] for name in ALIYA} == ALIYA
    assert client["created_at"] == client["updated_at"] and time_of(client["created_at"]).utcoffset().seconds == 0
    assert read(http, tenant, client["id"]).get_json() == client


def test_a_client_known_only_by_code_is_created_with_null_contact_fields(http, tenant):
    client = create(http, tenant, client_code="CLIENT7")
    assert [client[name] for name in CONTACT] == [None, None, None, None]


def test_a_leading_at_sign_is_dropped_from_the_telegram_username(http, tenant):
    assert create(http, tenant, client_code="CLIENT7", telegram_username="@aliya_n")["telegram_username"] == "aliya_n"


def test_a_duplicate_code_is_a_409_naming_the_bots_own_client_and_creates_nothing(app, http, tenant, other_tenant):
    create(http, other_tenant, **ALIYA)
    ours = create(http, tenant, **ALIYA)
    response = http.post(CLIENTS, headers=tenant.headers, json={**ALIYA, "name": "Someone else"})
    problem = assert_problem(response, 409)
    assert problem["existing_id"] == ours["id"] and f"(id {ours['id']})" in problem["detail"]
    assert stored_clients(app) == [(ours["id"], "CLIENT123", ALIYA["name"])]


def test_a_refused_write_takes_no_change_number(app, http, tenant):
    ours = create(http, tenant, **ALIYA)
    before = change_seqs(app, ours["id"])
    assert http.post(CLIENTS, headers=tenant.headers, json=ALIYA).status_code == 409
    assert http.patch(f"{CLIENTS}/{ours['id'] + 1}", headers=tenant.headers, json={"name": "x"}).status_code == 404
    assert change_seqs(app, ours["id"]) == before


# --- replace (PUT) and patch ---------------------------------------------------------------------------

def test_a_replace_makes_the_client_exactly_the_body_and_moves_updated_at(http, tenant):
    client = create(http, tenant, **ALIYA)
    response = http.put(f"{CLIENTS}/{client['id']}", headers=tenant.headers,
                        json={"client_code": "CLIENT124", "phone": "+7 (701) 123-45-67"})
    assert response.status_code == 200
    replaced = response.get_json()
    assert replaced == {**client, "client_code": "CLIENT124", "name": None, "phone": "+7 (701) 123-45-67",
                        "telegram_username": None, "telegram_id": None, "updated_at": replaced["updated_at"]}
    assert time_of(replaced["updated_at"]) > time_of(client["updated_at"])
    assert read(http, tenant, client["id"]).get_json() == replaced


def test_a_replace_needs_the_client_code(http, tenant):
    client = create(http, tenant, **ALIYA)
    assert_problem(http.put(f"{CLIENTS}/{client['id']}", headers=tenant.headers, json={"name": "x"}), 422,
                   "client_code")
    assert read(http, tenant, client["id"]).get_json() == client


def test_a_replace_with_the_same_values_still_counts_as_a_change(app, http, tenant):
    client = create(http, tenant, **ALIYA)
    before = change_seqs(app, client["id"])
    response = http.put(f"{CLIENTS}/{client['id']}", headers=tenant.headers, json=ALIYA)
    assert response.status_code == 200
    assert time_of(response.get_json()["updated_at"]) > time_of(client["updated_at"])
    assert change_seqs(app, client["id"])[0] > before[0]


def test_a_patch_changes_the_given_fields_and_keeps_the_others(http, tenant):
    client = create(http, tenant, **ALIYA)
    response = http.patch(f"{CLIENTS}/{client['id']}", headers=tenant.headers,
                          json={"phone": None, "telegram_id": 7_412_345_678})
    assert response.status_code == 200
    patched = response.get_json()
    assert patched == {**client, "phone": None, "telegram_id": 7_412_345_678, "updated_at": patched["updated_at"]}
    assert time_of(patched["updated_at"]) > time_of(client["updated_at"])


def test_an_empty_patch_is_a_422(http, tenant):
    client = create(http, tenant, **ALIYA)
    response = http.patch(f"{CLIENTS}/{client['id']}", headers=tenant.headers, json={})
    assert_problem(response, 422)
    assert "at least one field" in response.get_json()["detail"]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_a_rename_to_an_existing_code_is_a_409_and_changes_nothing(http, tenant, method):
    existing = create(http, tenant, **{**ALIYA, "client_code": "CLIENT7"})
    client = create(http, tenant, **ALIYA)
    response = http.open(f"{CLIENTS}/{client['id']}", method=method, headers=tenant.headers,
                         json={"client_code": "CLIENT7", "name": "renamed"})
    assert assert_problem(response, 409)["existing_id"] == existing["id"]
    assert read(http, tenant, client["id"]).get_json() == client
    assert read(http, tenant, existing["id"]).get_json() == existing


def test_a_rename_to_a_code_only_another_bot_has_is_allowed(http, tenant, other_tenant):
    create(http, other_tenant, **{**ALIYA, "client_code": "CLIENT7"})
    client = create(http, tenant, **ALIYA)
    response = http.patch(f"{CLIENTS}/{client['id']}", headers=tenant.headers, json={"client_code": "CLIENT7"})
    assert response.status_code == 200 and response.get_json()["client_code"] == "CLIENT7"


@pytest.mark.parametrize("method,body", [("PUT", ALIYA), ("PATCH", {"name": "x"}), ("DELETE", None)])
def test_a_missing_id_or_another_bots_id_is_a_404_and_changes_nothing(app, http, tenant, other_tenant, method, body):
    theirs = make_client(app, other_tenant.bot_id, "RIVAL1", name="Rival")
    ours = make_client(app, tenant.bot_id, "CLIENT1")
    for client_id in (theirs, ours + 1000):
        response = http.open(f"{CLIENTS}/{client_id}", method=method, headers=tenant.headers,
                             **({"json": body} if body else {}))
        assert str(client_id) in assert_problem(response, 404)["detail"]
        assert "Rival" not in response.get_data(as_text=True)
    assert stored_clients(app, other_tenant.bot_id) == [(theirs, "RIVAL1", "Rival")]
    assert stored_clients(app) == [(ours, "CLIENT1", "Алия Нурланова")]


# --- delete ------------------------------------------------------------------------------------------------

def test_a_delete_answers_204_and_leaves_a_tombstone_numbered_after_the_last_change(app, http, tenant):
    client = create(http, tenant, **ALIYA)
    last_change, _ = change_seqs(app, client["id"])
    response = http.delete(f"{CLIENTS}/{client['id']}", headers=tenant.headers)
    assert response.status_code == 204 and response.get_data() == b""
    assert read(http, tenant, client["id"]).status_code == 404
    assert http.delete(f"{CLIENTS}/{client['id']}", headers=tenant.headers).status_code == 404
    tombstones = in_app(app, lambda: [(row.bot_id, row.kind, row.record_id, row.code, row.change_seq)
                                      for row in db.session.scalars(db.select(DeletedRecord))])
    counter = change_seqs(app, client["id"])[1]
    assert tombstones == [(BOT, "client", client["id"], "CLIENT123", counter)]
    assert counter > last_change


def test_deleting_a_client_keeps_its_tracking_numbers(app, http, tenant):
    client = create(http, tenant, **ALIYA)
    tracking_id = make_tracking(app, tenant.bot_id, client_code="CLIENT123")
    assert http.delete(f"{CLIENTS}/{client['id']}", headers=tenant.headers).status_code == 204
    parcels = http.get(f"/api/v1/tracking/{BOT}/by-client/CLIENT123", headers=tenant.headers).get_json()
    assert [parcel["id"] for parcel in parcels["tracking_numbers"]] == [tracking_id]
    assert in_app(app, lambda: db.session.get(TrackingNumber, tracking_id).client_code) == "CLIENT123"


def test_a_deleted_code_can_be_created_again(app, http, tenant):
    first = create(http, tenant, **ALIYA)
    http.delete(f"{CLIENTS}/{first['id']}", headers=tenant.headers)
    again = create(http, tenant, **{**ALIYA, "name": "Again"})
    assert stored_clients(app) == [(again["id"], "CLIENT123", "Again")]


# --- upsert by code ------------------------------------------------------------------------------------

def upsert(http, tenant, code, body=None):
    return http.put(f"/api/v1/clients/{tenant.bot_id}/by-code/{code}", headers=tenant.headers,
                    **({"json": body} if body is not None else {}))


def test_an_upsert_of_a_new_code_creates_the_client_with_201(http, tenant):
    body = {name: ALIYA[name] for name in CONTACT}
    response = upsert(http, tenant, "CLIENT123", body)
    assert response.status_code == 201
    client = response.get_json()
    assert set(client) == CLIENT_FIELDS and {name: client[name] for name in ALIYA} == ALIYA
    assert read(http, tenant, client["id"]).get_json() == client


def test_an_upsert_of_a_known_code_replaces_its_fields_with_200(app, http, tenant):
    client = create(http, tenant, **ALIYA)
    response = upsert(http, tenant, "CLIENT123", {"name": "Aliya N.", "telegram_username": "@aliya_new"})
    assert response.status_code == 200
    replaced = response.get_json()
    assert replaced == {**client, "name": "Aliya N.", "phone": None, "telegram_username": "aliya_new",
                        "telegram_id": None, "updated_at": replaced["updated_at"]}
    assert time_of(replaced["updated_at"]) > time_of(client["updated_at"])
    assert stored_clients(app) == [(client["id"], "CLIENT123", "Aliya N.")]


def test_an_upsert_without_a_body_creates_a_client_known_only_by_code(http, tenant):
    response = upsert(http, tenant, "CLIENT7")
    assert response.status_code == 201
    assert [response.get_json()[name] for name in CONTACT] == [None, None, None, None]


def test_an_upsert_takes_the_code_from_the_path_only(http, tenant):
    assert_problem(upsert(http, tenant, "CLIENT7", {"client_code": "CLIENT8"}), 422, "client_code")


@pytest.mark.parametrize("code", ["-CLIENT", "a%20b", "C" * 65, "A%00B", "%F0%9F%93%A6"],
                         ids=["leading-dash", "space", "overlong", "nul", "emoji"])
def test_an_upsert_with_a_bad_code_in_the_path_is_a_422_and_creates_nothing(app, http, tenant, code):
    assert_problem(upsert(http, tenant, code, {"name": "x"}), 422, "client_code")
    assert stored_clients(app) == []


def test_an_upsert_touches_only_the_own_bots_client_of_that_code(app, http, tenant, other_tenant):
    theirs = make_client(app, other_tenant.bot_id, "CLIENT123", name="Rival")
    response = upsert(http, tenant, "CLIENT123", {"name": "Ours"})
    assert response.status_code == 201 and response.get_json()["id"] != theirs
    assert stored_clients(app, other_tenant.bot_id) == [(theirs, "CLIENT123", "Rival")]


def test_an_upsert_that_loses_the_insert_to_another_writer_updates_the_winner(app, http, tenant, monkeypatch):
    """A writer that bypasses the bot's change counter (the Telegram bot itself) may insert the code between
    our look-up and our insert: the unique violation is retried as an update, not answered with a 500."""
    winner = make_client(app, tenant.bot_id, "CLIENT123", name="Written by the bot")
    look_up = service._client_by_code
    misses = iter([True])
    monkeypatch.setattr(service, "_client_by_code",
                        lambda bot_id, code: None if next(misses, False) else look_up(bot_id, code))
    response = upsert(http, tenant, "CLIENT123", {"name": "From the CRM"})
    assert response.status_code == 200 and response.get_json()["id"] == winner
    assert stored_clients(app) == [(winner, "CLIENT123", "From the CRM")]


# --- change numbers ------------------------------------------------------------------------------------

def test_every_write_gives_the_client_the_bots_next_change_number(app, http, tenant):
    client = create(http, tenant, **ALIYA)
    numbers = [change_seqs(app, client["id"])]
    writes = [("PUT", f"{CLIENTS}/{client['id']}", ALIYA), ("PATCH", f"{CLIENTS}/{client['id']}", {"name": "x"}),
              ("PUT", f"{CLIENTS}/by-code/CLIENT123", {"name": "y"})]
    for method, path, body in writes:
        assert http.open(path, method=method, headers=tenant.headers, json=body).status_code == 200
        numbers.append(change_seqs(app, client["id"]))
    assert all(client_seq == bot_counter for client_seq, bot_counter in numbers), numbers
    assert [seq for seq, _ in numbers] == sorted({seq for seq, _ in numbers}), numbers  # strictly increasing


# --- validation ----------------------------------------------------------------------------------------

INVALID = [
    ("client_code", ""), ("client_code", "C" * 65), ("client_code", "-CLIENT"), ("client_code", "CLI ENT"),
    ("client_code", None), ("client_code", 123),
    ("name", ""), ("name", "n" * 201), ("name", "a\x00b"), ("name", "bell\x07"), ("name", 42),
    ("phone", "1234"), ("phone", "+" + "1" * 32), ("phone", "++77011234567"), ("phone", "call me"),
    ("phone", "+7 701 123 45 67 ext"), ("phone", 77011234567),
    ("telegram_username", "abcd"), ("telegram_username", "a" * 33), ("telegram_username", "aliya-n"),
    ("telegram_username", "@@aliya_n"), ("telegram_username", "@"), ("telegram_username", "aliya n"),
    ("telegram_username", "алия_н"),
    ("telegram_id", 0), ("telegram_id", -5), ("telegram_id", 2**63), ("telegram_id", "512345678"),
    ("telegram_id", True), ("telegram_id", 1.5),
]
VALID = [
    ("name", "n" * 200), ("name", "📦 Алия"), ("phone", "+" + "1" * 31), ("phone", "12345"),
    ("phone", "8 (701) 123-45-67"), ("telegram_username", "a" * 32), ("telegram_username", "@" + "a" * 32),
    ("telegram_username", "Aliya_N_1"), ("telegram_id", 1), ("telegram_id", 2**63 - 1),
    ("client_code", "C" * 64), ("client_code", "a.b_c-1"),
]


def value_id(value):
    return repr(value)[:20]


@pytest.mark.parametrize("field,value", INVALID, ids=[f"{f}={value_id(v)}" for f, v in INVALID])
def test_an_invalid_field_is_a_422_naming_it_on_create_and_patch(app, http, tenant, field, value):
    assert_problem(http.post(CLIENTS, headers=tenant.headers, json={**ALIYA, field: value}), 422, field)
    client = create(http, tenant, **ALIYA)
    assert_problem(http.patch(f"{CLIENTS}/{client['id']}", headers=tenant.headers, json={field: value}), 422, field)
    assert read(http, tenant, client["id"]).get_json() == client


@pytest.mark.parametrize("field,value", VALID, ids=[f"{f}={value_id(v)}" for f, v in VALID])
def test_a_value_at_the_limits_is_stored_as_sent(http, tenant, field, value):
    client = create(http, tenant, **{**ALIYA, field: value})
    expected = value.removeprefix("@") if field == "telegram_username" else value
    assert client[field] == expected
    assert read(http, tenant, client["id"]).get_json()[field] == expected


@pytest.mark.parametrize("name,value", [("id", 999), ("bot_id", 456), ("created_at", "2020-01-01T00:00:00+00:00"),
                                        ("updated_at", "2020-01-01T00:00:00+00:00"), ("change_seq", 1)])
def test_server_owned_fields_are_refused_by_every_write(app, http, tenant, other_tenant, name, value):
    client = create(http, tenant, **ALIYA)
    writes = [("POST", CLIENTS, {**ALIYA, "client_code": "NEW1"}), ("PUT", f"{CLIENTS}/{client['id']}", ALIYA),
              ("PATCH", f"{CLIENTS}/{client['id']}", {"name": "x"}), ("PUT", f"{CLIENTS}/by-code/NEW2", {})]
    for method, path, body in writes:
        response = http.open(path, method=method, headers=tenant.headers, json={**body, name: value})
        assert_problem(response, 422, name)
    assert read(http, tenant, client["id"]).get_json() == client
    assert stored_clients(app) == [(client["id"], "CLIENT123", ALIYA["name"])]
    assert stored_clients(app, other_tenant.bot_id) == []


# --- races on PostgreSQL -----------------------------------------------------------------------------------

@pytest.fixture
def pg_tenant(postgresql_only_app):
    return make_tenant(postgresql_only_app, BOT, "Demo Cargo", "@demo_cargo_bot")


def test_concurrent_creates_of_one_code_have_exactly_one_winner(postgresql_only_app, pg_tenant):
    bodies = [{"client_code": "RACE1", "name": f"Writer {index}"} for index in range(THREADS)]
    answers = send_together(postgresql_only_app, pg_tenant, "POST", CLIENTS, bodies)
    assert Counter(status for status, _ in answers) == {201: 1, 409: THREADS - 1}, answers
    [winner] = [body for status, body in answers if status == 201]
    assert all(body["existing_id"] == winner["id"] for status, body in answers if status == 409)
    assert stored_clients(postgresql_only_app) == [(winner["id"], "RACE1", winner["name"])]


def test_concurrent_upserts_of_one_new_code_leave_one_client(postgresql_only_app, pg_tenant):
    bodies = [{"name": f"Writer {index}"} for index in range(THREADS)]
    answers = send_together(postgresql_only_app, pg_tenant, "PUT", f"{CLIENTS}/by-code/RACE2", bodies)
    assert Counter(status for status, _ in answers) == {201: 1, 200: THREADS - 1}, answers
    assert len({body["id"] for _, body in answers}) == 1
    [(client_id, code, name)] = stored_clients(postgresql_only_app)
    # The writes queued on the bot's counter: the last one to commit, the highest change number, is what stays.
    last = max(answers, key=lambda answer: time_of(answer[1]["updated_at"]))[1]
    assert (client_id, code, name) == (last["id"], "RACE2", last["name"])
