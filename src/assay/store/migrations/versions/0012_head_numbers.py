"""head numbers and tags: the current value of a number layer's label copied into its head,
and the current tags of a tags layer's heads in ``head_tags``, each with an index, so the grid
sorts and filters by a number or a tag without reading every label's JSON

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# 64-bit ids on PostgreSQL; SQLite wants exactly INTEGER for its rowid alias.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

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

    op.create_table(
        "head_tags",
        sa.Column("layer_id", Id, nullable=False),
        sa.Column("item_id", Id, nullable=False),
        sa.Column("class_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["class_id"], ["classes.id"], name=op.f("fk_head_tags_class_id_classes")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_head_tags_item_id_items"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["layer_id"],
            ["layers.id"],
            name=op.f("fk_head_tags_layer_id_layers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("layer_id", "item_id", "class_id", name=op.f("pk_head_tags")),
        sqlite_with_rowid=False,
    )
    # The current tags stored before this: each tags layer's head label's list, by class name.
    elements = (
        "json_array_elements_text(labels.value) AS e(value)"
        if op.get_bind().dialect.name == "postgresql"
        else "json_each(labels.value) AS e"
    )
    op.execute(
        f"""
        INSERT INTO head_tags (layer_id, item_id, class_id)
        SELECT DISTINCT label_heads.layer_id, label_heads.item_id, classes.id
        FROM label_heads
        JOIN layers ON layers.id = label_heads.layer_id AND layers.value_kind = 'tags'
        JOIN labels ON labels.id = label_heads.label_id AND labels.value IS NOT NULL
        CROSS JOIN {elements}
        JOIN classes ON classes.dataset_id = layers.dataset_id AND classes.name = e.value
        """  # noqa: S608  (no input: a function name chosen by dialect)
    )
    with op.batch_alter_table("head_tags", schema=None) as batch_op:
        batch_op.create_index(
            "ix_head_tags_layer_class", ["layer_id", "class_id", "item_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("head_tags")
    with op.batch_alter_table("label_heads", schema=None) as batch_op:
        batch_op.drop_index("ix_label_heads_layer_number")
        batch_op.drop_column("number")
