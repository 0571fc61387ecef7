"""Initial schema: bots, API keys, clients, tracking numbers and their status history.

Revision ID: 0001
Revises: 
Create Date: 2026-11-28 04:49:43.433037

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('bots',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('subscription_status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bots'))
    )
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('bot_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['bot_id'], ['bots.id'], name=op.f('fk_api_keys_bot_id_bots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_bot_id'), ['bot_id'], unique=False)

    op.create_table('clients',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('bot_id', sa.Integer(), nullable=False),
    sa.Column('client_code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('telegram_username', sa.String(length=64), nullable=True),
    sa.Column('telegram_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bot_id'], ['bots.id'], name=op.f('fk_clients_bot_id_bots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clients')),
    sa.UniqueConstraint('bot_id', 'client_code', name='uq_clients_bot_id_client_code')
    )
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.create_index('ix_clients_bot_id_id', ['bot_id', 'id'], unique=False)

    op.create_table('tracking_numbers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('bot_id', sa.Integer(), nullable=False),
    sa.Column('tracking_number', sa.String(length=64), nullable=False),
    sa.Column('client_code', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('weight_kg', sa.Numeric(precision=10, scale=3), nullable=True),
    sa.Column('price_per_kg_usd', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('total_cost_usd', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bot_id'], ['bots.id'], name=op.f('fk_tracking_numbers_bot_id_bots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tracking_numbers')),
    sa.UniqueConstraint('bot_id', 'tracking_number', name='uq_tracking_numbers_bot_id_tracking_number')
    )
    with op.batch_alter_table('tracking_numbers', schema=None) as batch_op:
        batch_op.create_index('ix_tracking_numbers_bot_id_client_code_id', ['bot_id', 'client_code', 'id'], unique=False)
        batch_op.create_index('ix_tracking_numbers_bot_id_id', ['bot_id', 'id'], unique=False)
        batch_op.create_index('ix_tracking_numbers_bot_id_status_id', ['bot_id', 'status', 'id'], unique=False)

    op.create_table('status_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tracking_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('bot_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('previous_status', sa.String(length=20), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('api_key_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], name=op.f('fk_status_events_api_key_id_api_keys'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['bot_id'], ['bots.id'], name=op.f('fk_status_events_bot_id_bots'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tracking_id'], ['tracking_numbers.id'], name=op.f('fk_status_events_tracking_id_tracking_numbers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_events'))
    )
    with op.batch_alter_table('status_events', schema=None) as batch_op:
        batch_op.create_index('ix_status_events_tracking_id_id', ['tracking_id', 'id'], unique=False)



def downgrade():
    with op.batch_alter_table('status_events', schema=None) as batch_op:
        batch_op.drop_index('ix_status_events_tracking_id_id')

    op.drop_table('status_events')
    with op.batch_alter_table('tracking_numbers', schema=None) as batch_op:
        batch_op.drop_index('ix_tracking_numbers_bot_id_status_id')
        batch_op.drop_index('ix_tracking_numbers_bot_id_id')
        batch_op.drop_index('ix_tracking_numbers_bot_id_client_code_id')

    op.drop_table('tracking_numbers')
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_index('ix_clients_bot_id_id')

    op.drop_table('clients')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_bot_id'))

    op.drop_table('api_keys')
    op.drop_table('bots')
