"""head numbers: the current value of a number layer's label copied into its head, with an
index, so the grid sorts and filters by a number without reading every label's JSON

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("label_heads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number", sa.Float(), nullable=True))
    # The heads of number layers stored before this: their label's bare JSON number (a
    # cleared label's value is NULL). CAST through text reads a JSON number on both backends.
    op.execute(
        """
        UPDATE label_heads SET number = (
            SELECT CAST(CAST(labels.value AS TEXT) AS FLOAT) FROM labels
            WHERE labels.id = label_heads.label_id AND labels.value IS NOT NULL
        )
        WHERE layer_id IN (SELECT id FROM layers WHERE value_kind = 'number')
        """
    )
    with op.batch_alter_table("label_heads", schema=None) as batch_op:
        batch_op.create_index(
            "ix_label_heads_layer_number",
            ["layer_id", "number", "item_id"],
            unique=False,
            sqlite_where=sa.text("number IS NOT NULL"),
            postgresql_where=sa.text("number IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("label_heads", schema=None) as batch_op:
        batch_op.drop_index("ix_label_heads_layer_number")
        batch_op.drop_column("number")
