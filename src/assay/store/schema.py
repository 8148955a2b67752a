"""The store's tables, declared once with SQLAlchemy Core; Alembic migrations create them.

Design notes (they shape every query elsewhere):

* A dataset whose first import is still running has ``state = 'importing'`` and is invisible;
  later imports into it go through ``staged_items``. Either way publishing is one transaction
  (``ingest.staging``), so a killed import never leaves a partial dataset visible.
* ``labels`` is append-only: a label is never updated or deleted. Each row points at the row
  it ``supersedes`` (same layer and item), so the history is a chain. ``label_heads`` is an
  index over that history: for each (layer, item) the id and class of the current label, so
  "the current label" and "items of class c" are single indexed lookups.
* Ids are integers for compact indexes and keyset pagination (``WHERE id > :after``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

# 64-bit ids on PostgreSQL; SQLite wants exactly INTEGER for its rowid alias.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Timestamp(sa.TypeDecorator[datetime]):
    """A UTC timestamp that comes back timezone-aware on SQLite too."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class JsonValue(sa.TypeDecorator[Any]):
    """JSON that may be a bare number: SQLite gives a column declared ``JSON`` numeric affinity,
    so a stored ``1.5`` comes back as a float, not as JSON text, and is passed through as is."""

    impl = sa.JSON
    cache_ok = True

    def result_processor(self, dialect: sa.Dialect, coltype: Any) -> Any:
        inner = self.impl_instance.result_processor(dialect, coltype)
        if inner is None:
            return None

        def process(value: Any) -> Any:
            if value is None or isinstance(value, int | float):
                return value
            return inner(value)

        return process


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_N_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

ITEM_KINDS = ("image", "text", "tabular")
LAYER_KINDS = ("import", "human", "model", "consensus", "reviewed")
IMPORT_STATES = ("staging", "published", "failed")

datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", Timestamp(), nullable=False),
    # Column names and types of tabular items, in file order: [{"name":..,"dtype":..}, ...]
    sa.Column("schema", sa.JSON, nullable=True),
    # Item kinds present (["image"], ["tabular", "text"]...), kept up to date by imports.
    sa.Column("kinds", sa.JSON, nullable=True),
    # "importing" while its first import runs: every lookup treats it as absent until then.
    sa.Column("state", sa.String(16), nullable=False, server_default="ready"),
    sa.Column("import_id", Id, sa.ForeignKey("imports.id"), nullable=True),
)

