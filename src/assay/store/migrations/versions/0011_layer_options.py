"""layer options: settings a layer's annotation kind keeps per layer (a number's range and
unit, whether spans may overlap)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: the kind's defaults (assay.labels.kinds.AnnotationKind.check_options).
    with op.batch_alter_table("layers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("options", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("layers", schema=None) as batch_op:
        batch_op.drop_column("options")
