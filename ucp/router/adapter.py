"""A trained query adapter: ``q' = normalise(q + B q)``, the serving side of ``ucp train``.

Why an adapter and not a fine-tuned encoder: the adapter is one ``dim x dim`` matrix
(384 x 384 for MiniLM, 0.6 MB) applied to the query vector only, so the catalog's
cached tool vectors stay valid (no re-embedding on promotion or rollback), serving
needs numpy only (no torch), and training a few thousand pairs takes seconds of CPU.
``B = 0`` is the untrained router exactly.  Loading is exact (float32 ``.npy``), so
rolling back to a version restores its rankings bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]


class QueryAdapter:
    """A residual linear map on unit query vectors; ``version`` names it in logs and A/B stats."""

    def __init__(self, matrix: npt.ArrayLike, version: str = "") -> None:
        m = np.asarray(matrix, dtype=np.float32)
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise ValueError(f"an adapter is a square matrix, got shape {m.shape}")
        self.matrix = m
        self.version = version

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[0])

    def apply(self, q: npt.ArrayLike) -> Vector:
        """The adapted unit vector (a vector of another dimension is returned unchanged)."""
        v = np.asarray(q, dtype=np.float32).reshape(-1)
        if v.shape[0] != self.dim:
            return v
        out = v + self.matrix @ v
        norm = float(np.linalg.norm(out))
        result: Vector = (out / norm).astype(np.float32) if norm > 0 else v
        return result

    def save(self, path: Path) -> None:
        np.save(path, self.matrix, allow_pickle=False)

    @classmethod
    def load(cls, path: Path, version: str = "") -> QueryAdapter:
        return cls(np.load(path, allow_pickle=False), version)
