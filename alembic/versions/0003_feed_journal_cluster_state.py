"""feed_journal: the live feed's batches written before they are sent; cluster_state: the supervisor's
desired state, so that a restarted feed or supervisor resumes where it was

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 13:40:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'feed_journal',
        sa.Column('batch', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('final', sa.Boolean(), nullable=False),
        sa.Column('payload', sa.LargeBinary(), nullable=False),
        sa.Column('written_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('batch', name=op.f('pk_feed_journal')),
    )
    op.create_table(
        'cluster_state',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('value', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_cluster_state')),
    )


def downgrade() -> None:
    op.drop_table('cluster_state')
    op.drop_table('feed_journal')
