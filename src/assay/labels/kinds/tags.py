"""Tags: a set of classes per item (multi-label classification: tags, attributes, topics).

A label of a tags layer is the whole set of tags one layer gives one item, kept as JSON in
``labels.value``: a list of class names of the dataset, each once, in the dataset's class
order. ``[]`` means "looked at, no tag applies"; no label means "not annotated". Keeping the
set as one label makes every change one append-only version (who, when, why, snapshots and
diffs come from the label store), and a diff names the tags added and removed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from assay.errors import InvalidParameter
from assay.labels.kinds import AnnotationKind, Disagreement, KindSchema
from assay.store import queries

if TYPE_CHECKING:
    from assay.labels.tag_agreement import TagAgreementReport, TagConsensus
    from assay.labels.writes import LabelWrite

__all__ = ["MAX_TAGS", "Tags", "tag_set"]

#: Most tags one item may carry in one layer.
MAX_TAGS = 1_000


def tag_set(value: Any, classes: Mapping[str, int], where: str) -> list[str]:
    """``value`` (a list of class names) as it is kept: each tag once, in class order; or
    InvalidParameter naming ``where`` and the tag. The one rule for what a tag set is."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InvalidParameter(
            f'{where}: tags are a list of class names, e.g. ["outdoor", "night"], '
            f"not {type(value).__name__}."
        )
    if len(value) > MAX_TAGS:
        raise InvalidParameter(f"{where}: {len(value)} tags; one item holds at most {MAX_TAGS}.")
    out: set[str] = set()
    for tag in value:
        if not isinstance(tag, str) or tag not in classes:
            hint = queries.hint(str(tag), list(classes), "classes")
            raise InvalidParameter(
                f"{where}: tag {tag!r} is not in the dataset's tag set.{hint} Add it to the "
                "dataset's classes first."
            )
        out.add(tag)
    return sorted(out, key=classes.__getitem__)


class Tags(AnnotationKind):
    """A set of the dataset's classes per item (multi-label)."""

    name: ClassVar[str] = "tags"
    agreement_measure: ClassVar[tuple[str, str] | None] = (
        "alpha",
        "Krippendorff's alpha over the tags",
    )
    noun: ClassVar[str] = "tag set"
    example: ClassVar[str] = '["outdoor", "night"] (or: outdoor, night)'
    json_type: ClassVar[type | tuple[type, ...]] = list
    quality_check: ClassVar[str | None] = "tags"
    #: A tag model's label keeps its predicted set as the value (the human format) and
    #: P(tag applies) per class, in class order, in ``probs``.
    independent_probs: ClassVar[bool] = True
    #: Per-tag majority vote and per-tag Dawid-Skene (:mod:`assay.labels.tag_agreement`).
    consensus_methods: ClassVar[tuple[str, ...]] = ("majority-vote", "dawid-skene")

    def validate(self, value: Any, schema: KindSchema, item_id: int) -> Any:
        return tag_set(value, schema.classes, f"Item {item_id}")

    def parse(self, text: str) -> Any:
        """A JSON list, or tags separated by commas (``outdoor, night``; empty: no tag)."""
        stripped = text.strip()
        if stripped.startswith("["):
            return super().parse(stripped)
        return [t.strip() for t in stripped.split(",") if t.strip()]

    def read(self, class_name: str | None, value: Any) -> Any:
        del class_name
        if isinstance(value, str | bytes):  # some drivers hand JSON back as text
            value = orjson.loads(value)
        return value

    def show(self, value: Any) -> str:
        if value is None:
            return ""
        return ", ".join(value) if value else "(no tags)"

    def diff(self, a: Any, b: Any) -> str | None:
        if a == b:
            return None
        if a is None:
            return f"added {self.show(b)}"
        if b is None:
            return f"removed {self.show(a)}"
        added = [t for t in b if t not in a]
        removed = [t for t in a if t not in b]
        return ", ".join([f"+{t}" for t in added] + [f"-{t}" for t in removed])

    # -- several layers (computed in assay.labels.tag_agreement) ------------------------------
    def decide(
        self, choice: str, values: Mapping[str, Any], layers: Sequence[str]
    ) -> tuple[Any, str]:
        """``accept``: the tags most layers give; ``keep``: the first layer's; a layer's name:
        its tags (:func:`assay.labels.tag_agreement.decision_tags`); else a tag set as typed."""
        from assay.labels.tag_agreement import decision_tags

        if choice in layers and choice not in values:  # refused: that layer has no tags here
            return super().decide(choice, values, layers)
        if choice in ("accept", "consensus", "keep") or choice in layers:
            return decision_tags(values, layers, choice)
        return self.parse(choice), "a tag set the reviewer wrote"

    def decision_entry(
        self, options: Sequence[Mapping[str, Any]], classes: Sequence[str]
    ) -> dict[str, Any] | None:
        """A tag set of the reviewer's own: any of the dataset's classes."""
        del options
        return {"input": "set", "options": list(classes), "text": "an edited tag set"}

    def accept(self, current: Any, evidence: Mapping[str, Any]) -> Any:
        """The item's tags now with a label-quality case's suspects applied (a missing tag
        added, a probably wrong one removed)."""
        suspects = evidence.get("suspect_tags")
        if not isinstance(suspects, list):
            return super().accept(current, evidence)
        return apply_tag_fixes(current or [], suspects)

    def agreement(self, table: Any, *, reference: Any = None) -> TagAgreementReport:
        """Per-tag Cohen's kappa per pair of layers and Krippendorff's alpha per tag and
        overall; ``reference`` (a consensus method or a one-layer table) adds each layer's F1
        against it (:func:`assay.labels.tag_agreement.tag_agreement`)."""
        from assay.labels.tag_agreement import tag_agreement

        return tag_agreement(table, reference=reference)

    def disagreements(self, table: Any) -> Iterator[Disagreement]:
        """One per item whose layers gave different sets, naming the tags at issue and who
        gave them (:func:`assay.labels.tag_agreement.tag_disagreements`)."""
        from assay.labels.tag_agreement import tag_disagreements

        return tag_disagreements(table)

    def combine(
        self, table: Any, method: str, *, pred_probs: Any = None, seed: int = 0
    ) -> TagConsensus:
        """Majority vote or Dawid-Skene on each tag as a yes/no question
        (:func:`assay.labels.tag_agreement.tag_consensus`)."""
        from assay.labels.tag_agreement import tag_consensus

        del pred_probs, seed
        return tag_consensus(table, method)

    def consensus_writes(self, table: Any, result: Any) -> list[LabelWrite]:
        """The consensus set of each item, its confidence that of its least sure tag."""
        from assay.labels.writes import LabelWrite  # writes imports this package

        del table
        return [
            LabelWrite(item_id, tags, confidence=result.confidence[item_id])
            for item_id, tags in result.tags.items()
        ]


def apply_tag_fixes(tags: Sequence[str], suspects: Sequence[Mapping[str, Any]]) -> list[str]:
    """The tag set with a label-quality case's suspects applied: a missing tag added, a
    probably wrong one removed (the kind puts the set in class order when it is written)."""
    out = list(tags)
    for s in suspects:
        if s.get("kind") == "missing" and s.get("tag") not in out:
            out.append(str(s["tag"]))
        elif s.get("kind") == "wrong" and s.get("tag") in out:
            out.remove(s["tag"])
    return out
