"""active learning suggestion lists

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
RUNNING = sa.text("state = 'running'")


def upgrade() -> None:
    op.create_table(
        "suggestion_lists",
        sa.Column("id", ID, nullable=False),
        sa.Column("dataset_id", ID, nullable=False),
        sa.Column("layer_id", ID, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested", sa.String(length=32), nullable=False),
        sa.Column("strategy", sa.String(length=32), nullable=True),
        sa.Column("model", sa.String(length=300), nullable=True),
        sa.Column("featurizer", sa.String(length=100), nullable=True),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("filter", sa.Text(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("n_pool", sa.Integer(), nullable=True),
        sa.Column("n_labeled", sa.Integer(), nullable=True),
        sa.Column("notes", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_suggestion_lists_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["layer_id"],
            ["layers.id"],
            name=op.f("fk_suggestion_lists_layer_id_layers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestion_lists")),
    )
    with op.batch_alter_table("suggestion_lists", schema=None) as batch_op:
        batch_op.create_index(
            "ix_suggestion_lists_layer_state", ["layer_id", "state", "id"], unique=False
        )
        batch_op.create_index(
            "uq_suggestion_lists_running",
            ["layer_id"],
            unique=True,
            sqlite_where=RUNNING,
            postgresql_where=RUNNING,
        )

    op.create_table(
        "suggestions",
        sa.Column("list_id", ID, nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("item_id", ID, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_suggestions_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["suggestion_lists.id"],
            name=op.f("fk_suggestions_list_id_suggestion_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("list_id", "rank", name=op.f("pk_suggestions")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.create_index("ix_suggestions_list_item", ["list_id", "item_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.drop_index("ix_suggestions_list_item")
    op.drop_table("suggestions")
    with op.batch_alter_table("suggestion_lists", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_suggestion_lists_running", sqlite_where=RUNNING, postgresql_where=RUNNING
        )
        batch_op.drop_index("ix_suggestion_lists_layer_state")
    op.drop_table("suggestion_lists")
