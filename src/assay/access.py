"""Who may see and write what: one :class:`Viewer` (a user's name and role, and whether blind
mode is on) answers every access question, for the web app, the jobs and the library alike.

Roles: admins and reviewers see every layer and label in any unfrozen one; annotators label
only in the layers they own. Model layers (``layers.kind == "model"``) hold a model's
predictions: they are read-only to people, whatever their role (the jobs that predict write
them through the library, without a viewer). Only admins name a model by import path:
building it imports that module in the job worker (``sklearn.svm.SVC``, but just as well any
module on the server).

Blind mode (``assay serve --blind``) keeps annotators from learning how others labeled:

* layers: an annotator sees the layers they own, and the model layers whose runs all learnt
  from those (a model trained on hidden labels would tell its labels item by item); shared,
  import, consensus and imported-prediction layers are hidden;
* filters: every clause that reads a layer (``label[...]``, ``confidence[...]``; without a
  name, ``ground_truth``) must name a visible one;
* model runs: only those trained on a visible layer;
* review cases: the evidence of visible layers only; the class at issue, the suggestion and
  the score are hidden unless the case is the annotator's own flag, and so is free text by
  others (comments, event notes, the reviewer's reason for a decision); a case's evidence
  (neighbours, duplicate partner, annotators) keeps the items but only visible labels;
* snapshots and diffs: visible layers only;
* jobs: another person's job shows what, whose, when and how far, but not its parameters,
  result, message or error (a consensus job's result rates every annotator).

The library and the CLI act as :meth:`Viewer.local`: an admin who is not blind (whoever runs
them holds the project's files).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from assay.errors import PermissionDenied
from assay.store import filters, queries

HIDDEN_TEXT = "(hidden in blind mode)"
# What anyone may see of another person's job in blind mode.
JOB_FIELDS = (
    "id", "dataset_id", "kind", "state", "cancel_requested", "done", "total", "fraction",
    "created_by", "created_at", "started_at", "finished_at",
)  # fmt: skip
EDITORS = ("admin", "reviewer")  # roles that label in any unfrozen layer


class HasLayers(Protocol):
    """What a viewer reads of a dataset: its store and id (a ``Dataset``)."""

    @property
    def id(self) -> int: ...

    @property
    def store(self) -> Any: ...


def is_import_path(model: str) -> bool:
    """Whether a model name is an import path (built-in names have no dot)."""
    return "." in model


@dataclass(frozen=True)
class Viewer:
    """A user as access rules see them: ``username``, ``role`` and whether the server runs in
    blind mode (``blind_mode``; :attr:`blind` says whether it hides anything from them)."""

    username: str
    role: str
    blind_mode: bool = False

    @classmethod
    def of(cls, user: Any, *, blind_mode: bool = False) -> Viewer:
        """The viewer of a user (anything with ``username`` and ``role``)."""
        return cls(str(user.username), str(user.role), blind_mode)

    @classmethod
    def local(cls, username: str = "local") -> Viewer:
        """The library's and the CLI's viewer: an admin, not blind."""
        return cls(username, "admin")

    @property
    def blind(self) -> bool:
        """Whether blind mode hides other people's labels from this viewer (annotators)."""
        return self.blind_mode and self.role == "annotator"

    # -- layers -------------------------------------------------------------------------------

    def owns(self, layer: Any) -> bool:
        """Whether ``layer`` (a row with ``owner``) is the viewer's own."""
        return bool(layer.owner == self.username)

    def can_see(self, layer: Any) -> bool:
        """Whether the viewer may see a layer's labels by its owner alone (blind annotators:
        their own layers; which model layers they see, :meth:`visible` says)."""
        return not self.blind or self.owns(layer)

    def may_write(self, layer: Any) -> bool:
        """Whether the role lets the viewer label in ``layer``, frozen or not (a frozen layer
        refuses every write on its own); never a model layer (a model's predictions)."""
        if layer.kind == "model":
            return False
        return self.role in EDITORS or (self.role == "annotator" and self.owns(layer))

    def can_write(self, layer: Any) -> bool:
        """Whether the viewer may label in ``layer`` now: never a frozen one."""
        return not layer.frozen and self.may_write(layer)

    def check_write(self, layer: Any) -> None:
        """PermissionDenied unless the viewer's role may write to ``layer``; a frozen layer
        passes (the write itself refuses it, for everyone, with a Conflict). Model layers are
        read-only to everyone: a person's label goes into a human or the reviewed layer."""
        if layer.kind == "model":
            raise PermissionDenied(
                f"Layer {layer.name!r} holds a model's predictions and is read-only to people; "
                "write your label into a human layer (or the reviewed layer) instead."
            )
        if not layer.frozen and not self.may_write(layer):
            raise PermissionDenied(
                f"Your role ({self.role}) may not write to layer {layer.name!r}: annotators "
                "label only in the layers they own."
            )

    def new_layer_owner(self, kind: str, owner: str | None) -> str | None:
        """Who owns a layer the viewer creates: the one they name if they are an editor; an
        annotator creates only ``human`` layers, always their own (else PermissionDenied)."""
        if self.role in EDITORS:
            return owner
        if kind != "human" or owner not in (None, self.username):
            raise PermissionDenied(
                f"Your role ({self.role}) may only create human layers of your own."
            )
        return self.username

    def visible(
        self, layers: Iterable[Any], trained_on: Mapping[str, Collection[str | None]] | None = None
    ) -> list[Any]:
        """The layers (rows with ``name``, ``kind``, ``owner``) the viewer may see.

        ``trained_on`` maps a model layer to the layers its runs learnt from
        (``queries.trained_on``): a blind annotator sees a model layer only when they see
        every one of those. Without it, blind annotators see no model layer.
        """
        rows = list(layers)
        if not self.blind:
            return rows
        own = {r.name for r in rows if self.owns(r)}
        sources = trained_on or {}

        def shown(row: Any) -> bool:
            learnt = sources.get(row.name) if row.kind == "model" else None
            return row.name in own or bool(learnt and set(learnt) <= own)

        return [r for r in rows if shown(r)]

    def layers(self, dataset: HasLayers) -> list[Any]:
        """The dataset's layers the viewer may see, oldest first."""
        with dataset.store.read() as conn:
            rows = queries.list_layers(conn, dataset.id)
            sources = queries.trained_on(conn, dataset.id) if self.blind else None
        return self.visible(rows, sources)

    def layer_names(self, dataset: HasLayers) -> set[str]:
        """The names of the dataset's layers the viewer may see."""
        return {r.name for r in self.layers(dataset)}

    def layer(self, dataset: HasLayers, name: str) -> Any:
        """The layer of that name, if the viewer may see it (else LayerNotFound, with a hint,
        or PermissionDenied)."""
        found = {r.name: r for r in self.layers(dataset)}.get(name)
        if found is None:
            with dataset.store.read() as conn:
                queries.get_layer(conn, dataset.id, name)  # LayerNotFound with a hint
            raise PermissionDenied(f"You may not see layer {name!r}.")
        return found

    def writable_layer(self, dataset: HasLayers, name: str) -> Any:
        """The layer of that name, if the viewer may see it and write to it (see
        :meth:`check_write`)."""
        row = self.layer(dataset, name)
        self.check_write(row)
        return row

    # -- filters and model runs ---------------------------------------------------------------

    def check_filter(
        self, dataset: HasLayers, filter: str | None, visible: Collection[str] | None = None
    ) -> None:
        """PermissionDenied for a filter that reads a layer the viewer may not see (every
        layer-reading field: ``filters.LAYER_FIELDS``). ``visible``: the names of the visible
        layers, when the caller has them already."""
        if not self.blind:
            return
        if filters.reads_issues(filter):
            raise PermissionDenied(
                "In blind mode annotators may not filter on a label-issue search: it compares "
                "labels they do not see."
            )
        read = filters.layers_read(filter)
        if not read:
            return
        names = self.layer_names(dataset) if visible is None else visible
        for layer, what in read:
            if layer not in names:
                raise PermissionDenied(f"You may not filter on the {what} of layer {layer!r}.")

    def can_see_run(self, run: Mapping[str, Any], visible: Collection[str]) -> bool:
        """Whether the viewer may see a model run's predictions and metrics (blind annotators:
        a run trained on a layer in ``visible``)."""
        return not self.blind or run.get("train_layer") in visible

    def check_run(self, run: Mapping[str, Any], visible: Collection[str]) -> None:
        """PermissionDenied for a run the viewer may not see."""
        if not self.can_see_run(run, visible):
            raise PermissionDenied(
                f"In blind mode annotators see only the models trained on their own layers; "
                f"{run.get('name')!r} learnt from another layer."
            )

    def can_see_check(self, result: Any, visible: Collection[str]) -> bool:
        """Whether the viewer may see a data check's result (``reads``, ``layer``: see
        ``assay.checks.Check.reads``). Blind annotators see the checks that read the items
        alone, and those that read only the labels of a layer in ``visible``; never one that
        compares labels across layers (agreement, a label-issue search), as the agreement page
        and label-issue filters are refused to them."""
        if not self.blind:
            return True
        return result.reads == "items" or (result.reads == "layer" and result.layer in visible)

    def check_model(self, model: str) -> None:
        """PermissionDenied for a model import path unless the viewer is an admin."""
        if is_import_path(model) and self.role != "admin":
            raise PermissionDenied(
                f"Only admins may name a model by import path ({model!r}): building it imports "
                "that module on the server. Use auto or a built-in model name."
            )

    # -- what others did: review cases, snapshots, jobs ---------------------------------------

    def check_case_filter(self, label: str | None) -> None:
        """Blind annotators may not list cases by the class at issue."""
        if label and self.blind:
            raise PermissionDenied("In blind mode, cases cannot be filtered by the class at issue.")

    def case(self, case: Mapping[str, Any], visible: Collection[str]) -> dict[str, Any]:
        """The review case as the viewer may see it; ``redacted`` says whether it was cut."""
        if not self.blind:
            return {**case, "redacted": False}
        return _redact_case(case, set(visible), self.username)

    def case_evidence(
        self, evidence: Mapping[str, Any], case: Mapping[str, Any], visible: Collection[str]
    ) -> dict[str, Any]:
        """A case's evidence (:func:`assay.review.evidence.case_evidence`) as the viewer may
        see it: in blind mode, the labels of visible layers only, and the given and suggested
        label, the quality and the decision only where :meth:`case` shows the class at issue
        (their own flag about a layer they see)."""
        if not self.blind:
            return {**evidence, "redacted": False}
        return _redact_evidence(evidence, case, set(visible), self.username)

    def snapshots(
        self, found: Iterable[Mapping[str, Any]], visible: Collection[str]
    ) -> list[dict[str, Any]]:
        """Snapshots listing only the layers the viewer may see."""
        if not self.blind:
            return [dict(s) for s in found]
        return [{**s, "layers": [n for n in s["layers"] if n in visible]} for s in found]

    def diff(self, diff: Mapping[str, Any], visible: Collection[str]) -> dict[str, Any]:
        """A snapshot diff (``LabelDiff.to_dict()``) cut to the visible layers, its per-class
        totals and change count recomputed from those."""
        out = dict(diff)
        if not self.blind:
            return out
        out["layers"] = [d for d in diff["layers"] if d["layer"] in visible]
        out["items"] = [i for i in diff["items"] if i["layer"] in visible]
        out["per_class"] = _per_class(out["layers"])
        out["n_changes"] = sum(d["relabeled"] + d["added"] + d["removed"] for d in out["layers"])
        return out

    def job(self, job: Mapping[str, Any]) -> dict[str, Any]:
        """A job as the viewer may see it: whole if it is theirs or they are not blind, else
        without parameters, result, message and error (``redacted`` says which)."""
        if not self.blind or job.get("created_by") == self.username:
            return {**job, "redacted": False}
        shown = {k: job.get(k) for k in JOB_FIELDS}
        return {**shown, "params": {}, "result": None, "message": None, "error": None,
                "redacted": True}  # fmt: skip


