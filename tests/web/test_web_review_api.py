"""The review queue over the API: listing and filtering cases, the transitions and who may make
them, stale views (409), two reviewers at once, flags, comments, scans and blind mode."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_helpers import add_second_annotator, item_page, login, without_tokens

from assay.project import Project
from assay.web import create_app

API = "/api/v1/datasets/digits/review"


@pytest.fixture
def disputed(web_project: Project) -> list[int]:
    """The items layers ``ann`` and ``b1`` disagree on; each has an open case."""
    return add_second_annotator(web_project)


def signed(client: TestClient, user: str) -> TestClient:
    client.headers["X-CSRF-Token"] = login(client, user)
    return client


def cases(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"{API}/cases", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["cases"]
    return found


def test_list_filters_and_keyset_pages(client: TestClient, disputed: list[int]) -> None:
    signed(client, "annotator")  # anyone may read the queue
    every = cases(client)
    assert [c["item_id"] for c in every] == disputed
    assert {c["reason"] for c in every} == {"disagreement"} and {c["state"] for c in every} == {
        "open"
    }
    first = every[0]
    assert first["evidence"]["labels"] == {"ann": "1", "b1": "2"}  # item 0: the known labels
    assert first["evidence"]["agreement"] == 0.5
    seen, after = [], None
    while True:
        params = {"limit": 3, **({"after": after} if after is not None else {})}
        page = client.get(f"{API}/cases", params=params).json()
        seen += [c["id"] for c in page["cases"]]
        after = page["next"]
        if after is None:
            break
    assert seen == [c["id"] for c in every]
    by_class = cases(client, label="1")
    assert by_class and all("1" in (c["label"], c["suggested"]) for c in by_class)
    assert len(by_class) < len(every)
    assert cases(client, state="resolved") == []
    assert cases(client, reason="flagged") == []
    assert len(cases(client, state="active")) == len(every)


@pytest.mark.parametrize(
    ("params", "status"),
    [({"state": "pending"}, 422), ({"reason": "bored"}, 422), ({"label": "7"}, 422),
     ({"limit": 0}, 422), ({"after": -1}, 422)],
)  # fmt: skip
def test_bad_case_queries_are_clear(
    client: TestClient, disputed: list[int], params: dict[str, Any], status: int
) -> None:
    signed(client, "reviewer")
    response = client.get(f"{API}/cases", params=params)
    assert response.status_code == status and response.json()["error"]


def test_one_case_with_live_evidence_and_log(
    client: TestClient, disputed: list[int], web_project: Project
) -> None:
    signed(client, "reviewer")
    case_id = cases(client)[0]["id"]
    case = client.get(f"{API}/cases/{case_id}").json()["case"]
    assert {k: v["label"] for k, v in case["labels_now"].items()} == {
        "ground_truth": "0", "ann": "1", "b1": "2",
    }  # fmt: skip
    assert [(e["actor"], e["action"], e["to"]) for e in case["events"]] == [
        ("test", "open", "open")
    ]
    assert client.get(f"{API}/cases/999999").status_code == 404
    other = client.get(f"/api/v1/datasets/other/review/cases/{case_id}")
    assert other.status_code == 404  # a case of one dataset is not found through another


def test_reviewer_escalates_reassigns_and_resolves(
    client: TestClient, disputed: list[int], web_project: Project
) -> None:
    signed(client, "reviewer")
    case = cases(client)[0]
    url = f"{API}/cases/{case['id']}"
    up = client.post(
        f"{url}/escalate", json={"assignee": "admin", "note": "tricky", "expected_version": 0}
    )
    assert up.status_code == 200
    assert up.json()["case"]["state"] == "escalated" and up.json()["case"]["assignee"] == "admin"
    assert cases(client, assignee="admin")[0]["id"] == case["id"]
    moved = client.post(f"{url}/assign", json={"assignee": "reviewer", "expected_version": 1})
    assert moved.json()["case"]["assignee"] == "reviewer" and moved.json()["case"]["state"] == (
        "escalated"
    )
    done = client.post(
        f"{url}/resolve", json={"label": "2", "reason": "the tail is there", "expected_version": 2}
    )
    assert done.status_code == 200
    out = done.json()["case"]
    assert (out["state"], out["resolved_label"], out["resolution"]) == (
        "resolved", "2", "the tail is there",
    )  # fmt: skip
    assert [(e["actor"], e["action"]) for e in out["events"]] == [
        ("test", "open"), ("reviewer", "escalate"), ("reviewer", "assign"),
        ("reviewer", "resolve"),
    ]  # fmt: skip
    reviewed = web_project.dataset("digits").item(case["item_id"])["labels"]["reviewed"]
    assert (reviewed["label"], reviewed["author"]) == ("2", "reviewer")
    twice = client.post(f"{url}/dismiss", json={"reason": "again"})
    assert twice.status_code == 409 and "is resolved" in twice.json()["error"]


def test_dismiss_needs_a_reason_and_escalation_a_reviewer(
    client: TestClient, disputed: list[int]
) -> None:
    signed(client, "admin")
    url = f"{API}/cases/{cases(client)[0]['id']}"
    assert client.post(f"{url}/dismiss", json={"reason": ""}).status_code == 422
    assert client.post(f"{url}/dismiss", json={"reason": "   "}).status_code == 422
    to_annotator = client.post(f"{url}/escalate", json={"assignee": "annotator"})
    assert to_annotator.status_code == 422 and "not a reviewer" in to_annotator.json()["error"]
    nobody = client.post(f"{url}/escalate", json={"assignee": "nobody"})
    assert nobody.status_code == 422
    assert client.post(f"{url}/resolve", json={"label": "9", "reason": "x"}).status_code == 422
    assert client.get(url).json()["case"]["version"] == 0  # none of that changed anything
    ok = client.post(f"{url}/dismiss", json={"reason": "both fine", "expected_version": 0})
    assert ok.json()["case"]["state"] == "dismissed"


@pytest.mark.parametrize("action", ["escalate", "assign", "resolve", "dismiss"])
def test_annotators_may_not_decide_cases(
    client: TestClient, disputed: list[int], web_project: Project, action: str
) -> None:
    signed(client, "annotator")
    case = cases(client)[0]
    body = {"assignee": "reviewer", "label": "1", "reason": "mine"}
    payload = {k: body[k] for k in {"escalate": ["assignee"], "assign": ["assignee"],
               "resolve": ["label", "reason"], "dismiss": ["reason"]}[action]}  # fmt: skip
    response = client.post(f"{API}/cases/{case['id']}/{action}", json=payload)
    assert response.status_code == 403
    assert "annotator" in response.json()["error"]
    after = web_project.dataset("digits").review.get(case["id"])
    assert (after["state"], after["version"], len(after["events"])) == ("open", 0, 1)
    assert "reviewed" not in web_project.dataset("digits").item(case["item_id"])["labels"]


def test_anyone_may_flag_and_comment(
    client: TestClient, disputed: list[int], web_project: Project
) -> None:
    signed(client, "annotator")
    rows, _ = web_project.dataset("digits").items(limit=30)
    item = next(r["id"] for r in rows if r["id"] not in disputed)
    flagged = client.post(
        f"{API}/flag", json={"item_id": item, "comment": "looks like a 7", "label": "2"}
    )
    assert flagged.status_code == 201
    case = flagged.json()["case"]
    assert (case["reason"], case["created_by"], case["suggested"]) == ("flagged", "annotator", "2")
    again = client.post(f"{API}/flag", json={"item_id": item, "comment": "still"})
    assert again.status_code == 409 and f"case {case['id']}" in again.json()["error"]
    note = client.post(f"{API}/cases/{case['id']}/comment", json={"text": "second look"})
    assert note.status_code == 201
    assert note.json()["case"]["events"][-1] | {"at": None} == {
        "at": None, "actor": "annotator", "action": "comment", "from": "open", "to": "open",
        "note": "second look", "data": None,
    }  # fmt: skip
    foreign = web_project.dataset("other").items(limit=1)[0][0]["id"]
    assert client.post(f"{API}/flag", json={"item_id": foreign, "comment": "x"}).status_code == 404
    assert client.post(f"{API}/flag", json={"item_id": item, "comment": ""}).status_code == 422


def test_stale_view_gets_409_and_changes_nothing(
    client: TestClient, disputed: list[int], web_project: Project
) -> None:
    signed(client, "reviewer")
    case = cases(client)[0]
    url = f"{API}/cases/{case['id']}"
    assert client.post(f"{url}/comment", json={"text": "hm"}).status_code == 201  # version 1
    stale = client.post(
        f"{url}/resolve", json={"label": "0", "reason": "as I saw it", "expected_version": 0}
    )
    assert stale.status_code == 409
    assert "changed since you loaded it" in stale.json()["error"]
    assert "Nothing was changed" in stale.json()["error"]
    now = web_project.dataset("digits").review.get(case["id"])
    assert (now["state"], now["version"], len(now["events"])) == ("open", 1, 2)
    assert "reviewed" not in web_project.dataset("digits").item(case["item_id"])["labels"]


def test_two_reviewers_resolving_at_once_one_wins(
    app: Any, disputed: list[int], web_project: Project
) -> None:
    clients = [TestClient(app), TestClient(app)]
    for c, user in zip(clients, ("reviewer", "admin"), strict=True):
        signed(c, user)
    case_id = cases(clients[0])[0]["id"]
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def decide(c: TestClient, label: str) -> None:
        barrier.wait()
        response = c.post(
            f"{API}/cases/{case_id}/resolve",
            json={"label": label, "reason": "mine", "expected_version": 0},
        )
        answers.append(response.status_code)

    threads = [
        threading.Thread(target=decide, args=(c, label))
        for c, label in zip(clients, ("1", "2"), strict=True)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for c in clients:
        c.close()
    assert sorted(answers) == [200, 409]
    ds = web_project.dataset("digits")
    case = ds.review.get(case_id)
    history = ds.history(case["item_id"], "reviewed")
    assert len(history) == 1 and history[0]["label"] == case["resolved_label"]  # one decision
    assert [e["action"] for e in case["events"]].count("resolve") == 1


def test_scan_is_for_reviewers(client: TestClient, web_project: Project) -> None:
    ds = web_project.dataset("digits")
    ds.create_layer("b1")
    first = ds.items(limit=1)[0][0]["id"]
    ds.set_label(first, "2", layer="b1", author="reviewer")
    ds.set_label(first, "1", layer="ann", author="annotator")
    signed(client, "annotator")
    body = {"layers": ["ann", "b1"]}
    assert client.post(f"{API}/scan", json=body).status_code == 403
    signed(client, "reviewer")
    found = client.post(f"{API}/scan", json=body).json()
    assert (found["disagreement_found"], found["disagreement_opened"]) == (1, 1)
    again = client.post(f"{API}/scan", json=body).json()
    assert (again["disagreement_found"], again["disagreement_opened"]) == (1, 0)
    assert cases(client)[0]["created_by"] == "reviewer"
    counts = client.get(f"{API}/counts").json()["counts"]
    assert counts == {"open": {"disagreement": 1}}


def test_review_writes_need_the_csrf_token(client: TestClient, disputed: list[int]) -> None:
    login(client, "admin")
    case_id = cases(client)[0]["id"]
    for path, body in (
        (f"cases/{case_id}/resolve", {"label": "1", "reason": "x"}),
        (f"cases/{case_id}/dismiss", {"reason": "x"}),
        (f"cases/{case_id}/escalate", {"assignee": "admin"}),
        (f"cases/{case_id}/comment", {"text": "x"}),
        ("flag", {"item_id": disputed[0], "comment": "x"}),
        ("scan", {}),
    ):
        response = client.post(f"{API}/{path}", json=body)
        assert response.status_code == 403 and "CSRF" in response.json()["error"], path
    assert client.get(f"{API}/cases/{case_id}").json()["case"]["version"] == 0


def test_blind_annotators_see_cases_without_other_layers(
    web_project: Project, disputed: list[int]
) -> None:
    with TestClient(create_app(web_project, blind=True)) as c:
        signed(c, "annotator")
        listing = c.get(f"{API}/cases", params={"limit": 100})
        assert listing.status_code == 200
        found = listing.json()["cases"]
        assert [x["item_id"] for x in found] == disputed
        assert all(x["redacted"] and set(x["evidence"]) <= {"labels"} for x in found)
        assert found[0]["evidence"]["labels"] == {"ann": "1"}  # b1's "2" is gone
        assert all(x["label"] is None for x in found)  # the majority tells others' labels
        one = c.get(f"{API}/cases/{found[0]['id']}").json()["case"]
        assert set(one["labels_now"]) == {"ann"}
        assert "b1" not in listing.text and "b1" not in c.get(f"{API}/cases/{found[0]['id']}").text
        assert c.get(f"{API}/cases", params={"label": "1"}).status_code == 403
        page = without_tokens(c.get("/datasets/digits/review").text)
        assert "b1" not in page and "ground_truth" not in page
        assert "Blind mode" in page
    with TestClient(create_app(web_project, blind=True)) as c:
        signed(c, "reviewer")  # reviewers are never blind
        case = c.get(f"{API}/cases").json()["cases"][0]
        assert case["evidence"]["labels"] == {"ann": "1", "b1": "2"} and not case["redacted"]
        # Others' free text may name a class: a blind annotator sees their own only.
        hint = "b1 says it is a 2"
        c.post(f"{API}/cases/{case['id']}/comment", json={"text": hint})
    ds = web_project.dataset("digits")
    flagged = ds.review.flag(disputed[-1], comment="surely a 0", actor="reviewer")
    with TestClient(create_app(web_project, blind=True)) as c:
        signed(c, "annotator")
        c.post(f"{API}/cases/{case['id']}/comment", json={"text": "mine: unsure"})
        one = c.get(f"{API}/cases/{case['id']}").json()["case"]
        notes = [e["note"] for e in one["events"] if e["action"] == "comment"]
        assert notes == ["(hidden in blind mode)", "mine: unsure"]
        assert hint not in c.get(f"{API}/cases/{case['id']}").text
        other = c.get(f"{API}/cases/{flagged['id']}").json()["case"]
        assert other["comment"] == "(hidden in blind mode)"
        assert "surely a 0" not in c.get("/datasets/digits/review?state=any").text


def test_review_page_lists_cases_with_evidence_and_actions(
    client: TestClient, disputed: list[int]
) -> None:
    signed(client, "reviewer")
    page = client.get("/datasets/digits/review")
    assert page.status_code == 200
    assert page.text.count('class="case"') == len(disputed)
    assert '<th class="layer-col">b1</th>' in page.text and 'value="resolve"' in page.text
    assert "50 % agree" in page.text
    signed(client, "annotator")
    as_annotator = client.get("/datasets/digits/review").text
    assert as_annotator.count('class="case"') == len(disputed)
    assert 'value="resolve"' not in as_annotator  # no decisions for annotators
    bad = client.get("/datasets/digits/review", params={"label": "7"})
    assert bad.status_code == 422 and "No class" in bad.text


def test_flag_from_the_item_page(client: TestClient, web_project: Project) -> None:
    csrf = login(client, "annotator")
    item = web_project.dataset("digits").items(limit=1)[0][0]["id"]
    assert 'id="flag-form"' in client.get(item_page(web_project, "digits", item)).text
    sent = client.post(
        f"/datasets/digits/items/{item}/flag",
        data={"comment": "the top stroke is missing", "label": "2", "csrf_token": csrf},
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/datasets/digits/review?state=any&item={item}"
    page = client.get(sent.headers["location"]).text
    assert page.count('class="case"') == 1 and "the top stroke is missing" in page
    (case,) = web_project.dataset("digits").review.list(item=item)[0]
    assert (case["created_by"], case["suggested"]) == ("annotator", "2")
    no_csrf = client.post(f"/datasets/digits/items/{item}/flag", data={"comment": "again"})
    assert no_csrf.status_code == 403


def test_openapi_lists_the_new_endpoints(client: TestClient) -> None:
    signed(client, "reviewer")
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/datasets/{name}/layers/copy",
        "/api/v1/datasets/{name}/labels",
        "/api/v1/datasets/{name}/queue",
        "/api/v1/datasets/{name}/agreement/confusion",
        "/api/v1/datasets/{name}/consensus",
        "/api/v1/datasets/{name}/review/cases/{case_id}/resolve",
        "/api/v1/datasets/{name}/review/flag",
        "/api/v1/datasets/{name}/snapshots",
        "/api/v1/datasets/{name}/diff",
    ):
        assert path in paths, path
    assert not any("/flag" in p and not p.startswith("/api/") for p in paths)  # pages stay out
