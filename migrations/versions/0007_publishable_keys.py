"""Publishable keys for the tracking widget: a key's kind and, for publishable keys, its allowed web origins.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 22:00:00

Hand-written; batch mode so SQLite and PostgreSQL run the same steps. Existing keys become secret keys through
the column's server default.
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='secret', nullable=False))
        batch_op.add_column(sa.Column('allowed_origins', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('allowed_origins')
        batch_op.drop_column('kind')
