"""Usage evidence: what queries led to successful calls of each tool. Pure numpy.

Per tool we keep the running sum of the (unit) embeddings of the queries after which the
tool was called and succeeded. A new query's similarity to that centroid is the tool's
"usage similarity"; the router combines it as max(description similarity, usage
similarity) on the dense side, so usage can lift a tool the description undersells but
never erases description evidence. (Measured on replays: fusing usage as a separate
ranked list collapses into rich-get-richer; the max only adds.)

A centroid of one noisy sample is not trusted like a centroid of fifty: the similarity
is shrunk towards 0 by n / (n + ``shrink``). Centroids decay (``decay`` per update of
that tool) so the evidence follows drift.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]

SHRINK = 1.0
DECAY = 0.995


class UsageMemory:
    def __init__(self, dim: int | None = None, *, shrink: float = SHRINK, decay: float = DECAY) -> None:
        self.dim = dim
        self.shrink = shrink
        self.decay = decay
        self._sums: dict[str, Vector] = {}
        self._counts: dict[str, float] = {}
        self._lock = threading.Lock()
        self._matrix: tuple[list[str], Vector, npt.NDArray[np.float32]] | None = None

    def __len__(self) -> int:
        return len(self._sums)

    def add(self, tool: str, query_vector: npt.ArrayLike, weight: float = 1.0) -> None:
        v = np.asarray(query_vector, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(v))
        if norm == 0.0 or not np.isfinite(norm):
            return
        v = v / norm
        with self._lock:
            if self.dim is None:
                self.dim = v.shape[0]
            if v.shape[0] != self.dim:
                return  # a vector from another model: ignore rather than corrupt
            old = self._sums.get(tool)
            self._sums[tool] = v * weight if old is None else old * self.decay + v * weight
            self._counts[tool] = self._counts.get(tool, 0.0) * self.decay + weight
            self._matrix = None

    def penalize(self, tool: str, factor: float = 0.5) -> None:
        """Weaken a tool's usage evidence (it failed): its similarity is shrunk more."""
        with self._lock:
            if tool in self._sums:
                self._sums[tool] = self._sums[tool] * factor
                self._counts[tool] *= factor
                self._matrix = None

    def forget(self, tool: str) -> None:
        with self._lock:
            self._sums.pop(tool, None)
            self._counts.pop(tool, None)
            self._matrix = None

    def clear(self) -> None:
        with self._lock:
            self._sums.clear()
            self._counts.clear()
            self._matrix = None

    def count(self, tool: str) -> float:
        return self._counts.get(tool, 0.0)

    def _compiled(self) -> tuple[list[str], Vector, npt.NDArray[np.float32]]:
        with self._lock:
            if self._matrix is None:
                keys = list(self._sums)
                if keys:
                    sums = np.stack([self._sums[k] for k in keys]).astype(np.float32)
                    norms = np.linalg.norm(sums, axis=1, keepdims=True)
                    centroids = (sums / np.maximum(norms, 1e-12)).astype(np.float32)
                    counts = np.array([self._counts[k] for k in keys], dtype=np.float32)
                    weights = (counts / (counts + self.shrink)).astype(np.float32)
                else:
                    centroids = np.zeros((0, self.dim or 1), dtype=np.float32)
                    weights = np.zeros(0, dtype=np.float32)
                self._matrix = (keys, centroids, weights)
            return self._matrix

    def similarities(self, query_vector: npt.ArrayLike, top: int = 50) -> dict[str, float]:
        """Shrunk cosine similarity of the query to each tool's usage centroid (the ``top`` best, > 0)."""
        keys, centroids, weights = self._compiled()
        if not keys:
            return {}
        q = np.asarray(query_vector, dtype=np.float32).reshape(-1)
        if q.shape[0] != centroids.shape[1]:
            return {}
        q = q / max(float(np.linalg.norm(q)), 1e-12)
        sims = (centroids @ q) * weights
        idx = np.argpartition(-sims, top - 1)[:top] if len(keys) > top else np.arange(len(keys))
        return {keys[i]: float(sims[i]) for i in idx if sims[i] > 0.0}

    # ------------------------------------------------------------ persistence
    def export(self) -> Mapping[str, tuple[bytes, float]]:
        with self._lock:
            return {k: (self._sums[k].astype(np.float32).tobytes(), self._counts[k]) for k in self._sums}

    def load(self, rows: Mapping[str, tuple[bytes, float]]) -> None:
        with self._lock:
            for key, (blob, count) in rows.items():
                v = np.frombuffer(blob, dtype=np.float32).copy()
                if self.dim is None:
                    self.dim = v.shape[0]
                if v.shape[0] == self.dim:
                    self._sums[key] = v
                    self._counts[key] = float(count)
            self._matrix = None
