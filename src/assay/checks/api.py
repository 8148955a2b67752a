"""Write a dataset's expectations from its data, run them, keep and read the reports.

``run_checks`` builds one :class:`~assay.checks.base.Context`: the layers, then one inventory
scan (:func:`assay.stats.inventory.aggregate`) that also feeds the checks' row aggregators,
then runs every expectation in file order. A check that cannot run says why and is
``skipped`` (never passed). Reports are saved in the ``check_runs`` table; the web's overview
reads the latest with :func:`latest_report`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.checks.base import CHECKS, Context, Outcome, Params
from assay.checks.expectations import Expectation, expectations_path, parse, render
from assay.errors import AssayError, ChecksFailed, Conflict, DataFormatError, InvalidParameter
from assay.stats.inventory import aggregate
from assay.stats.scan import InventoryAggregate
from assay.store import queries
from assay.store import schema as t

if TYPE_CHECKING:
    from assay.handle import DatasetHandle

__all__ = [
    "Report",
    "Result",
    "import_gate",
    "init_expectations",
    "latest_report",
    "load_expectations",
    "run_checks",
]


@dataclass
class Result:
    """One expectation's outcome, as reports show it (see docs/checks-api.md)."""

    name: str
    check: str
    layer: str | None
    status: str  # "pass", "fail" or "skipped"
    message: str
    n_items: int
    items: list[dict[str, Any]]  # the first failing items: {"id", "key"}
    line: int
    #: What the check read (``Check.reads``): who may see the result follows from it
    #: (:meth:`assay.access.Viewer.can_see_check`). Reports saved before it say "labels".
    reads: str = "labels"


