"""Dataset statistics: mergeable aggregators, distribution drift and the Dask runner."""

from assay.stats.aggregators import (
    Aggregator,
    Categories,
    Count,
    Distinct,
    DuplicateGroups,
    Histogram,
    MinMax,
    Moments,
    NumericSummary,
    Quantiles,
)
from assay.stats.distributed import connect, reduce_partitions, tree_reduce
from assay.stats.drift import (
    categorical_psi,
    population_stability_index,
    psi_from_summaries,
    total_variation,
)

__all__ = [
    "Aggregator",
    "Categories",
    "Count",
    "Distinct",
    "DuplicateGroups",
    "Histogram",
    "MinMax",
    "Moments",
    "NumericSummary",
    "Quantiles",
    "categorical_psi",
    "connect",
    "population_stability_index",
    "psi_from_summaries",
    "reduce_partitions",
    "total_variation",
    "tree_reduce",
]
