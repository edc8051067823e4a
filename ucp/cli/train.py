"""``ucp train``: fine-tune the router from use, checked on held-back logs before it may serve.

A version holds a query adapter and, learned from the same pairs, per-tool parts: tool
expansion (each tool's use vector and the terms of the queries that called it) and
co-usage (tools called for the same query, lifted after the top results); ``--no-expand``
/ ``--co-usage`` switch them (defaults: ``ucp.router.training.EXPAND`` / ``CO_USAGE``).

Pairs come from the learning store (``$UCP_HOME/state/learning.sqlite``): each logged
ranking whose shown tool was then called and succeeded, with the shown-and-ignored
tools as hard negatives; ``--dev DIR`` mixes in a tool-retrieval data set.  The latest
``--held-back`` share of the logged pairs is never trained on: the new version is
compared with the serving one there (hybrid search, Recall@5) and stored as
``refused`` when it is worse.  A new version serves only after ``--promote`` (or
``ucp model promote``); a running ``ucp serve`` picks it up within seconds and never
waits on training (this is a separate process).
"""

from __future__ import annotations

from pathlib import Path

import typer

from ucp.cli.common import console, fail, load, print_json

TRAIN_MODULES = ("torch",)  # the adapter's optimiser (serving applies it with numpy)


def train(
    config: Path | None = typer.Option(None, "--config", "-c", help="Config file (for the embedding model)."),
    dev: list[Path] = typer.Option(
        [], "--dev", help="Also train on a tool-retrieval data set folder (tools.jsonl + queries.jsonl)."
    ),
    dev_limit: int = typer.Option(2000, "--dev-limit", min=1, help="At most this many dev queries per set."),
    held_back: float = typer.Option(
        0.2, "--held-back", help="Latest share of logged pairs kept for the check."
    ),
    epochs: int = typer.Option(40, "--epochs", min=1, help="Passes over the pairs."),
    min_pairs: int = typer.Option(20, "--min-pairs", min=1, help="Refuse to train on fewer logged pairs."),
    promote: bool = typer.Option(False, "--promote", help="Serve the new version if it passed the check."),
    expand: bool | None = typer.Option(
        None,
        "--expand/--no-expand",
        help="Learn tool expansion (use vectors + query terms per tool). Default: on.",
    ),
    co_usage: bool | None = typer.Option(
        None,
        "--co-usage/--no-co-usage",
        help="Learn co-usage (tools called for the same query). Default: on.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Train a query adapter from logged (query, called-and-succeeded tool) pairs; store it as a new version.

    Example: ucp train --promote
    Example: ucp train --dev ../shared/data/tool-retrieval/metatool --held-back 0.2
    """
    from ucp.errors import ExtraMissingError, require_extra

    try:
        require_extra("train", "ucp train", TRAIN_MODULES)
    except ExtraMissingError as exc:
        fail(exc.message)
    from ucp.bench.datasets import DatasetError, load_queries, load_tools
    from ucp.bench.retrieval import _progress, evenly
    from ucp.router.models import ModelError, ModelRegistry
    from ucp.router.router import make_retriever
    from ucp.router.training import (
        CO_USAGE,
        EXPAND,
        Pair,
        docs_from_store,
        pairs_from_store,
        run_training,
        split_held_back,
    )

    loaded, paths = load(config)
    db = paths.learning_db
    pairs = pairs_from_store(db)
    docs = {d.key: d for d in docs_from_store(db)}
    if len(pairs) < min_pairs:
        fail(
            f"only {len(pairs)} logged (query, successful call) pairs in {db}; need {min_pairs} "
            "(use UCP for a while, or lower --min-pairs)"
        )
    try:
        train_pairs, held = split_held_back(pairs, held_back)
    except ValueError as exc:
        fail(str(exc))
    for folder in dev:
        try:
            dev_docs = load_tools(folder / "tools.jsonl")
            queries = evenly(
                load_queries(folder / "queries.jsonl", tool_ids={d.key for d in dev_docs}), dev_limit
            )
        except DatasetError as exc:
            fail(str(exc))
        prefix = f"dev:{folder.name}:"
        for d in dev_docs:
            docs[prefix + d.key] = type(d)(**{**d.__dict__, "key": prefix + d.key})
        train_pairs += [
            Pair(q.query, prefix + r, (), group=prefix + q.qid) for q in queries for r in q.relevant
        ]
    registry = ModelRegistry(paths.home / "models")
    state = registry.state()
    try:
        serving = registry.load(state.serving)
    except ModelError as exc:
        fail(str(exc))
    retriever = make_retriever(loaded.config.router, paths, dense=True)
    retriever.set_docs(list(docs.values()), embed=False)
    with _progress(not as_json) as task:
        if not retriever.load_dense(task("embedding tools", len(docs))):
            fail(f"the embedding model is unavailable: {retriever.dense_error}")
        assert retriever.embedder is not None
        report = run_training(
            retriever,
            train_pairs,
            held,
            retriever.embedder.encode,
            serving,
            epochs=epochs,
            progress=task("training", 1),
            expand=EXPAND if expand is None else expand,
            co_usage=CO_USAGE if co_usage is None else co_usage,
        )
    meta = report.meta() | {"base_model": retriever.embedder.model_id, "dev": [str(d) for d in dev]}
    version = registry.add(report.adapter, meta)
    promoted = False
    if promote and report.accepted:
        registry.promote(version)
        promoted = True
    out = {"version": version, "promoted": promoted, "serving_before": state.serving} | meta
    if as_json:
        print_json(out)
    else:
        console.print(
            f"{version} ({meta['kind']}): {report.train_pairs} training pairs, {report.cpu_s:.1f} s CPU; "
            f"held-back R@5 / R@10 {report.candidate_recall:.3f} / {report.candidate_recall10:.3f} vs serving "
            f"({state.serving}) {report.serving_recall:.3f} / {report.serving_recall10:.3f} "
            f"on {report.held_pairs} pairs -> {meta['status']}" + (", now serving" if promoted else "")
        )
    if not report.accepted:
        raise typer.Exit(1)
