"""Pepper rotation (tracker_api/access/keys.py, issue 20): with API_KEY_PEPPERS = "new,old" every key issued under the old
pepper still authenticates and is re-hashed with the new one on its next use; `flask keys peppers` counts the keys
of each pepper (by position and fingerprint, never the pepper itself). Both databases; with and without Redis."""
import json

import pytest
from sqlalchemy import event, select, text

from config import DEVELOPMENT_WEBHOOK_SECRET_KEY, ProductionConfig
from conftest import dispose_app, in_app, make_app_like
from tracker_api.extensions import db
from tracker_api.access.keys import hash_key, issue_key, pepper_fingerprint, peppers
from tracker_api.models import ApiKey

NEW_PEPPER = "a-new-pepper-4f1d0c9e8b7a6f5e4d3c2b1a0f9e8d7c"
BOT_PATH = "/api/v1/bots/{}"


def issue_keys(bot_id, count):
    """`count` keys of the bot, issued under the pepper(s) in force: {id: plain key}."""
    keys = [issue_key(bot_id, f"key {index}") for index in range(count)]
    return {api_key.id: plain for api_key, plain in keys}


@pytest.fixture
def rotated(app, counters):
    """The app after the operator put a new pepper in front of the old one (counters: memory, or Redis, where
    lookups are cached)."""
    old = app.config["API_KEY_PEPPER"]
    served = make_app_like(app, API_KEY_PEPPERS=(NEW_PEPPER, old), REDIS_URL=counters, RATE_LIMIT_PER_MINUTE=1000)
    yield served
    dispose_app(served)


def stored(app):
    """{key id: (key hash, pepper fingerprint)} as the database holds them."""
    def read():
        return {row.id: (row.key_hash, row.pepper_fingerprint) for row in db.session.execute(
            select(ApiKey.id, ApiKey.key_hash, ApiKey.pepper_fingerprint))}
    return in_app(app, read)


