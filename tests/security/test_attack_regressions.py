"""Holes an attack run found (issue 15), replayed through the library and the CLI.

Each test failed before its fix. The web side (the same rules through the API, the 500s, the
``Allow`` header and uploads) is in ``tests/web/test_web_attack_regressions.py``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import assay
from assay import users
from assay.cli import app
from assay.errors import Conflict, InvalidParameter
from assay.ingest.staging import ImportJob, json_hash
from assay.store import schema as t
from labelkit import CLASSES

runner = CliRunner()
RESERVED = ["ground_truth", "reviewed", "consensus"]


def cli(project: assay.Project, *args: str, code: int = 0) -> str:
    """Run ``assay -p ROOT --db URL ...``; returns the output after checking the exit code."""
    argv = ["-p", str(project.root), "--db", project.store.url, *args]
    result = runner.invoke(app, argv, env={"ASSAY_USER": "cli-user"})
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def old_layer(ds: assay.Dataset, name: str, *, kind: str = "human", owner: str = "mallory") -> None:
    """A layer as a store made before the rules could hold it (written past the library)."""
    with ds.store.write() as conn:
        conn.execute(
            t.layers.insert().values(
                dataset_id=ds.id, name=name, kind=kind, owner=owner, created_at=datetime.now(UTC)
            )
        )


def label_all(ds: assay.Dataset, layer: str, labels: list[str], owner: str | None) -> None:
    """A human layer of ``owner`` labeling k0.. with ``labels``."""
    ds.create_layer(layer, owner=owner)
    ds.set_labels([(f"k{i}", c) for i, c in enumerate(labels)], layer=layer, author=owner or "x")


def n_labels(ds: assay.Dataset, layer: str) -> int:
    """How many label rows a layer has (its whole history)."""
    with ds.store.read() as conn:
        layer_id = sa.select(t.layers.c.id).where(
            t.layers.c.dataset_id == ds.id, t.layers.c.name == layer
        )
        query = sa.select(sa.func.count()).where(t.labels.c.layer_id == layer_id.scalar_subquery())
        return int(conn.execute(query).scalar_one())


# -- 1. reserved layer names ------------------------------------------------------------------


@pytest.mark.parametrize("name", RESERVED)
def test_a_person_cannot_create_or_claim_a_reserved_layer_name(
    ds: assay.Dataset, name: str
) -> None:
    ds.rename_layer("ground_truth", "truth")  # no reserved layer exists yet
    with pytest.raises(InvalidParameter, match="is reserved"):
        ds.create_layer(name, owner="mallory")
    with pytest.raises(InvalidParameter, match="is reserved"):
        ds.create_layer(name)  # a human layer: nobody's, but a person's kind
    with pytest.raises(InvalidParameter, match="looks like"):
        ds.create_layer(name.upper())
    label_all(ds, "draft", CLASSES * 6, "mallory")
    with pytest.raises(InvalidParameter, match="is reserved"):
        ds.copy_layer("draft", name)
    with pytest.raises(InvalidParameter, match="is reserved"):
        ds.copy_layer("truth", name)  # a copy of an import is a human layer
    with pytest.raises(InvalidParameter, match="is reserved"):
        ds.rename_layer("draft", name)
    kind = {"ground_truth": "import"}.get(name, name)
    with pytest.raises(InvalidParameter, match="is reserved"):
        ds.create_layer(name, kind=kind, owner="mallory")  # the right kind, but hers
    assert [layer["name"] for layer in ds.layers()] == ["truth", "draft"]


def test_cli_layer_create_refuses_a_reserved_name(
    project: assay.Project, ds: assay.Dataset
) -> None:
    out = cli(project, "layer", "create", "reviewed", "--owner", "mallory", code=1)
    assert "reserved" in out
    assert "reviewed" not in [layer["name"] for layer in ds.layers()]


def test_review_decisions_never_go_into_a_persons_reviewed_layer(ds: assay.Dataset) -> None:
    old_layer(ds, "reviewed")
    # No default layer for the flag to be about: its decision goes to the reviewed layer (as
    # a disagreement's does; a decision about one layer's label goes to that layer).
    ds.rename_layer("ground_truth", "truth")
    case = ds.review.flag("k1", "wrong?", actor="bob")
    with pytest.raises(InvalidParameter, match="kind human, mallory's"):
        ds.review.resolve(case["id"], "dog", "checked", actor="rita")
    assert n_labels(ds, "reviewed") == 0
    assert ds.review.get(case["id"])["state"] == "open"  # the decision was not recorded either


def test_consensus_never_goes_into_a_persons_consensus_layer(ds: assay.Dataset) -> None:
    old_layer(ds, "consensus")
    label_all(ds, "alice", CLASSES * 6, "alice")
    with pytest.raises(InvalidParameter, match="kind human, mallory's"):
        ds.consensus(method="majority-vote", layers=["ground_truth", "alice"])
    assert n_labels(ds, "consensus") == 0


def import_one(ds: assay.Dataset) -> None:
    """Import one more labeled item into ``ds`` (into its ``ground_truth`` layer)."""
    fields = {"x": 99}
    row = {"external_key": "k99", "kind": "tabular", "label": "cat", "fields": fields,
           "content_hash": json_hash(fields)}  # fmt: skip
    with ImportJob(ds.store, ds.name, source="mem", format="test") as job:
        job.add(row, where=1)
        job.publish()


def test_imports_never_go_into_a_persons_ground_truth_layer(ds: assay.Dataset) -> None:
    ds.rename_layer("ground_truth", "truth")
    old_layer(ds, "ground_truth")
    with pytest.raises(InvalidParameter, match="kind human, mallory's"):
        import_one(ds)
    assert n_labels(ds, "ground_truth") == 0


# -- 2. consensus ------------------------------------------------------------------------------


def test_consensus_into_a_persons_layer_is_refused(
    project: assay.Project, ds: assay.Dataset
) -> None:
    label_all(ds, "alice", CLASSES * 6, "alice")
    label_all(ds, "bob", CLASSES * 6, "bob")
    before = n_labels(ds, "alice")
    with pytest.raises(InvalidParameter, match="not a consensus layer"):
        ds.consensus(method="majority-vote", layers=["alice", "bob"], into="alice")
    with pytest.raises(InvalidParameter, match="not a consensus layer"):
        ds.consensus(method="majority-vote", layers=["alice", "bob"], into="ground_truth")
    out = cli(project, "consensus", "--method", "majority-vote", "--into", "alice", code=1)
    assert "not a consensus layer" in out
    assert n_labels(ds, "alice") == before


def test_many_layers_of_one_annotator_do_not_steer_the_default_consensus(
    ds: assay.Dataset,
) -> None:
    truth = (CLASSES * 7)[:20]
    for person in ("alice", "bob", "carol"):
        label_all(ds, person, truth, person)
    for n in range(4):  # mallory makes four layers that all say "bird"
        label_all(ds, f"mallory-{n}", ["bird"] * 20, "mallory")
    result = ds.consensus(method="majority-vote")
    assert result.layers == ("alice", "bob", "carol", "mallory-3")  # one per person
    assert [CLASSES[c] for c in result.label] == truth
    assert ds.layer("consensus")["origin"]["layers"] == list(result.layers)
    assert result.to_dict()["layers"] == list(result.layers)


def test_a_persons_layer_in_the_default_is_the_one_labeled_last(ds: assay.Dataset) -> None:
    label_all(ds, "alice", CLASSES * 6, "alice")
    label_all(ds, "m-new", ["bird"] * 20, "mallory")
    label_all(ds, "m-old", ["cat"] * 20, "mallory")  # created later, but ...
    ds.set_label("k0", "dog", layer="m-new", author="mallory")  # ... m-new was labeled last
    assert ds.consensus(method="majority-vote", into=None).layers == ("alice", "m-new")
    named = ds.consensus(method="majority-vote", layers=["m-old", "alice"], into=None)
    assert named.layers == ("m-old", "alice")  # a reviewer's own choice is kept as given


# -- 3. lookalike layer names ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("ali\u200bce", "U+200B ZERO WIDTH SPACE"),
        ("\u200falice", "U+200F RIGHT-TO-LEFT MARK"),
        ("alice\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("al\u2066ice", "U+2066 LEFT-TO-RIGHT ISOLATE"),
        ("a\u3164lice", "U+3164 HANGUL FILLER"),  # NFKC would make it U+1160
        ("\u0430lice", "U+0430 CYRILLIC SMALL LETTER A"),  # Cyrillic а among Latin letters
        ("\u03b1lice", "U+03B1 GREEK SMALL LETTER ALPHA"),
    ],
)
def test_invisible_and_mixed_script_layer_names_are_refused(
    ds: assay.Dataset, name: str, shown: str
) -> None:
    with pytest.raises(InvalidParameter, match=re.escape(shown)):
        ds.create_layer(name)
    label_all(ds, "bob", CLASSES * 6, "bob")
    with pytest.raises(InvalidParameter, match=re.escape(shown)):
        ds.rename_layer("bob", name)
    with pytest.raises(InvalidParameter, match=re.escape(shown)):
        ds.copy_layer("bob", name)
    assert [layer["name"] for layer in ds.layers()] == ["ground_truth", "bob"]


@pytest.mark.parametrize(
    "lookalike",
    ["Alice", "ALICE", "\uff41\uff4c\uff49\uff43\uff45", "\u0430\u04cf\u0456\u0441\u0435"],
)  # case, fullwidth (NFKC), all Cyrillic
def test_a_name_that_looks_like_an_existing_one_is_refused(
    project: assay.Project, ds: assay.Dataset, lookalike: str
) -> None:
    ds.create_layer("alice", owner="alice")
    with pytest.raises(Conflict, match="'alice'"):
        ds.create_layer(lookalike)
    label_all(ds, "bob", CLASSES * 6, "bob")
    with pytest.raises(Conflict, match="'alice'"):
        ds.rename_layer("bob", lookalike)
    assert "'alice'" in cli(project, "layer", "create", lookalike, code=1)
    ds.rename_layer("alice", "Alice")  # a layer may change its own case
    assert ds.create_layer("\uff42\uff4f\uff42-2")["name"] == "bob-2"  # stored in NFKC form


# -- 5. tokens ---------------------------------------------------------------------------------


def test_a_password_change_revokes_the_users_tokens(ds: assay.Dataset) -> None:
    users.create_user(ds.store, "alice", "first password", role="annotator")
    token, _record = users.create_token(ds.store, "alice", "script")
    assert users.user_for_token(ds.store, token) is not None
    users.update_user(ds.store, "alice", role="reviewer")  # other changes keep the tokens
    assert users.user_for_token(ds.store, token) is not None
    users.update_user(ds.store, "alice", password="second password")
    assert users.user_for_token(ds.store, token) is None
    assert all(tok.revoked_at is not None for tok in users.list_tokens(ds.store, "alice"))


# -- 7. dead code ------------------------------------------------------------------------------


def test_the_dead_helpers_are_gone() -> None:
    from assay.ingest import archives

    assert not hasattr(users, "get_user_by_id")
    assert not hasattr(archives, "is_archive")
