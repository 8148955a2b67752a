"""``assay agreement``, ``assay consensus``, ``assay review ...``, ``assay snapshot ...`` and
``assay diff``: discrepancies among labels, and labels versioned like code."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli.app import app, handle_errors
from assay.cli.label_cmd import AuthorOpt, DatasetOpt, JsonOpt, build_spec, dataset_of, item_ref
from assay.cli.render import bar, console, fmt, print_json, progress_bar
from assay.cli.tags_print import print_tag_agreement
from assay.errors import InvalidParameter
from assay.labels.combine import ConsensusSpec
from assay.quality.scores import format_quality, format_score
from assay.review.evidence import box_case_text
from assay.review.scan import ReviewScanSpec

review_app = typer.Typer(help="The review queue: scan, list, flag, escalate, resolve, dismiss.")
snapshot_app = typer.Typer(help="Snapshots of the labels: create and list.")
app.add_typer(review_app, name="review")
app.add_typer(snapshot_app, name="snapshot")

LayersOpt = Annotated[
    str | None,
    typer.Option(help="Comma-separated layers (default: the human layers)."),
]
FilterOpt = Annotated[
    str | None, typer.Option("--filter", "-f", help="A slice, e.g. 'split=test'.")
]


def _layers(text: str | None) -> list[str] | None:
    return [p.strip() for p in text.split(",") if p.strip()] if text else None


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


@app.command()
@handle_errors
def agreement(
    layers: LayersOpt = None,
    filter: FilterOpt = None,
    reference: Annotated[
        str | None,
        typer.Option(help="Measure annotators against this layer or consensus method."),
    ] = None,
    dataset: DatasetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Agreement among annotation layers: percent agreement, Cohen's kappa per pair, Fleiss'
    kappa, Krippendorff's alpha, per-class agreement and each annotator against a reference;
    for box layers, F1 at IoU 0.5, mean IoU and class agreement of matched boxes per pair and
    per class.

    Example: assay agreement --layers alice,bob,carol --filter split=test
    """
    ds = dataset_of(dataset)
    report = ds.agreement(_layers(layers), filter=filter, reference=reference).to_dict()
    if as_json:
        print_json(report)
        return
    if report.get("kind") == "boxes":
        _box_agreement(report)
        return
    if report.get("kind") == "tags":
        print_tag_agreement(report)
        return
    if report.get("kind") == "number":
        from assay.cli.numbers_render import print_number_agreement

        print_number_agreement(report)
        return
    if report.get("kind") == "spans":
        _span_agreement(report)
        return
    console.print(
        f"{fmt(report['n_items'])} items labeled, {fmt(report['n_items_with_2plus_labels'])} by "
        f"two or more of: {', '.join(report['annotators'])}"
    )
    summary = Table(title="Agreement", show_header=False)
    summary.add_row("percent agreement (pairwise)", _num(report["percent_agreement"]))
    summary.add_row("items where all agree", _num(report["full_agreement"]))
    fleiss = report["fleiss"]
    summary.add_row(
        "Fleiss' kappa",
        f"{_num(fleiss['kappa'])}  ({fmt(fleiss['n_items_used'])} items labeled by every layer)",
    )
    summary.add_row("Krippendorff's alpha (nominal)", _num(report["krippendorff_alpha"]))
    console.print(summary)
    pairs = Table(title="Pairs")
    for col in ("a", "b", "items", "agreement", "Cohen's kappa"):
        pairs.add_column(col)
    for p in report["pairwise"]:
        pairs.add_row(
            p["a"],
            p["b"],
            fmt(p["n_common"]),
            _num(p["percent_agreement"]),
            _num(p["cohen_kappa"]),
        )
    console.print(pairs)
    classes = Table(title="Per class (specific agreement)")
    for col in ("class", "labels", "agreement", ""):
        classes.add_column(col)
    for c in report["per_class"]:
        value = c["specific_agreement"]
        classes.add_row(c["name"], fmt(c["support"]), _num(value), bar(value or 0.0))
    console.print(classes)
    if report["annotator_quality"]:
        quality = Table(title="Annotators against the reference", caption=report["reference_rule"])
        for col in ("layer", "labeled", "compared", "ties", "accuracy", "Cohen's kappa"):
            quality.add_column(col)
        for q in report["annotator_quality"]:
            quality.add_row(
                q["annotator"],
                fmt(q["n_labeled"]),
                fmt(q["n_compared"]),
                fmt(q["n_ties"]),
                _num(q["accuracy"]),
                _num(q["cohen_kappa"]),
            )
        console.print(quality)


