"""Pepper rotation: each API key records which pepper its hash was made with (a fingerprint, tracker_api/access/keys.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:30:00

Hand-written; batch mode so SQLite and PostgreSQL run the same steps. With one pepper configured, the keys already
there were hashed with it and are marked so; with several (a rotation begun before this upgrade) which one made
each key is not known until it is used, so they stay unmarked (NULL) and `flask keys peppers` counts them apart.
"""
from alembic import context, op
from flask import current_app
import sqlalchemy as sa

from tracker_api.access.keys import pepper_fingerprint


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pepper_fingerprint', sa.String(length=16), nullable=True))
    if context.is_offline_mode():
        return
    peppers = tuple(current_app.config['API_KEY_PEPPERS']) or (current_app.config['API_KEY_PEPPER'],)
    if len(peppers) == 1:
        api_keys = sa.table('api_keys', sa.column('pepper_fingerprint'))
        op.get_bind().execute(sa.update(api_keys).values(pepper_fingerprint=pepper_fingerprint(peppers[0])))


def downgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('pepper_fingerprint')
