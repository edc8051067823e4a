"""``ucp train``'s engine: pairs from the learning store, a query adapter trained on them, the held-back check.

Pairs: every logged ranking whose shown tool was then called and succeeded gives
``(query, that tool)``; the tools shown in the same ranking and not called are its
hard negatives.  The latest ``held_back`` share of the pairs (by time) is never
trained on: a candidate is compared with the serving model there, on the same
hybrid search that serves, and refused if it is worse.

Model: :class:`ucp.router.expansion.TrainedModel`: the query adapter
(:class:`ucp.router.adapter.QueryAdapter`, ``q + B q``, ``B`` starts at 0) and, switched by
``expand`` / ``co_usage``, the tool-side parts learned from the same pairs
(:class:`ucp.router.expansion.ToolExpansion`: use vectors and a query-term field per tool;
:class:`ucp.router.expansion.CoUsage`: tools called for the same query).  With expansion
the adapter is trained against the use vectors (what serving scores against).
Loss: softmax cross-entropy of the positive among *all* known tools (cosine / tau),
with ``margin`` added to the logits of the hard negatives (so the shown-and-ignored
tools are pushed below the used one first), plus ``reg * |B|^2`` to stay close to the
untrained router.  torch is imported inside :func:`train_adapter` only: the serving
path never imports it.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ucp.router.adapter import QueryAdapter
from ucp.router.documents import ToolDoc
from ucp.router.expansion import CoUsage, ToolExpansion, TrainedModel
from ucp.router.hybrid import HybridRetriever

TAU = 0.05
MARGIN = 0.1
REG = 1e-2  # 1e-3 / 1e-2 / 3e-2 measured: see RETRIEVAL.md (cross-catalog harm vs in-stream gain)
EPOCHS = 40
LR = 2e-3
BATCH = 256
HELD_BACK = 0.2
# Tool-side parts trained by default (`ucp bench train` decides; RETRIEVAL.md "Fine-tuning from use").
EXPAND = True
CO_USAGE = True


@dataclass(frozen=True)
class Pair:
    query: str
    positive: str
    negatives: tuple[str, ...] = ()
    ts: float = 0.0
    group: str = ""  # the logged ranking (query) it came from: tools of one group were co-used


def pairs_from_store(db: Path) -> list[Pair]:
    """(query, called-and-succeeded tool, shown-and-ignored tools) of every logged ranking, oldest first."""
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT r.id, r.ts, r.query, r.shown, o.tool, o.ok FROM rankings r JOIN outcomes o ON o.ranking_id = r.id "
            "ORDER BY r.ts, r.id"
        ).fetchall()
    finally:
        con.close()
    by_ranking: dict[str, tuple[float, str, list[str], set[str], set[str]]] = {}
    for rid, ts, query, shown, tool, ok in rows:
        if rid not in by_ranking:
            keys = [str(s[0]) for s in json.loads(shown or "[]") if isinstance(s, list) and s]
            by_ranking[rid] = (float(ts), str(query or ""), keys, set(), set())
        (by_ranking[rid][3] if ok else by_ranking[rid][4]).add(str(tool))
    out = []
    for rid, (ts, query, shown, good, bad) in by_ranking.items():
        if not query.strip():
            continue
        negatives = tuple(k for k in shown if k not in good) + tuple(sorted(bad - set(shown)))
        for tool in sorted(good):
            out.append(Pair(query, tool, negatives, ts, rid))
    return out


def split_held_back(pairs: Sequence[Pair], share: float = HELD_BACK) -> tuple[list[Pair], list[Pair]]:
    """(train, held back): the latest ``share`` of the pairs by time is held back (at least one pair)."""
    if not 0.0 < share < 1.0:
        raise ValueError(f"the held-back share must be in (0, 1), got {share}")
    ordered = sorted(pairs, key=lambda p: p.ts)
    n_held = max(1, round(len(ordered) * share)) if len(ordered) > 1 else 0
    return ordered[: len(ordered) - n_held], ordered[len(ordered) - n_held :]


def train_adapter(
    query_vecs: npt.NDArray[np.float32],
    positives: Sequence[int],
    negatives: Sequence[Sequence[int]],
    tool_vecs: npt.NDArray[np.float32],
    *,
    epochs: int = EPOCHS,
    lr: float = LR,
    tau: float = TAU,
    margin: float = MARGIN,
    reg: float = REG,
    seed: int = 0,
    threads: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> QueryAdapter:
    """Train ``B`` of a query adapter on (query vector, positive tool index, hard-negative indices)."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    q = torch.from_numpy(np.ascontiguousarray(query_vecs, dtype=np.float32))
    t = torch.from_numpy(np.ascontiguousarray(tool_vecs, dtype=np.float32))
    pos = torch.as_tensor(list(positives), dtype=torch.long)
    hard = torch.zeros((len(positives), t.shape[0]), dtype=torch.float32)
    for i, negs in enumerate(negatives):
        if negs:
            hard[i, list(negs)] = margin
    dim = q.shape[1]
    b = torch.zeros((dim, dim), requires_grad=True)
    opt = torch.optim.Adam([b], lr=lr)
    n = q.shape[0]
    gen = torch.Generator().manual_seed(seed)
    total = epochs * max(1, (n + BATCH - 1) // BATCH)
    step = 0
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n, BATCH):
            idx = perm[start : start + BATCH]
            qa = q[idx] + q[idx] @ b.T
            qa = qa / qa.norm(dim=1, keepdim=True).clamp_min(1e-8)
            logits = qa @ t.T / tau + hard[idx] / tau
            loss = torch.nn.functional.cross_entropy(logits, pos[idx]) + reg * (b * b).sum()
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            step += 1
            if progress is not None:
                progress(step, total)
    return QueryAdapter(b.detach().numpy().copy())