def _box_agreement(report: dict[str, Any]) -> None:
    """``assay agreement`` of box layers: pairs (F1 at IoU 0.5, mean IoU, class agreement),
    classes, and each layer against its reference."""
    console.print(
        f"{fmt(report['n_images'])} images labeled, {fmt(report['n_images_compared'])} by two "
        f"or more of: {', '.join(report['layers'])}. Boxes matched at IoU "
        f"{report['iou_threshold']}: mean F1 {_num(report['mean_f1'])}, mean IoU "
        f"{_num(report['mean_iou'])}, class agreement {_num(report['class_agreement'])}."
    )
    pairs = Table(title="Pairs of box layers")
    for col in ("a", "b", "images", "boxes a", "boxes b", "matched", "F1@0.5", "mean IoU",
                "same class", "Cohen's kappa"):  # fmt: skip
        pairs.add_column(col)
    for p in report["pairwise"]:
        pairs.add_row(
            p["a"], p["b"], fmt(p["n_images"]), fmt(p["n_boxes_a"]), fmt(p["n_boxes_b"]),
            fmt(p["n_matched"]), _num(p["f1"]), _num(p["mean_iou"]),
            _num(p["class_agreement"]), _num(p["cohen_kappa"]),
        )  # fmt: skip
    console.print(pairs)
    classes = Table(title="Per class (F1 at IoU 0.5, over every pair)")
    for col in ("class", "boxes", "F1@0.5", "mean IoU", ""):
        classes.add_column(col)
    for c in report["per_class"]:
        classes.add_row(
            c["name"], fmt(c["n_boxes"]), _num(c["f1"]), _num(c["mean_iou"]), bar(c["f1"] or 0.0)
        )
    console.print(classes)
    if report["layer_quality"]:
        quality = Table(title=f"Layers against {report['reference']}",
                        caption=report["reference_rule"])  # fmt: skip
        for col in ("layer", "images", "boxes", "reference boxes", "precision", "recall",
                    "F1@0.5", "mean IoU", "same class"):  # fmt: skip
            quality.add_column(col)
        for q in report["layer_quality"]:
            quality.add_row(
                q["layer"], fmt(q["n_images"]), fmt(q["n_boxes"]), fmt(q["n_reference_boxes"]),
                _num(q["precision"]), _num(q["recall"]), _num(q["f1"]), _num(q["mean_iou"]),
                _num(q["class_agreement"]),
            )  # fmt: skip
        console.print(quality)


