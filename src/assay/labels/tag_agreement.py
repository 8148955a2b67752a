"""Discrepancies among tag layers (multi-label): agreement, consensus per tag, and the
disagreements the review scan opens cases for. :class:`assay.labels.kinds.tags.Tags` calls
these.

Every tag is a yes/no question on every item: a layer that labeled an item says "yes" to the
tags of its set and "no" to the others; a layer that did not label it says nothing. So each
tag gets the measures of a binary label: Cohen's kappa per pair of layers (scikit-learn) on
the items both labeled, and Krippendorff's alpha (the ``krippendorff`` package, nominal) over
all layers with missing values. Overall: the mean pairwise kappa over tags and pairs, alpha
over every (item, tag) unit at once, and the mean Jaccard index of two layers' sets.

Consensus runs the classification consensus (:func:`assay.labels.consensus.consensus`:
crowd-kit's majority vote or Dawid-Skene) on each tag as a binary question, so there is one
Dawid-Skene, not a second one written for sets. An item's consensus set is the tags whose
"yes" has posterior > 0.5; its confidence is that of its least sure tag decision (the one a
reviewer should look at), and an annotator's quality is the mean of its per-tag qualities.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from assay.errors import InvalidParameter
from assay.labels.agreement import plain_json
from assay.labels.consensus import LOW_CONFIDENCE
from assay.labels.kinds import Disagreement, ValueTable

__all__ = [
    "METHODS",
    "TagAgreementReport",
    "TagConsensus",
    "case_tags",
    "decision_tags",
    "table_tags",
    "tag_agreement",
    "tag_consensus",
    "tag_disagreements",
    "tag_matrix",
]

#: Consensus methods: the names classification uses, run on each tag as a binary question.
METHODS: tuple[str, ...] = ("majority-vote", "dawid-skene")


def table_tags(table: ValueTable, order: Sequence[str] = ()) -> list[str]:
    """The tags any layer of ``table`` gives, ``order`` first (e.g. the dataset's classes)."""
    seen = {tag for per in table.values.values() for tags in per.values() for tag in tags or ()}
    known = [t for t in order if t in seen]
    return known + sorted(seen - set(known))


def tag_matrix(table: ValueTable, layer: str, tags: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(labeled, y)`` of ``layer`` over ``table.item_ids``: whether it labeled each item
    ((n,) bool) and which tags it gave ((n, k) bool, False where it did not label)."""
    index = {t: k for k, t in enumerate(tags)}
    n = table.n_items
    labeled = np.zeros(n, dtype=bool)
    y = np.zeros((n, len(tags)), dtype=bool)
    per = table.values.get(layer, {})
    for i, item_id in enumerate(table.item_ids):
        value = per.get(item_id)
        if value is None:
            continue
        labeled[i] = True
        for tag in value:
            k = index.get(tag)
            if k is not None:
                y[i, k] = True
    return labeled, y


def _kappa(x: np.ndarray, y: np.ndarray) -> float | None:
    """Cohen's kappa (scikit-learn), None where undefined (no items, or one answer only)."""
    from sklearn.metrics import cohen_kappa_score

    if len(x) == 0 or len(np.unique(np.concatenate([x, y]))) < 2:
        return None
    value = float(cohen_kappa_score(x, y))
    return value if math.isfinite(value) else None


def _alpha(data: np.ndarray) -> float | None:
    """Krippendorff's alpha (nominal) of ``data`` (layers x units, nan = missing); None where
    undefined (fewer than two answers on any unit, or one value only)."""
    import krippendorff

    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    if not pairable.any():
        return None
    values = data[:, pairable]
    if len(np.unique(values[~np.isnan(values)])) < 2:
        return None
    value = float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
    return value if math.isfinite(value) else None


def _f1(y: np.ndarray, ref: np.ndarray) -> float | None:
    """Micro F1 of tag sets ``y`` against ``ref`` (same shape); None with no tag in either."""
    tp = float((y & ref).sum())
    denom = float(y.sum() + ref.sum())
    return 2 * tp / denom if denom else None


@dataclass(frozen=True)
class TagPairAgreement:
    """Two layers over the items both labeled."""

    a: str
    b: str
    n_items: int
    exact: float | None  # share of items with the same set
    jaccard: float | None  # mean Jaccard of the two sets (1 where both are empty)
    mean_kappa: float | None  # mean over tags of the per-tag kappa (where defined)
    kappa: dict[str, float | None] = field(default_factory=dict)  # per tag


@dataclass(frozen=True)
class TagClassAgreement:
    """One tag over every layer."""

    name: str
    n_yes: int  # "yes" answers of all layers, on items two or more layers labeled
    alpha: float | None  # Krippendorff's alpha, nominal
    mean_kappa: float | None  # mean over the pairs of layers
    positive_agreement: float | None  # 2 both-yes / (yes of a + yes of b), pooled over pairs


@dataclass(frozen=True)
class TagLayerQuality:
    """One layer against a reference (the consensus of the other layers, or a layer)."""

    layer: str
    n_items: int
    f1: float | None  # micro F1 of its tags against the reference's
    exact: float | None  # share of items with the reference's set
    missed: int  # tags the reference gives that the layer does not
    added: int  # tags the layer gives that the reference does not


@dataclass(frozen=True)
class TagAgreementReport:
    """Agreement of tag layers (see the module doc); ``to_dict()`` is JSON-ready and has
    ``"kind": "tags"`` so the faces know what to print."""

    layers: list[str]
    tags: list[str]
    n_items: int  # labeled by any layer
    n_items_compared: int  # labeled by two or more
    alpha: float | None  # over every (item, tag) unit
    mean_kappa: float | None  # over tags and pairs
    mean_jaccard: float | None  # over the pairs
    pairwise: list[TagPairAgreement]
    per_tag: list[TagClassAgreement]
    layer_quality: list[TagLayerQuality] | None = None
    reference: str | None = None
    reference_rule: str | None = None
    kind: str = "tags"

    def to_dict(self) -> dict[str, Any]:
        return plain_json(asdict(self))


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def tag_agreement(
    table: ValueTable, *, reference: str | ValueTable | None = None, order: Sequence[str] = ()
) -> TagAgreementReport:
    """Agreement of the tag layers of ``table`` (see the module doc). ``reference``: a
    consensus method (each layer against that consensus of the OTHER layers, leave-one-out),
    a one-layer table (each layer against that layer) or None (no per-layer rating)."""
    tags = table_tags(table, order)
    if isinstance(reference, ValueTable):
        tags = table_tags(ValueTable("tags", [], [], {**table.values, **reference.values}), tags)
    mats = {name: tag_matrix(table, name, tags) for name in table.layers}
    k = len(tags)
    pairs: list[TagPairAgreement] = []
    kappas: dict[str, list[float | None]] = {t: [] for t in tags}
    both_yes = np.zeros(k)
    yes_sum = np.zeros(k)
    for a, b in combinations(table.layers, 2):
        (la, ya), (lb, yb) = mats[a], mats[b]
        common = la & lb
        xa, xb = ya[common], yb[common]
        per = {t: _kappa(xa[:, j], xb[:, j]) for j, t in enumerate(tags)}
        for t, v in per.items():
            kappas[t].append(v)
        union = (xa | xb).sum(axis=1)
        inter = (xa & xb).sum(axis=1)
        jac = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
        n = int(common.sum())
        pairs.append(
            TagPairAgreement(
                a, b, n,
                float((xa == xb).all(axis=1).mean()) if n else None,
                float(jac.mean()) if n else None,
                _mean(list(per.values())), per,
            )
        )  # fmt: skip
        both_yes += (xa & xb).sum(axis=0)
        yes_sum += xa.sum(axis=0) + xb.sum(axis=0)
    labeled = np.array([mats[n][0] for n in table.layers]).reshape(len(table.layers), -1)
    compared = labeled.sum(axis=0) >= 2
    # Reliability data, layers x (items x tags): nan where the layer did not label the item.
    cube = np.array(
        [np.where(mats[n][0][:, None], mats[n][1], np.nan) for n in table.layers], dtype=float
    ).reshape(len(table.layers), table.n_items, k)
    per_tag = [
        TagClassAgreement(
            t,
            int(np.nansum(cube[:, compared, j])),
            _alpha(cube[:, :, j]) if len(table.layers) >= 2 else None,
            _mean(kappas[t]),
            2 * float(both_yes[j]) / float(yes_sum[j]) if yes_sum[j] else None,
        )
        for j, t in enumerate(tags)
    ]
    quality, ref_name, rule = None, None, None
    if isinstance(reference, str):
        ref_name = reference
        quality = _against_others(table, tags, reference)
        rule = (
            f"Each layer against the {reference} consensus of the OTHER layers, tag by tag "
            "(leave-one-out: a layer's own tags never count in its reference), on the items "
            "both label."
        )
    elif isinstance(reference, ValueTable):
        ref_name = reference.layers[0]
        aligned = ValueTable("tags", table.item_ids, [ref_name], reference.values)
        lr, yr = tag_matrix(aligned, ref_name, tags)
        quality = [_quality(n, *mats[n], lr, yr) for n in table.layers]
        rule = f"Each layer against the layer {ref_name}, tag by tag."
    return TagAgreementReport(
        layers=list(table.layers),
        tags=tags,
        n_items=table.n_items,
        n_items_compared=int(compared.sum()),
        alpha=_alpha(cube.reshape(len(table.layers), -1)) if len(table.layers) >= 2 else None,
        mean_kappa=_mean([v for vs in kappas.values() for v in vs]),
        mean_jaccard=_mean([p.jaccard for p in pairs]),
        pairwise=pairs,
        per_tag=per_tag,
        layer_quality=quality,
        reference=ref_name,
        reference_rule=rule,
    )


def _quality(
    name: str, labeled: np.ndarray, y: np.ndarray, ref_labeled: np.ndarray, ref: np.ndarray
) -> TagLayerQuality:
    common = labeled & ref_labeled
    a, r = y[common], ref[common]
    n = int(common.sum())
    return TagLayerQuality(
        name, n, _f1(a, r), float((a == r).all(axis=1).mean()) if n else None,
        int((r & ~a).sum()), int((a & ~r).sum()),
    )  # fmt: skip


def _against_others(table: ValueTable, tags: Sequence[str], method: str) -> list[TagLayerQuality]:
    out = []
    for name in table.layers:
        others = [n for n in table.layers if n != name]
        if not others:
            continue
        sub = ValueTable("tags", table.item_ids, others, {n: table.values[n] for n in others})
        ref = tag_consensus(sub, method, order=tags)
        ref_table = ValueTable("tags", table.item_ids, ["_ref"], {"_ref": ref.tags})
        lr, yr = tag_matrix(ref_table, "_ref", tags)
        out.append(_quality(name, *tag_matrix(table, name, tags), lr, yr))
    return out


# -- consensus ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TagConsensus:
    """The consensus tag set of each item (``tags[item_id]``), its confidence (that of its
    least sure tag decision) and each tag's posterior of "yes" (``scores[item_id][tag]``);
    the :class:`~assay.labels.kinds.Combined` of tag layers."""

    method: str
    layers: tuple[str, ...]
    tags: dict[int, list[str]]
    confidence: dict[int, float]
    scores: dict[int, dict[str, float]]
    annotator_quality: dict[str, float | None] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        conf = np.array(list(self.confidence.values()), dtype=float)
        return plain_json({
            "method": self.method,
            "layers": list(self.layers),
            "n_items": len(self.tags),
            "n_tags": int(sum(len(v) for v in self.tags.values())),
            "mean_confidence": float(conf.mean()) if len(conf) else None,
            "low_confidence_threshold": LOW_CONFIDENCE,
            "n_low_confidence": int((conf < LOW_CONFIDENCE).sum()),
            "annotator_quality": dict(self.annotator_quality),
        })  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return plain_json({
            **self.summary(),
            "tags": {str(k): v for k, v in self.tags.items()},
            "confidence": {str(k): v for k, v in self.confidence.items()},
        })  # fmt: skip


def tag_consensus(
    table: ValueTable, method: str = "majority-vote", *, order: Sequence[str] = ()
) -> TagConsensus:
    """One consensus tag set per item any layer of ``table`` labeled (see the module doc)."""
    if method not in METHODS:
        raise InvalidParameter(
            f"tag layers have no consensus method {method!r}; choose one of: {', '.join(METHODS)}."
        )
    from threadpoolctl import threadpool_limits

    from assay.labels.consensus import consensus
    from assay.labels.matrix import MISSING, LabelMatrix

    tags = table_tags(table, order)
    mats = [tag_matrix(table, name, tags) for name in table.layers]
    labeled = np.array([m[0] for m in mats]).reshape(len(mats), -1).T  # items x layers
    any_label = np.asarray(labeled.any(axis=1), dtype=bool).reshape(-1)
    n = table.n_items
    yes = np.zeros((n, len(tags)))
    quality: dict[str, list[float]] = {name: [] for name in table.layers}
    item_ids = np.asarray(table.item_ids, dtype=np.int64)
    if method == "majority-vote":
        # A vote on a yes/no question is the share of "yes" among the layers that answered:
        # one numpy mean for every item and tag (crowd-kit's MajorityVote gives the same
        # shares through pandas, one fit per tag). A tie (0.5) leaves the tag out, as the
        # classification vote breaks ties to the lower class ("no").
        answered = labeled.sum(axis=1)
        said = np.stack([y for _, y in mats], axis=0).sum(axis=0)  # items x tags
        yes = np.where(answered[:, None] > 0, said / np.maximum(answered, 1)[:, None], 0.0)
        for c, name in enumerate(table.layers):
            lab, y = mats[c]
            decided_all = yes[lab] > 0.5
            if lab.any():
                quality[name].append(float((y[lab] == decided_all).mean()))
    for j in range(len(tags) if method != "majority-vote" else 0):
        codes = np.full((n, len(mats)), MISSING, dtype=np.int16)
        for c, (lab, y) in enumerate(mats):
            codes[lab, c] = y[lab, j].astype(np.int16)
        matrix = LabelMatrix(item_ids, list(table.layers), ["no", "yes"], codes)
        with threadpool_limits(1):  # small numpy work: a shared BLAS pool only slows it
            result = consensus(matrix, method)
        if result.probs is not None:
            yes[:, j] = result.probs[:, 1]
        for name, q in result.annotator_quality.items():
            if math.isfinite(q):
                quality[name].append(q)
    decided = yes > 0.5
    sure = np.where(decided, yes, 1.0 - yes)
    conf = sure.min(axis=1) if len(tags) else np.ones(n)
    out_tags: dict[int, list[str]] = {}
    out_conf: dict[int, float] = {}
    out_scores: dict[int, dict[str, float]] = {}
    for i, item_id in enumerate(table.item_ids):
        if not any_label[i]:
            continue
        key = int(item_id)
        out_tags[key] = [t for j, t in enumerate(tags) if decided[i, j]]
        out_conf[key] = float(conf[i])
        out_scores[key] = {t: round(float(yes[i, j]), 4) for j, t in enumerate(tags)}
    return TagConsensus(
        method, tuple(table.layers), out_tags, out_conf, out_scores,
        {name: (float(np.mean(q)) if q else None) for name, q in quality.items()},
    )  # fmt: skip


def decision_tags(
    values: Mapping[str, list[str]], layers: Sequence[str], choice: str
) -> tuple[list[str], str]:
    """The tag set a review decision between ``layers`` writes, from their current sets
    ``values`` (a layer without a label absent), and what it is in words: ``accept`` (or
    ``consensus``): the tags most of the layers gave (ties: kept); ``keep``: the first
    layer's; a layer's name: that layer's. InvalidParameter for anything else."""
    named = [n for n in layers if n in values]
    if choice in ("accept", "consensus"):
        counts: dict[str, int] = {}
        for n in named:
            for tag in values[n]:
                counts[tag] = counts.get(tag, 0) + 1
        order = [t for n in named for t in values[n]]
        kept = [t for t in dict.fromkeys(order) if 2 * counts[t] >= len(named)]
        return kept, "the tags most of " + ", ".join(named) + " gave"
    source = layers[0] if choice == "keep" and layers else choice
    if source not in layers:
        raise InvalidParameter(
            f"A tag case is decided with accept (the tags most layers gave), keep (the tags "
            f"of {layers[0] if layers else 'the first layer'}) or one of its layers "
            f"({', '.join(layers)}), not {choice!r}."
        )
    return list(values.get(source, [])), f"the tags of {source}"


# -- disagreements (the review scan) ----------------------------------------------------------
def tag_disagreements(table: ValueTable, *, order: Sequence[str] = ()) -> Iterator[Disagreement]:
    """One :class:`Disagreement` per item that two or more layers labeled with different
    sets. The evidence says, for each tag at issue, who gave it and who did not
    (``tag_issues``: ``[{"tag", "yes": [layers], "no": [layers]}]``), and every layer's set
    (``labels``); ``majority`` is the per-tag vote (ties: the tag is kept); ``agreement`` the
    mean Jaccard index of the pairs of sets."""
    tags = table_tags(table, order)
    for item_id in table.item_ids:
        given = {n: table.values[n][item_id] for n in table.layers if item_id in table.values[n]}
        if len(given) < 2:
            continue
        sets = {n: set(v) for n, v in given.items()}
        if len({frozenset(s) for s in sets.values()}) == 1:
            continue
        issues = []
        for tag in tags:
            said = [n for n, s in sets.items() if tag in s]
            if said and len(said) < len(sets):
                no = [n for n in sets if n not in said]
                issues.append({"tag": tag, "yes": said, "no": no})
        jac = [
            len(sets[a] & sets[b]) / len(sets[a] | sets[b]) if sets[a] | sets[b] else 1.0
            for a, b in combinations(sets, 2)
        ]
        majority, _ = decision_tags(given, list(given), "accept")
        yield Disagreement(
            int(item_id),
            min(float(np.mean(jac)), 1.0 - 1e-6),
            majority,
            given,
            evidence={"tag_layers": list(given), "tag_issues": issues},
        )


def case_tags(evidence: Mapping[str, Any]) -> dict[str, Any] | None:
    """A case's tags at issue for ``kinds/_tags_case.html``: per tag who gave it and who did
    not (a disagreement), or the suspect tags with the model's probability (a likely
    mislabeled tag); None for a case that is not about tags."""
    if not evidence.get("tag_layers"):
        return None
    return {
        "layers": list(evidence.get("tag_layers") or []),
        "issues": list(evidence.get("tag_issues") or []),
        "suspects": list(evidence.get("suspect_tags") or []),
        "labels": dict(evidence.get("labels") or {}),
        "summary": evidence.get("summary"),
    }
