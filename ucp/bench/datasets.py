"""Load a tool-retrieval data set (``tools.jsonl`` + ``queries.jsonl``) into ToolDocs and queries.

Format (one JSON object per line; blank lines are skipped):

- ``tools.jsonl``: ``id`` (str or int), ``name``, ``description``; optional ``server``,
  ``category`` (becomes a tag), ``input_schema`` (a JSON-schema object).  Extra keys
  are ignored.  The ToolDoc key is the tool id.
- ``queries.jsonl``: ``qid``, ``query``, ``relevant`` (list of tool ids); optional
  ``type`` and ``split``.

Malformed input raises :class:`DatasetError` naming the file and the line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ucp.router.documents import ToolDoc


class DatasetError(ValueError):
    """A data-set file is missing or malformed; the message names the file and line."""

    code = "dataset_invalid"


@dataclass(frozen=True)
class Query:
    qid: str
    query: str
    relevant: tuple[str, ...]
    type: str = ""
    split: str = ""


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot open ({exc.strerror or exc})") from exc
    with fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from exc
            if not isinstance(obj, dict):
                raise DatasetError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def _str_field(path: Path, lineno: int, obj: dict[str, Any], key: str, *, required: bool) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise DatasetError(f"{path}:{lineno}: missing required field {key!r}")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise DatasetError(f"{path}:{lineno}: field {key!r} must be a string, got {type(value).__name__}")
    return str(value)


def load_tools(path: str | Path) -> list[ToolDoc]:
    """ToolDocs of a ``tools.jsonl`` file (key = tool id; ``category`` becomes a tag)."""
    p = Path(path)
    docs: list[ToolDoc] = []
    seen: dict[str, int] = {}
    for lineno, obj in _lines(p):
        tool_id = _str_field(p, lineno, obj, "id", required=True)
        name = _str_field(p, lineno, obj, "name", required=True)
        description = _str_field(p, lineno, obj, "description", required=False)
        server = _str_field(p, lineno, obj, "server", required=False)
        category = _str_field(p, lineno, obj, "category", required=False)
        schema = obj.get("input_schema") or {}
        if not isinstance(schema, dict):
            raise DatasetError(f"{p}:{lineno}: field 'input_schema' must be an object")
        if tool_id in seen:
            raise DatasetError(f"{p}:{lineno}: duplicate tool id {tool_id!r} (first on line {seen[tool_id]})")
        seen[tool_id] = lineno
        docs.append(
            ToolDoc(
                key=tool_id,
                name=name,
                server=server,
                description=description,
                input_schema=schema,
                tags=(category,) if category else (),
            )
        )
    if not docs:
        raise DatasetError(f"{p}: no tools")
    return docs


def load_queries(path: str | Path, *, tool_ids: set[str] | None = None) -> list[Query]:
    """Queries of a ``queries.jsonl`` file; with ``tool_ids``, unknown relevant ids are an error."""
    p = Path(path)
    out: list[Query] = []
    for lineno, obj in _lines(p):
        qid = _str_field(p, lineno, obj, "qid", required=True)
        text = _str_field(p, lineno, obj, "query", required=True)
        rel = obj.get("relevant")
        if not isinstance(rel, list) or not rel:
            raise DatasetError(f"{p}:{lineno}: field 'relevant' must be a non-empty list of tool ids")
        relevant: list[str] = []
        for r in rel:
            if isinstance(r, bool) or not isinstance(r, str | int):
                raise DatasetError(f"{p}:{lineno}: 'relevant' holds a non-id value {r!r}")
            relevant.append(str(r))
        if tool_ids is not None:
            unknown = [r for r in relevant if r not in tool_ids]
            if unknown:
                raise DatasetError(f"{p}:{lineno}: relevant tool ids not in the tools file: {unknown}")
        out.append(
            Query(
                qid=qid,
                query=text,
                relevant=tuple(dict.fromkeys(relevant)),
                type=_str_field(p, lineno, obj, "type", required=False),
                split=_str_field(p, lineno, obj, "split", required=False),
            )
        )
    if not out:
        raise DatasetError(f"{p}: no queries")
    return out