def recall_at(
    retriever: HybridRetriever,
    pairs: Sequence[Pair],
    query_vecs: npt.NDArray[np.float32],
    adapter: QueryAdapter | TrainedModel | None,
    k: int = 5,
) -> float:
    """Share of pairs whose positive tool is in the top ``k`` of the hybrid search (the serving ranking)."""
    return recalls(retriever, pairs, query_vecs, adapter, (k,))[0]


def recalls(
    retriever: HybridRetriever,
    pairs: Sequence[Pair],
    query_vecs: npt.NDArray[np.float32],
    adapter: QueryAdapter | TrainedModel | None,
    ks: Sequence[int] = (5, 10),
) -> list[float]:
    """Recall@k of the pairs for every ``k`` in ``ks`` (one search per pair, to the largest k)."""
    if not pairs:
        return [0.0 for _ in ks]
    hits = [0 for _ in ks]
    for p, v in zip(pairs, query_vecs, strict=True):
        keys = retriever.search(p.query, max(ks), query_vector=v, adapter=adapter).keys
        for j, k in enumerate(ks):
            hits[j] += p.positive in keys[:k]
    return [h / len(pairs) for h in hits]


def co_groups(pairs: Sequence[Pair]) -> list[list[str]]:
    """The tools called and succeeded per logged query (a pair without a group is its own)."""
    groups: dict[str, list[str]] = {}
    out: list[list[str]] = []
    for p in pairs:
        if not p.group:
            out.append([p.positive])
            continue
        if p.group not in groups:
            groups[p.group] = []
            out.append(groups[p.group])
        groups[p.group].append(p.positive)
    return out


def with_use_vectors(
    tool_vecs: npt.NDArray[np.float32], keys: Sequence[str], expansion: ToolExpansion | None
) -> npt.NDArray[np.float32]:
    """The tool matrix serving scores against: use vectors in place of the tools' description vectors."""
    if expansion is None or not len(expansion.use_keys):
        return tool_vecs
    out = tool_vecs.copy()
    row = {k: i for i, k in enumerate(keys)}
    for r, k in enumerate(expansion.use_keys):
        if k in row and expansion.use_vectors.shape[1] == out.shape[1]:
            out[row[k]] = expansion.use_vectors[r]
    return out


def learn_model(
    queries: Sequence[str],
    query_vecs: npt.NDArray[np.float32],
    positives: Sequence[int],
    negatives: Sequence[Sequence[int]],
    keys: Sequence[str],
    tool_vecs: npt.NDArray[np.float32],
    groups: Sequence[Sequence[str]],
    *,
    adapter: bool = True,
    expand: bool = EXPAND,
    co_usage: bool = CO_USAGE,
    epochs: int = EPOCHS,
    reg: float = REG,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    expansion_kw: dict[str, Any] | None = None,
    co_kw: dict[str, Any] | None = None,
) -> TrainedModel:
    """Every part of a trained version from the same rows (``positives`` index ``keys`` / ``tool_vecs``)."""
    expansion = None
    if expand:
        expansion = ToolExpansion.learn(
            queries,
            query_vecs,
            [keys[j] for j in positives],
            {k: tool_vecs[i] for i, k in enumerate(keys)},
            **(expansion_kw or {}),
        )
    q_adapter = None
    if adapter:
        q_adapter = train_adapter(
            query_vecs,
            positives,
            negatives,
            with_use_vectors(tool_vecs, keys, expansion),
            epochs=epochs,
            reg=reg,
            seed=seed,
            progress=progress,
        )
    co = CoUsage.learn(groups, **(co_kw or {})) if co_usage else None
    return TrainedModel(q_adapter, expansion, co)


def index_pairs(
    pairs: Sequence[Pair], tool_index: dict[str, int]
) -> tuple[list[int], list[int], list[list[int]]]:
    """Positions of the usable pairs (positive known), their positive and hard-negative indices."""
    keep, pos, negs = [], [], []
    for i, p in enumerate(pairs):
        j = tool_index.get(p.positive)
        if j is None:
            continue
        keep.append(i)
        pos.append(j)
        negs.append([tool_index[n] for n in p.negatives if n in tool_index and n != p.positive])
    return keep, pos, negs


