"""Terminal output: progress bars and the tables and bar charts of an inventory."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from assay.progress import ProgressCallback

# Wide enough for the statistics tables when the output is a pipe or a file.
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True)
BAR_WIDTH = 30
REFRESH_S = 0.1


@contextmanager
def progress_bar(description: str) -> Iterator[ProgressCallback]:
    """A terminal progress bar (on stderr) driven by a ProgressCallback."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
        disable=not err_console.is_terminal,
        # No refresh thread: an import forks a writer process only from a single-threaded
        # process (see assay.ingest.sinks), so the bar refreshes when progress is reported.
        auto_refresh=False,
    ) as bar:
        task = bar.add_task(description, total=None)
        last = 0.0

        def update(done: int, total: int | None, message: str) -> None:
            nonlocal last
            bar.update(task, completed=done, total=total, description=message or description)
            if time.monotonic() - last > REFRESH_S or (total is not None and done >= total):
                last = time.monotonic()
                bar.refresh()

        yield update


def print_json(value: Any) -> None:
    """Print JSON for scripts (datetimes as ISO 8601)."""
    sys.stdout.write(json.dumps(value, indent=2, default=_default, ensure_ascii=False) + "\n")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """A horizontal bar of block characters for a fraction in [0, 1]."""
    fraction = max(0.0, min(1.0, fraction))
    full, rest = divmod(round(fraction * width * 8), 8)
    return "█" * full + ("▏▎▍▌▋▊▉"[rest - 1] if rest else "")


def fmt(value: Any) -> str:
    """A number in a short, readable form."""
    if value is None:
        return "—"
    if isinstance(value, float):
        if value != value:
            return "nan"
        if 0 < abs(value) < 1e-3 or abs(value) >= 1e15:
            return f"{value:.3g}"
        if abs(value) >= 1e6:  # keep the digits that vary: 1,000,000,003.2, not 1e+09
            return f"{value:,.1f}"
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def counts_table(title: str, counts: dict[str, int], total: int | None = None) -> Table:
    """A table of counts with their share and a bar."""
    total = total or sum(counts.values()) or 1
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column("value")
    table.add_column("count", justify="right")
    table.add_column("share", justify="right")
    table.add_column("")
    top = max(counts.values(), default=1) or 1
    for key, n in counts.items():
        table.add_row(str(key), fmt(n), f"{100 * n / total:.1f}%", bar(n / top))
    return table


def summary_table(title: str, summaries: dict[str, dict[str, Any]]) -> Table:
    """Per-feature statistics, one row per feature."""
    table = Table(title=title, title_justify="left", show_edge=False)
    cols = ("count", "missing", "mean", "std", "min", "p25", "p50", "p75", "max", "distinct")
    table.add_column("feature")
    for col in cols:
        table.add_column(col, justify="right")
    for name, s in summaries.items():
        q = s.get("quantiles", {})
        values = {
            **s,
            "p25": q.get("p25", s.get("p25")),
            "p50": q.get("p50", s.get("p50")),
            "p75": q.get("p75", s.get("p75")),
        }
        table.add_row(name, *(fmt(values.get(c)) for c in cols))
    return table


def print_inventory(inv: dict[str, Any]) -> None:
    """The inventory as tables and bar charts."""
    where = f" where {inv['filter']}" if inv.get("filter") else ""
    console.print(f"[bold]{inv['dataset']}[/bold]{where}: {fmt(inv['n_items'])} items")
    console.print(counts_table("Items by kind", inv["kinds"]))
    console.print(counts_table("Items by split", inv["splits"]))
    for layer in inv["layers"]:
        if "boxes" in layer:  # box layers: their own section (cli.stats_cmd.print_box_layer)
            continue
        title = (
            f"Class balance in layer '{layer['name']}' ({fmt(layer['n_labeled'])} labeled, "
            f"coverage {100 * layer['coverage']:.1f}%)"
        )
        console.print(counts_table(title, layer["classes"]))
        console.print(counts_table(f"Label activity in '{layer['name']}'", layer["authors"]))
    if inv.get("features"):
        console.print(summary_table("Numeric features", inv["features"]))
    for name, counts in inv.get("categorical", {}).items():
        console.print(counts_table(f"Values of '{name}' (top 10)", dict(list(counts.items())[:10])))
    images = inv.get("images")
    if images:
        numeric = {k: v for k, v in images.items() if k not in ("sizes", "channels")}
        console.print(summary_table("Images", numeric))
        console.print(
            counts_table("Image sizes (width x height)", dict(list(images["sizes"].items())[:10]))
        )
    if inv.get("text"):
        console.print(summary_table("Text", inv["text"]))
    dup = inv["duplicates"]
    console.print(
        f"Exact duplicates: {fmt(dup['n_items'])} items in {fmt(dup['n_groups'])} groups"
        + (f" (e.g. {', '.join(dup['examples'][0][:5])})" if dup["examples"] else "")
    )


def print_comparison(cmp: dict[str, Any]) -> None:
    """Two slices side by side: class balance and drift."""
    a, b = cmp["a"], cmp["b"]
    console.print(
        f"[bold]A[/bold] {a['dataset']} {a['filter'] or '(all)'}: {fmt(a['n_items'])} items    "
        f"[bold]B[/bold] {b['dataset']} {b['filter'] or '(all)'}: {fmt(b['n_items'])} items"
    )
    for layer, d in cmp["class_balance"].items():
        table = Table(
            title=f"Class balance in '{layer}': PSI {d['psi']:.3f}, total variation "
            f"{d['total_variation']:.3f}",
            title_justify="left",
            show_edge=False,
        )
        for col in ("class", "A", "A share", "B", "B share"):
            table.add_column(col, justify="left" if col == "class" else "right")
        na, nb = sum(d["a"].values()) or 1, sum(d["b"].values()) or 1
        for cls in sorted(set(d["a"]) | set(d["b"]), key=lambda c: -d["a"].get(c, 0)):
            ca, cb = d["a"].get(cls, 0), d["b"].get(cls, 0)
            table.add_row(cls, fmt(ca), f"{100 * ca / na:.1f}%", fmt(cb), f"{100 * cb / nb:.1f}%")
        console.print(table)
    if cmp["drift"]:
        table = Table(
            title="Drift per feature (PSI: <0.1 none, 0.1-0.25 moderate, >0.25 large)",
            title_justify="left",
            show_edge=False,
        )
        for col in ("feature", "mean A", "mean B", "PSI", ""):
            table.add_column(col, justify="left" if col == "feature" else "right")
        for name, d in cmp["drift"].items():
            psi = d["psi"]
            verdict = "large" if psi > 0.25 else "moderate" if psi > 0.1 else ""
            table.add_row(name, fmt(d["mean_a"]), fmt(d["mean_b"]), f"{psi:.3f}", verdict)
        console.print(table)
