"""The review queue: cases, their state machine and audit log, and scans that fill it.

Every read first closes the cases that no longer hold (:mod:`assay.review.staleness`), so a
list, a case and the counts show the labels as they are now.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from assay.review.queue import CaseNotFound

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset
    from assay.handle import ItemRef
    from assay.review.evidence import Nearest

__all__ = ["CaseNotFound", "ReviewQueue"]


class ReviewQueue:
    """The review queue of one dataset: ``dataset.review``."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def _actor(self, actor: str | None) -> str:
        from assay.labels.writes import default_author

        return actor or default_author()

    def refresh(self) -> list[int]:
        """Close the cases that no longer hold (their label changed since they were opened),
        as ``obsolete``; the ids closed. Every read does it first."""
        from assay.review.staleness import close_obsolete

        return close_obsolete(self.dataset.store, self.dataset.id)

    def list(
        self,
        *,
        state: str | Sequence[str] | None = None,
        reason: str | None = None,
        label: str | None = None,
        assignee: str | None = None,
        item: ItemRef | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """One page of cases (filters by state, reason, class, assignee, item) and the cursor."""
        from assay.labels.writes import resolve_item
        from assay.review.queue import list_cases

        self.refresh()
        with self.dataset.store.read() as conn:
            item_id = None if item is None else resolve_item(conn, self.dataset.id, item)
            return list_cases(
                conn,
                self.dataset.id,
                state=state,
                reason=reason,
                label=label,
                assignee=assignee,
                item_id=item_id,
                after=after,
                limit=limit,
            )

    def get(self, case_id: int) -> dict[str, Any]:
        """One case with its evidence and audit log."""
        from assay.review.queue import get_case

        self.refresh()
        with self.dataset.store.read() as conn:
            return get_case(conn, self.dataset.id, case_id)

    def evidence(self, case_id: int, *, nearest: Nearest | None = None) -> dict[str, Any]:
        """Why the case was opened, with the labels as they are now (see
        :func:`assay.review.evidence.case_evidence`; ``nearest`` finds an item's neighbours)."""
        from assay.review.evidence import case_evidence
        from assay.review.queue import get_case

        self.refresh()
        with self.dataset.store.read() as conn:
            case = get_case(conn, self.dataset.id, case_id, evidence=False)
            return case_evidence(conn, self.dataset.id, case, nearest=nearest)

    def evidence_of(
        self, cases: Sequence[dict[str, Any]], *, nearest: Nearest | None = None
    ) -> dict[int, dict[str, Any]]:
        """:meth:`evidence` of cases already read (case id -> evidence), in one transaction."""
        from assay.review.evidence import case_evidence

        with self.dataset.store.read() as conn:
            return {
                c["id"]: case_evidence(conn, self.dataset.id, c, nearest=nearest) for c in cases
            }

    def decision_layer(self, case_id: int) -> str:
        """The layer a decision on the case is written to (:mod:`assay.review.rules`)."""
        from assay.review.queue import get_case
        from assay.review.rules import decision_layer

        with self.dataset.store.read() as conn:
            case = get_case(conn, self.dataset.id, case_id, evidence=False)
            return decision_layer(conn, self.dataset.id, case)

    def counts(self) -> dict[str, dict[str, int]]:
        """Cases per state and reason."""
        from assay.review.queue import counts

        self.refresh()
        with self.dataset.store.read() as conn:
            return counts(conn, self.dataset.id)

    def flag(
        self,
        item: ItemRef,
        comment: str,
        *,
        label: str | None = None,
        layer: str | None = None,
        actor: str | None = None,
    ) -> dict[str, Any]:
        """Open a case by hand: a person flags an item's label in ``layer`` (default: the
        default layer) with a comment, and optionally the label they believe is right."""
        from assay.labels.writes import resolve_item
        from assay.review.queue import flag

        with self.dataset.store.write() as conn:
            item_id = resolve_item(conn, self.dataset.id, item)
            return flag(
                conn,
                self.dataset.id,
                item_id,
                actor=self._actor(actor),
                comment=comment,
                label=label,
                layer=layer,
            )

    def _transition(self, case_id: int, action: str, **kw: Any) -> dict[str, Any]:
        from assay.review.queue import transition

        actor = self._actor(kw.pop("actor", None))
        with self.dataset.store.write() as conn:
            return transition(conn, self.dataset.id, case_id, action, actor=actor, **kw)

    def escalate(
        self,
        case_id: int,
        assignee: str,
        *,
        note: str | None = None,
        actor: str | None = None,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Assign an open case to a reviewer."""
        return self._transition(
            case_id,
            "escalate",
            assignee=assignee,
            note=note,
            actor=actor,
            expected_version=expected_version,
        )

    def assign(self, case_id: int, assignee: str, *, actor: str | None = None) -> dict[str, Any]:
        """Change who a case is assigned to."""
        return self._transition(case_id, "assign", assignee=assignee, actor=actor)

    def resolve(
        self,
        case_id: int,
        label: str,
        reason: str,
        *,
        actor: str | None = None,
        expected_version: int | None = None,
        boxes: Sequence[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Decide the item's label: a new label version, attributed to ``actor`` with the case
        and the reason, in the layer the case is about (a label issue, an outlier, a
        duplicate, a flag), or in ``reviewed`` for a case between annotators (see
        :mod:`assay.review.rules`). On a case about boxes, ``boxes`` is the box set the
        reviewer decided (edited from :meth:`decision_boxes` of ``label``), written as is."""
        return self._transition(
            case_id,
            "resolve",
            label=label,
            note=reason,
            actor=actor,
            expected_version=expected_version,
            boxes=None if boxes is None else [dict(b) for b in boxes],
        )

    def decision_boxes(self, case_id: int, choice: str = "accept") -> dict[str, Any]:
        """What resolving box case ``case_id`` with ``choice`` would write now, written
        nowhere: ``{"boxes", "what", "layer"}`` (``layer``: where the decision goes)."""
        from assay.review.queue import decision_preview

        with self.dataset.store.read() as conn:
            boxes, what = decision_preview(conn, self.dataset.id, case_id, choice)
        return {"boxes": boxes, "what": what, "layer": self.decision_layer(case_id)}

    def dismiss(
        self,
        case_id: int,
        reason: str,
        *,
        actor: str | None = None,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Close a case without changing any label."""
        return self._transition(
            case_id, "dismiss", note=reason, actor=actor, expected_version=expected_version
        )

    def comment(self, case_id: int, text: str, *, actor: str | None = None) -> dict[str, Any]:
        """Add a note to a case's log."""
        return self._transition(case_id, "comment", note=text, actor=actor)
