"""What may be sent to a downstream and what may come back: checked at the pool's edge.

One session's bad input must never reach the connection other sessions share. A lone
surrogate (``"\\udfff"``, valid in a JSON string, impossible in UTF-8) used to make the
transport's writer fail mid-write and tear the connection down, failing every other
session's in-flight calls. ``check_arguments`` refuses such a value (and absurdly deep
ones) as ``InvalidArgumentsError`` before anything is written; ``result_size`` bounds what
a downstream may hand back (``[pool] max_result_bytes``).
"""

from __future__ import annotations

from typing import Any

import mcp_types as types

from ucp.errors import DownstreamProtocolError, InvalidArgumentsError

MAX_DEPTH = 64


def _bad_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_arguments(arguments: Any, *, server: str, tool: str) -> None:
    """Raise ``InvalidArgumentsError`` (naming the field) for text that is not valid Unicode
    (lone surrogates) or nesting deeper than ``MAX_DEPTH``."""
    stack: list[tuple[Any, str, int]] = [(arguments, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidArgumentsError(
                f"arguments of {tool} are nested deeper than {MAX_DEPTH} levels (at {path or 'the top'})",
                server=server,
                tool=tool,
                field=path,
            )
        if isinstance(value, str):
            if _bad_text(value):
                raise InvalidArgumentsError(
                    f"argument {path or '(top)'} of {tool} holds text that is not valid Unicode "
                    "(a lone surrogate); send it as proper UTF-8",
                    server=server,
                    tool=tool,
                    field=path,
                )
        elif isinstance(value, dict):
            for key, item in value.items():
                key_s = str(key)
                if _bad_text(key_s):
                    raise InvalidArgumentsError(
                        f"an argument name of {tool} is not valid Unicode (a lone surrogate)",
                        server=server,
                        tool=tool,
                        field=path,
                    )
                stack.append((item, f"{path}.{key_s}" if path else key_s, depth + 1))
        elif isinstance(value, (list, tuple)):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))


def result_size(result: types.CallToolResult) -> int:
    """A cheap upper estimate of a result's size on the wire (text, binary data, structure)."""
    size = 0
    for block in result.content:
        for attr in ("text", "data", "blob"):
            value = getattr(block, attr, None)
            if isinstance(value, str):
                size += len(value)
        resource = getattr(block, "resource", None)
        if resource is not None:
            for attr in ("text", "blob"):
                value = getattr(resource, attr, None)
                if isinstance(value, str):
                    size += len(value)
    if result.structured_content is not None:
        import json

        size += len(json.dumps(result.structured_content, default=str, ensure_ascii=False))
    return size


def check_result(result: types.CallToolResult, *, server: str, tool: str, limit: int) -> None:
    size = result_size(result)
    if size > limit:
        raise DownstreamProtocolError(
            f"{tool} on server {server!r} returned about {size} bytes; the limit is {limit} "
            "([pool] max_result_bytes)",
            server=server,
            size=size,
            limit=limit,
        )
