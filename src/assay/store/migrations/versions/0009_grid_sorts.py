"""grid sorts: an index on a layer's confidences, a loss per item of a label-issue run, and
when each run's label-issue search ran

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.create_index(
            "ix_labels_layer_confidence",
            ["layer_id", "confidence", "item_id"],
            unique=False,
            sqlite_where=sa.text("confidence IS NOT NULL"),
            postgresql_where=sa.text("confidence IS NOT NULL"),
        )
    # Searches stored before this keep a NULL loss: the grid asks to search again.
    with op.batch_alter_table("label_quality", schema=None) as batch_op:
        batch_op.add_column(sa.Column("loss", sa.Float(), nullable=True))
        batch_op.create_index("ix_label_quality_run_loss", ["run_id", "loss", "item_id"])

    with op.batch_alter_table("model_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("searched_at", sa.DateTime(timezone=True), nullable=True))
    # The searches stored before: their summary's computed_at.
    runs = sa.table(
        "model_runs",
        sa.column("id", sa.Integer()),
        sa.column("metrics", sa.JSON()),
        sa.column("searched_at", sa.DateTime(timezone=True)),
    )
    conn = op.get_bind()
    for run_id, metrics in conn.execute(sa.select(runs.c.id, runs.c.metrics)).all():
        if isinstance(metrics, str):
            metrics = json.loads(metrics)
        at = (metrics or {}).get("label_quality", {}).get("computed_at")
        if at:
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(searched_at=datetime.fromisoformat(at))
            )


def downgrade() -> None:
    with op.batch_alter_table("model_runs", schema=None) as batch_op:
        batch_op.drop_column("searched_at")
    with op.batch_alter_table("label_quality", schema=None) as batch_op:
        batch_op.drop_index("ix_label_quality_run_loss")
        batch_op.drop_column("loss")
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.drop_index("ix_labels_layer_confidence")
