"""JSON with comments (JSONC), read and edited in place.

VS Code writes ``mcp.json`` with ``//`` and ``/* */`` comments and trailing commas, Zed's
``settings.json`` is JSONC too, and users keep comments in every host file. ``json`` refuses
them, and re-serialising a parsed file would drop them. So this module parses the text into
values *with their character spans* and edits the text by splicing: setting or removing one
member of an object rewrites only that member; every other byte (comments, blank lines,
indentation, key order) stays as it was.

``loads`` returns plain Python values (comments and trailing commas ignored); ``set_member``
and ``remove_member`` take a path of object keys (``("servers", "ucp")``) and return new text.
Errors are ``JsoncError`` with the line and column.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


class JsoncError(ValueError):
    def __init__(self, message: str, text: str, pos: int) -> None:
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        super().__init__(f"{message} (line {line}, column {col})")
        self.msg, self.lineno, self.colno = message, line, col


@dataclass
class Node:
    """A parsed value: its span ``text[start:end]``; objects also keep their members."""

    value: Any
    start: int
    end: int
    members: list[tuple[str, int, Node]] = field(default_factory=list)  # (key, key start, value)

    def member(self, key: str) -> Node | None:
        return next((n for k, _, n in self.members if k == key), None)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, message: str) -> JsoncError:
        return JsoncError(message, self.text, self.pos)

    def skip(self) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n:
            c = text[self.pos]
            if c in " \t\r\n\ufeff":
                self.pos += 1
            elif text.startswith("//", self.pos):
                nl = text.find("\n", self.pos)
                self.pos = n if nl < 0 else nl + 1
            elif text.startswith("/*", self.pos):
                close = text.find("*/", self.pos + 2)
                if close < 0:
                    raise self.fail("unterminated /* comment")
                self.pos = close + 2
            else:
                return

    def value(self) -> Node:
        self.skip()
        if self.pos >= len(self.text):
            raise self.fail("unexpected end of file")
        c = self.text[self.pos]
        if c == "{":
            return self.obj()
        if c == "[":
            return self.arr()
        if c == '"':
            start = self.pos
            return Node(self.string(), start, self.pos)
        return self.scalar()

    def string(self) -> str:
        decoder = json.JSONDecoder()
        try:
            value, end = decoder.raw_decode(self.text, self.pos)
        except json.JSONDecodeError as exc:
            self.pos = exc.pos
            raise self.fail(exc.msg) from None
        self.pos = end
        return str(value)

    def scalar(self) -> Node:
        start = self.pos
        text = self.text
        while self.pos < len(text) and text[self.pos] not in ",]} \t\r\n/":
            self.pos += 1
        word = text[start : self.pos]
        try:
            return Node(json.loads(word), start, self.pos)
        except json.JSONDecodeError:
            self.pos = start
            raise self.fail(f"unexpected {word[:20] or text[start : start + 1]!r}") from None

    def obj(self) -> Node:
        start = self.pos
        self.pos += 1
        node = Node({}, start, start)
        while True:
            self.skip()
            if self.pos >= len(self.text):
                raise self.fail("unterminated object")
            if self.text[self.pos] == "}":
                self.pos += 1
                node.end = self.pos
                return node
            if self.text[self.pos] != '"':
                raise self.fail("expected a quoted key")
            key_start = self.pos
            key = self.string()
            self.skip()
            if self.pos >= len(self.text) or self.text[self.pos] != ":":
                raise self.fail("expected ':'")
            self.pos += 1
            child = self.value()
            node.value[key] = child.value
            node.members.append((key, key_start, child))
            self.skip()
            if self.pos < len(self.text) and self.text[self.pos] == ",":
                self.pos += 1
            elif self.pos < len(self.text) and self.text[self.pos] != "}":
                raise self.fail("expected ',' or '}'")

    def arr(self) -> Node:
        start = self.pos
        self.pos += 1
        items: list[Any] = []
        while True:
            self.skip()
            if self.pos >= len(self.text):
                raise self.fail("unterminated array")
            if self.text[self.pos] == "]":
                self.pos += 1
                return Node(items, start, self.pos)
            items.append(self.value().value)
            self.skip()
            if self.pos < len(self.text) and self.text[self.pos] == ",":
                self.pos += 1
            elif self.pos < len(self.text) and self.text[self.pos] != "]":
                raise self.fail("expected ',' or ']'")


def parse(text: str) -> Node:
    """The document's root node; an empty (or comment-only) text is an empty object."""
    parser = _Parser(text)
    parser.skip()
    if parser.pos >= len(text):
        return Node({}, len(text), len(text))
    root = parser.value()
    parser.skip()
    if parser.pos < len(text):
        raise parser.fail("extra data after the document")
    return root


