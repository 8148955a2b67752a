"""The reads the faces ask the library for (``assay.store.reads``): each scoped to one dataset,
one count of items for every caller, and ``Store.ping`` for health checks."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import assay
from assay.errors import ItemNotFound, StoreError
from assay.store import queries, reads
from labelkit import make_dataset, project  # noqa: F401  (the fixture)


def _ids(ds: assay.Dataset) -> list[int]:
    rows, _ = ds.items(limit=1000)
    return [int(r["id"]) for r in rows]


def test_reads_are_scoped_to_their_dataset(project: assay.Project) -> None:  # noqa: F811
    pets = make_dataset(project, "pets", n=6)
    other = make_dataset(project, "other", n=3)
    mine, theirs = _ids(pets), _ids(other)
    store = project.store
    item = reads.item(store, pets.id, mine[0])
    assert item["external_key"] == "k0" and set(item) == set(reads.ITEM_FIELDS)
    for read in (reads.item, reads.media_blob, reads.media_file):
        with pytest.raises(ItemNotFound):
            read(store, pets.id, theirs[0])
    # Ids of another dataset are left out; the order asked for is kept.
    found = reads.items_by_ids(store, pets.id, [mine[2], theirs[0], mine[1]])
    assert [r["id"] for r in found] == [mine[2], mine[1]]
    assert reads.neighbours(store, pets.id, mine[0]) == (None, mine[1])
    assert reads.neighbours(store, pets.id, mine[2], "split=train") == (mine[0], mine[4])


def test_one_count_of_items(project: assay.Project) -> None:  # noqa: F811
    pets = make_dataset(project, "pets", n=10)
    make_dataset(project, "other", n=3)
    store = project.store
    assert reads.count_items(store, pets.id) == 10 == len(pets)
    assert reads.count_items(store, pets.id, "split=train") == 5
    with store.read() as conn:
        listed = {d["name"]: d["n_items"] for d in queries.list_datasets(conn)}
    assert listed == {"pets": 10, "other": 3}
    before = reads.data_version(store, pets.id)
    pets.set_labels([(_ids(pets)[0], "bird")], layer="ground_truth", author="me")
    assert reads.data_version(store, pets.id)[1] > before[1]


def test_ping_says_when_the_store_does_not_answer(
    project: assay.Project,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project.store.ping()
    gone = sa.create_engine("sqlite:////nonexistent-folder/x.db")
    monkeypatch.setattr(project.store, "engine", gone)
    with pytest.raises(StoreError):
        project.store.ping()
