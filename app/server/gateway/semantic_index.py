"""A bounded nearest-neighbour store for the semantic response cache.

Rows are unit vectors, each tagged with a *partition* (a 63-bit hash of everything in the request
except the last question: model, parameters, earlier messages). A search only compares rows of
the same partition that have not expired, so two questions match only when their context is
identical and the questions themselves are close. At a few thousand rows a numpy matrix product
is a fraction of a millisecond, so no ANN library is needed.

The arrays grow by doubling up to ``capacity``; when full, the least recently used row (or an
expired one) is overwritten. Not thread-safe: the gateway calls it from its event loop only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["SemanticIndex"]

_FIRST_ROWS = 64
_SAME = 0.9999
"""Cosine at which a new row replaces an existing one instead of adding a near-duplicate."""


class SemanticIndex:
    """``(partition, vector) → value`` with cosine search, a TTL and LRU eviction.

    Args:
        capacity: most rows kept.
        dimensions: length of every vector (384 for the local MiniLM).
        ttl_seconds: a row is ignored (and reusable) this long after it was added.
        timer: the clock (``time.monotonic``).

    Example:
        >>> index = SemanticIndex(capacity=10, dimensions=2, ttl_seconds=60)
        >>> index.add(7, np.array([1.0, 0.0]), "answer")
        >>> index.search(7, np.array([0.99, 0.141]), threshold=0.95)
        ('answer', 0.99)
        >>> index.search(8, np.array([1.0, 0.0]), threshold=0.95) is None  # another context
        True
    """

    def __init__(self, capacity: int, dimensions: int, ttl_seconds: float, timer: Callable[[], float] = time.monotonic):
        self.capacity, self.dimensions, self.ttl, self.timer = capacity, dimensions, ttl_seconds, timer
        rows = min(capacity, _FIRST_ROWS)
        self._vectors = np.zeros((rows, dimensions), dtype=np.float32)
        self._partitions = np.zeros(rows, dtype=np.int64)
        self._expires = np.zeros(rows, dtype=np.float64)  # 0 = empty
        self._used = np.zeros(rows, dtype=np.float64)  # last hit or insert
        self._values: list[Any] = [None] * rows
        self._rows = 0  # rows ever filled (the filled prefix of the arrays)

    def __len__(self) -> int:
        """Rows that are live now."""
        return int(np.count_nonzero(self._expires[: self._rows] > self.timer()))

    def search(self, partition: int, vector: np.ndarray, threshold: float) -> tuple[Any, float] | None:
        """The most similar live row of ``partition`` if its cosine is at least ``threshold``."""
        now = self.timer()
        best = self._best(partition, vector, now)
        if best is None or best[1] < threshold:
            return None
        self._used[best[0]] = now
        return self._values[best[0]], round(best[1], 6)

    def add(self, partition: int, vector: np.ndarray, value: Any) -> None:
        """Keep ``value`` under ``(partition, vector)``; replaces a near-identical row of the partition."""
        now = self.timer()
        same = self._best(partition, vector, now)
        row = same[0] if same is not None and same[1] >= _SAME else self._free_row(now)
        self._vectors[row] = vector
        self._partitions[row] = partition
        self._expires[row] = now + self.ttl
        self._used[row] = now
        self._values[row] = value

    def _best(self, partition: int, vector: np.ndarray, now: float) -> tuple[int, float] | None:
        """``(row, cosine)`` of the closest live row of ``partition``."""
        live = self._expires[: self._rows] > now
        rows = np.flatnonzero(live & (self._partitions[: self._rows] == partition))
        if rows.size == 0:
            return None
        scores = self._vectors[rows] @ vector.astype(np.float32, copy=False)
        best = int(np.argmax(scores))
        return int(rows[best]), float(scores[best])

    def _free_row(self, now: float) -> int:
        if self._rows < len(self._expires):  # never-used rows first
            self._rows += 1
            return self._rows - 1
        if self._rows < self.capacity:
            self._grow(min(self.capacity, 2 * self._rows))
            self._rows += 1
            return self._rows - 1
        expired = np.flatnonzero(self._expires <= now)
        if expired.size:
            return int(expired[0])
        return int(np.argmin(self._used))  # least recently used

    def _grow(self, rows: int) -> None:
        def grown(array: np.ndarray) -> np.ndarray:
            bigger = np.zeros((rows, *array.shape[1:]), dtype=array.dtype)
            bigger[: len(array)] = array
            return bigger

        self._vectors, self._partitions = grown(self._vectors), grown(self._partitions)
        self._expires, self._used = grown(self._expires), grown(self._used)
        self._values.extend([None] * (rows - len(self._values)))
