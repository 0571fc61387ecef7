"""Clients: the list and read endpoints (the only client endpoints the product document has).

Paging errors and absurd ids are in test_errors.py; another bot's clients are in test_isolation.py.
"""
from datetime import datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from conftest import in_app, make_client
from tracker_api.extensions import db
from tracker_api.models import Client

BOT = 123
CLIENTS = f"/api/v1/clients/{BOT}"
CLIENT_TYPES = {"id": int, "client_code": str, "name": str, "phone": str, "telegram_username": str,
                "telegram_id": int, "created_at": str, "updated_at": str}
ALIYA = {"name": "Алия Нурланова", "phone": "+77011234567", "telegram_username": "aliya_n",
         "telegram_id": 512345678}


def listed(http, tenant, **query):
    response = http.get(CLIENTS, headers=tenant.headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return [client["client_code"] for client in body["clients"]], body["total"]


def utc_time(text):
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert moment.utcoffset() == timedelta(0), f"{text} does not say it is UTC"
    return moment


def test_the_list_is_clients_and_total_with_every_client_field(app, http, tenant):
    client_id = make_client(app, tenant.bot_id, "CLIENT123", **ALIYA)
    response = http.get(CLIENTS, headers=tenant.headers, query_string={"page": 1, "page_size": 50})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"clients", "total"}
    assert body["total"] == 1
    [client] = body["clients"]
    assert set(client) == set(CLIENT_TYPES)
    for key, kind in CLIENT_TYPES.items():
        assert type(client[key]) is kind, f"{key}: {client[key]!r} is not a {kind.__name__}"
    assert {key: client[key] for key in ("id", "client_code", *ALIYA)} == \
        {"id": client_id, "client_code": "CLIENT123", **ALIYA}
    assert utc_time(client["created_at"]) <= utc_time(client["updated_at"])


def test_an_empty_bot_lists_no_clients_with_a_total_of_zero(http, tenant):
    assert http.get(CLIENTS, headers=tenant.headers).get_json() == {"clients": [], "total": 0}


def test_a_client_known_only_by_code_has_null_contact_fields(app, http, tenant):
    client_id = make_client(app, tenant.bot_id, "CLIENT123", name=None)
    client = http.get(f"{CLIENTS}/{client_id}", headers=tenant.headers).get_json()
    assert (client["client_code"], client["name"], client["phone"], client["telegram_username"],
            client["telegram_id"]) == ("CLIENT123", None, None, None, None)


def test_a_telegram_id_beyond_32_bits_is_returned_intact(app, http, tenant):
    client_id = make_client(app, tenant.bot_id, "CLIENT123", telegram_id=7_412_345_678)
    assert http.get(f"{CLIENTS}/{client_id}", headers=tenant.headers).get_json()["telegram_id"] == 7_412_345_678


def test_get_by_id_returns_the_client_as_listed_and_a_missing_id_is_a_404(app, http, tenant):
    client_id = make_client(app, tenant.bot_id, "CLIENT123", **ALIYA)
    response = http.get(f"{CLIENTS}/{client_id}", headers=tenant.headers)
    assert response.status_code == 200
    assert response.get_json() == http.get(CLIENTS, headers=tenant.headers).get_json()["clients"][0]
    missing = http.get(f"{CLIENTS}/{client_id + 1}", headers=tenant.headers)
    assert missing.status_code == 404
    assert str(client_id + 1) in missing.get_json()["detail"]


@pytest.fixture
def five_clients(app, tenant, other_tenant):
    for n in range(1, 6):
        make_client(app, tenant.bot_id, f"CLIENT{n}")
        make_client(app, other_tenant.bot_id, f"CLIENT{n}")


def test_clients_are_listed_newest_first_in_pages_that_carry_the_total(http, tenant, five_clients):
    assert listed(http, tenant) == (["CLIENT5", "CLIENT4", "CLIENT3", "CLIENT2", "CLIENT1"], 5)
    assert listed(http, tenant, page=1, page_size=2) == (["CLIENT5", "CLIENT4"], 5)
    assert listed(http, tenant, page=3, page_size=2) == (["CLIENT1"], 5)


def test_a_client_page_beyond_the_end_is_empty_with_the_right_total(http, tenant, five_clients):
    assert listed(http, tenant, page=4, page_size=2) == ([], 5)


def test_the_client_code_is_unique_within_a_bot_but_not_across_bots(app, tenant, other_tenant):
    """The bot issues the codes; two clients with one code would make by-client lists ambiguous."""
    make_client(app, tenant.bot_id, "CLIENT123")
    make_client(app, other_tenant.bot_id, "CLIENT123")

    def add_duplicate():
        db.session.add(Client(bot_id=tenant.bot_id, client_code="CLIENT123"))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            return "refused"
        return "stored"
    assert in_app(app, add_duplicate) == "refused"
    assert in_app(app, lambda: db.session.scalar(db.select(db.func.count()).select_from(Client))) == 2
