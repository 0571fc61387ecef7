"""One client's change feed: why a record left a feed (deleted, or moved to another client) and the client a
parcel belonged to when it left.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 10:00:00

Hand-written; batch mode so SQLite and PostgreSQL run the same steps. Existing tombstones are deletions through
the column's server default; their client is not known (the parcel is gone), so a client's feed started before
this revision lacks them: an offline copy of one client starts with a fresh walk.
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('deleted_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=16), server_default='deleted', nullable=False))
        batch_op.add_column(sa.Column('client_code', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_deleted_records_bot_id_client_code_change_seq',
                              ['bot_id', 'client_code', 'change_seq'], unique=False)


def downgrade():
    op.execute("DELETE FROM deleted_records WHERE reason <> 'deleted'")
    with op.batch_alter_table('deleted_records', schema=None) as batch_op:
        batch_op.drop_index('ix_deleted_records_bot_id_client_code_change_seq')
        batch_op.drop_column('client_code')
        batch_op.drop_column('reason')
