"""Exact cosine search over one scope's vectors, with a cache validated by a version.

Both backends keep vectors as float32 bytes and a version number per scope, bumped by every
change of that scope. :class:`ScopeIndex` keeps each scope's matrix in memory after a
search and reloads it only when the version moved, so a recall costs one small read plus a
matrix-vector product (a warm search of 1,000 records: about 0.3 ms on SQLite, see
``bench/bench_memory.py``). Scopes are small by design (one user, one conversation, bounded by
``max_items_per_scope``), which is why an exact search beats an approximate index here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent_runner.errors import ConfigurationError


def numpy() -> Any:
    """The numpy module (the ``memory`` extra), imported when first needed."""
    try:
        import numpy as np
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise ConfigurationError(
            "long-term memory needs numpy: pip install 'agent-runner[memory]'"
        ) from exc
    return np


def to_bytes(vector: Sequence[float]) -> bytes:
    """A vector, L2-normalised, as float32 bytes (zero vectors stay zero)."""
    np = numpy()
    array = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    return bytes((array / norm if norm else array).astype(np.float32).tobytes())


@dataclass(frozen=True, slots=True)
class _Matrix:
    version: int
    ids: list[str]
    created: Any  # float64 array
    vectors: Any  # float32 matrix, one row per id


class ScopeIndex:
    """Per-scope matrices kept between searches (at most ``max_scopes``, least recent out).

    Thread-safe; its methods compute (numpy), so async callers run them in a thread.
    """

    def __init__(self, *, max_scopes: int = 256) -> None:
        self._max = max_scopes
        self._cache: OrderedDict[str, _Matrix] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, scope: str, version: int) -> bool:
        """Whether the scope's matrix at ``version`` is in memory."""
        with self._lock:
            entry = self._cache.get(scope)
        return entry is not None and entry.version == version

    def load(self, scope: str, version: int, rows: Sequence[tuple[str, float, bytes]]) -> None:
        """Keep the scope's rows ``(id, created_at, float32 bytes)`` at ``version``; rows of
        another dimension than the newest (an embedder change) are left out."""
        np = numpy()
        if rows:
            size = len(rows[-1][2])
            rows = [row for row in rows if len(row[2]) == size]
        vectors = (
            np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), -1)
            if rows
            else np.zeros((0, 0), dtype=np.float32)
        )
        matrix = _Matrix(version, [r[0] for r in rows], np.array([r[1] for r in rows]), vectors)
        with self._lock:
            self._cache[scope] = matrix
            self._cache.move_to_end(scope)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)

    def search(
        self, scope: str, query: bytes, k: int, *, since: float | None
    ) -> list[tuple[str, float]]:
        """The ``k`` ids most similar to ``query`` (created at or after ``since``)."""
        np = numpy()
        with self._lock:
            entry = self._cache.get(scope)
            if entry is None or not entry.ids:
                return []
            self._cache.move_to_end(scope)
        q = np.frombuffer(query, dtype=np.float32)
        if q.shape[0] != entry.vectors.shape[1]:
            return []  # another embedder's vectors: nothing comparable
        scores = entry.vectors @ q
        if since is not None:
            scores = np.where(entry.created >= since, scores, -np.inf)
        k = min(k, len(entry.ids))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(entry.ids[i], float(scores[i])) for i in top if np.isfinite(scores[i])]


__all__ = ["ScopeIndex", "numpy", "to_bytes"]
