"""Assay: a Software 2.0 IDE for datasets, labels and what models make of them.

>>> import assay
>>> project = assay.open("my-project")  # doctest: +SKIP
"""

from assay.dataset import Dataset
from assay.errors import AssayError
from assay.project import Project, init, open

__version__ = "0.1.0"

__all__ = ["AssayError", "Dataset", "Project", "__version__", "init", "open"]
