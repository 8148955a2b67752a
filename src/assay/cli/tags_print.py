"""How the CLI prints what the library says about tag layers (multi-label): a layer's
statistics (``assay stats --layer``) and the agreement of tag layers (``assay agreement``)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from assay.cli.render import console, counts_table, fmt

__all__ = [
    "print_tag_agreement",
    "print_tag_evaluation",
    "print_tag_issue_rows",
    "print_tag_layer",
]


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def print_tag_layer(s: dict[str, Any]) -> None:
    """One tag layer's statistics: counts, tag frequencies, tags per item, co-occurrence."""
    per = s["tags_per_item"]
    mean = "" if per["mean"] is None else f" (mean {per['mean']:.2f} per item, max {per['max']})"
    console.print(
        f"[bold]Tags in layer '{s['name']}'[/bold]: {fmt(s['n_tags'])} tags on "
        f"{fmt(s['n_annotated'])} annotated items{mean}; {fmt(s['n_empty'])} with no tag, "
        f"{fmt(s['n_not_annotated'])} not annotated"
    )
    console.print(counts_table(f"Tag frequencies in '{s['name']}'", s["tags"], s["n_annotated"]))
    console.print(counts_table(f"Tags per item in '{s['name']}'", per["counts"]))
    co = s["cooccurrence"]
    if len(co["tags"]) > 1:
        table = Table(title=f"Co-occurrence in '{s['name']}'", title_justify="left")
        table.add_column("")
        for tag in co["tags"]:
            table.add_column(tag, justify="right")
        for tag, row in zip(co["tags"], co["counts"], strict=True):
            table.add_row(tag, *(fmt(n) for n in row))
        console.print(table)


def print_tag_agreement(report: dict[str, Any]) -> None:
    """The agreement of tag layers: overall, per tag, per pair and per layer."""
    console.print(
        f"{fmt(report['n_items'])} items labeled, {fmt(report['n_items_compared'])} by two or "
        f"more of: {', '.join(report['layers'])}"
    )
    summary = Table(title="Agreement of tag layers", show_header=False)
    summary.add_row("Krippendorff's alpha (every item x tag)", _num(report["alpha"]))
    summary.add_row("mean Cohen's kappa (tags x pairs)", _num(report["mean_kappa"]))
    summary.add_row("mean Jaccard of two layers' sets", _num(report["mean_jaccard"]))
    console.print(summary)
    per_tag = Table(title="Per tag", title_justify="left", show_edge=False)
    for col in ("tag", "yes", "alpha", "mean kappa", "positive agreement"):
        per_tag.add_column(col, justify="left" if col == "tag" else "right")
    for row in report["per_tag"]:
        per_tag.add_row(
            row["name"], fmt(row["n_yes"]), _num(row["alpha"]), _num(row["mean_kappa"]),
            _num(row["positive_agreement"]),
        )  # fmt: skip
    console.print(per_tag)
    pairs = Table(title="Pairs of layers", title_justify="left", show_edge=False)
    for col in ("a", "b", "items", "same set", "Jaccard", "mean kappa"):
        pairs.add_column(col, justify="left" if col in ("a", "b") else "right")
    for p in report["pairwise"]:
        pairs.add_row(
            p["a"], p["b"], fmt(p["n_items"]), _num(p["exact"]), _num(p["jaccard"]),
            _num(p["mean_kappa"]),
        )  # fmt: skip
    console.print(pairs)
    if report.get("layer_quality"):
        quality = Table(
            title=f"Each layer against {report['reference']}", title_justify="left",
            show_edge=False,
        )  # fmt: skip
        for col in ("layer", "items", "F1", "same set", "missed", "added"):
            quality.add_column(col, justify="left" if col == "layer" else "right")
        for q in report["layer_quality"]:
            quality.add_row(
                q["layer"], fmt(q["n_items"]), _num(q["f1"]), _num(q["exact"]),
                fmt(q["missed"]), fmt(q["added"]),
            )  # fmt: skip
        console.print(quality)
        if report.get("reference_rule"):
            console.print(report["reference_rule"], style="dim")


def print_tag_evaluation(r: dict[str, Any]) -> None:
    """Tag predictions against a truth layer: the summary line and the per-tag table."""
    where = f" where {r['filter']}" if r.get("filter") else ""
    console.print(
        f"[bold]{r['source']}[/bold] against {r['reference']!r}{where}: {fmt(r['n_items'])} "
        f"items, micro F1 {r['micro_f1']:.4f}, macro F1 {r['macro_f1']:.4f}, subset accuracy "
        f"{r['subset_accuracy']:.4f}, Hamming loss {r['hamming_loss']:.4f}"
    )
    table = Table(title="Per tag", title_justify="left", show_edge=False)
    for col in ("tag", "precision", "recall", "F1", "support", "predicted", "AP"):
        table.add_column(col, justify="left" if col == "tag" else "right")
    for row in r["per_tag"]:
        table.add_row(
            row["tag"], _num(row["precision"]), _num(row["recall"]), _num(row["f1"]),
            fmt(row["support"]), fmt(row["predicted"]), _num(row.get("average_precision")),
        )  # fmt: skip
    console.print(table)


def print_tag_issue_rows(
    run: Any, rows: list[dict[str, Any]], next_page: str | None, show_all: bool
) -> None:
    """Items of a tag search, most suspect first, with their suspect tags in words."""
    counts = ", ".join(f"{n} {k}" for k, n in (run.n_suspects or {}).items())
    table = Table(
        title=f"Likely mislabeled tags{', whole ranking' if show_all else ''} (run "
        f"{run.run_name}, {run.layer} against {run.model_layer}, method {run.method}; "
        f"{counts})",
        title_justify="left",
    )
    for col in ("#", *(["flag"] if show_all else []), "key", "quality", "suspect tags"):
        table.add_column(col, justify="right" if col in ("#", "quality") else "left")
    for n, r in enumerate(rows, 1):
        table.add_row(
            str(r.get("rank") or n),
            *(["flagged" if r["is_issue"] else ""] if show_all else []),
            str(r["key"]),
            f"{r['quality']:.3f}",
            "; ".join(s["note"] for s in r.get("suspects") or []),
        )
    console.print(table)
    if not rows:
        console.print("Nothing flagged." if not show_all else "Nothing more.")
    elif next_page is not None:
        console.print(f"More: assay issues{' --all' if show_all else ''} --after {next_page}")
