"""initial schema: every table; orders, trades and risk_events partitioned by month on PostgreSQL

Revision ID: 0001
Revises:
Create Date: 2026-11-25 13:10:22.116372+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from cluster.foundation.storage.db.types import Money

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('caller', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index(op.f('ix_audit_log_occurred_at'), 'audit_log', ['occurred_at'], unique=False)

    op.create_table('breaker_state',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('changed_by', sa.String(length=64), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reduced_size', sa.Boolean(), nullable=False),
    sa.Column('trading_date', sa.String(length=10), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_breaker_state'))
    )
    op.create_index(op.f('ix_breaker_state_changed_at'), 'breaker_state', ['changed_at'], unique=False)

    op.create_table('daily_pnl',
    sa.Column('trading_date', sa.Date(), nullable=False),
    sa.Column('realized_pnl', Money(), nullable=False),
    sa.Column('unrealized_pnl', Money(), nullable=False),
    sa.Column('total_pnl', Money(), nullable=False),
    sa.Column('trade_count', sa.BigInteger(), nullable=False),
    sa.Column('winning_trades', sa.BigInteger(), nullable=False),
    sa.Column('losing_trades', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('trading_date', name=op.f('pk_daily_pnl'))
    )
    op.create_table('model_versions',
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('feature_hash', sa.String(length=64), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('data_range', sa.String(length=64), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('artifact_path', sa.Text(), nullable=False),
    sa.CheckConstraint("status IN ('candidate', 'shadow', 'live', 'retired')", name=op.f('ck_model_versions_status')),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_model_versions'))
    )
    op.create_index(op.f('ix_model_versions_status'), 'model_versions', ['status'], unique=False)

    op.create_table('order_intents',
    sa.Column('client_order_id', sa.String(length=64), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('quantity', Money(), nullable=False),
    sa.Column('order_type', sa.String(length=16), nullable=False),
    sa.Column('time_in_force', sa.String(length=8), nullable=False),
    sa.Column('limit_price', Money(), nullable=True),
    sa.Column('stop_price', Money(), nullable=True),
    sa.Column('reduce_only', sa.Boolean(), nullable=False),
    sa.Column('batch', sa.BigInteger(), nullable=False),
    sa.Column('correlation_id', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('client_order_id', name=op.f('pk_order_intents'))
    )
    op.create_index(op.f('ix_order_intents_created_at'), 'order_intents', ['created_at'], unique=False)

    op.create_table('orders',
    sa.Column('client_order_id', sa.String(length=64), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=True),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('order_type', sa.String(length=16), nullable=False),
    sa.Column('quantity', Money(), nullable=False),
    sa.Column('price', Money(), nullable=True),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('filled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('filled_qty', Money(), nullable=False),
    sa.Column('filled_avg_price', Money(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('client_order_id', 'submitted_at', name=op.f('pk_orders')),
    postgresql_partition_by='RANGE (submitted_at)'
    )
    op.create_index(op.f('ix_orders_status'), 'orders', ['status'], unique=False)
    op.create_index(op.f('ix_orders_symbol_submitted_at'), 'orders', ['symbol', 'submitted_at'], unique=False)

    op.create_table('positions',
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('quantity', Money(), nullable=False),
    sa.Column('entry_price', Money(), nullable=False),
    sa.Column('current_price', Money(), nullable=False),
    sa.Column('unrealized_pnl', Money(), nullable=False),
    sa.Column('realized_pnl', Money(), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('symbol', name=op.f('pk_positions'))
    )
    op.create_table('risk_events',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', 'occurred_at', name=op.f('pk_risk_events')),
    postgresql_partition_by='RANGE (occurred_at)'
    )
    op.create_index(op.f('ix_risk_events_event_type_occurred_at'), 'risk_events', ['event_type', 'occurred_at'], unique=False)

    op.create_table('trades',
    sa.Column('trade_id', sa.String(length=96), nullable=False),
    sa.Column('executed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('client_order_id', sa.String(length=64), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('quantity', Money(), nullable=False),
    sa.Column('price', Money(), nullable=False),
    sa.Column('commission', Money(), nullable=False),
    sa.PrimaryKeyConstraint('trade_id', 'executed_at', name=op.f('pk_trades')),
    postgresql_partition_by='RANGE (executed_at)'
    )
    op.create_index(op.f('ix_trades_client_order_id'), 'trades', ['client_order_id'], unique=False)
    op.create_index(op.f('ix_trades_symbol_executed_at'), 'trades', ['symbol', 'executed_at'], unique=False)



def downgrade() -> None:
    op.drop_index(op.f('ix_trades_symbol_executed_at'), table_name='trades')
    op.drop_index(op.f('ix_trades_client_order_id'), table_name='trades')

    op.drop_table('trades')
    op.drop_index(op.f('ix_risk_events_event_type_occurred_at'), table_name='risk_events')

    op.drop_table('risk_events')
    op.drop_table('positions')
    op.drop_index(op.f('ix_orders_symbol_submitted_at'), table_name='orders')
    op.drop_index(op.f('ix_orders_status'), table_name='orders')

    op.drop_table('orders')
    op.drop_index(op.f('ix_order_intents_created_at'), table_name='order_intents')

    op.drop_table('order_intents')
    op.drop_index(op.f('ix_model_versions_status'), table_name='model_versions')

    op.drop_table('model_versions')
    op.drop_table('daily_pnl')
    op.drop_index(op.f('ix_breaker_state_changed_at'), table_name='breaker_state')

    op.drop_table('breaker_state')
    op.drop_index(op.f('ix_audit_log_occurred_at'), table_name='audit_log')

    op.drop_table('audit_log')