@dataclass
class Report:
    """Every expectation's result, with when the checks ran."""

    dataset: str
    created_at: datetime
    source: str
    results: list[Result] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "fail": 0, "skipped": 0}
        for r in self.results:
            out[r.status] += 1
        return out

    @property
    def passed(self) -> bool:
        return not any(r.status == "fail" for r in self.results)

    @property
    def failures(self) -> list[Result]:
        return [r for r in self.results if r.status == "fail"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "created_at": self.created_at.isoformat(),
            "source": self.source,
            "passed": self.passed,
            "counts": self.counts,
            "results": [asdict(r) for r in self.results],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        return cls(
            dataset=data["dataset"],
            created_at=datetime.fromisoformat(data["created_at"]),
            source=data["source"],
            results=[Result(**r) for r in data["results"]],
        )


# -- the context -----------------------------------------------------------------------------


def _context(dataset: DatasetHandle) -> Context:
    with dataset.store.read() as conn:
        layers = {row.name: row for row in queries.list_layers(conn, dataset.id)}
    return Context(dataset, layers, InventoryAggregate())


def _scan(ctx: Context, expectations: list[Expectation] | None, n_jobs: int | None) -> None:
    """Fill ``ctx.state`` (and the row aggregators the expectations ask for) in one scan."""
    chunked: dict[str, Any] = {}
    if expectations:
        by_check: dict[str, list[Params]] = {}
        for e in expectations:
            by_check.setdefault(e.check.name, []).append(e.params)
        for name, params in by_check.items():
            agg = CHECKS[name].chunk(ctx, params)
            if agg is not None:
                chunked[name] = agg
    state = aggregate(ctx.dataset, n_jobs=n_jobs, extra=tuple(chunked.values()))
    ctx.state = state
    ctx.chunks = dict(zip(chunked, state.extra, strict=True))


def load_expectations(dataset: DatasetHandle, ctx: Context | None = None) -> list[Expectation]:
    """The dataset's expectations, parsed and checked (DataFormatError naming the line);
    InvalidParameter when the dataset has no expectations file yet."""
    path = expectations_path(dataset)
    if not path.is_file():
        raise InvalidParameter(
            f"Dataset {dataset.name!r} has no expectations ({path} does not exist). Infer "
            f"them from the data with `assay check --init --dataset {dataset.name}`."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{path}: not UTF-8 text ({exc}).") from exc
    return parse(text, path, ctx or _context(dataset))


# -- init ------------------------------------------------------------------------------------


def init_expectations(
    dataset: DatasetHandle, *, overwrite: bool = False, n_jobs: int | None = None
) -> Path:
    """Infer expectations from the data as it is and write them to
    ``<project>/checks/<dataset>.toml``; Conflict if the file exists (unless ``overwrite``)."""
    path = expectations_path(dataset)
    if path.exists() and not overwrite:
        raise Conflict(
            f"{path} exists already; edit it, or write it again from the data with --force."
        )
    ctx = _context(dataset)
    _scan(ctx, None, n_jobs)
    tables: list[tuple[str, dict[str, Any]]] = []
    names: set[str] = set()
    for check in CHECKS.values():
        for params in check.infer(ctx):
            base = "-".join(
                str(x)
                for x in (params.get("layer"), check.name, params.get("field"))
                if x is not None
            )
            name, k = base, 2
            while name in names:
                name, k = f"{base}-{k}", k + 1
            names.add(name)
            tables.append((name, {"check": check.name, **params}))
    text = render(dataset.name, tables)
    parse(text, path, ctx)  # what init writes, check reads: never a file it refuses
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- run -------------------------------------------------------------------------------------


def run_checks(dataset: DatasetHandle, *, save: bool = True, n_jobs: int | None = None) -> Report:
    """Run every expectation of the dataset's file; save the report (``save``) and return it."""
    ctx = _context(dataset)
    expectations = load_expectations(dataset, ctx)
    _scan(ctx, expectations, n_jobs)
    report = Report(dataset.name, datetime.now(UTC), str(expectations_path(dataset)))
    for e in expectations:
        try:
            outcome = e.check.run(ctx, e.params)
        except AssayError as exc:  # a check that cannot run is skipped, with the reason
            outcome = Outcome.skipped(f"could not run: {exc}")
        report.results.append(
            Result(
                name=e.name,
                check=e.check.name,
                layer=e.layer,
                status=outcome.status,
                message=outcome.message,
                n_items=outcome.n_items,
                items=_keys(ctx, outcome.item_ids),
                line=e.line,
                reads=e.check.reads,
            )
        )
    if save:
        _save(dataset, report)
    return report


def _keys(ctx: Context, ids: list[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    i = t.items.c
    with ctx.read() as conn:
        keys = dict(conn.execute(sa.select(i.id, i.external_key).where(i.id.in_(ids))).all())
    return [{"id": int(x), "key": keys.get(x)} for x in ids]


def _save(dataset: DatasetHandle, report: Report) -> None:
    with dataset.store.write() as conn:
        conn.execute(
            t.check_runs.insert().values(
                dataset_id=dataset.id,
                created_at=report.created_at,
                passed=report.passed,
                n_failed=report.counts["fail"],
                report=report.to_dict(),
            )
        )


def latest_report(dataset: DatasetHandle) -> Report | None:
    """The dataset's latest saved report (None if its checks never ran): one indexed read."""
    c = t.check_runs.c
    with dataset.store.read() as conn:
        data = conn.execute(
            sa.select(c.report).where(c.dataset_id == dataset.id).order_by(c.id.desc()).limit(1)
        ).scalar()
    return None if data is None else Report.from_dict(data)


# -- gating imports --------------------------------------------------------------------------


class _InTransaction:
    """A store whose reads (and writes) are one open transaction: the checks of a gated
    import read the rows the import is about to publish, before its commit."""

    def __init__(self, store: Any, conn: Connection) -> None:
        self._store, self._conn = store, conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        yield self._conn

    @contextlib.contextmanager
    def write(self, **_: Any) -> Iterator[Connection]:
        yield self._conn


@dataclass
class _Project:
    root: Path


@dataclass
class _StagedDataset:
    """The dataset as the publishing transaction sees it (what the checks take)."""

    id: int
    name: str
    project: _Project
    store: Any


def import_gate(root: Path, store: Any) -> Callable[[Connection, int], None]:
    """What an import told to check (``--check``) runs in its publishing transaction: the
    dataset's checks on the data as it would be published; ChecksFailed (which rolls the
    transaction back, so nothing is published) when one fails."""

    def gate(conn: Connection, dataset_id: int) -> None:
        name = conn.execute(
            sa.select(t.datasets.c.name).where(t.datasets.c.id == dataset_id)
        ).scalar_one()
        staged = _StagedDataset(dataset_id, name, _Project(root), _InTransaction(store, conn))
        report = run_checks(cast("DatasetHandle", staged), save=False, n_jobs=1)
        if not report.passed:
            lines = [
                f"{r.name} (line {r.line}): {r.message}"
                + (f"; items {', '.join(str(x['key']) for x in r.items[:5])}" if r.items else "")
                for r in report.failures
            ]
            raise ChecksFailed(
                f"Not imported: {len(lines)} check(s) of dataset {name!r} failed on the data "
                "as it would be, and the dataset is left as it was. " + " | ".join(lines)
            )

    return gate
