"""Key scopes and the platform admin API: a key's scopes; platform tokens; the admin audit trail; a bot's sandbox
link (its time zone came with 0012).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 10:00:00

Hand-written; batch mode so SQLite and PostgreSQL run the same steps. Existing keys get NULL scopes: every right,
as before. `bots.sandbox_of` has no foreign key on purpose: adding one makes SQLite rebuild `bots`, and dropping the
old table would cascade to every key, client and parcel.
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.Text(), nullable=True))
    with op.batch_alter_table('bots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sandbox_of', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_bots_sandbox_of'), ['sandbox_of'], unique=False)
    op.create_table('platform_tokens',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_platform_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_platform_tokens_token_hash'))
    )
    op.create_table('admin_audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('bot_id', sa.Integer(), nullable=True),
    sa.Column('target', sa.String(length=40), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['token_id'], ['platform_tokens.id'],
                            name=op.f('fk_admin_audit_events_token_id_platform_tokens'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_audit_events'))
    )
    with op.batch_alter_table('admin_audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_admin_audit_events_bot_id'), ['bot_id'], unique=False)


def downgrade():
    with op.batch_alter_table('admin_audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_admin_audit_events_bot_id'))
    op.drop_table('admin_audit_events')
    op.drop_table('platform_tokens')
    with op.batch_alter_table('bots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bots_sandbox_of'))
        batch_op.drop_column('sandbox_of')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('scopes')
