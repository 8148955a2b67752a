"""Tags: a set of classes per item (multi-label classification: tags, attributes, topics).

A label of a tags layer is the whole set of tags one layer gives one item, kept as JSON in
``labels.value``: a list of class names of the dataset, each once, in the dataset's class
order. ``[]`` means "looked at, no tag applies"; no label means "not annotated". Keeping the
set as one label makes every change one append-only version (who, when, why, snapshots and
diffs come from the label store), and a diff names the tags added and removed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import orjson

from assay.errors import InvalidParameter
from assay.labels.kinds import AnnotationKind, KindSchema
from assay.store import queries

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
    noun: ClassVar[str] = "tag set"
    example: ClassVar[str] = '["outdoor", "night"] (or: outdoor, night)'

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
