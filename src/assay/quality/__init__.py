"""Likely mislabeled datapoints, outliers and near-duplicates (confident learning, cleanlab).

From out-of-fold class probabilities (a model layer written by ``assay predict --cv``, or a
cross-validation run started here), every labeled item gets a label-quality score; the likely
label errors, the outliers and the near-duplicates are stored per run and can be listed
(``ds.quality.issues()``, ``assay issues``) or sent to the review queue
(``ds.quality.to_review()``, ``assay review scan --issues``) with their evidence.

The array-level functions (:func:`find_label_issues`, :func:`find_data_issues`) work without
a store.
"""

from assay.quality.api import IssueRun, LabelQuality
from assay.quality.ensemble import default_model
from assay.quality.issues import DataIssues, LabelIssues, find_data_issues, find_label_issues
from assay.quality.scores import format_quality, format_score

__all__ = [
    "DataIssues",
    "IssueRun",
    "LabelIssues",
    "LabelQuality",
    "default_model",
    "find_data_issues",
    "find_label_issues",
    "format_quality",
    "format_score",
]