def _redact_case(case: Mapping[str, Any], visible: set[str], username: str) -> dict[str, Any]:
    """The case without the labels of layers outside ``visible`` nor others' judgements.

    The evidence is rebuilt from an allow-list (labels of visible layers; a confidence only
    when its layer is visible), so evidence kinds added later stay hidden by default.
    """
    out = dict(case)
    out["evidence"] = _evidence(case.get("evidence") or {}, visible)
    if case.get("created_by") != username:
        # The class at issue and the score (the share that agrees) tell others' labels.
        out.update(label=None, suggested=None, score=None)
        out["comment"] = _others_text(case.get("comment"))
    if "reviewed" not in visible:
        out["resolved_label"] = None
    out["resolution"] = _others_text(case.get("resolution"))  # a reviewer's reason
    if "labels_now" in case:
        out["labels_now"] = {k: v for k, v in case["labels_now"].items() if k in visible}
    if "events" in case:
        out["events"] = [_event(e, username) for e in case["events"]]
    out["redacted"] = True
    return out


def _redact_evidence(
    evidence: Mapping[str, Any], case: Mapping[str, Any], visible: set[str], username: str
) -> dict[str, Any]:
    """Case evidence cut for a blind annotator (an allow-list, like :func:`_redact_case`)."""
    seen = evidence.get("label_layer") in visible
    judged = seen and case.get("created_by") == username

    def item(entry: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if entry is None:
            return None
        return {**entry, "label": entry.get("label") if seen else None}

    neighbours = evidence.get("neighbours") or {}
    return {
        "layer": evidence.get("layer") if seen else None,
        "label_layer": evidence.get("label_layer") if seen else None,
        "decision_layer": None,
        "given": evidence.get("given") if seen else None,
        "given_when_opened": evidence.get("given_when_opened") if judged else None,
        "suggested": evidence.get("suggested") if judged else None,
        "confidence": None,
        "quality": None,
        "neighbours": {
            "layer": neighbours.get("layer") if seen else None,
            "items": [item(n) for n in neighbours.get("items", [])],
            "vote": neighbours.get("vote", []) if seen else [],
        },
        "partner": item(evidence.get("partner")),
        "labels": [r for r in evidence.get("labels", []) if r.get("layer") in visible],
        "no_longer_holds": None,
        # Box figures of the layers they may see, without what a model saw (regions).
        "figures": [
            {**f, "regions": []} for f in evidence.get("figures", []) if f.get("layer") in visible
        ],
        # Span figures likewise: their layers only, no suspect stretches a model found.
        "span_figures": [
            {**f, "segments": [{**s, "region": False} for s in f["segments"]]}
            for f in evidence.get("span_figures") or []
            if f.get("layer") in visible
        ],
        "redacted": True,
    }


def _evidence(evidence: Mapping[str, Any], visible: set[str]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    if isinstance(evidence.get("labels"), dict):
        kept["labels"] = {k: v for k, v in evidence["labels"].items() if k in visible}
    if evidence.get("layer") in visible:
        kept.update({k: evidence[k] for k in ("layer", "label", "confidence") if k in evidence})
    return kept


def _others_text(text: str | None) -> str | None:
    """Free text by others may name a class ("looks like a 7"): hidden like their labels."""
    return HIDDEN_TEXT if text else text


def _event(event: Mapping[str, Any], username: str) -> dict[str, Any]:
    note = event.get("note")
    return {
        **event,
        "note": note if event.get("actor") == username else _others_text(note),
        "data": {k: v for k, v in (event.get("data") or {}).items() if k == "assignee"} or None,
    }


def _per_class(layers: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Items gained and lost per class over the flows of ``layers``."""
    per_class: dict[str, dict[str, int]] = {}
    for d in layers:
        for flow in d["flows"]:
            for end, key in (("from", "lost"), ("to", "gained")):
                if flow[end] is not None:
                    per_class.setdefault(flow[end], {"gained": 0, "lost": 0})
                    per_class[flow[end]][key] += flow["items"]
    return dict(sorted(per_class.items()))
