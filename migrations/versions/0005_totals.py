"""Totals kept beside the rows (tracker_api/totals.py): parcels per status, per creation day and per id bucket,
and clients, per bot; filled from the existing rows.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 21:30:00

Hand-written. The backfill is plain SQL, frozen here: the app's own recount may change, this revision must not.
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

ID_BUCKET_WIDTH = 1024  # tracker_api.writes.totals.ID_BUCKET_WIDTH when this revision was written


def _bot_key(table):
    return [sa.Column('bot_id', sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(['bot_id'], ['bots.id'], name=op.f(f'fk_{table}_bot_id_bots'), ondelete='CASCADE')]


def upgrade():
    op.create_table('tracking_status_totals', *_bot_key('tracking_status_totals'),
                    sa.Column('status', sa.String(length=20), nullable=False),
                    sa.Column('count', sa.BigInteger(), nullable=False),
                    sa.Column('total_weight_kg', sa.Numeric(24, 3), nullable=False),
                    sa.Column('total_cost_usd', sa.Numeric(24, 2), nullable=False),
                    sa.PrimaryKeyConstraint('bot_id', 'status', name=op.f('pk_tracking_status_totals')))
    op.create_table('tracking_created_days', *_bot_key('tracking_created_days'),
                    sa.Column('day', sa.Date(), nullable=False),
                    sa.Column('count', sa.BigInteger(), nullable=False),
                    sa.PrimaryKeyConstraint('bot_id', 'day', name=op.f('pk_tracking_created_days')))
    op.create_table('tracking_id_buckets', *_bot_key('tracking_id_buckets'),
                    sa.Column('bucket', sa.BigInteger(), autoincrement=False, nullable=False),
                    sa.Column('count', sa.BigInteger(), nullable=False),
                    sa.PrimaryKeyConstraint('bot_id', 'bucket', name=op.f('pk_tracking_id_buckets')))
    op.create_table('client_totals', *_bot_key('client_totals'),
                    sa.Column('count', sa.BigInteger(), nullable=False),
                    sa.PrimaryKeyConstraint('bot_id', name=op.f('pk_client_totals')))
    utc_day = ("(created_at AT TIME ZONE 'UTC')::date" if op.get_bind().dialect.name == 'postgresql'
               else 'date(substr(created_at, 1, 19))')  # SQLite keeps UTC text; date() refuses "+00"
    op.execute('INSERT INTO tracking_status_totals (bot_id, status, count, total_weight_kg, total_cost_usd) '
               'SELECT bot_id, status, count(*), coalesce(sum(weight_kg), 0), coalesce(sum(total_cost_usd), 0) '
               'FROM tracking_numbers GROUP BY bot_id, status')
    op.execute(f'INSERT INTO tracking_created_days (bot_id, day, count) '
               f'SELECT bot_id, {utc_day}, count(*) FROM tracking_numbers GROUP BY bot_id, {utc_day}')
    op.execute(f'INSERT INTO tracking_id_buckets (bot_id, bucket, count) '
               f'SELECT bot_id, id / {ID_BUCKET_WIDTH}, count(*) FROM tracking_numbers '
               f'GROUP BY bot_id, id / {ID_BUCKET_WIDTH}')
    op.execute('INSERT INTO client_totals (bot_id, count) SELECT bot_id, count(*) FROM clients GROUP BY bot_id')


def downgrade():
    for table in ('client_totals', 'tracking_id_buckets', 'tracking_created_days', 'tracking_status_totals'):
        op.drop_table(table)
