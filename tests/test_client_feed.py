"""One client's change feed (the tracking list's `client_code` with `updated_since` / `cursor`): a parcel that
moves to another client, or is deleted, is a removal in the feed of the client it left, so that an offline copy of
one client's parcels stays exact. Both databases."""
import random

from conftest import assert_totals_exact
from tracker_api.writes.feed import encode_cursor

BOT = 123
TRACKING = f"/api/v1/tracking/{BOT}"
EPOCH = "1970-01-01T00:00:00+00:00"


def create(http, tenant, number, client_code):
    response = http.post(TRACKING, headers=tenant.headers, json={"tracking_number": number,
                                                                 "client_code": client_code})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def move(http, tenant, record_id, client_code):
    response = http.put(f"{TRACKING}/{record_id}", headers=tenant.headers, json={"client_code": client_code})
    assert response.status_code == 200, response.get_json()


def delete(http, tenant, record_id):
    assert http.delete(f"{TRACKING}/{record_id}", headers=tenant.headers).status_code == 204


def feed_page(http, tenant, **query):
    response = http.get(TRACKING, headers=tenant.headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def sync(http, tenant, copy, client_code, cursor=None, page_size=2):
    """Bring `copy` ({id: record}) up to date from the client's feed, as an offline app does; returns the cursor
    to start from next time."""
    start = {"cursor": cursor} if cursor else {"updated_since": EPOCH}
    page = feed_page(http, tenant, client_code=client_code, page_size=page_size, **start)
    while True:
        for record in page["tracking_numbers"]:
            assert record["client_code"] == client_code
            copy[record["id"]] = record
        for gone in page["deleted"]:
            copy.pop(gone["id"], None)
        if not page["has_more"]:
            return page["next_cursor"]
        page = feed_page(http, tenant, client_code=client_code, page_size=page_size, cursor=page["next_cursor"])


def the_clients_parcels(http, tenant, client_code):
    response = http.get(f"{TRACKING}/by-client/{client_code}", headers=tenant.headers,
                        query_string={"page_size": 100})
    return {record["id"]: record for record in response.get_json()["tracking_numbers"]}


def test_a_parcel_moved_to_another_client_is_a_removal_in_the_feed_of_the_client_it_left(http, tenant):
    parcel = create(http, tenant, "MOVE1", "ALICE")
    create(http, tenant, "STAY1", "ALICE")
    cursor = feed_page(http, tenant, client_code="ALICE", updated_since=EPOCH)["next_cursor"]

    move(http, tenant, parcel["id"], "BOB")
    alice = feed_page(http, tenant, client_code="ALICE", cursor=cursor)
    assert alice["tracking_numbers"] == [] and alice["total"] == 1
    assert [(gone["id"], gone["tracking_number"], gone["reason"]) for gone in alice["deleted"]] == [
        (parcel["id"], "MOVE1", "moved")]
    bob = feed_page(http, tenant, client_code="BOB", updated_since=EPOCH)
    assert [(record["id"], record["client_code"]) for record in bob["tracking_numbers"]] == [(parcel["id"], "BOB")]
    assert bob["deleted"] == [] and bob["total"] == 1
    # The whole bot's feed: a move is a change of the record, not a removal.
    whole = feed_page(http, tenant, updated_since=EPOCH)
    assert whole["deleted"] == [] and {record["tracking_number"] for record in whole["tracking_numbers"]} == {
        "MOVE1", "STAY1"}


def test_a_deleted_parcel_is_a_removal_in_its_clients_feed_only(http, tenant):
    alices = create(http, tenant, "GONE1", "ALICE")
    create(http, tenant, "BOBS1", "BOB")
    delete(http, tenant, alices["id"])
    alice = feed_page(http, tenant, client_code="ALICE", updated_since=EPOCH)
    assert [(gone["id"], gone["reason"]) for gone in alice["deleted"]] == [(alices["id"], "deleted")]
    bob = feed_page(http, tenant, client_code="BOB", updated_since=EPOCH)
    assert bob["deleted"] == [] and [record["tracking_number"] for record in bob["tracking_numbers"]] == ["BOBS1"]
    whole = feed_page(http, tenant, updated_since=EPOCH)
    assert [(gone["id"], gone["reason"]) for gone in whole["deleted"]] == [(alices["id"], "deleted")]


def test_updated_since_on_a_clients_feed_starts_at_its_first_change_removals_included(http, tenant):
    parcel = create(http, tenant, "EARLY1", "ALICE")
    first = feed_page(http, tenant, client_code="ALICE", updated_since=EPOCH)
    later = first["tracking_numbers"][0]["updated_at"]
    move(http, tenant, parcel["id"], "BOB")
    since_then = feed_page(http, tenant, client_code="ALICE", updated_since=later)
    assert [gone["reason"] for gone in since_then["deleted"]] == ["moved"]


def test_a_cursor_of_one_clients_feed_does_not_go_on_another_clients(http, tenant):
    create(http, tenant, "CUR1", "ALICE")
    cursor = feed_page(http, tenant, client_code="ALICE", updated_since=EPOCH)["next_cursor"]
    for other in ({"client_code": "BOB"}, {}):
        response = http.get(TRACKING, headers=tenant.headers, query_string={"cursor": cursor, **other})
        assert response.status_code == 422 and list(response.get_json()["errors"]) == ["cursor"]
    assert http.get(TRACKING, headers=tenant.headers, query_string={
        "cursor": encode_cursor("tracking@ALICE", 0), "client_code": "ALICE"}).status_code == 200


def test_offline_copies_of_each_client_stay_exact_under_moves_and_deletes(app, http, tenant):
    """Three offline copies, one per client, synchronised after every few random writes (creates, moves back and
    forth, status changes, deletes), each equal to the client's parcels as the API lists them, every time."""
    clients = ("ALICE", "BOB", "CAROL")
    chooser = random.Random(18)
    copies = {client: {} for client in clients}
    cursors = dict.fromkeys(clients)
    live, created, moves = {}, 0, 0
    for round_number in range(12):
        for _ in range(5):
            action = chooser.choice(("create", "move", "move", "status", "delete") if live else ("create",))
            if action == "create":
                created += 1
                record = create(http, tenant, f"P{created}", chooser.choice(clients))
                live[record["id"]] = record["client_code"]
            elif action == "move":
                record_id = chooser.choice(sorted(live))
                target = chooser.choice([client for client in clients if client != live[record_id]])
                move(http, tenant, record_id, target)
                live[record_id], moves = target, moves + 1
            elif action == "status":
                http.put(f"{TRACKING}/{chooser.choice(sorted(live))}", headers=tenant.headers,
                         json={"status": chooser.choice(("in_transit", "delivered"))})
            else:
                record_id = chooser.choice(sorted(live))
                delete(http, tenant, record_id)
                del live[record_id]
        for client in clients if round_number % 2 else clients[:2]:  # CAROL's copy falls behind, then catches up
            cursors[client] = sync(http, tenant, copies[client], client, cursors[client])
            assert copies[client] == the_clients_parcels(http, tenant, client), (round_number, client)
    assert moves > 10 and created > 10
    assert_totals_exact(app)
