"""Checking downstream results against their declared output schemas.

A result that does not match is passed through untouched (the data is the
user's, and it is in the text content too), logged, and the tool's output
schema is withdrawn from UCP's listing from then on: hosts validate
``structuredContent`` against the listed schema and would otherwise reject every
later call of that tool.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types


class OutputChecker:
    def __init__(self) -> None:
        self._validators: dict[tuple[str, str], tuple[int, Any]] = {}
        self.withdrawn: set[tuple[str, str]] = set()

    def is_withdrawn(self, server: str, tool: str) -> bool:
        return (server, tool) in self.withdrawn

    def forget_server(self, server: str, keep: set[str]) -> None:
        for key in [k for k in self._validators if k[0] == server and k[1] not in keep]:
            del self._validators[key]
        self.withdrawn = {k for k in self.withdrawn if k[0] != server or k[1] in keep}

    def check(self, server: str, tool: types.Tool, result: types.CallToolResult) -> str | None:
        """``None`` if the result conforms (or was already withdrawn); else the problem, once."""
        key = (server, tool.name)
        if key in self.withdrawn or not tool.output_schema:
            return None
        from jsonschema import Draft202012Validator, SchemaError  # first use: off the cold-start path
        from jsonschema.exceptions import best_match

        schema = tool.output_schema
        cached = self._validators.get(key)
        if cached is None or cached[0] != id(schema):
            try:
                Draft202012Validator.check_schema(schema)
                validator: Any = Draft202012Validator(schema)
            except SchemaError as exc:
                self.withdrawn.add(key)
                return f"output schema is not valid JSON Schema: {exc.message}"
            self._validators[key] = (id(schema), validator)
        else:
            validator = cached[1]
        if result.structured_content is None:
            self.withdrawn.add(key)
            return "tool declares an output schema but returned no structured content"
        if validator.is_valid(result.structured_content):
            return None
        error = best_match(validator.iter_errors(result.structured_content))
        if error is None:
            return None
        self.withdrawn.add(key)
        path = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return f"structured content does not match the output schema at {path}: {error.message[:200]}"
