"""Webhook signing secrets encrypted at rest (tracker_api/models/encryption.py, issue 20): the database, and so any dump of
it, holds Fernet tokens only; the operator rotates the key with WEBHOOK_SECRET_KEYS and
`flask --app wsgi webhooks reencrypt-secrets`; production does not start without a key."""
import subprocess
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select, text, update

from config import DEVELOPMENT_WEBHOOK_SECRET_KEY, ProductionConfig
from conftest import POSTGRES_ADMIN_URL, dispose_app, in_app, make_app_like, make_tenant, require_service
from tracker_api.extensions import db
from tracker_api.models import WebhookEndpoint
from tracker_api.models.types import utcnow
from tracker_api.webhooks.signing import signature, signing_secrets

URL = "https://crm.example.com/hooks/tracker"


def create_rotated_webhook(http, tenant):
    """An endpoint created and then rotated over the API: (id, current secret, previous secret), as the bot saw
    them."""
    created = http.post(f"/api/v1/webhooks/{tenant.bot_id}", json={"url": URL}, headers=tenant.headers)
    assert created.status_code == 201
    webhook = created.get_json()
    rotated = http.post(f"/api/v1/webhooks/{tenant.bot_id}/{webhook['id']}/rotate-secret", headers=tenant.headers)
    assert rotated.status_code == 200
    return webhook["id"], rotated.get_json()["secret"], webhook["secret"]


def stored(app, endpoint_id):
    """The secret columns as the database holds them."""
    def read():
        return tuple(db.session.execute(text("SELECT secret, previous_secret FROM webhook_endpoints WHERE id = :id"),
                                        {"id": endpoint_id}).one())
    return in_app(app, read)


def secrets_in_use(app, endpoint_id):
    """The secrets that sign a delivery now, as the worker reads them."""
    return in_app(app, lambda: signing_secrets(db.session.get(WebhookEndpoint, endpoint_id), utcnow()))


def reencrypt(app):
    result = app.test_cli_runner().invoke(args=["webhooks", "reencrypt-secrets"])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_the_database_holds_only_tokens_that_the_configured_key_opens(app, http, tenant):
    endpoint_id, secret, previous = create_rotated_webhook(http, tenant)
    stored_secret, stored_previous = stored(app, endpoint_id)
    box = MultiFernet([Fernet(key) for key in app.config["WEBHOOK_SECRET_KEYS"]])
    for plain, token in ((secret, stored_secret), (previous, stored_previous)):
        assert plain.startswith("whsec_") and plain not in token and plain[len("whsec_"):] not in token
        assert box.decrypt(token.encode()).decode() == plain
    assert secrets_in_use(app, endpoint_id) == [secret, previous]


def test_the_same_secret_is_stored_differently_each_time(app, http, tenant):
    """Fernet tokens carry a random IV: equal secrets do not show as equal rows."""
    first, _, _ = create_rotated_webhook(http, tenant)
    second, _, _ = create_rotated_webhook(http, tenant)

    def copy_secret():
        source = db.session.get(WebhookEndpoint, first)
        db.session.get(WebhookEndpoint, second).secret = source.secret
        db.session.commit()
    in_app(app, copy_secret)
    assert stored(app, first)[0] != stored(app, second)[0]
    assert secrets_in_use(app, first)[0] == secrets_in_use(app, second)[0]


def test_listing_endpoints_decrypts_no_secret(app, http, tenant, monkeypatch):
    """The secret columns are deferred: only signing (and rotation) reads a secret."""
    create_rotated_webhook(http, tenant)
    monkeypatch.setattr("tracker_api.models.types.decrypt", lambda token: pytest.fail("a secret was decrypted"))
    listed = http.get(f"/api/v1/webhooks/{tenant.bot_id}", headers=tenant.headers)
    assert listed.status_code == 200 and listed.get_json()["total"] == 1
    assert in_app(app, lambda: len(db.session.scalars(select(WebhookEndpoint)).all())) == 1


def test_a_key_rotation_keeps_every_secret_and_reencrypt_moves_them_to_the_new_key(app, http, tenant):
    endpoint_id, secret, previous = create_rotated_webhook(http, tenant)
    old_key, new_key = app.config["WEBHOOK_SECRET_KEYS"][0], Fernet.generate_key().decode()
    rotating = make_app_like(app, WEBHOOK_SECRET_KEYS=(new_key, old_key))
    new_only = make_app_like(app, WEBHOOK_SECRET_KEYS=(new_key,))
    try:
        assert secrets_in_use(rotating, endpoint_id) == [secret, previous]  # the old key still decrypts
        with pytest.raises(InvalidToken):
            secrets_in_use(new_only, endpoint_id)  # not yet under the new key
        before = stored(app, endpoint_id)
        assert "re-encrypted the secrets of 1 webhook endpoints" in reencrypt(rotating)
        after = stored(app, endpoint_id)
        assert after[0] != before[0] and after[1] != before[1]
        assert secrets_in_use(new_only, endpoint_id) == [secret, previous]  # the old key can go
        with pytest.raises(InvalidToken):
            secrets_in_use(app, endpoint_id)  # the old key alone opens nothing any more
    finally:
        dispose_app(rotating)
        dispose_app(new_only)


