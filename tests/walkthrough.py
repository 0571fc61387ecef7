"""The demo walked through as an integrator would: every v1 endpoint called with the key `flask demo` printed,
checked against the demo's data. Shared by the in-process CLI tests and the end-to-end test of `make run`,
which differ only in how a request is sent."""
import uuid

DEMO_BOT_ID = 123
DEMO_CLIENTS = 8
DEMO_TRACKING_NUMBERS = 41  # 40 generated parcels (the first is the product document's ABC123456) + 1 cancelled
STATUSES = ("pending", "in_transit", "delivered", "issued", "cancelled")
# The product document's create body, with a number of our own so that the walk can run more than once.
CREATE_BODY = {"client_code": "CLIENT123", "status": "pending", "quantity": 5, "weight_kg": 10.5,
               "price_per_kg_usd": 14.29, "total_cost_usd": 150.00, "note": "Хрупкое"}


def walk_every_endpoint(send, bot_id=DEMO_BOT_ID):
    """Call every endpoint of the SPEC table (and the key's usage) through `send(method, path, body=None)`,
    which returns (status, parsed JSON body); assert each answer against the demo data. Returns the calls made."""
    calls = []

    def call(method, path, body=None, expect=200):
        status, payload = send(method, path, body)
        assert status == expect, (method, path, status, payload)
        calls.append((method, path))
        return payload

    base = f"/api/v1/tracking/{bot_id}"
    bot = call("GET", f"/api/v1/bots/{bot_id}")
    assert bot == {"id": bot_id, "name": "Demo Cargo", "username": "@demo_cargo_bot", "is_active": True,
                   "subscription_status": "active", "timezone": "UTC", "is_sandbox": False}

    listed = call("GET", base)
    assert listed["total"] >= DEMO_TRACKING_NUMBERS and len(listed["tracking_numbers"]) == min(listed["total"], 50)
    [sample] = [item for item in listed["tracking_numbers"] if item["tracking_number"] == "ABC123456"]
    assert sample["client_code"] == "CLIENT123" and sample["current_status"] == "pending"
    pending = call("GET", f"{base}?page=1&page_size=5&status_filter=pending")
    assert 1 <= len(pending["tracking_numbers"]) <= 5
    assert {item["current_status"] for item in pending["tracking_numbers"]} == {"pending"}
    by_code = call("GET", f"{base}?client_code=CLIENT123")
    assert {item["client_code"] for item in by_code["tracking_numbers"]} == {"CLIENT123"}

    assert call("GET", f"{base}/{sample['id']}") == sample
    by_client = call("GET", f"{base}/by-client/CLIENT123")
    assert sample in by_client["tracking_numbers"] and by_client["total"] == by_code["total"]

    number = f"DEMO{uuid.uuid4().hex[:10].upper()}"
    created = call("POST", base, {"tracking_number": number, **CREATE_BODY}, expect=201)
    assert created["tracking_number"] == number and created["total_cost_usd"] == 150.0
    conflict = call("POST", base, {"tracking_number": number, **CREATE_BODY}, expect=409)
    assert str(created["id"]) in conflict["detail"]
    moved = call("PUT", f"{base}/{created['id']}", {"status": "in_transit"})
    assert moved["current_status"] == "in_transit" and moved["updated_at"] >= created["updated_at"]
    history = call("GET", f"{base}/{created['id']}/history")
    assert [(change["previous_status"], change["status"]) for change in history["history"]] == \
        [(None, "pending"), ("pending", "in_transit")]
    assert history["history"][-1]["changed_at"] == moved["updated_at"]
    changes = call("GET", f"{base}?updated_since={created['created_at'].replace('+', '%2B')}")
    assert [item["id"] for item in changes["tracking_numbers"]] == [created["id"]] and not changes["has_more"]

    clients = call("GET", f"/api/v1/clients/{bot_id}?page=1&page_size=50")
    assert clients["total"] == DEMO_CLIENTS == len(clients["clients"])
    client = clients["clients"][0]
    assert call("GET", f"/api/v1/clients/{bot_id}/{client['id']}") == client

    overview = call("GET", f"/api/v1/statistics/{bot_id}/overview")
    assert overview["total_clients"] == DEMO_CLIENTS
    assert overview["total_tracking_numbers"] == listed["total"] + 1
    assert sum(overview[status] for status in STATUSES) == overview["total_tracking_numbers"]
    statistics = call("GET", f"/api/v1/statistics/{bot_id}/tracking")
    assert statistics["total_tracking_numbers"] == overview["total_tracking_numbers"]
    assert len(statistics["created_per_day"]) == 30

    call("DELETE", f"{base}/{created['id']}", expect=204)
    after_deletion = call("GET", f"{base}?cursor={changes['next_cursor']}")
    assert [item["id"] for item in after_deletion["deleted"]] == [created["id"]]

    usage = call("GET", f"/api/v1/bots/{bot_id}/usage")
    assert usage["bot_id"] == bot_id and usage["days"][0]["total"] >= 1
    return calls
