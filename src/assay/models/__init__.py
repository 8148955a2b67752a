"""Models, predictions and their evaluation: features, training, out-of-fold probabilities.

Use it through ``dataset.models`` (:class:`DatasetModels`); :func:`oof_probs` and
:func:`featurize` are the building blocks other parts of Assay (label quality) use directly.
"""

from assay.models.api import DatasetModels
from assay.models.features import Features, featurize, import_features
from assay.models.pipeline import Predictions
from assay.models.training import oof_probs

__all__ = [
    "DatasetModels",
    "Features",
    "Predictions",
    "featurize",
    "import_features",
    "oof_probs",
]
