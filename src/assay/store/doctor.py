"""``assay doctor``: check that a store is whole after a crash, a restore or a migration.

Each check is a query that must find nothing: the database's own integrity check, foreign keys,
every label-history chain (each label supersedes the previous label of the same layer and item,
and the head points at the last one), media without an item, leftovers of killed imports, and
review cases whose decided label is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store import schema as t
from assay.store.engine import Store
from assay.store.migrate import HEAD, current_revision

EXAMPLES = 5


@dataclass
class Check:
    """One check: its name, what it looked at, and what it found wrong (empty when fine)."""

    name: str
    description: str
    problems: list[str] = field(default_factory=list)
    n_problems: int = 0

    @property
    def ok(self) -> bool:
        return self.n_problems == 0


@dataclass
class Report:
    """Every check of a store."""

    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [
                {
                    "name": c.name,
                    "description": c.description,
                    "ok": c.ok,
                    "n_problems": c.n_problems,
                    "examples": c.problems,
                }
                for c in self.checks
            ],
        }


def _found(check: Check, conn: Connection, query: Any, describe: Any) -> None:
    """Run a query that should return no row; record how many it returns and a few of them."""
    count = conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    check.n_problems += int(count)
    if count:
        check.problems.extend(describe(r) for r in conn.execute(query.limit(EXAMPLES)))


def check_store(store: Store) -> Report:
    """Run every check (read-only) and return the report."""
    checks: list[Check] = []
    revision = current_revision(store)
    schema = Check("schema", f"the schema is at migration {HEAD}")
    if revision != HEAD:
        schema.n_problems = 1
        schema.problems.append(f"the store is at {revision!r}; run any assay command to migrate")
    checks.append(schema)
    with store.read() as conn:
        checks.append(_engine_integrity(conn))
        checks.append(_chains(conn))
        checks.append(_heads(conn))
        checks.append(_media(conn))
        checks.append(_imports(conn))
        checks.append(_cases(conn))
    return Report(checks)


def _engine_integrity(conn: Connection) -> Check:
    if conn.dialect.name == "sqlite":
        check = Check(
            "database", "SQLite integrity_check and foreign_key_check: pages, indexes, references"
        )
        rows = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check")]
        if rows != ["ok"]:
            check.n_problems += len(rows)
            check.problems.extend(rows[:EXAMPLES])
        fk = list(conn.exec_driver_sql("PRAGMA foreign_key_check"))
        check.n_problems += len(fk)
        check.problems.extend(
            f"{r[0]} row {r[1]} refers to a missing {r[2]} row" for r in fk[:EXAMPLES]
        )
        return check
    # PostgreSQL enforces foreign keys itself; check that no constraint was left NOT VALID.
    check = Check("database", "PostgreSQL: every foreign key is validated")
    names = list(
        conn.execute(
            sa.text(
                "SELECT conname FROM pg_constraint WHERE contype = 'f' AND NOT convalidated "
                "AND connamespace = current_schema()::regnamespace"
            )
        ).scalars()
    )
    check.n_problems = len(names)
    check.problems.extend(f"constraint {n} is not validated" for n in names[:EXAMPLES])
    return check


def _chains(conn: Connection) -> Check:
    """Every label that supersedes another supersedes the previous label of its layer and item,
    and no label is superseded twice (a fork in the history)."""
    check = Check("history", "each label supersedes the previous one of its layer and item")
    lab = t.labels
    prev = lab.alias("prev")
    wrong_target = (
        sa.select(lab.c.id, lab.c.supersedes)
        .join(prev, prev.c.id == lab.c.supersedes)
        .where(sa.or_(prev.c.layer_id != lab.c.layer_id, prev.c.item_id != lab.c.item_id))
    )
    _found(
        check, conn, wrong_target, lambda r: f"label {r[0]} supersedes label {r[1]} of another item"
    )
    forks = (
        sa.select(lab.c.supersedes, sa.func.count())
        .where(lab.c.supersedes.is_not(None))
        .group_by(lab.c.supersedes)
        .having(sa.func.count() > 1)
    )
    _found(check, conn, forks, lambda r: f"label {r[0]} is superseded {r[1]} times")
    # Exactly one label per (layer, item) starts a chain.
    starts = (
        sa.select(lab.c.layer_id, lab.c.item_id, sa.func.count())
        .where(lab.c.supersedes.is_(None))
        .group_by(lab.c.layer_id, lab.c.item_id)
        .having(sa.func.count() > 1)
    )
    _found(
        check,
        conn,
        starts,
        lambda r: f"layer {r[0]}, item {r[1]}: {r[2]} labels start a history (one should)",
    )
    return check


def _heads(conn: Connection) -> Check:
    """The head of each (layer, item) is its newest label, with the same class."""
    check = Check("heads", "the current label of each item is the last of its history")
    h, lab = t.label_heads, t.labels
    newest = (
        sa.select(lab.c.layer_id, lab.c.item_id, sa.func.max(lab.c.id).label("last"))
        .group_by(lab.c.layer_id, lab.c.item_id)
        .subquery()
    )
    stale = (
        sa.select(newest.c.layer_id, newest.c.item_id, newest.c.last, h.c.label_id)
        .select_from(newest)
        .outerjoin(h, sa.and_(h.c.layer_id == newest.c.layer_id, h.c.item_id == newest.c.item_id))
        .where(h.c.label_id.is_distinct_from(newest.c.last))
    )
    _found(
        check,
        conn,
        stale,
        lambda r: f"layer {r[0]}, item {r[1]}: head is label {r[3]}, newest is {r[2]}",
    )
    wrong_class = (
        sa.select(h.c.layer_id, h.c.item_id)
        .join(lab, lab.c.id == h.c.label_id)
        .where(lab.c.class_id.is_distinct_from(h.c.class_id))
    )
    _found(check, conn, wrong_class, lambda r: f"layer {r[0]}, item {r[1]}: head has another class")
    return check


def _media(conn: Connection) -> Check:
    check = Check("media", "every stored image belongs to an item")
    m = t.media_blobs
    orphans = (
        sa.select(m.c.item_id)
        .outerjoin(t.items, t.items.c.id == m.c.item_id)
        .where(t.items.c.id.is_(None))
    )
    _found(check, conn, orphans, lambda r: f"media of missing item {r[0]}")
    return check


def _imports(conn: Connection) -> Check:
    """No half-written import is visible: hidden datasets and staged rows belong to imports
    that are still running (the next import clears those whose process died)."""
    check = Check("imports", "no partial import is visible")
    visible_partial = sa.select(t.datasets.c.name).where(
        t.datasets.c.state == "ready",
        t.datasets.c.import_id.in_(sa.select(t.imports.c.id).where(t.imports.c.state == "failed")),
    )
    _found(check, conn, visible_partial, lambda r: f"dataset {r[0]} comes from a failed import")
    return check


def _cases(conn: Connection) -> Check:
    check = Check("review", "every resolved case has its decided label")
    c = t.review_cases
    missing = (
        sa.select(c.c.id)
        .outerjoin(t.labels, t.labels.c.id == c.c.resolved_label_id)
        .where(c.c.state == "resolved", t.labels.c.id.is_(None))
    )
    _found(check, conn, missing, lambda r: f"case {r[0]} is resolved but its label is missing")
    return check
