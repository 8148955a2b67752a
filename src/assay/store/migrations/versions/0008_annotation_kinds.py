"""annotation kinds: each layer says what its values are, labels may hold a non-class value

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every existing layer holds classes.
    with op.batch_alter_table("layers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "value_kind", sa.String(length=32), nullable=False, server_default="classification"
            )
        )
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("value", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.drop_column("value")
    with op.batch_alter_table("layers", schema=None) as batch_op:
        batch_op.drop_column("value_kind")