def test_reencrypt_leaves_an_endpoint_without_a_previous_secret_without_one(app, http, tenant):
    created = http.post(f"/api/v1/webhooks/{tenant.bot_id}", json={"url": URL}, headers=tenant.headers).get_json()
    assert "of 1 webhook endpoints" in reencrypt(app)
    assert stored(app, created["id"])[1] is None
    assert secrets_in_use(app, created["id"]) == [created["secret"]]


def test_reencrypt_drops_a_previous_secret_whose_grace_period_is_over(app, http, tenant):
    expired_id, expired_secret, _ = create_rotated_webhook(http, tenant)
    current_id, current_secret, current_previous = create_rotated_webhook(http, tenant)

    def grace_over():
        db.session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == expired_id)
                           .values(previous_secret_expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    in_app(app, grace_over)
    assert "of 2 webhook endpoints" in reencrypt(app)
    assert stored(app, expired_id)[1] is None and secrets_in_use(app, expired_id) == [expired_secret]
    assert stored(app, current_id)[1] is not None
    assert secrets_in_use(app, current_id) == [current_secret, current_previous]


def test_a_pg_dump_of_a_bot_with_webhooks_holds_no_secret_in_plain_text(postgresql_only_app):
    app, http = postgresql_only_app, postgresql_only_app.test_client()
    tenant = make_tenant(app, 123, "Demo Cargo", "@demo_cargo_bot")
    shown = []
    for _ in range(3):
        _, secret, previous = create_rotated_webhook(http, tenant)
        shown += [secret, previous]
    database = app.config["SQLALCHEMY_DATABASE_URI"].rsplit("/", 1)[1]
    admin = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        dump = subprocess.run(["pg_dump", "--dbname", f"{admin}/{database}", "--no-owner"], capture_output=True,
                              text=True, timeout=120, check=True).stdout
    except FileNotFoundError:
        require_service("pg_dump (the PostgreSQL client) is not installed")
    assert "COPY public.webhook_endpoints" in dump and URL in dump  # the rows are in the dump
    for secret in shown:
        assert secret not in dump and secret[len("whsec_"):] not in dump
    assert "whsec_" not in dump
    # What the dump holds instead: tokens that only WEBHOOK_SECRET_KEYS opens.
    box = MultiFernet([Fernet(key) for key in app.config["WEBHOOK_SECRET_KEYS"]])
    rows = copied_rows(dump, "webhook_endpoints")
    assert len(rows) == 3
    assert sorted(box.decrypt(row[name].encode()).decode() for row in rows
                  for name in ("secret", "previous_secret")) == sorted(shown)


def copied_rows(dump, table):
    """The rows of `table` in a plain pg_dump, as {column: text}."""
    header, rest = dump.split(f"COPY public.{table} (", 1)[1].split(") FROM stdin;\n", 1)
    columns = header.split(", ")
    return [dict(zip(columns, line.split("\t"))) for line in rest.split("\n\\.\n", 1)[0].splitlines()]


def test_the_verification_still_works_for_a_secret_read_back_from_the_database(app, http, tenant):
    endpoint_id, secret, _ = create_rotated_webhook(http, tenant)
    [current, _] = secrets_in_use(app, endpoint_id)
    assert signature(current, 1700000000, b"{}") == signature(secret, 1700000000, b"{}")


@pytest.mark.parametrize("keys,message", [
    (None, "missing from the environment: WEBHOOK_SECRET_KEYS"),
    ("", "missing from the environment: WEBHOOK_SECRET_KEYS"),
    (",", "give at least one Fernet key"),
    ("not-a-key", "key 1 is not a Fernet key"),
    (f"{DEVELOPMENT_WEBHOOK_SECRET_KEY},short", "key 2 is not a Fernet key"),
])
def test_production_does_not_start_without_valid_webhook_secret_keys(monkeypatch, keys, message):
    for name, value in {"DATABASE_URL": "sqlite://", "API_KEY_PEPPER": "p" * 32,
                        "REDIS_URL": "redis://127.0.0.1:6379/11"}.items():
        monkeypatch.setenv(name, value)
    if keys is None:
        monkeypatch.delenv("WEBHOOK_SECRET_KEYS", raising=False)
    else:
        monkeypatch.setenv("WEBHOOK_SECRET_KEYS", keys)
    with pytest.raises(RuntimeError, match=message):
        ProductionConfig()


def test_production_takes_its_keys_from_the_environment(monkeypatch):
    keys = [Fernet.generate_key().decode() for _ in range(2)]
    for name, value in {"DATABASE_URL": "sqlite://", "API_KEY_PEPPER": "p" * 32, "REDIS_URL": "redis://127.0.0.1/1",
                        "WEBHOOK_SECRET_KEYS": f" {keys[0]} , {keys[1]} "}.items():
        monkeypatch.setenv(name, value)
    assert ProductionConfig().WEBHOOK_SECRET_KEYS == tuple(keys)
