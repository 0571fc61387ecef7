"""Webhook signing secrets encrypted at rest: the current and the previous (rotation grace) secret of every endpoint
become Fernet tokens under the newest key of WEBHOOK_SECRET_KEYS (tracker_api/models/encryption.py).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 10:00:00

Hand-written. The columns grow to Text (a token of a 49-character secret is 164 characters), then each plain
value is replaced by its token; a value that already is a token under one of the keys is left alone, so a re-run
after a partial upgrade does no harm. The downgrade decrypts them back (the keys must still be configured). Needs
the app's settings, so it runs online only (`flask db upgrade`), not as `--sql`.
"""
from alembic import context, op
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

ENDPOINTS = sa.table('webhook_endpoints', sa.column('id'), sa.column('secret'), sa.column('previous_secret'))


def _box():
    if context.is_offline_mode():
        raise RuntimeError('0008 encrypts rows with WEBHOOK_SECRET_KEYS: run it online (flask db upgrade)')
    return MultiFernet([Fernet(key) for key in current_app.config['WEBHOOK_SECRET_KEYS']])


def _encrypted(box, value):
    if value is None:
        return None
    try:
        box.decrypt(value.encode('ascii'))
        return value  # already a token
    except (InvalidToken, UnicodeEncodeError):
        return box.encrypt(value.encode()).decode('ascii')


def _decrypted(box, value):
    return None if value is None else box.decrypt(value.encode('ascii')).decode()


def _rewrite(change):
    connection = op.get_bind()
    for endpoint_id, secret, previous in connection.execute(sa.select(ENDPOINTS)).all():
        connection.execute(sa.update(ENDPOINTS).where(ENDPOINTS.c.id == endpoint_id).values(
            secret=change(secret), previous_secret=change(previous)))


def upgrade():
    box = _box()
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.alter_column('secret', existing_type=sa.String(length=80), type_=sa.Text(), existing_nullable=False)
        batch_op.alter_column('previous_secret', existing_type=sa.String(length=80), type_=sa.Text(),
                              existing_nullable=True)
    _rewrite(lambda value: _encrypted(box, value))


def downgrade():
    box = _box()
    _rewrite(lambda value: _decrypted(box, value))
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.alter_column('secret', existing_type=sa.Text(), type_=sa.String(length=80), existing_nullable=False)
        batch_op.alter_column('previous_secret', existing_type=sa.Text(), type_=sa.String(length=80),
                              existing_nullable=True)
