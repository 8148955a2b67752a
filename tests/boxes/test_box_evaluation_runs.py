"""A box model run's evaluation is stored with the run, read back while neither layer
changes, and recomputed when one does (as classification's is)."""

from __future__ import annotations

import sqlalchemy as sa

import assay
from assay.models import box_evaluation, runs
from assay.store import queries
from assay.store import schema as t
from boxkit import make_box_dataset
from boxpredkit import predicted_boxes, write_predictions
from labelkit import project  # noqa: F401


def test_box_run_evaluation_is_stored_until_a_label_changes(
    project: assay.Project,  # noqa: F811
) -> None:
    bs = make_box_dataset(project, n=12, seed=6)
    ds = bs.ds
    preds = predicted_boxes(bs.scenes.boxes, seed=7)
    write_predictions(ds, bs.item_ids, preds, layer="det")
    run_id, _ = runs.start_run(
        ds, name="det-run", kind="import", model="detector", params=None, featurizer=None,
        layer=None, filter=None, folds=None, seed=None, makes_layer=False,
    )  # fmt: skip
    with ds.store.write() as conn:
        layer_id = queries.get_layer(conn, ds.id, "det").id
        conn.execute(
            t.model_runs.update()
            .where(t.model_runs.c.id == run_id)
            .values(state="done", layer_id=layer_id)
        )
    with ds.store.read() as conn:
        assert box_evaluation.box_source(conn, ds.id, "det-run")[1] == "det"  # type: ignore[index]
        assert box_evaluation.box_source(conn, ds.id, "boxes") == (None, "boxes")
        assert box_evaluation.box_source(conn, ds.id, "nope") is None

    first = ds.models.evaluate("det-run")
    assert first["source"] == "det-run" and first["layer"] == "det"
    assert first["reference_layer"] == "boxes"

    def stored() -> dict:
        with ds.store.read() as conn:
            metrics = conn.execute(
                sa.select(t.model_runs.c.metrics).where(t.model_runs.c.id == run_id)
            ).scalar()
        return dict((metrics or {}).get(runs.EVALUATIONS, {}))

    (entry,) = stored().values()
    assert entry["result"]["map"] == first["map"]
    assert ds.models.evaluate("det-run") == first  # read back
    # A prediction changed: the stored answer no longer holds.
    ds.set_label(bs.item_ids[0], [], layer="det")
    second = ds.models.evaluate("det-run")
    assert second["n_predicted_boxes"] == first["n_predicted_boxes"] - len(preds[0])
    assert len(stored()) == 1 and next(iter(stored().values()))["result"] == second
