"""Compute aggregators over partitions, in-process or on a Dask cluster, with the same answer.

Both paths merge partial results as the same balanced binary tree in partition order, so
exact aggregators give bit-identical results wherever they run. ``distributed`` is an
optional dependency (``pip install 'assay[dask]'``), imported only when a cluster is used.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

from assay.errors import InvalidParameter, MissingDependency

if TYPE_CHECKING:
    from distributed import Client

CONNECT_TIMEOUT_S = 10.0
"""How long :func:`connect` waits for the scheduler before giving up."""


class Mergeable(Protocol):
    """Anything with an in-place ``merge`` that returns ``self``, like every aggregator."""

    def merge(self, other: Self) -> Self: ...


T = TypeVar("T")
M = TypeVar("M", bound=Mergeable)


def merge_pair(a: M, b: M) -> M:
    """Merge ``b`` into ``a`` in place and return ``a``."""
    return a.merge(b)


def merge_copy(a: M, b: M) -> M:
    """Merge ``b`` into a copy of ``a``: Dask tasks must not mutate their inputs."""
    return copy.deepcopy(a).merge(b)


def tree_reduce(items: Iterable[T], merge: Callable[[T, T], T]) -> T:
    """Reduce ``items`` pairwise as a balanced binary tree, keeping their order.

    Items are consumed lazily and at most ``log2(n) + 1`` partial results are alive at once.
    Adjacent subtrees of equal size are merged as soon as both exist; what is left at the end
    is merged right to left, so the shape depends only on the number of items.

    Parameters
    ----------
    items : iterable
        The leaves, in order.
    merge : callable
        ``merge(left, right)`` returning the combined value.

    Returns
    -------
    The root of the tree.

    Raises
    ------
    InvalidParameter
        If ``items`` is empty.
    """
    stack: list[tuple[int, T]] = []
    for item in items:
        size, value = 1, item
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            size, value = left_size + size, merge(left, value)
        stack.append((size, value))
    if not stack:
        raise InvalidParameter("Nothing to reduce: pass at least one partition.")
    _, value = stack.pop()
    while stack:
        _, left = stack.pop()
        value = merge(left, value)
    return value


def reduce_partitions(
    fn: Callable[[Any], M],
    partitions: Sequence[Any],
    *,
    client: Client | None = None,
    executor: Executor | None = None,
) -> M:
    """Apply ``fn`` to every partition and merge the results into one aggregator.

    Parameters
    ----------
    fn : callable
        ``fn(partition)`` returns a fresh aggregator (anything with ``merge``) summarising that
        partition. On a cluster it must be picklable: a module-level function or a
        ``functools.partial`` of one.
    partitions : sequence
        Picklable descriptors of the partitions (paths, row ranges, query bounds...).
    client : distributed.Client, optional
        Run on this Dask cluster; by default run sequentially in this process.
    executor : concurrent.futures.Executor, optional
        Run the partitions on this local pool (for example one process per core); results
        are merged here, in partition order.

    Returns
    -------
    The merged aggregator. For exact aggregators the result is the same, bit for bit, with or
    without a client, because both paths merge in the same tree shape and order.

    Raises
    ------
    InvalidParameter
        If ``partitions`` is empty.

    Examples
    --------
    >>> import numpy as np
    >>> from assay.stats import Moments
    >>> reduce_partitions(lambda n: Moments().add(np.arange(n)), [3, 4]).result()["count"]
    7
    """
    partitions = list(partitions)
    if not partitions:
        raise InvalidParameter("Nothing to reduce: pass at least one partition.")
    if executor is not None:
        return tree_reduce(executor.map(fn, partitions), merge_pair)
    if client is None:
        return tree_reduce((fn(partition) for partition in partitions), merge_pair)
    return _reduce_on_cluster(fn, partitions, client)


def _reduce_on_cluster(fn: Callable[[Any], M], partitions: list[Any], client: Client) -> M:
    """Map ``fn`` on the cluster and tree-reduce the futures there; gather only the root."""
    # pure=False: two equal descriptors are two partitions and must both be counted.
    leaves = client.map(fn, partitions, pure=False)

    def submit_merge(left: Any, right: Any) -> Any:
        return client.submit(merge_copy, left, right, pure=False)

    root = tree_reduce(leaves, submit_merge)
    return root.result()


def connect(address: str, *, timeout_s: float = CONNECT_TIMEOUT_S) -> Client:
    """Connect to a running Dask scheduler.

    Parameters
    ----------
    address : str
        The scheduler address, for example ``"tcp://10.0.0.5:8786"``.
    timeout_s : float, default 10
        How long to wait for the scheduler.

    Returns
    -------
    distributed.Client
        A client that is not set as the global default; close it when done.

    Raises
    ------
    MissingDependency
        If ``distributed`` is not installed.
    InvalidParameter
        If the address is empty or the scheduler cannot be reached in time.
    """
    client_class = _client_class()
    if not isinstance(address, str) or not address.strip():
        raise InvalidParameter(
            f"The Dask scheduler address must be a non-empty string such as "
            f"'tcp://10.0.0.5:8786'. Got {address!r} instead."
        )
    try:
        return client_class(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise InvalidParameter(
            f"Cannot reach the Dask scheduler at {address!r} within {timeout_s:g} s: {error}. "
            "Check that the scheduler is running and that the address and port are right."
        ) from error


def _client_class() -> type[Client]:
    """Import ``distributed.Client`` lazily, naming the extra to install if it is missing."""
    try:
        from distributed import Client
    except ImportError as error:
        raise MissingDependency(
            "Running statistics on a Dask cluster needs the 'distributed' package: "
            "pip install 'assay[dask]'"
        ) from error
    return Client
