"""model_versions: sha256 of the artifact, and the version a live model replaced (for rollback)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('model_versions') as batch:
        batch.add_column(sa.Column('artifact_sha256', sa.String(length=64), server_default='', nullable=False))
        batch.add_column(sa.Column('previous_live', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('model_versions') as batch:
        batch.drop_column('previous_live')
        batch.drop_column('artifact_sha256')
