"""check runs: the saved reports of a dataset's data checks (``assay check``)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "check_runs",
        sa.Column("id", ID, nullable=False),
        sa.Column("dataset_id", ID, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("n_failed", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_check_runs_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_runs")),
    )  # fmt: skip
    with op.batch_alter_table("check_runs", schema=None) as batch_op:
        batch_op.create_index("ix_check_runs_dataset", ["dataset_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("check_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_check_runs_dataset")
    op.drop_table("check_runs")
