"""The review queue: cases, their state machine and audit log, and scans that fill it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from assay.review.queue import CaseNotFound

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset
    from assay.handle import ItemRef

__all__ = ["CaseNotFound", "ReviewQueue"]


class ReviewQueue:
    """The review queue of one dataset: ``dataset.review``."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def _actor(self, actor: str | None) -> str:
        from assay.labels.writes import default_author

        return actor or default_author()

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

        with self.dataset.store.read() as conn:
            return get_case(conn, self.dataset.id, case_id)

    def counts(self) -> dict[str, dict[str, int]]:
        """Cases per state and reason."""
        from assay.review.queue import counts

        with self.dataset.store.read() as conn:
            return counts(conn, self.dataset.id)

    def flag(
        self, item: ItemRef, comment: str, *, label: str | None = None, actor: str | None = None
    ) -> dict[str, Any]:
        """Open a case by hand: a person flags an item with a comment."""
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
    ) -> dict[str, Any]:
        """Decide the item's label; it is written to the ``reviewed`` layer with the reason."""
        return self._transition(
            case_id,
            "resolve",
            label=label,
            note=reason,
            actor=actor,
            expected_version=expected_version,
        )

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
