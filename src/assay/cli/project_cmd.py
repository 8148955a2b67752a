"""Commands about the project itself: init, datasets, demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli.app import STATE, app, handle_errors, open_project
from assay.cli.render import console, fmt, print_inventory, print_json, progress_bar


@app.command()
@handle_errors
def init(
    path: Annotated[Path, typer.Argument(help="Folder of the new project.")] = Path("."),
) -> None:
    """Create a project in PATH (default: here); its store is PATH/assay.db unless --db is given.

    Example: assay init my-project && cd my-project && assay import ~/photos
    """
    import assay

    project = assay.init(path, db=STATE.db)
    console.print(f"Assay project ready in {project.root} ({project.store!r})")


@app.command()
@handle_errors
def datasets(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List the project's datasets with their item counts.

    Example: assay datasets --json
    """
    rows = open_project().datasets()
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("No datasets yet. Import one with `assay import PATH`.")
        return
    table = Table(show_edge=False)
    for col in ("name", "items", "created"):
        table.add_column(col, justify="right" if col == "items" else "left")
    for r in rows:
        table.add_row(r["name"], fmt(r["n_items"]), r["created_at"].strftime("%Y-%m-%d %H:%M"))
    console.print(table)


@app.command()
@handle_errors
def imports(
    limit: Annotated[int, typer.Option(help="How many of the latest imports to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List the latest imports: source, state, rows read and what each one added.

    A failed or interrupted import shows why; nothing of it is in the store.

    Example: assay imports --limit 5
    """
    rows = open_project().imports(limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("No imports yet. Import data with `assay import PATH`.")
        return
    table = Table(show_edge=False)
    for col in ("id", "dataset", "source", "state", "rows", "new items", "new labels", "started"):
        table.add_column(
            col, justify="right" if col in ("id", "rows", "new items", "new labels") else "left"
        )
    for r in rows:
        state = r["state"] if not r["error"] else f"{r['state']}: {r['error']}"
        table.add_row(
            str(r["id"]),
            r["dataset_name"],
            r["source"],
            state,
            fmt(r["n_rows"]),
            fmt(r["n_new_items"]),
            fmt(r["n_new_labels"]),
            r["started_at"].strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


def print_label_audit(ds: Any) -> None:
    """The demo's simulated annotators: agreement, the consensus and the review queue."""
    report = ds.agreement().to_dict()
    console.print(
        f"\nThree SIMULATED annotators ({', '.join(report['annotators'])}) label the digits, "
        "each with its own error pattern (see `assay layer list`):\n"
        f"  Krippendorff's alpha {report['krippendorff_alpha']:.3f}, Fleiss' kappa "
        f"{report['fleiss']['kappa']:.3f}, pairwise agreement {report['percent_agreement']:.3f}"
    )
    for q in report["annotator_quality"] or []:
        console.print(f"  {q['annotator']:<14} accuracy against the consensus {q['accuracy']:.3f}")
    counts = ds.review.counts()
    open_cases = sum(counts.get("open", {}).values())
    console.print(
        f"  A Dawid-Skene consensus is in layer 'consensus'; {open_cases:,} review cases are open."
    )


@app.command()
@handle_errors
def demo(
    path: Annotated[Path, typer.Argument(help="Folder for the demo project.")] = Path("assay-demo"),
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Start the web app afterwards.")
    ] = True,
    embedding_map: Annotated[
        bool,
        typer.Option("--map/--no-map", help="Compute the embedding map (UMAP, ~30 s once)."),
    ] = True,
) -> None:
    """Build a demo project from scikit-learn's digits (1,797 real 8x8 images) and show it.

    Needs no download: the digits ship with scikit-learn. Running it again reuses the project.

    Example: assay demo && cd assay-demo && assay stats --compare split=train split=test
    """
    from assay.demo import build_demo

    with progress_bar("importing digits") as progress:
        project = build_demo(path, db=STATE.db, progress=progress)
    ds = project.dataset("digits")
    if embedding_map and ds.maps.latest() is None:
        with progress_bar("computing the embedding map") as progress:
            ds.maps.compute(author="assay demo", progress=progress)
    print_inventory(ds.stats().to_dict())
    print_label_audit(ds)
    console.print(
        "\nA detection dataset, scenes: 300 images of digits with their true boxes (layer "
        "boxes), three SIMULATED box annotators (alice, bob, carol), out-of-fold boxes of the "
        "built-in detector (detector-cv), a consensus of the boxes most of them drew, and "
        "review cases where the annotators' boxes differ or bob's look wrong to the detector."
    )
    console.print(
        f"\nThe demo project is in {project.root}. Next:\n"
        f"  cd {path}\n"
        "  assay stats --compare split=train split=test   # train vs test, side by side\n"
        "  assay stats --filter label=3                    # one class\n"
        "  assay export digits labels.csv                  # the labels as CSV\n"
        "  assay agreement                                 # how the annotators agree\n"
        "  assay review list --state open                  # the review queue\n"
        "  assay agreement -d scenes                       # boxes: F1 at IoU 0.5, mean IoU\n"
        "  assay evaluate detector-cv -d scenes            # boxes: COCO mAP, errors\n"
        "  assay issues -d scenes --layer bob --predictions detector-cv\n"
        "  assay imports                                   # what was imported, and how it went\n"
        "  assay import ./my_images                        # your own data"
    )
    from assay.cli.web_cmd import DEMO_LOGIN_FILE, ensure_demo_login, serve_project

    user, password = ensure_demo_login(project)
    console.print(
        f"\nDemo login for the web app: user [bold]{user}[/bold], password [bold]{password}[/bold]"
        f"\n(a demo account with a random password, kept in {path / DEMO_LOGIN_FILE})"
    )
    if serve:
        serve_project(project, "127.0.0.1", 8000)
    else:
        console.print(f"Start the web app with: cd {path} && assay serve")
