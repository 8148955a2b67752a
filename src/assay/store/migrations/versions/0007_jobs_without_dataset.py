"""jobs may have no dataset yet (an import job creating a new dataset)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.alter_column("dataset_id", existing_type=ID, nullable=True)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM jobs WHERE dataset_id IS NULL"))
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.alter_column("dataset_id", existing_type=ID, nullable=False)
