"""The restore window: a deletion's tombstone keeps the record (and a parcel's history) as JSON until
`flask purge-deleted` erases it; webhook endpoints that hear of deletions hear of restorations too.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 10:30:00

Hand-written; batch mode so SQLite and PostgreSQL run the same steps. Records deleted before this revision have
no snapshot: they cannot be restored (410).
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# An endpoint that drops a record on its deletion event must hear of its restoration to keep an exact copy.
RESTORED_WITH = {"tracking.deleted": "tracking.restored", "client.deleted": "client.restored"}


def upgrade():
    with op.batch_alter_table('deleted_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('snapshot', sa.Text(), nullable=True))
        batch_op.create_index('ix_deleted_records_bot_id_kind_record_id', ['bot_id', 'kind', 'record_id'],
                              unique=False)
    for deleted, restored in RESTORED_WITH.items():
        op.execute(sa.text("UPDATE webhook_endpoints SET events = events || :suffix "
                           "WHERE ',' || events || ',' LIKE :deleted AND ',' || events || ',' NOT LIKE :restored")
                   .bindparams(suffix="," + restored, deleted=f"%,{deleted},%", restored=f"%,{restored},%"))


def downgrade():
    for restored in RESTORED_WITH.values():
        op.execute(sa.text("UPDATE webhook_endpoints SET events = "
                           "trim(replace(',' || events || ',', :restored, ','), ',')")
                   .bindparams(restored=f",{restored},"))
    with op.batch_alter_table('deleted_records', schema=None) as batch_op:
        batch_op.drop_index('ix_deleted_records_bot_id_kind_record_id')
        batch_op.drop_column('snapshot')
