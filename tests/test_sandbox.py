"""Sandbox bots through the admin API: a live bot's linked twin with the demo data, its own keys and webhooks;
a reset restores exactly the demo data and touches no other bot; /api/v1/bots/{id} says is_sandbox."""
import pytest

from conftest import assert_totals_exact, in_app, make_tracking, make_webhook
from tracker_api.access.platform_tokens import issue_token
from tracker_api.extensions import db
from tracker_api.models import Client, StatusEvent, TrackingNumber, WebhookEndpoint
from tracker_api.resources.demo_data import CLIENTS

ADMIN = "/api/admin/v1"


@pytest.fixture
def platform(app):
    _, plain = in_app(app, issue_token, "platform backend")
    return {"Authorization": f"Bearer {plain}"}


def demo_content(app, bot_id):
    """The bot's data without ids and times: what the demo data fixes."""
    def read():
        parcels = sorted((p.tracking_number, p.client_code, p.status, p.quantity, str(p.weight_kg),
                          str(p.price_per_kg_usd), str(p.total_cost_usd), p.note)
                         for p in db.session.scalars(db.select(TrackingNumber).where(TrackingNumber.bot_id == bot_id)))
        clients = sorted((c.client_code, c.name, c.phone, c.telegram_username)
                         for c in db.session.scalars(db.select(Client).where(Client.bot_id == bot_id)))
        history = sorted(tuple(value or "" for value in row) for row in db.session.execute(
            db.select(TrackingNumber.tracking_number, StatusEvent.previous_status, StatusEvent.status,
                      StatusEvent.source).join(TrackingNumber, TrackingNumber.id == StatusEvent.tracking_id)
            .where(StatusEvent.bot_id == bot_id)))
        return parcels, clients, history
    return in_app(app, read)


def test_a_sandbox_has_the_demo_data_its_own_keys_and_says_so(app, http, tenant, platform):
    created = http.post(f"{ADMIN}/bots/{tenant.bot_id}/sandbox", headers=platform)
    assert created.status_code == 201, created.get_json()
    sandbox = created.get_json()
    assert sandbox["is_sandbox"] is True and sandbox["sandbox_of"] == tenant.bot_id and sandbox["id"] != tenant.bot_id
    assert http.get(f"{ADMIN}/bots/{tenant.bot_id}/sandbox", headers=platform).get_json() == sandbox
    parcels, clients, history = demo_content(app, sandbox["id"])
    assert len(clients) == len(CLIENTS) and len(parcels) == 41 and len(history) >= 41
    key = http.post(f"{ADMIN}/bots/{sandbox['id']}/keys", headers=platform, json={"name": "dev"}).get_json()
    bot = http.get(f"/api/v1/bots/{sandbox['id']}", headers={"X-API-Key": key["key"]}).get_json()
    assert bot["is_sandbox"] is True
    assert http.get(f"/api/v1/bots/{tenant.bot_id}", headers=tenant.headers).get_json()["is_sandbox"] is False
    # The sandbox's key reaches only the sandbox; the live key only the live bot.
    assert http.get(f"/api/v1/tracking/{tenant.bot_id}", headers={"X-API-Key": key["key"]}).status_code == 403
    assert http.get(f"/api/v1/tracking/{sandbox['id']}", headers=tenant.headers).status_code == 403
    hook = http.post(f"/api/v1/webhooks/{sandbox['id']}", headers={"X-API-Key": key["key"]},
                     json={"url": "https://hooks.example.com/sandbox"})
    assert hook.status_code == 201
    assert_totals_exact(app)


def test_one_sandbox_per_live_bot_and_none_of_a_sandbox(http, tenant, platform):
    first = http.post(f"{ADMIN}/bots/{tenant.bot_id}/sandbox", headers=platform).get_json()
    again = http.post(f"{ADMIN}/bots/{tenant.bot_id}/sandbox", headers=platform)
    assert again.status_code == 409 and again.get_json()["existing_id"] == first["id"]
    assert http.post(f"{ADMIN}/bots/{first['id']}/sandbox", headers=platform).status_code == 409
    assert http.get(f"{ADMIN}/bots/{first['id']}/sandbox", headers=platform).status_code == 404
    assert http.post(f"{ADMIN}/bots/999/sandbox", headers=platform).status_code == 404
    assert http.post(f"{ADMIN}/bots/{first['id']}/sandbox/reset", headers=platform).status_code == 404


def test_reset_restores_exactly_the_demo_data_and_touches_no_other_bot(app, http, tenant, other_tenant, platform):
    sandbox = http.post(f"{ADMIN}/bots/{tenant.bot_id}/sandbox", headers=platform).get_json()
    make_tracking(app, tenant.bot_id, tracking_number="LIVE000001")
    make_tracking(app, other_tenant.bot_id, tracking_number="OTHER00001")
    live_before, other_before = demo_content(app, tenant.bot_id), demo_content(app, other_tenant.bot_id)
    demo = demo_content(app, sandbox["id"])
    key = http.post(f"{ADMIN}/bots/{sandbox['id']}/keys", headers=platform, json={"name": "dev"}).get_json()
    headers = {"X-API-Key": key["key"]}
    webhook_id, _ = make_webhook(app, sandbox["id"])
    # The integrator plays: a new parcel, a changed one, a deleted client.
    assert http.post(f"/api/v1/tracking/{sandbox['id']}", headers=headers, json={
        "tracking_number": "DEV0000001", "client_code": "CLIENT123", "status": "pending"}).status_code == 201
    listed = http.get(f"/api/v1/tracking/{sandbox['id']}?page_size=1", headers=headers).get_json()
    first_id = listed["tracking_numbers"][0]["id"]
    assert http.put(f"/api/v1/tracking/{sandbox['id']}/{first_id}", headers=headers,
                    json={"status": "issued"}).status_code == 200
    clients = http.get(f"/api/v1/clients/{sandbox['id']}", headers=headers).get_json()["clients"]
    assert http.delete(f"/api/v1/clients/{sandbox['id']}/{clients[0]['id']}", headers=headers).status_code == 204
    assert demo_content(app, sandbox["id"]) != demo

    reset = http.post(f"{ADMIN}/bots/{tenant.bot_id}/sandbox/reset", headers=platform)
    assert reset.status_code == 200 and reset.get_json()["id"] == sandbox["id"]
    assert demo_content(app, sandbox["id"]) == demo
    assert demo_content(app, tenant.bot_id) == live_before and demo_content(app, other_tenant.bot_id) == other_before
    assert_totals_exact(app)
    # Its keys and webhook endpoints stay; the feed's numbers go on.
    assert http.get(f"/api/v1/bots/{sandbox['id']}", headers=headers).status_code == 200
    assert in_app(app, lambda: db.session.get(WebhookEndpoint, webhook_id)) is not None
    overview = http.get(f"/api/v1/statistics/{sandbox['id']}/overview", headers=headers).get_json()
    assert overview["total_clients"] == len(CLIENTS) and overview["total_tracking_numbers"] == 41
    trail = http.get(f"{ADMIN}/audit?bot_id={tenant.bot_id}", headers=platform).get_json()  # the live bot's
    assert [event["action"] for event in trail["events"]][:1] == ["sandbox.reset"]
    assert "sandbox.create" in [event["action"] for event in trail["events"]]
