"""Bounded parsing: every JSON or YAML document UCP reads goes through here.

A document comes from someone else (a remote manual, a registered service, a host
config, a cache file that a crash or a disk fault truncated). Parsing it must cost
bounded time and memory and end in a value or a clear error, never a hang, a
``RecursionError`` or a traceback:

- **size**: the caller caps the bytes before parsing (``max_bytes``);
- **depth**: nesting deeper than ``max_depth`` is refused (JSON's C scanner would
  raise ``RecursionError`` past ~1000 levels; libyaml's composer recurses in C and a YAML
  document nested 50,000 deep *segfaults* it, so YAML depth is measured on the iterative
  event stream before anything is composed);
- **expanded size**: YAML aliases make a 534-byte "billion laughs" document expand to
  gigabytes once anything walks it (``json.dumps``, hashing, validation). The YAML
  node graph is measured *before* construction, with each node's expanded size
  memoised, so the check costs the size of the graph, not of its expansion; a
  recursive alias is refused too;
- **numbers**: CPython refuses integers over 4,300 digits (``ValueError``); that
  becomes the same ``DocumentError``.

Everything raises ``DocumentError`` (a ``ValueError``) with a short reason; callers
wrap it in their own error (``ManualError``, ``ConfigError``...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

DEFAULT_MAX_DEPTH = 128
DEFAULT_MAX_NODES = 2_000_000


class DocumentError(ValueError):
    """A document is malformed or over a limit; ``reason`` is a stable code."""

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    max_depth: int = DEFAULT_MAX_DEPTH
    max_nodes: int = DEFAULT_MAX_NODES


DEFAULT_LIMITS = Limits()


def check_shape(data: Any, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse a parsed value nested deeper than ``max_depth`` or with more than ``max_nodes``
    values (counted as expanded: a shared sub-object counts each time it appears)."""
    nodes = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            raise DocumentError(f"more than {limits.max_nodes} values", "too_many_nodes")
        if depth > limits.max_depth and isinstance(value, (dict, list, tuple)):
            raise DocumentError(f"nested deeper than {limits.max_depth} levels", "too_deep")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend((v, depth + 1) for v in value)


def _decode(raw: str | bytes) -> str:
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"not UTF-8 (byte {exc.start})", "not_utf8") from None


def load_json(raw: str | bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    """``json.loads`` with depth and size limits; any failure is a ``DocumentError``."""
    text = _decode(raw)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", "invalid_json"
        ) from None
    except RecursionError:
        raise DocumentError(f"nested deeper than {limits.max_depth} levels", "too_deep") from None
    except ValueError as exc:  # e.g. an integer over CPython's 4,300-digit limit
        raise DocumentError(f"invalid JSON: {str(exc)[:200]}", "invalid_json") from None
    check_shape(data, limits)
    return data


_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_graph(root: yaml.Node, limits: Limits) -> None:
    """Expanded size and depth of a YAML node graph, memoised per node (aliases share nodes)."""
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    on_path: set[int] = set()
    # iterative post-order walk: (node, children_done)
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            height[key] = (1 + max((height[id(c)] for c in children), default=0)) if children else 0
            if size[key] > limits.max_nodes:
                raise DocumentError(
                    f"expands to more than {limits.max_nodes} values (nested aliases?)", "too_many_nodes"
                )
            if height[key] > limits.max_depth:
                raise DocumentError(f"nested deeper than {limits.max_depth} levels", "too_deep")
            continue
        if key in size:
            continue
        if key in on_path:
            raise DocumentError("a recursive alias (the document refers to itself)", "recursive_alias")
        on_path.add(key)
        stack.append((node, True))
        if len(on_path) > limits.max_depth + 1:
            raise DocumentError(f"nested deeper than {limits.max_depth} levels", "too_deep")
        stack.extend((c, False) for c in children if id(c) not in size)


def _check_event_depth(text: str, limits: Limits) -> None:
    """Depth from the event stream (libyaml's parser is iterative): the composer that builds the
    node graph recurses in C, and a document nested 50,000 deep would overflow the C stack."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > limits.max_depth:
                raise DocumentError(f"nested deeper than {limits.max_depth} levels", "too_deep")
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


def load_yaml(raw: str | bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    """A safe YAML load whose depth and expanded size are checked before anything is built."""
    text = _decode(raw)
    try:
        _check_event_depth(text, limits)
    except yaml.YAMLError as exc:
        raise DocumentError(f"invalid YAML: {str(exc)[:200]}", "invalid_yaml") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_graph(node, limits)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise DocumentError(f"invalid YAML: {str(exc)[:200]}", "invalid_yaml") from None
    except RecursionError:
        raise DocumentError(f"nested deeper than {limits.max_depth} levels", "too_deep") from None
    except ValueError as exc:
        if isinstance(exc, DocumentError):
            raise
        raise DocumentError(f"invalid YAML: {str(exc)[:200]}", "invalid_yaml") from None
    finally:
        loader.dispose()
