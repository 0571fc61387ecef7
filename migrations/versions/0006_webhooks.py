"""Webhooks (tracker_api/webhooks/): a bot's endpoints, the outbox of events, one delivery per event and endpoint.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 21:45:00

Hand-written. New tables only: no existing row changes.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')  # models/types.BigId
UTC_TIME = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        'webhook_endpoints',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('bot_id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=2048), nullable=False),
        sa.Column('events', sa.Text(), nullable=False),
        sa.Column('description', sa.String(length=200), nullable=True),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('secret', sa.String(length=80), nullable=False),
        sa.Column('previous_secret', sa.String(length=80), nullable=True),
        sa.Column('previous_secret_expires_at', UTC_TIME, nullable=True),
        sa.Column('disabled_reason', sa.Text(), nullable=True),
        sa.Column('disabled_at', UTC_TIME, nullable=True),
        sa.Column('created_at', UTC_TIME, nullable=False),
        sa.Column('updated_at', UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(['bot_id'], ['bots.id'], name=op.f('fk_webhook_endpoints_bot_id_bots'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints')))
    op.create_index('ix_webhook_endpoints_bot_id_id', 'webhook_endpoints', ['bot_id', 'id'])
    op.create_table(
        'webhook_events',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('event_id', sa.String(length=36), nullable=False),
        sa.Column('bot_id', sa.Integer(), nullable=False),
        sa.Column('type', sa.String(length=40), nullable=False),
        sa.Column('subject', sa.String(length=80), nullable=False),
        sa.Column('sequence', sa.BigInteger(), nullable=False),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.Column('created_at', UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(['bot_id'], ['bots.id'], name=op.f('fk_webhook_events_bot_id_bots'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_events')),
        sa.UniqueConstraint('event_id', name=op.f('uq_webhook_events_event_id')))
    op.create_index('ix_webhook_events_bot_id_id', 'webhook_events', ['bot_id', 'id'])
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('endpoint_id', sa.Integer(), nullable=False),
        sa.Column('event_row_id', BIG_ID, nullable=False),
        sa.Column('subject', sa.String(length=80), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', UTC_TIME, nullable=False),
        sa.Column('lease_token', sa.String(length=36), nullable=True),
        sa.Column('leased_until', UTC_TIME, nullable=True),
        sa.Column('last_attempt_at', UTC_TIME, nullable=True),
        sa.Column('last_status_code', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('last_duration_ms', sa.Integer(), nullable=True),
        sa.Column('delivered_at', UTC_TIME, nullable=True),
        sa.Column('created_at', UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'],
                                name=op.f('fk_webhook_deliveries_endpoint_id_webhook_endpoints'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['event_row_id'], ['webhook_events.id'],
                                name=op.f('fk_webhook_deliveries_event_row_id_webhook_events'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')))
    op.create_index('ix_webhook_deliveries_endpoint_id_id', 'webhook_deliveries', ['endpoint_id', 'id'])
    op.create_index('ix_webhook_deliveries_status_next_attempt_at', 'webhook_deliveries',
                    ['status', 'next_attempt_at'])
    op.create_index('ix_webhook_deliveries_endpoint_id_subject_status', 'webhook_deliveries',
                    ['endpoint_id', 'subject', 'status'])


def downgrade():
    for table in ('webhook_deliveries', 'webhook_events', 'webhook_endpoints'):
        op.drop_table(table)
