"""Versioned query adapters under ``$UCP_HOME/models``: list, promote, rollback, A/B share.

Layout::

    models/
      v0001/adapter.npy  v0001/meta.json     (one folder per trained version)
      v0001/expansion.json  v0001/use_vectors.npy  v0001/co_usage.json   (tool-side parts, when trained)
      state.json   {"serving": "v0002", "history": ["base", "v0001"], "candidate": "v0003", "ab_share": 0.2}

``base`` is the untrained router (no adapter).  ``promote`` pushes the serving
version on the history stack, ``rollback`` pops it back; state writes are atomic.
A/B: a session whose id hashes below ``ab_share`` is served the candidate.  The
serving side reads this folder only (never waits on training); :class:`AdapterSet`
re-reads ``state.json`` at most every ``RELOAD_S`` seconds, so a promotion reaches
a running ``ucp serve`` without a restart.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ucp.fileio import atomic_write_text

if TYPE_CHECKING:  # numpy: loaded with the first trained version, off the start path
    from ucp.router.adapter import QueryAdapter
    from ucp.router.expansion import TrainedModel

BASE = "base"
RELOAD_S = 5.0


class ModelError(ValueError):
    """A model operation that cannot be done (unknown version, nothing to roll back, refused model)."""

    code = "model_invalid"


@dataclass(frozen=True)
class ModelState:
    serving: str = BASE
    history: tuple[str, ...] = ()
    candidate: str | None = None
    ab_share: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "serving": self.serving,
            "history": list(self.history),
            "candidate": self.candidate,
            "ab_share": self.ab_share,
        }


class ModelRegistry:
    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    def state(self) -> ModelState:
        try:
            raw = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return ModelState()
        return ModelState(
            serving=str(raw.get("serving") or BASE),
            history=tuple(str(v) for v in raw.get("history") or ()),
            candidate=raw.get("candidate") or None,
            ab_share=float(raw.get("ab_share") or 0.0),
        )

    def _write(self, state: ModelState) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.state_file, json.dumps(state.to_json(), indent=1))

    def versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and (p / "meta.json").exists())

    def meta(self, version: str) -> dict[str, Any]:
        if version == BASE:
            return {"version": BASE, "status": "base"}
        try:
            out: dict[str, Any] = json.loads((self.root / version / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"unknown model version {version!r} (see ucp model list)") from exc
        return out

    def next_version(self) -> str:
        nums = [int(v[1:]) for v in self.versions() if v[1:].isdigit()]
        return f"v{max(nums, default=0) + 1:04d}"

    def add(self, model: QueryAdapter | TrainedModel, meta: dict[str, Any]) -> str:
        """Store a trained version (adapter and tool-side parts) as a new version (not serving yet).

        ``meta.json`` is written last: a folder without it is not a version (a crash mid-way
        leaves nothing that ``versions()`` lists).
        """
        from ucp.router.expansion import TrainedModel

        version = self.next_version()
        folder = self.root / version
        folder.mkdir(parents=True, exist_ok=False)
        bundle = model if isinstance(model, TrainedModel) else TrainedModel(adapter=model)
        bundle.save(folder)
        atomic_write_text(folder / "meta.json", json.dumps({"version": version, **meta}, indent=1))
        return version

    def load(self, version: str) -> TrainedModel | None:
        """The trained version ``version`` (None for ``base``)."""
        if version == BASE:
            return None
        folder = self.root / version
        if not (folder / "meta.json").exists():
            raise ModelError(f"unknown model version {version!r} (see ucp model list)")
        from ucp.router.expansion import TrainedModel

        return TrainedModel.load(folder, version)

    def promote(self, version: str, *, force: bool = False) -> ModelState:
        meta = self.meta(version)
        if meta.get("status") == "refused" and not force:
            raise ModelError(
                f"{version} was refused: it ranked worse than the serving model on the held-back slice "
                f"({meta.get('reason', '')}); use --force to promote it anyway"
            )
        st = self.state()
        if st.serving == version:
            return st
        new = ModelState(
            serving=version,
            history=(*st.history, st.serving),
            candidate=None if st.candidate == version else st.candidate,
            ab_share=0.0 if st.candidate == version else st.ab_share,
        )
        self._write(new)
        return new

    def rollback(self) -> ModelState:
        st = self.state()
        if not st.history:
            raise ModelError("nothing to roll back to: the serving model is the first one")
        new = ModelState(
            serving=st.history[-1], history=st.history[:-1], candidate=st.candidate, ab_share=st.ab_share
        )
        self._write(new)
        return new

    def set_ab(self, version: str | None, share: float) -> ModelState:
        if not 0.0 <= share <= 1.0:
            raise ModelError(f"the A/B share must be in [0, 1], got {share}")
        if version is not None:
            self.meta(version)
        st = self.state()
        new = ModelState(st.serving, st.history, version, share if version is not None else 0.0)
        self._write(new)
        return new


def in_candidate_arm(session_id: str, share: float) -> bool:
    """Whether a session is served the candidate: a stable hash of its id below ``share``."""
    if share <= 0.0 or not session_id:
        return False
    h = int(hashlib.sha1(session_id.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return h < share


class AdapterSet:
    """What serving uses: the serving and candidate adapters, re-read when ``state.json`` changes."""

    def __init__(self, registry: ModelRegistry, clock: Any = time.monotonic) -> None:
        self.registry = registry
        self.clock = clock
        self._lock = threading.Lock()
        self._checked = -1e18
        self._mtime: float | None = None
        self._state = ModelState()
        self._serving: TrainedModel | None = None
        self._candidate: TrainedModel | None = None

    def _refresh(self) -> None:
        now = self.clock()
        if now - self._checked < RELOAD_S:
            return
        with self._lock:
            self._checked = now
            try:
                mtime: float | None = self.registry.state_file.stat().st_mtime
            except OSError:
                mtime = None
            if mtime == self._mtime:
                return
            self._mtime = mtime
            st = self.registry.state()
            try:
                serving = self.registry.load(st.serving)
                candidate = self.registry.load(st.candidate) if st.candidate else None
            except (ModelError, OSError, ValueError):
                return  # keep serving what was loaded
            self._state, self._serving, self._candidate = st, serving, candidate

    def reload(self) -> None:
        """Re-read now (tests, CLI)."""
        self._checked = -1e18
        self._mtime = None
        self._refresh()

    def pick(self, session_id: str = "") -> tuple[TrainedModel | None, str]:
        """The trained version for a session (adapter + tool-side parts) and the arm name."""
        self._refresh()
        st = self._state
        if st.candidate and in_candidate_arm(session_id, st.ab_share):
            return self._candidate, st.candidate
        return self._serving, st.serving