classes = sa.Table(
    "classes",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("dataset_id", Id, sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.UniqueConstraint("dataset_id", "name"),
)

layers = sa.Table(
    "layers",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("dataset_id", Id, sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    # The layer's origin (LAYER_KINDS: import, human, model, consensus, reviewed).
    sa.Column("kind", sa.String(16), nullable=False),
    # What its labels' values are: an annotation kind of ``assay.labels.kinds`` (migration 0008).
    sa.Column("value_kind", sa.String(32), nullable=False, server_default="classification"),
    sa.Column("frozen", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", Timestamp(), nullable=False),
    # Who a human layer belongs to (its annotator); NULL for shared and machine layers.
    sa.Column("owner", sa.String(200), nullable=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    # Where the layer came from: {"copied_from": ...}, {"method": "dawid-skene", ...}.
    sa.Column("origin", sa.JSON, nullable=True),
    # The keys people set to pick each class when labeling in it, {class: key} (migration
    # 0009); NULL or missing classes: by name, then in order (assay.labels.hotkeys).
    sa.Column("hotkeys", sa.JSON, nullable=True),
    # Settings the layer's annotation kind keeps per layer (migration 0011): a number's
    # {"min", "max", "unit"}, spans' {"overlap": true}; NULL: the kind's defaults.
    sa.Column("options", sa.JSON, nullable=True),
    sa.UniqueConstraint("dataset_id", "name"),
)

imports = sa.Table(
    "imports",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("dataset_name", sa.String(200), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("format", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("started_at", Timestamp(), nullable=False),
    sa.Column("finished_at", Timestamp(), nullable=True),
    sa.Column("n_rows", sa.Integer, nullable=False, server_default="0"),
    sa.Column("n_new_items", sa.Integer, nullable=False, server_default="0"),
    sa.Column("n_new_labels", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text, nullable=True),
)


# The columns an item has, shared by ``items`` and ``staged_items``.
def _item_columns() -> list[sa.Column]:
    return [
        sa.Column("external_key", sa.String(512), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("split", sa.String(64), nullable=True),
        sa.Column("media_path", sa.Text, nullable=True),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("fields", sa.JSON, nullable=True),
        # The dataset's numeric columns as little-endian float64s in schema order (NaN where
        # missing): statistics and models read them without parsing JSON.
        sa.Column("numbers", sa.LargeBinary, nullable=True),
        sa.Column("meta", sa.JSON, nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer, nullable=True),
        sa.Column("height", sa.Integer, nullable=True),
        sa.Column("channels", sa.Integer, nullable=True),
        sa.Column("pixel_mean", sa.Float, nullable=True),
        sa.Column("pixel_std", sa.Float, nullable=True),
        sa.Column("text_length", sa.Integer, nullable=True),
    ]


ITEM_FIELDS = tuple(c.name for c in _item_columns())

items = sa.Table(
    "items",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("dataset_id", Id, sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    *_item_columns(),
    sa.Column("import_id", Id, sa.ForeignKey("imports.id"), nullable=True),
    sa.UniqueConstraint("dataset_id", "external_key"),
    # Keyset pages and chunked scans: WHERE dataset_id = ? AND id > ? ORDER BY id.
    sa.Index("ix_items_dataset_id", "dataset_id", "id"),
    sa.Index("ix_items_dataset_split", "dataset_id", "split", "id"),
    # No index on content_hash: random 128-bit keys made every insert a random B-tree write
    # (3x slower imports); the duplicate report's GROUP BY sorts instead (about 1 s at 1M).
)

# Small images (IDX, the demo) live in the store as PNG bytes; files on disk are referenced.
media_blobs = sa.Table(
    "media_blobs",
    metadata,
    sa.Column("item_id", Id, sa.ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("mime", sa.String(64), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

staged_items = sa.Table(
    "staged_items",
    metadata,
    sa.Column("import_id", Id, sa.ForeignKey("imports.id", ondelete="CASCADE"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    *_item_columns(),
    sa.Column("label", sa.String(200), nullable=True),
    sa.Column("blob", sa.LargeBinary, nullable=True),
    sa.PrimaryKeyConstraint("import_id", "seq"),
    sa.UniqueConstraint("import_id", "external_key"),
)

labels = sa.Table(
    "labels",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("layer_id", Id, sa.ForeignKey("layers.id", ondelete="CASCADE"), nullable=False),
    sa.Column("item_id", Id, sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    # NULL class: the label was cleared (the item is unlabeled in this layer from here on).
    sa.Column("class_id", Id, sa.ForeignKey("classes.id"), nullable=True),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("probs", sa.JSON, nullable=True),
    sa.Column("supersedes", Id, sa.ForeignKey("labels.id"), nullable=True),
    sa.Column("import_id", Id, sa.ForeignKey("imports.id"), nullable=True),
    sa.Column("idempotency_key", sa.String(100), nullable=True),
    # How sure the writer is (consensus quality, model confidence); NULL for plain labels.
    sa.Column("confidence", sa.Float, nullable=True),
    # The value of a kind that is not a class (``assay.labels.kinds``), as JSON; NULL for class
    # labels (``class_id``) and for a cleared label (migration 0008).
    sa.Column("value", JsonValue(none_as_null=True), nullable=True),
    sa.Index("ix_labels_item_layer", "item_id", "layer_id", "id"),
    # The grid's sort by a model's confidence, and "does this layer have confidences" (0009).
    # Partial: people's labels carry none, and their writes skip it.
    sa.Index(
        "ix_labels_layer_confidence",
        "layer_id",
        "confidence",
        "item_id",
        sqlite_where=sa.text("confidence IS NOT NULL"),
        postgresql_where=sa.text("confidence IS NOT NULL"),
    ),
    # Partial: most labels (imports, models) carry no key, and need no index entry.
    sa.Index(
        "uq_labels_idempotency_key",
        "idempotency_key",
        unique=True,
        sqlite_where=sa.text("idempotency_key IS NOT NULL"),
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    ),
)

label_heads = sa.Table(
    "label_heads",
    metadata,
    sa.Column("layer_id", Id, sa.ForeignKey("layers.id", ondelete="CASCADE"), nullable=False),
    sa.Column("item_id", Id, sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    sa.Column("label_id", Id, sa.ForeignKey("labels.id"), nullable=False),
    sa.Column("class_id", Id, sa.ForeignKey("classes.id"), nullable=True),
    # The current label's number, for number layers (a copy of its bare JSON value, NULL for
    # every other kind and for a cleared label): the grid's sort by a number and ``value[L]``
    # filters read it from the head and its index, not from the label's JSON (0012).
    sa.Column("number", sa.Float, nullable=True),
    sa.PrimaryKeyConstraint("layer_id", "item_id"),
    sa.Index("ix_label_heads_layer_class", "layer_id", "class_id", "item_id"),
    # Partial: only number layers' heads have a number.
    sa.Index(
        "ix_label_heads_layer_number",
        "layer_id",
        "number",
        "item_id",
        sqlite_where=sa.text("number IS NOT NULL"),
        postgresql_where=sa.text("number IS NOT NULL"),
    ),
    # Clustered by (layer, item) on SQLite: one B-tree instead of a table plus its key index.
    sqlite_with_rowid=False,
)

# The current tags of each tags layer's heads, one row per (layer, item, tag): what the
# layer's current label (a JSON list of class names) holds, kept with the head by
# ``labels.writes.move_heads`` (0012). ``tag[L]=name`` is then one probe of its key, like
# ``label[L]=class`` of ``label_heads``; the JSON stays the label's record.
head_tags = sa.Table(
    "head_tags",
    metadata,
    sa.Column("layer_id", Id, sa.ForeignKey("layers.id", ondelete="CASCADE"), nullable=False),
    sa.Column("item_id", Id, sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    sa.Column("class_id", Id, sa.ForeignKey("classes.id"), nullable=False),
    sa.PrimaryKeyConstraint("layer_id", "item_id", "class_id"),
    # The items of a tag in item order: the filter's probe, and its scan when it drives.
    sa.Index("ix_head_tags_layer_class", "layer_id", "class_id", "item_id"),
    sqlite_with_rowid=False,
)

# The review queue: one row per case about one item. ``version`` makes every transition a
# compare-and-set (UPDATE ... WHERE version = :seen), so two reviewers acting at once cannot
# both win; the loser gets a clear conflict and nothing changes.
review_cases = sa.Table(
    "review_cases",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("dataset_id", Id, sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    sa.Column("item_id", Id, sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    # Higher is more urgent: 1 - consensus confidence, a label-issue score, ...
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("class_id", Id, sa.ForeignKey("classes.id"), nullable=True),  # the label at issue
    sa.Column("suggested_class_id", Id, sa.ForeignKey("classes.id"), nullable=True),
    sa.Column("evidence", sa.JSON, nullable=True),
    sa.Column("comment", sa.Text, nullable=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("updated_at", Timestamp(), nullable=False),
    sa.Column("assignee", sa.String(200), nullable=True),
    sa.Column("resolution", sa.Text, nullable=True),
    sa.Column("resolved_class_id", Id, sa.ForeignKey("classes.id"), nullable=True),
    sa.Column("resolved_label_id", Id, sa.ForeignKey("labels.id"), nullable=True),
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_review_cases_dataset_state", "dataset_id", "state", "id"),
    sa.Index("ix_review_cases_item", "item_id", "id"),
    # At most one active case per item and reason, even when two scans run at once.
    sa.Index(
        "uq_review_cases_active",
        "dataset_id",
        "item_id",
        "reason",
        unique=True,
        sqlite_where=sa.text("state IN ('open', 'escalated')"),
        postgresql_where=sa.text("state IN ('open', 'escalated')"),
    ),
)

# The audit log: every transition of every case, append-only.
review_events = sa.Table(
    "review_events",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("case_id", Id, sa.ForeignKey("review_cases.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", Timestamp(), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("from_state", sa.String(16), nullable=True),
    sa.Column("to_state", sa.String(16), nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("data", sa.JSON, nullable=True),
    sa.Index("ix_review_events_case", "case_id", "id"),
)

# Snapshots record, per (layer, item), which label row was current: a reference, not a copy.
snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("dataset_id", Id, sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("layers", sa.JSON, nullable=False),  # names of the layers it covers
    sa.Column("n_labels", sa.Integer, nullable=False),
    sa.UniqueConstraint("dataset_id", "name"),
)

snapshot_labels = sa.Table(
    "snapshot_labels",
    metadata,
    sa.Column("snapshot_id", Id, sa.ForeignKey("snapshots.id", ondelete="CASCADE"), nullable=False),
    sa.Column("layer_id", Id, sa.ForeignKey("layers.id", ondelete="CASCADE"), nullable=False),
    sa.Column("item_id", Id, sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    sa.Column("label_id", Id, sa.ForeignKey("labels.id"), nullable=False),
    sa.PrimaryKeyConstraint("snapshot_id", "layer_id", "item_id"),
    sqlite_with_rowid=False,
)

# ---------------------------------------------------------------------------------------------
# Users and access (the web app; migration 0003). Shared by ``assay.users`` and ``assay.web``.
# ---------------------------------------------------------------------------------------------

ROLES = ("admin", "reviewer", "annotator")

# Accounts. ``username`` is stored lower-cased (see ``assay.users``), so names differing only by
# case cannot both exist. Passwords are argon2id hashes from pwdlib, never plain text.
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
)

# API tokens for scripts: only the SHA-256 of the token is stored; the token is shown once.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("last_used_at", Timestamp(), nullable=True),
    sa.Column("revoked_at", Timestamp(), nullable=True),
    sa.Index("ix_api_tokens_user", "user_id", "id"),
)

# Browser sessions. The cookie carries a random token (signed with the project's secret key);
# the row is keyed by its SHA-256, so logging out or disabling a user ends a session at once,
# and a leaked database holds no usable cookie. ``csrf_token`` is the session's synchronizer
# token for forms and X-CSRF-Token headers.
web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("expires_at", Timestamp(), nullable=False),
    sa.Index("ix_web_sessions_user", "user_id"),
)

# ---------------------------------------------------------------------------------------------
# Models, features and label quality (migration 0004). Used by ``assay.models``,
# ``assay.quality`` and the web app.
# ---------------------------------------------------------------------------------------------

RUN_KINDS = ("train", "cv", "import", "server")
RUN_STATES = ("running", "done", "failed")

# One model run: a training, a cross-validation (out-of-fold probabilities), an import of
# outside predictions or a call to a model server. Its predictions live in a ``model`` layer
# (label = argmax, with the probabilities); the labels it learned from are pinned by a snapshot.
model_runs = sa.Table(
    "model_runs",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("dataset_id", Id, sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("model", sa.String(300), nullable=False),  # "logreg", "hgb", "cnn", import path
    sa.Column("params", sa.JSON, nullable=True),
    sa.Column("featurizer", sa.String(100), nullable=True),
    sa.Column("train_layer", sa.String(200), nullable=True),
    sa.Column("train_filter", sa.Text, nullable=True),
    sa.Column("folds", sa.Integer, nullable=True),
    sa.Column("seed", sa.Integer, nullable=True),
    sa.Column("snapshot_id", Id, sa.ForeignKey("snapshots.id"), nullable=True),
    sa.Column("layer_id", Id, sa.ForeignKey("layers.id", ondelete="SET NULL"), nullable=True),
    sa.Column("metrics", sa.JSON, nullable=True),
    # A fitted model saved by Assay itself under the project folder (never a user's pickle).
    sa.Column("artifact_path", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("finished_at", Timestamp(), nullable=True),
    # When a label-issue search last stored its results on this run (its summary's
    # ``computed_at``; migration 0009): the latest search is found without parsing ``metrics``,
    # which holds the evidence of every flagged item (25 MB at 1,000,000 items).
    sa.Column("searched_at", Timestamp(), nullable=True),
    sa.UniqueConstraint("dataset_id", "name"),
)

# Cached features: one set per (dataset, featurizer, parameters, item version). ``item_version``
# changes when items are added, so a cache never serves vectors for a different set of items.
feature_sets = sa.Table(
    "feature_sets",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("dataset_id", Id, sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    sa.Column("featurizer", sa.String(100), nullable=False),
    sa.Column("params_hash", sa.String(64), nullable=False),
    sa.Column("item_version", sa.String(64), nullable=False),
    sa.Column("dim", sa.Integer, nullable=False),
    sa.Column("n_items", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False, server_default="ready"),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.UniqueConstraint("dataset_id", "featurizer", "params_hash", "item_version"),
)

feature_vectors = sa.Table(
    "feature_vectors",
    metadata,
    sa.Column(
        "feature_set_id", Id, sa.ForeignKey("feature_sets.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("item_id", Id, sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),  # little-endian float32 x dim
    sa.PrimaryKeyConstraint("feature_set_id", "item_id"),
    sqlite_with_rowid=False,
)

# Label quality per item from one run of the label-issue finder (cleanlab): the given label,
# the suggested one, the label-quality score (low = likely wrong), and outlier/duplicate hints.
label_quality = sa.Table(
    "label_quality",
    metadata,
    sa.Column("run_id", Id, sa.ForeignKey("model_runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("item_id", Id, sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    sa.Column("given_class_id", Id, sa.ForeignKey("classes.id"), nullable=True),
    sa.Column("suggested_class_id", Id, sa.ForeignKey("classes.id"), nullable=True),
    sa.Column("quality", sa.Float, nullable=False),
    sa.Column("is_issue", sa.Boolean, nullable=False),
    sa.Column("outlier_score", sa.Float, nullable=True),
    sa.Column("duplicate_of", Id, nullable=True),
    # The model's log loss on the given label, -ln p(given) (migration 0009; NULL before it
    # and for items without a given label): the grid sorts by it.
    sa.Column("loss", sa.Float, nullable=True),
    sa.PrimaryKeyConstraint("run_id", "item_id"),
    sa.Index("ix_label_quality_run_quality", "run_id", "quality"),
    sa.Index("ix_label_quality_run_loss", "run_id", "loss", "item_id"),
    sqlite_with_rowid=False,
)

# ---------------------------------------------------------------------------------------------
# Active learning: suggestion lists (migration 0005). Used by ``assay.active``.
# ---------------------------------------------------------------------------------------------

SUGGESTION_STATES = ("running", "ready", "superseded", "failed")

# One ranked list of items to label next in one layer, and how it was made: the strategy that
# ranked it (``requested`` is what the user asked for, e.g. "auto"), the model whose
# probabilities it used (NULL for strategies without one) and in ``notes`` any fallback or
# clamp, in words. At most one list per layer is being computed at a time (the partial unique
# index): a second ``suggest``/``refresh`` of the layer is refused while one runs. A new ready
# list supersedes the layer's older ones; which suggestions are done is not stored but read
# from ``label_heads`` (an item labeled in the layer is done), so it is always current.
suggestion_lists = sa.Table(
    "suggestion_lists",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("dataset_id", Id, sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    sa.Column("layer_id", Id, sa.ForeignKey("layers.id", ondelete="CASCADE"), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("requested", sa.String(32), nullable=False),
    sa.Column("strategy", sa.String(32), nullable=True),  # known once computed
    sa.Column("model", sa.String(300), nullable=True),
    sa.Column("featurizer", sa.String(100), nullable=True),
    sa.Column("batch", sa.Integer, nullable=False),
    sa.Column("seed", sa.Integer, nullable=False),
    sa.Column("filter", sa.Text, nullable=True),
    sa.Column("params", sa.JSON, nullable=True),  # what a refresh repeats: model, annotators
    sa.Column("n_pool", sa.Integer, nullable=True),
    sa.Column("n_labeled", sa.Integer, nullable=True),
    sa.Column("notes", sa.JSON, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    # Who computes a running list, so a list left running by a killed process can be told apart.
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("host", sa.String(255), nullable=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("finished_at", Timestamp(), nullable=True),
    sa.Index("ix_suggestion_lists_layer_state", "layer_id", "state", "id"),
    sa.Index(
        "uq_suggestion_lists_running",
        "layer_id",
        unique=True,
        sqlite_where=sa.text("state = 'running'"),
        postgresql_where=sa.text("state = 'running'"),
    ),
)

# The ranked items of a list: the score that put each there (higher = ask sooner) and why.
suggestions = sa.Table(
    "suggestions",
    metadata,
    sa.Column(
        "list_id", Id, sa.ForeignKey("suggestion_lists.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("rank", sa.Integer, nullable=False),  # 1 = ask first
    sa.Column("item_id", Id, sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("list_id", "rank"),
    sa.Index("ix_suggestions_list_item", "list_id", "item_id"),
    sqlite_with_rowid=False,
)

# ---------------------------------------------------------------------------------------------
# Background jobs and embedding maps (migration 0006). Used by ``assay.jobs`` and ``assay.maps``.
# ---------------------------------------------------------------------------------------------

# Long work started from the web app (training, cross-validation, scans, maps, suggestions):
# a row per job, claimed and run by a worker process so no request ever waits for it. The
# worker reports ``done``/``total``/``message`` and beats ``heartbeat_at``; a running job
# whose heartbeat stops (its worker was killed) is marked failed by whoever reads it next.
# ``cancel_requested`` is honoured at the job's next progress report. ``dataset_id`` is null
# only for an import that creates a new dataset, until it is done (migration 0007).
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("dataset_id", Id, sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("done", sa.BigInteger, nullable=True),
    sa.Column("total", sa.BigInteger, nullable=True),
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("host", sa.String(255), nullable=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("started_at", Timestamp(), nullable=True),
    sa.Column("heartbeat_at", Timestamp(), nullable=True),
    sa.Column("finished_at", Timestamp(), nullable=True),
    sa.Index("ix_jobs_state_id", "state", "id"),
    sa.Index("ix_jobs_dataset_id", "dataset_id", "id"),
)

MAP_STATES = ("running", "ready", "failed")

# A 2-D map of a dataset's items (UMAP of their feature vectors), for the embedding map page.
# Points are written once, when the map is computed; a new map of the dataset replaces the
# old one for display (the newest ready map is shown) without touching it.
maps = sa.Table(
    "maps",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("dataset_id", Id, sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("method", sa.String(32), nullable=False),
    sa.Column("featurizer", sa.String(100), nullable=False),
    sa.Column("filter", sa.Text, nullable=True),
    sa.Column("params", sa.JSON, nullable=True),
    sa.Column("n_points", sa.BigInteger, nullable=True),
    sa.Column("bounds", sa.JSON, nullable=True),  # [xmin, ymin, xmax, ymax]
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("finished_at", Timestamp(), nullable=True),
    sa.Index("ix_maps_dataset_state", "dataset_id", "state", "id"),
)

map_points = sa.Table(
    "map_points",
    metadata,
    sa.Column("map_id", Id, sa.ForeignKey("maps.id", ondelete="CASCADE"), nullable=False),
    sa.Column("item_id", Id, sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    sa.Column("x", sa.Float, nullable=False),
    sa.Column("y", sa.Float, nullable=False),
    sa.PrimaryKeyConstraint("map_id", "item_id"),
    sqlite_with_rowid=False,
)

# A set of items picked by hand (a lasso on the embedding map, a multi-select in the grid),
# kept so the grid, bulk labeling and the API can refer to it as the filter ``selection=ID``
# instead of sending thousands of ids in a URL. Selections are never changed once made.
selections = sa.Table(
    "selections",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("dataset_id", Id, sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    sa.Column("n_items", sa.BigInteger, nullable=False),
    sa.Column("source", sa.String(64), nullable=False),  # "map:3", "grid", "api"
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", Timestamp(), nullable=False),
)

selection_items = sa.Table(
    "selection_items",
    metadata,
    sa.Column(
        "selection_id", Id, sa.ForeignKey("selections.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("item_id", Id, sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    sa.PrimaryKeyConstraint("selection_id", "item_id"),
    sqlite_with_rowid=False,
)

# The reports of a dataset's data checks (``assay check``, ``assay.checks``), newest last: the
# overview shows the latest one (``ix_check_runs_dataset``) without running the checks again.
# ``report`` is the whole report as JSON (per expectation: status, message, the first failing
# items), small whatever the dataset's size since the items named are capped.
check_runs = sa.Table(
    "check_runs",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("dataset_id", Id, sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("n_failed", sa.Integer, nullable=False),
    sa.Column("report", sa.JSON, nullable=False),
    sa.Index("ix_check_runs_dataset", "dataset_id", "id"),
)
