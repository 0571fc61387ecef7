"""Local days: a bot's IANA time zone, and parcels created counted per quarter of an hour instead of per UTC day, so
that the statistics' days can be any zone's days, exactly (tracker_api/writes/totals.py); filled from the existing rows.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 11:00:00

Hand-written; batch mode so SQLite and PostgreSQL run the same steps. The backfill is plain SQL, frozen here.
Existing bots get UTC, the days they were counted in until now.
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

QUARTER_SECONDS = 900  # tracker_api.writes.totals.QUARTER_SECONDS when this revision was written


def _postgresql():
    return op.get_bind().dialect.name == 'postgresql'


def upgrade():
    with op.batch_alter_table('bots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), server_default='UTC', nullable=False))
    op.create_table('tracking_created_quarters',
                    sa.Column('bot_id', sa.Integer(), nullable=False),
                    sa.Column('quarter', sa.BigInteger(), autoincrement=False, nullable=False),
                    sa.Column('count', sa.BigInteger(), nullable=False),
                    sa.ForeignKeyConstraint(['bot_id'], ['bots.id'],
                                            name=op.f('fk_tracking_created_quarters_bot_id_bots'), ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('bot_id', 'quarter', name=op.f('pk_tracking_created_quarters')))
    seconds = ('CAST(floor(extract(epoch FROM created_at)) AS BIGINT)' if _postgresql()
               else "CAST(strftime('%s', substr(created_at, 1, 19)) AS INTEGER)")  # SQLite keeps UTC text
    quarter = f'{seconds} / {QUARTER_SECONDS}'
    op.execute(f'INSERT INTO tracking_created_quarters (bot_id, quarter, count) '
               f'SELECT bot_id, {quarter}, count(*) FROM tracking_numbers GROUP BY bot_id, {quarter}')
    op.drop_table('tracking_created_days')


def downgrade():
    op.create_table('tracking_created_days',
                    sa.Column('bot_id', sa.Integer(), nullable=False),
                    sa.Column('day', sa.Date(), nullable=False),
                    sa.Column('count', sa.BigInteger(), nullable=False),
                    sa.ForeignKeyConstraint(['bot_id'], ['bots.id'], name=op.f('fk_tracking_created_days_bot_id_bots'),
                                            ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('bot_id', 'day', name=op.f('pk_tracking_created_days')))
    utc_day = ("(created_at AT TIME ZONE 'UTC')::date" if _postgresql()
               else 'date(substr(created_at, 1, 19))')
    op.execute(f'INSERT INTO tracking_created_days (bot_id, day, count) '
               f'SELECT bot_id, {utc_day}, count(*) FROM tracking_numbers GROUP BY bot_id, {utc_day}')
    op.drop_table('tracking_created_quarters')
    with op.batch_alter_table('bots', schema=None) as batch_op:
        batch_op.drop_column('timezone')
