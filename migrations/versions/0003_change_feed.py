"""The change feed: a per-bot change number on tracking numbers and clients, and tombstones of deleted ones.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 19:00:00

Existing rows get their id as change number (increasing in creation order, which is all the feed needs), and
each bot the largest of its rows' numbers, so that new changes come after every existing row.
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

RECORD_TABLES = ('tracking_numbers', 'clients')


def upgrade():
    for table in ('bots', *RECORD_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('change_seq', sa.BigInteger(), server_default='0', nullable=False))
    for table in RECORD_TABLES:
        op.execute(f'UPDATE {table} SET change_seq = id')
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(f'ix_{table}_bot_id_change_seq', ['bot_id', 'change_seq'], unique=False)
            batch_op.create_index(f'ix_{table}_bot_id_updated_at', ['bot_id', 'updated_at'], unique=False)
    op.execute('UPDATE bots SET change_seq = COALESCE((SELECT MAX(id) FROM tracking_numbers '
               'WHERE tracking_numbers.bot_id = bots.id), 0)')
    op.execute('UPDATE bots SET change_seq = COALESCE((SELECT MAX(id) FROM clients WHERE clients.bot_id = bots.id '
               'AND clients.id > bots.change_seq), change_seq)')

    op.create_table('deleted_records',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('bot_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('record_id', sa.BigInteger(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('change_seq', sa.BigInteger(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bot_id'], ['bots.id'], name=op.f('fk_deleted_records_bot_id_bots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deleted_records'))
    )
    with op.batch_alter_table('deleted_records', schema=None) as batch_op:
        batch_op.create_index('ix_deleted_records_bot_id_kind_change_seq', ['bot_id', 'kind', 'change_seq'],
                              unique=False)
        batch_op.create_index('ix_deleted_records_bot_id_kind_deleted_at', ['bot_id', 'kind', 'deleted_at'],
                              unique=False)


def downgrade():
    op.drop_table('deleted_records')
    for table in RECORD_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f'ix_{table}_bot_id_updated_at')
            batch_op.drop_index(f'ix_{table}_bot_id_change_seq')
    for table in ('bots', *RECORD_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('change_seq')
