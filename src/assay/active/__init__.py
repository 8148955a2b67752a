"""Active learning: suggest what to label next, keep the suggestions, and simulate the loop.

* :mod:`assay.active.strategies` - the strategies, pure functions over arrays;
* :class:`Suggestions` (``ds.suggestions``) - ranked suggestion lists in the store, ``next``
  for the labeling queue, ``refresh`` as labels arrive;
* :func:`simulate_al` - learning curves against known labels, with labels-to-target and the
  ratio to random sampling; :func:`plot_curves` draws them.
"""

from assay.active.api import SuggestionList, Suggestions
from assay.active.lists import ListNotFound, SuggestionsBusy
from assay.active.plot import plot_curves
from assay.active.pool import EmptyPool
from assay.active.simulate import Curve, SimulationResult, simulate_al, simulate_arrays
from assay.active.strategies import Selection

__all__ = [
    "Curve",
    "EmptyPool",
    "ListNotFound",
    "Selection",
    "SimulationResult",
    "SuggestionList",
    "Suggestions",
    "SuggestionsBusy",
    "plot_curves",
    "simulate_al",
    "simulate_arrays",
]
