"""The change feed on the tracking list (`updated_since`, `cursor`): changes in commit order, tombstones for
deletions, keyset pages, and a synchronising copy that ends exact while another thread keeps writing. Both
databases; the concurrent sync runs on each with real threads, sessions and connections."""
import itertools
import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
import requests

from conftest import Tenant, dispose_app, in_app, make_migrated_app, make_tenant
from servers import REPO, Gunicorn, clean_env
from tracker_api.access.keys import issue_key
from tracker_api.extensions import db
from tracker_api.models import Bot, DeletedRecord, TrackingNumber
from tracker_api.models.types import utcnow
from tracker_api.resources.tracking.service import create_tracking, delete_tracking, update_tracking
from tracker_api.serialization.cursors import encode_cursor

BOT = 123
TRACKING = f"/api/v1/tracking/{BOT}"
EPOCH = "1970-01-01T00:00:00+00:00"


def create(http, tenant, number, **fields):
    response = http.post(TRACKING, headers=tenant.headers,
                         json={"tracking_number": number, "client_code": "CLIENT123", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def feed(http, tenant, **query):
    response = http.get(TRACKING, headers=tenant.headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def walk(http, tenant, page_size=3, **start):
    """Every page of a feed walk from `start` (updated_since or cursor) until has_more is false."""
    pages = [feed(http, tenant, page_size=page_size, **start)]
    while pages[-1]["has_more"]:
        pages.append(feed(http, tenant, page_size=page_size, cursor=pages[-1]["next_cursor"]))
    return pages


def numbers(pages):
    return [item["tracking_number"] for page in pages for item in page["tracking_numbers"]]


def deleted(pages):
    return [item["tracking_number"] for page in pages for item in page["deleted"]]


def test_the_plain_list_keeps_the_product_documents_shape(http, tenant):
    create(http, tenant, "PLAIN1")
    assert list(feed(http, tenant)) == ["tracking_numbers", "total"]


def test_a_feed_walk_returns_every_record_once_oldest_change_first(http, tenant):
    created = [create(http, tenant, f"WALK{index}")["tracking_number"] for index in range(8)]
    pages = walk(http, tenant, updated_since=EPOCH)
    assert numbers(pages) == created
    assert [len(page["tracking_numbers"]) for page in pages] == [3, 3, 2]
    assert all(page["total"] == 8 for page in pages) and pages[-1]["has_more"] is False
    assert list(pages[0]) == ["tracking_numbers", "total", "deleted", "next_cursor", "has_more"]


def test_after_the_walk_the_cursor_returns_only_what_changed_since_with_tombstones(http, tenant):
    records = [create(http, tenant, f"SYNC{index}") for index in range(4)]
    cursor = walk(http, tenant, updated_since=EPOCH)[-1]["next_cursor"]
    assert walk(http, tenant, cursor=cursor)[0]["tracking_numbers"] == []  # nothing new: an empty page

    http.put(f"{TRACKING}/{records[0]['id']}", headers=tenant.headers, json={"status": "delivered"})
    assert http.delete(f"{TRACKING}/{records[1]['id']}", headers=tenant.headers).status_code == 204
    create(http, tenant, "SYNC-NEW")
    pages = walk(http, tenant, cursor=cursor)
    assert numbers(pages) == ["SYNC0", "SYNC-NEW"]
    assert pages[0]["tracking_numbers"][0]["current_status"] == "delivered"
    tombstone = pages[0]["deleted"][0]
    assert deleted(pages) == ["SYNC1"] and tombstone["id"] == records[1]["id"]
    assert set(tombstone) == {"id", "tracking_number", "deleted_at", "reason"} and tombstone["reason"] == "deleted"
    assert pages[-1]["total"] == 4


def test_updated_since_starts_at_the_first_change_made_at_or_after_it(app, http, tenant):
    old = create(http, tenant, "OLD1")
    in_app(app, lambda: update_tracking(BOT, old["id"], {"note": "long ago"}, at=utcnow() - timedelta(days=2)))
    since = utcnow() - timedelta(days=1)
    create(http, tenant, "NEW1")
    pages = walk(http, tenant, updated_since=since.isoformat())
    assert numbers(pages) == ["NEW1"]
    later = walk(http, tenant, updated_since=(utcnow() + timedelta(minutes=1)).isoformat())
    assert numbers(later) == [] and later[-1]["has_more"] is False
    create(http, tenant, "NEW2")  # the cursor of an empty walk still marks where the next one starts
    assert numbers(walk(http, tenant, cursor=later[-1]["next_cursor"])) == ["NEW2"]


def test_deleting_removes_the_record_and_its_history_and_leaves_a_tombstone(app, http, tenant):
    record = create(http, tenant, "GONE1")
    http.put(f"{TRACKING}/{record['id']}", headers=tenant.headers, json={"status": "in_transit"})
    assert http.delete(f"{TRACKING}/{record['id']}", headers=tenant.headers).status_code == 204
    assert http.get(f"{TRACKING}/{record['id']}", headers=tenant.headers).status_code == 404
    assert http.get(f"{TRACKING}/{record['id']}/history", headers=tenant.headers).status_code == 404
    again = http.delete(f"{TRACKING}/{record['id']}", headers=tenant.headers)
    assert again.status_code == 404 and again.content_type == "application/problem+json"

    def stored():
        tombstone = db.session.scalar(db.select(DeletedRecord))
        history = db.session.execute(db.text("SELECT count(*) FROM status_events")).scalar()
        bot_seq = db.session.scalar(db.select(Bot.change_seq).where(Bot.id == BOT))
        return (tombstone.kind, tombstone.record_id, tombstone.code, tombstone.change_seq == bot_seq), history
    assert in_app(app, stored) == (("tracking", record["id"], "GONE1", True), 0)


def test_every_write_takes_the_bots_next_change_number(app, http, tenant):
    first = create(http, tenant, "SEQ1")
    second = create(http, tenant, "SEQ2")
    http.put(f"{TRACKING}/{first['id']}", headers=tenant.headers, json={"note": "moved"})

    def seqs():
        rows = dict(db.session.execute(db.select(TrackingNumber.tracking_number, TrackingNumber.change_seq)).all())
        return rows, db.session.scalar(db.select(Bot.change_seq).where(Bot.id == BOT))
    rows, bot_seq = in_app(app, seqs)
    assert rows["SEQ2"] < rows["SEQ1"] == bot_seq
    assert second["id"]  # created in between


@pytest.mark.parametrize("query, field", [
    ({"updated_since": EPOCH, "cursor": encode_cursor("tracking", 1)}, "cursor"),
    ({"cursor": encode_cursor("tracking", 1), "status_filter": "pending"}, "status_filter"),
    ({"cursor": encode_cursor("tracking", 1), "client_code": "CLIENT123"}, "cursor"),  # the whole feed's
    ({"cursor": encode_cursor("tracking@OTHER", 1), "client_code": "CLIENT123"}, "cursor"),  # another client's
    ({"cursor": encode_cursor("tracking", 1), "page": 2}, "page"),
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"cursor": encode_cursor("client", 1)}, "cursor"),
    ({"updated_since": "2025-01-27T10:00:00"}, "updated_since"),
    ({"updated_since": "yesterday"}, "updated_since"),
])
def test_feed_parameters_that_cannot_work_are_a_422_naming_the_field(http, tenant, query, field):
    response = http.get(TRACKING, headers=tenant.headers, query_string=query)
    assert response.status_code == 422 and response.content_type == "application/problem+json"
    body = response.get_json()
    assert list(body["errors"]) == [field] and body["detail"]


ACTIONS = ("create", "update", "create", "delete", "update")


def writer(app, stop, seed, done):
    """Creates, updates and deletes the bot's tracking numbers until told to stop, each through the service;
    counts what it did in `done`."""
    chooser = random.Random(seed)
    index = 0
    with app.app_context():
        for turn in itertools.count():
            if stop.is_set():
                return
            live = db.session.scalars(db.select(TrackingNumber.id).where(TrackingNumber.bot_id == BOT)).all()
            action = ACTIONS[turn % len(ACTIONS)]  # a fixed mix, so every kind of write surely happens
            if action == "create" or not live:
                index += 1
                create_tracking(BOT, {"tracking_number": f"LIVE{seed}-{index}", "client_code": "CLIENT123",
                                      "status": "pending", "quantity": 1})
                done["create"] += 1
            elif action == "update":
                update_tracking(BOT, chooser.choice(live), {"status": chooser.choice(("in_transit", "delivered"))})
                done["update"] += 1
            else:
                delete_tracking(BOT, chooser.choice(live))
                done["delete"] += 1
            db.session.remove()


def test_a_sync_loop_ends_with_an_exact_copy_while_another_thread_writes(app, http, tenant):
    for index in range(20):
        create(http, tenant, f"BASE{index}")
    stop, done = threading.Event(), Counter()
    thread = threading.Thread(target=writer, args=(app, stop, 7, done))
    thread.start()
    copy, cursor, pages = {}, None, 0
    try:
        deadline = time.monotonic() + 60
        pulls = 0
        while (pulls < 40 or sum(done.values()) < 25) and time.monotonic() < deadline:  # pulls among writes
            pulls += 1
            for page in walk(http, tenant, page_size=4, **({"cursor": cursor} if cursor else {"updated_since": EPOCH})):
                apply(copy, page)
                cursor = page["next_cursor"]
                pages += 1
    finally:
        stop.set()
        thread.join(30)
    for page in walk(http, tenant, page_size=4, cursor=cursor):  # the last pull, after the writes ended
        apply(copy, page)

    def current():
        return {record.id: (record.tracking_number, record.status, record.updated_at.isoformat()) for record in
                db.session.scalars(db.select(TrackingNumber).where(TrackingNumber.bot_id == BOT))}
    actual = in_app(app, current)
    assert pages >= 40 and len(actual) > 0
    assert min(done["create"], done["update"], done["delete"]) >= 3, done  # the walk really ran among writes
    assert copy == actual


def apply(copy, page):
    """A page applied as the guide says: deletions first, then the records (live now, so newer)."""
    for item in page["deleted"]:
        copy.pop(item["id"], None)
    for item in page["tracking_numbers"]:
        copy[item["id"]] = (item["tracking_number"], item["current_status"], item["updated_at"])


# --- examples/sync_feed.py, run as an integrator runs it against a real server ---------------------------------

@pytest.fixture(scope="module")
def feed_server(tmp_path_factory):
    """gunicorn on a migrated SQLite file holding bot 123, with a key for the example (a budget of 1,000 a minute,
    for the setup's 120 creates)."""
    directory = tmp_path_factory.mktemp("feed")
    database_url = f"sqlite:///{directory / 'tracker_api.sqlite3'}"
    app = make_migrated_app(database_url)
    make_tenant(app, BOT)
    tenant = in_app(app, issue_example_key)
    gunicorn = Gunicorn(directory, clean_env(DATABASE_URL=database_url, API_KEY_PEPPER=app.config["API_KEY_PEPPER"]),
                        1, "--threads", "4")
    yield app, tenant, gunicorn
    gunicorn.stop()
    dispose_app(app)


def issue_example_key():
    api_key, plain_key = issue_key(BOT, "sync example", None, 1000)
    return Tenant(BOT, api_key.id, plain_key)


def run_sync_example(gunicorn, tenant, copy_path):
    env = clean_env(TRACKER_API_URL=f"{gunicorn.url}/api/v1", TRACKER_API_KEY=tenant.key, TRACKER_BOT_ID=BOT)
    result = subprocess.run([sys.executable, str(REPO / "examples" / "sync_feed.py"), str(copy_path)], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip(), json.loads(copy_path.read_text())["tracking_numbers"]


def test_the_sync_example_keeps_an_exact_copy_across_runs(feed_server, tmp_path):
    app, tenant, gunicorn = feed_server
    api = requests.Session()
    api.headers["X-API-Key"] = tenant.key
    base = f"{gunicorn.url}{TRACKING}"
    ids = [api.post(base, json={"tracking_number": f"EX{index}", "client_code": "CLIENT123"}).json()["id"]
           for index in range(120)]  # more than one page of 100
    copy_path = tmp_path / "parcels.json"
    output, copy = run_sync_example(gunicorn, tenant, copy_path)
    assert output == "120 tracking numbers; 120 new or changed, 0 deleted since the last run"

    api.put(f"{base}/{ids[0]}", json={"status": "delivered"})
    api.delete(f"{base}/{ids[1]}")
    api.post(base, json={"tracking_number": "EX-NEW", "client_code": "CLIENT123"})
    output, copy = run_sync_example(gunicorn, tenant, copy_path)
    assert output == "120 tracking numbers; 2 new or changed, 1 deleted since the last run"

    def server_side():
        return {str(record.id): (record.tracking_number, record.status) for record in
                db.session.scalars(db.select(TrackingNumber).where(TrackingNumber.bot_id == BOT))}
    assert {key: (record["tracking_number"], record["current_status"]) for key, record in copy.items()} == \
        in_app(app, server_side)
    assert run_sync_example(gunicorn, tenant, copy_path)[0] == \
        "120 tracking numbers; 0 new or changed, 0 deleted since the last run"


def test_the_clients_list_has_the_same_feed_with_client_tombstones(http, tenant):
    clients = f"/api/v1/clients/{BOT}"
    ids = [http.post(clients, headers=tenant.headers, json={"client_code": f"FEED{index}"}).get_json()["id"]
           for index in range(3)]
    first = http.get(clients, headers=tenant.headers, query_string={"updated_since": EPOCH}).get_json()
    assert [client["client_code"] for client in first["clients"]] == ["FEED0", "FEED1", "FEED2"]
    assert first["deleted"] == [] and first["has_more"] is False and first["total"] == 3

    http.patch(f"{clients}/{ids[2]}", headers=tenant.headers, json={"name": "Renamed"})
    http.delete(f"{clients}/{ids[0]}", headers=tenant.headers)
    after = http.get(clients, headers=tenant.headers, query_string={"cursor": first["next_cursor"]}).get_json()
    assert [(client["client_code"], client["name"]) for client in after["clients"]] == [("FEED2", "Renamed")]
    assert [(gone["id"], gone["client_code"]) for gone in after["deleted"]] == [(ids[0], "FEED0")]
    tracking_cursor = http.get(clients, headers=tenant.headers, query_string={"cursor": encode_cursor("tracking", 1)})
    assert tracking_cursor.status_code == 422  # a cursor belongs to the list it came from
