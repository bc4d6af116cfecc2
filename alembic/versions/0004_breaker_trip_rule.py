"""breaker_state.trip_rule: the rule that tripped the breaker, so a restored daily-loss trip still
clears at the next trading day

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 17:10:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows written before this column existed restore "" (an unknown rule waits for an operator's reset).
    with op.batch_alter_table('breaker_state') as batch:
        batch.add_column(sa.Column('trip_rule', sa.String(length=32), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('breaker_state') as batch:
        batch.drop_column('trip_rule')
