"""The items grid's filters for predictions, confidence, open review cases and saved
selections: each selects exactly the items the library says, and the next page keeps them."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from web_helpers import item_ids, login

from assay.project import Project


def _grid_ids(client: TestClient, **params: str) -> list[int]:
    response = client.get("/datasets/digits/items", params={"limit": "100", **params})
    assert response.status_code == 200, response.text[:500]
    return sorted({int(m) for m in re.findall(r'class="pick" value="(\d+)"', response.text)})


def test_prediction_confidence_case_and_selection_filters(
    client: TestClient, web_project: Project
) -> None:
    login(client, "reviewer")
    ds = web_project.dataset("digits")
    ds.models.cross_validate(name="cv", folds=3, model="logreg")
    predicted = {
        r["id"]: r["label"] for r in ds.items(limit=100, layer="cv")[0] if r["label"] is not None
    }
    wanted = sorted(i for i, c in predicted.items() if c == "1")
    assert _grid_ids(client, model="cv", predicted="1") == wanted

    unsure = sorted(r["id"] for r in ds.items("confidence[cv]<0.6", limit=100)[0])
    assert _grid_ids(client, model="cv", below="0.6") == unsure

    ids = item_ids(web_project, "digits")
    ds.review.flag(ids[3], comment="blurry", actor="reviewer")
    assert _grid_ids(client, case="flagged") == [ids[3]]
    assert _grid_ids(client, case="any") == [ids[3]]
    assert _grid_ids(client, case="mislabel") == []

    selection = ds.select(ids[5:9], source="test")
    assert _grid_ids(client, filter=f"selection={selection['id']}") == ids[5:9]
    assert _grid_ids(client, filter=f"selection={selection['id']}", split="test") == [
        i for i in ids[5:9] if i in {r["id"] for r in ds.items("split=test", limit=100)[0]}
    ]

    page = client.get(
        "/datasets/digits/items", params={"limit": "2", "model": "cv", "predicted": "1"}
    )
    link = re.search(r'id="next-page" class="button" href="\?([^"]+)"', page.text)
    assert link is not None
    assert "model=cv&amp;" in link.group(1) and "predicted=1&amp;" in link.group(1)
    bad = client.get("/datasets/digits/items", params={"case": "nonsense"})
    assert bad.status_code == 422 and "Unknown review case reason" in bad.text
    # The form sends every field, the empty ones as "": they mean "no condition".
    empty = {"split": "", "layer": "", "label": "", "model": "", "predicted": "", "below": "",
             "case": "", "filter": ""}  # fmt: skip
    assert len(_grid_ids(client, **empty)) == 30
    for below in ("2", "x"):
        refused = client.get("/datasets/digits/items", params={"below": below})
        assert refused.status_code == 422 and "number from 0 to 1" in refused.text
