"""models features label quality

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "feature_sets",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "dataset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("featurizer", sa.String(length=100), nullable=False),
        sa.Column("params_hash", sa.String(length=64), nullable=False),
        sa.Column("item_version", sa.String(length=64), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("n_items", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="ready", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_feature_sets_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_sets")),
        sa.UniqueConstraint(
            "dataset_id",
            "featurizer",
            "params_hash",
            "item_version",
            name=op.f("uq_feature_sets_dataset_id_featurizer_params_hash_item_version"),
        ),
    )
    op.create_table(
        "feature_vectors",
        sa.Column(
            "feature_set_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feature_set_id"],
            ["feature_sets.id"],
            name=op.f("fk_feature_vectors_feature_set_id_feature_sets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_feature_vectors_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("feature_set_id", "item_id", name=op.f("pk_feature_vectors")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "model_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "dataset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=300), nullable=False),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("featurizer", sa.String(length=100), nullable=True),
        sa.Column("train_layer", sa.String(length=200), nullable=True),
        sa.Column("train_filter", sa.Text(), nullable=True),
        sa.Column("folds", sa.Integer(), nullable=True),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column(
            "snapshot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("layer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("artifact_path", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_model_runs_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["layer_id"],
            ["layers.id"],
            name=op.f("fk_model_runs_layer_id_layers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["snapshot_id"], ["snapshots.id"], name=op.f("fk_model_runs_snapshot_id_snapshots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_runs")),
        sa.UniqueConstraint("dataset_id", "name", name=op.f("uq_model_runs_dataset_id_name")),
    )
    op.create_table(
        "label_quality",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "given_class_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "suggested_class_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("quality", sa.Float(), nullable=False),
        sa.Column("is_issue", sa.Boolean(), nullable=False),
        sa.Column("outlier_score", sa.Float(), nullable=True),
        sa.Column(
            "duplicate_of", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["given_class_id"], ["classes.id"], name=op.f("fk_label_quality_given_class_id_classes")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_label_quality_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["model_runs.id"],
            name=op.f("fk_label_quality_run_id_model_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["suggested_class_id"],
            ["classes.id"],
            name=op.f("fk_label_quality_suggested_class_id_classes"),
        ),
        sa.PrimaryKeyConstraint("run_id", "item_id", name=op.f("pk_label_quality")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("label_quality", schema=None) as batch_op:
        batch_op.create_index("ix_label_quality_run_quality", ["run_id", "quality"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("label_quality", schema=None) as batch_op:
        batch_op.drop_index("ix_label_quality_run_quality")

    op.drop_table("label_quality")
    op.drop_table("model_runs")
    op.drop_table("feature_vectors")
    op.drop_table("feature_sets")
