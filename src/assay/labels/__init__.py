"""Annotation layers: label writes and history, agreement, consensus, snapshots and diffs.

Most work goes through a :class:`assay.Dataset` (``ds.set_label``, ``ds.agreement``,
``ds.consensus``, ``ds.snapshot``, ``ds.diff``); the pieces here work on any label matrix.
"""

from assay.labels.agreement import AgreementReport, agreement, confusion
from assay.labels.consensus import ConsensusResult, consensus
from assay.labels.matrix import LabelMatrix
from assay.labels.writes import LabelWrite, WriteResult

__all__ = [
    "AgreementReport",
    "ConsensusResult",
    "LabelMatrix",
    "LabelWrite",
    "WriteResult",
    "agreement",
    "confusion",
    "consensus",
]
