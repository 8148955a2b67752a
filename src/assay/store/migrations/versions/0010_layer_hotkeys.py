"""layer hotkeys: the keys that pick each class when labeling in a layer

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: the keys follow the class names and their order (assay.labels.hotkeys).
    with op.batch_alter_table("layers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hotkeys", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("layers", schema=None) as batch_op:
        batch_op.drop_column("hotkeys")
