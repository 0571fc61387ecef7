"""bench/stack_floor_app.py answers what ../shared/bench/floor_app.py answers, at every layer.

`make bench` divides the floor's requests per second by each layer's to say what a part of the stack costs; that
only means something if every layer does the floor's work: the same rows, the same values, nothing skipped.
The key layer must also refuse a key it does not know, or it would be measuring no check at all; and the write
floors must commit what they answer, the ordered one numbering each write from the bot's counter.
"""
import importlib.util
import sys
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy import text

from conftest import make_tenant, make_tracking
from tracker_api.extensions import db

BENCH = Path(__file__).resolve().parent.parent / "bench"
FLOOR_APP = BENCH.parent.parent / "shared" / "bench" / "floor_app.py"
LAYERS = ("sa", "rl", "key", "sm")
BOT_ID = 77


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def floors(postgresql_only_app, postgresql_url, redis_url):
    """Both floor apps on the test database: 55 parcels of one bot (more than a page), 3 of another, and the
    `tracking` view the floor reads (bench/bigdata.py makes the same one)."""
    if not FLOOR_APP.exists():
        pytest.skip(f"{FLOOR_APP} is not in this checkout's parent")
    tenant = make_tenant(postgresql_only_app, BOT_ID)
    make_tenant(postgresql_only_app, BOT_ID + 1, "Other Cargo", "@other_cargo_bot")
    for number in range(55):
        make_tracking(postgresql_only_app, BOT_ID, tracking_number=f"FLOOR{number:03d}", quantity=number + 1)
    for number in range(3):
        make_tracking(postgresql_only_app, BOT_ID + 1, tracking_number=f"OTHER{number}")
    run_sql(postgresql_only_app, "CREATE OR REPLACE VIEW tracking AS SELECT * FROM tracking_numbers")
    floor = load_module("floor_app_under_test", FLOOR_APP)
    floor.DSN = postgresql_url
    sys.path.insert(0, str(BENCH))
    try:
        stack_floor_app = load_module("stack_floor_app_under_test", BENCH / "stack_floor_app.py")
    finally:
        sys.path.remove(str(BENCH))
    stack = stack_floor_app.create_app(postgresql_url, redis_url)
    stack_floor_app.register_key(tenant.key, BOT_ID, redis_url)
    stack_floor_app.create_write_tables(postgresql_url, [BOT_ID])
    yield floor.app.test_client(), stack.test_client(), tenant
    stack_floor_app.drop_write_tables(postgresql_url)
    if floor._conn is not None:
        floor._conn.close()
    with stack.app_context():
        stack_floor_app.db.engine.dispose()
    run_sql(postgresql_only_app, "DROP VIEW tracking")


def run_sql(app, statement):
    with app.app_context():
        db.session.execute(text(statement))
        db.session.commit()


def test_every_layer_answers_the_floors_page(floors):
    floor, stack, tenant = floors
    expected = floor.get(f"/page/{BOT_ID}").get_json()
    assert len(expected["tracking_numbers"]) == 50
    assert expected["tracking_numbers"][0]["tracking_number"] == "FLOOR054"  # newest first
    for layer in LAYERS:
        answer = stack.get(f"/{layer}/page/{BOT_ID}", headers=tenant.headers)
        assert answer.status_code == 200, layer
        assert answer.get_json() == expected, layer


def test_every_layer_answers_one_row_of_the_page(floors):
    floor, stack, tenant = floors
    row = floor.get(f"/page/{BOT_ID}").get_json()["tracking_numbers"][7]
    for layer in LAYERS:
        answer = stack.get(f"/{layer}/item/{BOT_ID}/{row['id']}", headers=tenant.headers)
        assert answer.status_code == 200, layer
        assert answer.get_json() == row, layer
        assert stack.get(f"/{layer}/item/{BOT_ID + 1}/{row['id']}", headers=tenant.headers).status_code == 404


def test_the_key_layer_refuses_a_key_it_does_not_know(floors):
    _, stack, tenant = floors
    for layer in ("key", "sm"):
        assert stack.get(f"/{layer}/page/{BOT_ID}", headers={"X-API-Key": tenant.key + "x"}).status_code == 401
        assert stack.get(f"/{layer}/page/{BOT_ID}").status_code == 401
    assert stack.get(f"/rl/page/{BOT_ID}", headers={"X-API-Key": tenant.key + "x"}).status_code == 200


def test_the_limited_layers_count_each_request_in_redis(floors, redis_url):
    floor, stack, tenant = floors
    store = redis.Redis.from_url(redis_url)

    def counted():
        return sum(int(store.get(name)) for name in store.scan_iter("LIMITS:*"))
    for layer, counts in (("sa", 0), ("rl", 1), ("key", 1), ("sm", 1)):
        before = counted()
        assert stack.get(f"/{layer}/page/{BOT_ID}", headers=tenant.headers).status_code == 200
        assert counted() - before == counts, layer


def test_the_write_floors_commit_each_write_and_the_ordered_one_numbers_them(floors, postgresql_url):
    _, stack, _ = floors
    answers = [stack.post(f"/write/{kind}/{BOT_ID}", json={"tracking_number": f"W{n}"})
               for n, kind in enumerate(("free", "ordered", "ordered", "free"))]
    assert [answer.status_code for answer in answers] == [201] * 4
    assert [answer.get_json()["change_seq"] for answer in answers] == [None, 1, 2, None]
    with psycopg.connect(postgresql_url) as conn:
        stored = conn.execute("SELECT id, tracking_number, change_seq FROM stack_floor_writes ORDER BY id").fetchall()
        counter = conn.execute("SELECT change_seq FROM stack_floor_counters WHERE bot_id = %s", (BOT_ID,)).fetchone()
    assert stored == [(answer.get_json()["id"], f"W{n}", answer.get_json()["change_seq"])
                      for n, answer in enumerate(answers)]
    assert counter == (2,)