@app.command()
@handle_errors
def consensus(
    method: Annotated[
        str,
        typer.Option(
            help="majority-vote, dawid-skene or crowdlab; wbf or majority for box layers."
        ),
    ] = ConsensusSpec.default("method"),
    layers: LayersOpt = None,
    model_layer: Annotated[
        str | None, typer.Option(help="A model layer with probabilities (needed by crowdlab).")
    ] = None,
    into: Annotated[
        str, typer.Option(help="The consensus layer to write.")
    ] = ConsensusSpec.default("into"),
    dry_run: Annotated[bool, typer.Option(help="Compute and show, write nothing.")] = False,
    filter: FilterOpt = None,
    dataset: DatasetOpt = None,
    author: AuthorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Combine annotators into one label per item with a confidence, and write it to a
    consensus layer (only labels that changed get a new row).

    Example: assay consensus --method dawid-skene --layers alice,bob,carol
    """
    spec = build_spec(
        ConsensusSpec,
        {"method": method, "layers": _layers(layers), "model_layer": model_layer,
         "filter": filter, "into": into},
    )  # fmt: skip
    if dry_run:
        spec = spec.model_copy(update={"into": None})
    ds = dataset_of(dataset)
    with console.status(f"computing the {spec.method} consensus"):
        result = ds.consensus(spec, author=author)
    summary = {**result.summary(), "into": spec.into}
    if as_json:
        print_json(summary)
        return
    where = "computed (dry run)" if dry_run else f"written to layer {into!r}"
    boxes = f" ({fmt(summary['n_boxes'])} boxes)" if "n_boxes" in summary else ""
    console.print(
        f"{result.method} consensus for {fmt(summary['n_items'])} items{boxes} {where}; mean "
        "confidence "
        f"{_num(summary['mean_confidence'])}, {fmt(summary['n_low_confidence'])} below "
        f"{summary['low_confidence_threshold']}. From layers: {', '.join(summary['layers'])}."
    )
    table = Table(title="Annotator quality")
    table.add_column("layer")
    table.add_column("quality")
    table.add_column("")
    for name, q in summary["annotator_quality"].items():
        table.add_row(name, _num(q), bar(q or 0.0))
    console.print(table)


@review_app.command("scan")
@handle_errors
def review_scan(
    layers: LayersOpt = None,
    threshold: Annotated[
        float, typer.Option(help="Open a case where consensus confidence is below this.")
    ] = ReviewScanSpec.default("threshold"),
    consensus_layer: Annotated[
        str, typer.Option(help="The consensus layer to check.")
    ] = ReviewScanSpec.default("consensus_layer"),
    filter: FilterOpt = None,
    issues: Annotated[
        bool,
        typer.Option(
            "--issues",
            help="Instead, open cases for likely mislabeled items, outliers and near-duplicates "
            "(from the latest `assay issues` search; searches first if there is none).",
        ),
    ] = False,
    limit: Annotated[
        int | None, typer.Option(help="With --issues: at most this many new cases per reason.")
    ] = None,
    top: Annotated[
        int | None,
        typer.Option(
            help="With --issues: mislabel cases for the N first items of the whole label "
            "ranking (the flagged ones, then the lowest quality past the cut), not only the "
            "flagged ones.",
            metavar="N",
        ),
    ] = None,
    dataset: DatasetOpt = None,
    author: AuthorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Open cases where annotators disagree or the consensus is unsure (an item with an
    active case for the same reason is skipped); with --issues, cases for label issues.

    Example: assay review scan --issues --top 100
    """
    ds = dataset_of(dataset)
    if issues:
        _scan_issues(ds, limit=limit, top=top, author=author, as_json=as_json)
        return
    if top is not None:
        raise InvalidParameter("--top goes with --issues (the label-issue ranking).")
    spec = build_spec(
        ReviewScanSpec,
        {"layers": _layers(layers), "consensus_layer": consensus_layer,
         "threshold": threshold, "filter": filter},
    )  # fmt: skip
    with progress_bar("scanning"):
        result = ds.review_scan(spec, actor=author).to_dict()
    if as_json:
        print_json(result)
        return
    console.print(
        f"Disagreements: {fmt(result['disagreement_found'])} found, "
        f"{fmt(result['disagreement_opened'])} new cases. Low consensus confidence: "
        f"{fmt(result['low_confidence_found'])} found, "
        f"{fmt(result['low_confidence_opened'])} new cases."
    )


def _scan_issues(
    ds: Any, *, limit: int | None, top: int | None, author: str | None, as_json: bool
) -> None:
    """``review scan --issues``: the latest label-issue search's findings into the queue."""
    from assay.cli.quality_cmd import scan_if_needed
    from assay.quality.cases import check_top

    check_top(top)  # before a search runs or anything is opened
    run = scan_if_needed(ds, force=False, author=author)
    result = ds.quality.to_review(run.run_id, limit=limit, top=top, actor=author)
    if as_json:
        print_json(result)
        return
    console.print(
        "; ".join(
            f"{reason.capitalize()}: {fmt(result[reason]['found'])} found, "
            f"{fmt(result[reason]['opened'])} new cases"
            for reason in ("mislabel", "outlier", "duplicate")
        )
        + f" (run {result['run']})."
    )


@review_app.command("list")
@handle_errors
def review_list(
    state: Annotated[
        str | None, typer.Option(help="open, escalated, resolved or dismissed (comma-separated).")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="disagreement, low_confidence, flagged...")] = (
        None
    ),
    label: Annotated[str | None, typer.Option("--class", help="Cases about this class.")] = None,
    assignee: Annotated[str | None, typer.Option(help="Cases assigned to this reviewer.")] = None,
    after: Annotated[int | None, typer.Option(help="Cases after this id (next page).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    dataset: DatasetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List review cases, filtered by state, reason, class and assignee."""
    ds = dataset_of(dataset)
    states = _layers(state)
    cases, cursor = ds.review.list(
        state=states, reason=reason, label=label, assignee=assignee, after=after, limit=limit
    )
    why = ds.review.evidence_of(cases)
    if as_json:
        print_json({"cases": [{**c, "why": why[c["id"]]} for c in cases], "next": cursor})
        return
    table = Table(title=f"Review cases of {ds.name}")
    for col in ("id", "item", "reason", "state", "label now", "score", "assignee", "evidence"):
        table.add_column(col)
    for c in cases:
        table.add_row(
            str(c["id"]),
            c["item_key"],
            c["reason"],
            c["state"],
            why[c["id"]]["given"] or "",
            format_score(c),
            c["assignee"] or "",
            _why(c, why[c["id"]]),
        )
    console.print(table)
    if cursor is not None:
        console.print(f"More: assay review list --after {cursor}")


def _why(case: dict[str, Any], why: dict[str, Any]) -> str:
    """A case's evidence in one cell: the labels now, what is suggested and why."""
    stored = case.get("evidence") or {}
    boxes = box_case_text(stored)
    if boxes is not None:
        return boxes
    parts: list[str] = []
    if isinstance(stored.get("labels"), dict) and case["reason"] != "flagged":
        parts.append(", ".join(f"{k}={v}" for k, v in stored["labels"].items()))
    if case["reason"] == "low_confidence" and stored.get("confidence") is not None:
        parts.append(
            f"{stored.get('layer')}: {stored.get('label')} @ {format_quality(stored['confidence'])}"
        )
    if why["suggested"] is not None:
        confidence = "" if why["confidence"] is None else f" @ {format_quality(why['confidence'])}"
        parts.append(f"{why['given']} → {why['suggested']}{confidence}")
    if why["quality"] is not None and case["reason"] == "mislabel":
        parts.append(why["quality"]["text"])
    if why["partner"] is not None:
        partner = why["partner"]
        parts.append(f"duplicate of {partner['key']} ({partner['label'] or 'no label'})")
    vote = why["neighbours"]["vote"]
    if vote:
        parts.append("neighbours " + ", ".join(f"{v['label']}×{v['n']}" for v in vote))
    if case.get("comment"):
        parts.append(case["comment"])
    return "; ".join(parts)


@review_app.command("show")
@handle_errors
def review_show(
    case_id: Annotated[int, typer.Argument(help="Case id.")],
    dataset: DatasetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One case: why it was opened (labels now, the suggestion, the label quality's rank,
    the neighbours' vote, the duplicate partner), every layer's label and the audit log."""
    ds = dataset_of(dataset)
    case = ds.review.get(case_id)
    why = ds.review.evidence(case_id)
    if as_json:
        print_json({**case, "why": why})
        return
    console.print(
        f"Case {case['id']} ({case['reason']}, {case['state']}) about item {case['item_key']}"
        + (f", assigned to {case['assignee']}" if case["assignee"] else "")
    )
    if case["comment"]:
        console.print(f"Comment: {case['comment']}")
    console.print(f"Evidence: {_why(case, why)}")
    console.print(f"A decision is written to layer {why['decision_layer']!r}.")
    if why["partner"] is not None:
        pair = Table(title="Duplicate pair")
        for col in ("", "item", f"label ({why['label_layer']})"):
            pair.add_column(col)
        pair.add_row("this", case["item_key"], why["given"] or "")
        pair.add_row("partner", why["partner"]["key"], why["partner"]["label"] or "")
        console.print(pair)
    labels = Table(title="Labels now")
    for col in ("layer", "label", "author", "confidence"):
        labels.add_column(col)
    for layer, rec in case["labels_now"].items():
        labels.add_row(
            layer,
            rec["label"],
            rec["author"],
            "" if rec["confidence"] is None else _num(rec["confidence"]),
        )
    console.print(labels)
    log = Table(title="Audit log")
    for col in ("when", "who", "action", "state", "note"):
        log.add_column(col)
    for e in case["events"]:
        log.add_row(
            f"{e['at']:%Y-%m-%d %H:%M:%S}", e["actor"], e["action"], e["to"], e["note"] or ""
        )
    console.print(log)


@review_app.command("flag")
@handle_errors
def review_flag(
    item: Annotated[str, typer.Argument(help="Item key (or #ID).")],
    comment: Annotated[str, typer.Option(help="What is wrong with it.")],
    label: Annotated[str | None, typer.Option("--class", help="The class it should be.")] = None,
    dataset: DatasetOpt = None,
    author: AuthorOpt = None,
) -> None:
    """Flag an item for review with a comment."""
    case = dataset_of(dataset).review.flag(item_ref(item), comment, label=label, actor=author)
    console.print(f"Opened case {case['id']}.")


@review_app.command("escalate")
@handle_errors
def review_escalate(
    case_id: Annotated[int, typer.Argument(help="Case id.")],
    to: Annotated[str, typer.Option("--to", help="The reviewer.")],
    note: Annotated[str | None, typer.Option(help="A note for the reviewer.")] = None,
    dataset: DatasetOpt = None,
    author: AuthorOpt = None,
) -> None:
    """Escalate a case to a reviewer."""
    dataset_of(dataset).review.escalate(case_id, to, note=note, actor=author)
    console.print(f"Case {case_id} escalated to {to}.")


@review_app.command("resolve")
@handle_errors
def review_resolve(
    case_id: Annotated[int, typer.Argument(help="Case id.")],
    label: Annotated[
        str,
        typer.Argument(
            help="The class the item should have. A case between box layers: accept (the "
            "fused boxes), keep (the first layer's) or a layer's name; a box label issue: "
            "accept (apply its suggested fixes)."
        ),
    ],
    reason: Annotated[str, typer.Option(help="Why (kept with the label and in the log).")],
    dataset: DatasetOpt = None,
    author: AuthorOpt = None,
) -> None:
    """Resolve a case: the chosen label becomes a new version in the layer the case is about
    (a label issue, outlier, duplicate or flag), or in 'reviewed' for annotators who
    disagree; with the reason, as you."""
    case = dataset_of(dataset).review.resolve(case_id, label, reason, actor=author)
    console.print(
        f"Case {case_id} resolved as {label!r} in layer {case['events'][-1]['data']['layer']!r}."
    )


@review_app.command("dismiss")
@handle_errors
def review_dismiss(
    case_id: Annotated[int, typer.Argument(help="Case id.")],
    reason: Annotated[str, typer.Option(help="Why no change is needed.")],
    dataset: DatasetOpt = None,
    author: AuthorOpt = None,
) -> None:
    """Dismiss a case without changing a label."""
    dataset_of(dataset).review.dismiss(case_id, reason, actor=author)
    console.print(f"Case {case_id} dismissed.")


@review_app.command("comment")
@handle_errors
def review_comment(
    case_id: Annotated[int, typer.Argument(help="Case id.")],
    text: Annotated[str, typer.Argument(help="The comment.")],
    dataset: DatasetOpt = None,
    author: AuthorOpt = None,
) -> None:
    """Add a comment to a case's log."""
    dataset_of(dataset).review.comment(case_id, text, actor=author)
    console.print(f"Comment added to case {case_id}.")


@snapshot_app.command("create")
@handle_errors
def snapshot_create(
    name: Annotated[str, typer.Argument(help="Snapshot name, e.g. v1.")],
    layers: Annotated[
        str | None, typer.Option(help="Comma-separated layers (default: all).")
    ] = None,
    description: Annotated[str, typer.Option(help="What this version is.")] = "",
    dataset: DatasetOpt = None,
    author: AuthorOpt = None,
) -> None:
    """Record the current label of every item (by reference, immutable)."""
    snap = dataset_of(dataset).snapshot(
        name, layers=_layers(layers), author=author, description=description
    )
    console.print(
        f"Snapshot {snap['name']!r}: {fmt(snap['n_labels'])} labels in {', '.join(snap['layers'])}."
    )


@snapshot_app.command("list")
@handle_errors
def snapshot_list(dataset: DatasetOpt = None, as_json: JsonOpt = False) -> None:
    """The dataset's snapshots."""
    snaps = dataset_of(dataset).snapshots()
    if as_json:
        print_json(snaps)
        return
    table = Table(title="Snapshots")
    for col in ("name", "created", "author", "labels", "layers", "description"):
        table.add_column(col)
    for s in snaps:
        table.add_row(
            s["name"],
            f"{s['created_at']:%Y-%m-%d %H:%M}",
            s["author"],
            fmt(s["n_labels"]),
            ", ".join(s["layers"]),
            s["description"],
        )
    console.print(table)


@app.command()
@handle_errors
def diff(
    a: Annotated[str, typer.Argument(help="A snapshot.")],
    b: Annotated[str, typer.Argument(help="Another snapshot (default: now).")] = "now",
    limit: Annotated[int, typer.Option(help="Show at most this many changed items.")] = 20,
    dataset: DatasetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What changed between two snapshots, or a snapshot and now: relabels (with the
    class-to-class flows), labels added and removed, per layer and per class.

    Examples: assay diff v1        assay diff v1 v2
    """
    d = dataset_of(dataset).diff(a, b, limit=limit if not as_json else 1000).to_dict()
    if as_json:
        print_json(d)
        return
    n = d["n_changes"]
    console.print(f"{a} → {b}: {fmt(n)} change{'' if n == 1 else 's'}")
    layers = Table(title="Per layer")
    for col in ("layer", "relabeled", "added", "removed"):
        layers.add_column(col)
    for entry in d["layers"]:
        layers.add_row(
            entry["layer"], fmt(entry["relabeled"]), fmt(entry["added"]), fmt(entry["removed"])
        )
    console.print(layers)
    flows = Table(title="Flows (from → to)")
    for col in ("layer", "from", "to", "items"):
        flows.add_column(col)
    for entry in d["layers"]:
        for f in entry["flows"]:
            flows.add_row(
                entry["layer"], f["from"] or "(none)", f["to"] or "(none)", fmt(f["items"])
            )
    if any(entry["flows"] for entry in d["layers"]):
        console.print(flows)
        per_class = Table(title="Per class")
        for col in ("class", "gained", "lost"):
            per_class.add_column(col)
        for name, c in d["per_class"].items():
            per_class.add_row(name, fmt(c["gained"]), fmt(c["lost"]))
        console.print(per_class)
        items = Table(title=f"Items (first {limit})")
        for col in ("layer", "item", "was", "now"):
            items.add_column(col)
        for i in d["items"]:
            items.add_row(i["layer"], i["key"], i["was"] or "(none)", i["now"] or "(none)")
        console.print(items)


def _span_agreement(r: dict[str, Any]) -> None:
    """Span layers' agreement: span-level F1 per pair (exact and partial overlap)."""
    spans = ", ".join(f"{name} {fmt(n)}" for name, n in r["n_spans"].items())
    f1 = r["mean_f1"]
    console.print(
        f"{fmt(r['n_items_compared'])} texts compared (spans: {spans}); mean span F1 "
        f"{f1['exact']:.3f} exact, {f1['partial']:.3f} partial overlap"
    )
    table = Table(title="Span F1 per pair of layers", title_justify="left", show_edge=False)
    for col in ("layer", "layer", "texts", "exact F1", "partial F1"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for p in r["pairwise"]:
        table.add_row(
            p["a"],
            p["b"],
            fmt(p["n_items"]),
            f"{p['exact']['f1']:.3f}",
            f"{p['partial']['f1']:.3f}",
        )
    console.print(table)