def loads(text: str) -> Any:
    return parse(text).value


def indent_unit(text: str) -> str:
    """The file's indentation step (a tab, or N spaces; 2 when it cannot tell)."""
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and stripped != line:
            lead = line[: len(line) - len(stripped)]
            return "\t" if lead.startswith("\t") else lead
    return "  "


def _line_indent(text: str, pos: int) -> str:
    line_start = text.rfind("\n", 0, pos) + 1
    line = text[line_start:pos]
    return line[: len(line) - len(line.lstrip(" \t"))]


def _dump(value: Any, unit: str, base: str) -> str:
    dumped = json.dumps(value, indent=unit, ensure_ascii=False)
    return dumped.replace("\n", "\n" + base)


def _find(root: Node, path: Sequence[str]) -> Node:
    node = root
    for key in path:
        child = node.member(key)
        if child is None or not isinstance(child.value, dict):
            raise KeyError(key)
        node = child
    return node


def set_member(text: str, path: Sequence[str], key: str, value: Any) -> str:
    """``text`` with ``<path>[key] = value``, creating the objects on ``path`` as needed."""
    if not text.strip():
        text = "{}"
    root = parse(text)
    if not isinstance(root.value, dict):
        raise JsoncError("expected an object at the top level", text, root.start)
    if "\n" not in text.strip():  # one line, no layout to keep: write it out readably
        data = root.value
        target = data
        for k in path:
            child = target.get(k)
            if child is None:
                child = target[k] = {}
            elif not isinstance(child, dict):
                raise JsoncError(f"'{k}' must be an object", text, root.start)
            target = child
        target[key] = value
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    unit = indent_unit(text) if "\n" in text.strip() else "  "
    node, missing = root, list(path)
    while missing and (child := node.member(missing[0])) is not None:
        if not isinstance(child.value, dict):
            raise JsoncError(f"'{missing[0]}' must be an object", text, child.start)
        node = child
        missing.pop(0)
    new_value: Any = value
    for k in reversed([*missing[1:], key] if missing else []):
        new_value = {k: new_value}
    new_key = missing[0] if missing else key
    existing = node.member(new_key) if not missing else None
    if existing is not None:
        base = _line_indent(text, next(s for k, s, _ in node.members if k == new_key))
        return text[: existing.start] + _dump(new_value, unit, base) + text[existing.end :]
    if node.members:
        _, last_key_start, last = node.members[-1]
        base = _line_indent(text, last_key_start)
        member = f'"{_escape(new_key)}": {_dump(new_value, unit, base)}'
        return text[: last.end] + ",\n" + base + member + text[last.end :]
    outer = _line_indent(text, node.start)
    base = outer + unit
    member = f'"{_escape(new_key)}": {_dump(new_value, unit, base)}'
    close = node.end - 1
    inner = text[node.start + 1 : close]
    return text[: node.start + 1] + inner.rstrip(" \t\n") + "\n" + base + member + "\n" + outer + text[close:]


def remove_member(text: str, path: Sequence[str], key: str) -> str:
    """``text`` without ``<path>[key]`` (unchanged if it is not there). The member's line goes
    with it (and a ``//`` comment at its end), and the comma that separated it."""
    root = parse(text)
    try:
        node = _find(root, path)
    except KeyError:
        return text
    index = next((i for i, (k, _, _) in enumerate(node.members) if k == key), None)
    if index is None:
        return text
    _, start, child = node.members[index]
    end = child.end
    prev_comma: int | None = None
    after = _skip_blank(text, end)
    if after < len(text) and text[after] == ",":
        end = after + 1
    elif index > 0:
        comma = _skip_blank(text, node.members[index - 1][2].end)
        if comma < len(text) and text[comma] == ",":
            prev_comma = comma
    line_start = text.rfind("\n", 0, start) + 1
    if not text[line_start:start].strip():
        nl = text.find("\n", end)
        rest = text[end : nl if nl >= 0 else len(text)].strip()
        if not rest or rest.startswith("//"):
            start, end = line_start, (nl + 1 if nl >= 0 else len(text))
    out = text[:start] + text[end:]
    if prev_comma is not None:  # before ``start``: its position is unchanged
        out = out[:prev_comma] + out[prev_comma + 1 :]
    return out


def _skip_blank(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _escape(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)[1:-1]