def report(app):
    result = app.test_cli_runner().invoke(args=["keys", "peppers", "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return [(row["pepper"], row["fingerprint"], row["keys"]) for row in json.loads(result.output)]


def get_bot(app, bot_id, key):
    return app.test_client().get(BOT_PATH.format(bot_id), headers={"X-API-Key": key}).status_code


def test_after_a_rotation_every_key_works_and_is_rehashed_on_its_first_use(app, tenant, rotated):
    keys = {tenant.key_id: tenant.key, **in_app(app, issue_keys, tenant.bot_id, 3)}
    old = app.config["API_KEY_PEPPER"]
    before = stored(app)
    assert all(before[key_id] == (in_app(app, hash_key, plain, old), pepper_fingerprint(old))
               for key_id, plain in keys.items())
    used = list(keys)[:3]
    for key_id in used:
        assert [get_bot(rotated, tenant.bot_id, keys[key_id]) for _ in range(2)] == [200, 200]
    after = stored(app)
    for key_id, plain in keys.items():
        expected = ((in_app(rotated, hash_key, plain, NEW_PEPPER), pepper_fingerprint(NEW_PEPPER)) if key_id in used
                    else before[key_id])
        assert after[key_id] == expected
    assert get_bot(rotated, tenant.bot_id, keys[list(keys)[3]]) == 200  # the unused one still works too


def test_the_report_counts_the_keys_of_each_pepper_and_never_prints_one(app, tenant, rotated):
    keys = {tenant.key_id: tenant.key, **in_app(app, issue_keys, tenant.bot_id, 2)}
    old = app.config["API_KEY_PEPPER"]
    new_print, old_print = pepper_fingerprint(NEW_PEPPER), pepper_fingerprint(old)
    assert report(rotated) == [(1, new_print, 0), (2, old_print, 3)]
    get_bot(rotated, tenant.bot_id, tenant.key)
    assert report(rotated) == [(1, new_print, 1), (2, old_print, 2)]
    for plain in keys.values():
        get_bot(rotated, tenant.bot_id, plain)
    assert report(rotated) == [(1, new_print, 3), (2, old_print, 0)]  # the old pepper can go now
    table = rotated.test_cli_runner().invoke(args=["keys", "peppers"]).output
    assert new_print in table and old_print in table and "newest" in table
    assert NEW_PEPPER not in table and old not in table


def test_once_the_old_pepper_is_removed_only_the_rehashed_keys_work(app, tenant, rotated):
    keys = in_app(app, issue_keys, tenant.bot_id, 2)
    [used, unused] = keys.values()
    assert get_bot(rotated, tenant.bot_id, used) == 200
    new_only = make_app_like(app, API_KEY_PEPPERS=(NEW_PEPPER,))
    try:
        assert get_bot(new_only, tenant.bot_id, used) == 200
        assert get_bot(new_only, tenant.bot_id, unused) == 401
        assert report(new_only) == [(1, pepper_fingerprint(NEW_PEPPER), 1),
                                    (None, pepper_fingerprint(app.config["API_KEY_PEPPER"]), 2)]
    finally:
        dispose_app(new_only)


def test_new_keys_are_hashed_with_the_newest_pepper(app, tenant, rotated):
    key_id, plain = next(iter(in_app(rotated, issue_keys, tenant.bot_id, 1).items()))
    assert stored(app)[key_id] == (in_app(rotated, hash_key, plain, NEW_PEPPER), pepper_fingerprint(NEW_PEPPER))
    assert get_bot(app, tenant.bot_id, plain) == 401  # the old pepper alone does not know it


def test_a_key_is_looked_up_once_under_all_peppers_and_rehashed_once(app, tenant, rotated, counters):
    """One query whatever the number of peppers; the re-hash does not spoil the worker's cached lookup (Redis)."""
    statements = []

    def note(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("SELECT") and "FROM api_keys" in statement:
            statements.append("lookup")
        elif statement.startswith("UPDATE api_keys SET key_hash"):
            statements.append("rehash")
    engine = in_app(rotated, lambda: db.engine)
    event.listen(engine, "before_cursor_execute", note)
    try:
        assert get_bot(rotated, tenant.bot_id, tenant.key) == 200
        assert statements == ["lookup", "rehash"]
        assert get_bot(rotated, tenant.bot_id, tenant.key) == 200
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert statements == ["lookup", "rehash"] + ([] if counters else ["lookup"])


def test_a_key_not_yet_marked_gets_its_pepper_recorded_on_use(app, tenant):
    def unmark():
        db.session.execute(text("UPDATE api_keys SET pepper_fingerprint = NULL"))
        db.session.commit()
    in_app(app, unmark)
    assert report(app) == [(1, pepper_fingerprint(app.config["API_KEY_PEPPER"]), 0), (None, None, 1)]
    assert get_bot(app, tenant.bot_id, tenant.key) == 200
    assert report(app) == [(1, pepper_fingerprint(app.config["API_KEY_PEPPER"]), 1)]


def test_api_key_pepper_alone_is_the_one_pepper_and_api_key_peppers_wins_over_it(app):
    assert in_app(app, peppers) == (app.config["API_KEY_PEPPER"],)
    both = make_app_like(app, API_KEY_PEPPER="single-pepper", API_KEY_PEPPERS=(NEW_PEPPER, "older"))
    try:
        assert in_app(both, peppers) == (NEW_PEPPER, "older")
    finally:
        dispose_app(both)


@pytest.mark.parametrize("settings,missing", [
    ({"API_KEY_PEPPERS": "new,old"}, None),
    ({"API_KEY_PEPPER": "single"}, None),
    ({}, "API_KEY_PEPPER"),
    ({"API_KEY_PEPPERS": ""}, "API_KEY_PEPPER"),
])
def test_production_needs_a_pepper_in_either_setting(monkeypatch, settings, missing):
    for name in ("API_KEY_PEPPER", "API_KEY_PEPPERS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"DATABASE_URL": "sqlite://", "REDIS_URL": "redis://127.0.0.1/1",
                        "WEBHOOK_SECRET_KEYS": DEVELOPMENT_WEBHOOK_SECRET_KEY, **settings}.items():
        monkeypatch.setenv(name, value)
    if missing:
        with pytest.raises(RuntimeError, match=f"missing from the environment: {missing}"):
            ProductionConfig()
    else:
        assert ProductionConfig().ENV_NAME == "production"