@dataclass
class TrainReport:
    model: TrainedModel
    train_pairs: int
    held_pairs: int
    serving_recall: float
    candidate_recall: float
    cpu_s: float
    wall_s: float
    serving_recall10: float = 0.0
    candidate_recall10: float = 0.0

    @property
    def adapter(self) -> TrainedModel:
        """The trained version (kept under its old name: it was the adapter alone)."""
        return self.model

    @property
    def accepted(self) -> bool:
        """Held-back R@5 and R@10 both at least the serving model's (co-usage acts after position 5)."""
        return (
            self.held_pairs > 0
            and self.candidate_recall >= self.serving_recall
            and self.candidate_recall10 >= self.serving_recall10
        )

    def _reason(self) -> str:
        if not self.held_pairs:
            return "no held-back pairs to check it on"
        if self.candidate_recall < self.serving_recall:
            return f"held-back R@5 {self.candidate_recall:.3f} < serving {self.serving_recall:.3f}"
        if self.candidate_recall10 < self.serving_recall10:
            return f"held-back R@10 {self.candidate_recall10:.3f} < serving {self.serving_recall10:.3f}"
        return ""

    def meta(self) -> dict[str, Any]:
        m = self.model
        parts = ["query-adapter"] if m.adapter is not None else []
        parts += ["tool-expansion"] if m.expansion is not None else []
        parts += ["co-usage"] if m.co_usage is not None else []
        return {
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "kind": "+".join(parts) or "identity",
            "train_pairs": self.train_pairs,
            "held_pairs": self.held_pairs,
            "held_recall@5": round(self.candidate_recall, 4),
            "serving_recall@5": round(self.serving_recall, 4),
            "held_recall@10": round(self.candidate_recall10, 4),
            "serving_recall@10": round(self.serving_recall10, 4),
            "expanded_tools": len(m.expansion) if m.expansion is not None else 0,
            "co_used_tools": len(m.co_usage) if m.co_usage is not None else 0,
            "cpu_s": round(self.cpu_s, 2),
            "wall_s": round(self.wall_s, 2),
            "status": "trained" if self.accepted else "refused",
            "reason": self._reason(),
        }


def run_training(
    retriever: HybridRetriever,
    train: Sequence[Pair],
    held: Sequence[Pair],
    encode: Callable[[list[str]], npt.NDArray[np.float32]],
    serving: QueryAdapter | TrainedModel | None,
    *,
    epochs: int = EPOCHS,
    progress: Callable[[int, int], None] | None = None,
    seed: int = 0,
    adapter: bool = True,
    expand: bool = EXPAND,
    co_usage: bool = CO_USAGE,
) -> TrainReport:
    """Train on ``train`` over the retriever's catalog, compare with ``serving`` on ``held``.

    ``adapter`` / ``expand`` / ``co_usage`` switch the parts of the new version.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    docs = list(retriever.docs.values())
    tool_index = {d.key: i for i, d in enumerate(docs)}
    tool_vecs = retriever.doc_vectors([d.key for d in docs])
    keep, pos, negs = index_pairs(train, tool_index)
    if not keep:
        raise ValueError("no training pair names a tool of the catalog")
    used = [train[i] for i in keep]
    qv = encode([p.query for p in used])
    random.Random(seed).random()
    model = learn_model(
        [p.query for p in used],
        qv,
        pos,
        negs,
        [d.key for d in docs],
        tool_vecs,
        co_groups([p for p in train if p.positive in tool_index]),
        adapter=adapter,
        expand=expand,
        co_usage=co_usage,
        epochs=epochs,
        seed=seed,
        progress=progress,
    )
    held_ok = [p for p in held if p.positive in tool_index]
    hv = encode([p.query for p in held_ok]) if held_ok else np.zeros((0, tool_vecs.shape[1]), np.float32)
    serving_r5, serving_r10 = recalls(retriever, held_ok, hv, serving)
    cand_r5, cand_r10 = recalls(retriever, held_ok, hv, model)
    return TrainReport(
        model,
        len(keep),
        len(held_ok),
        serving_r5,
        cand_r5,
        time.process_time() - c0,
        time.perf_counter() - t0,
        serving_r10,
        cand_r10,
    )


def docs_from_store(db: Path) -> list[ToolDoc]:
    """The tool definitions the learner saw (``tool_docs`` table), for training without a running server."""
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT doc FROM tool_docs").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()
    out = []
    for (raw,) in rows:
        d = json.loads(raw)
        out.append(
            ToolDoc(
                key=d["key"],
                name=d.get("name", ""),
                server=d.get("server", ""),
                description=d.get("description", ""),
                input_schema=d.get("input_schema") or {},
                tags=tuple(d.get("tags") or ()),
                title=d.get("title", ""),
            )
        )
    return out
