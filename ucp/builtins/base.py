"""The contract between a built-in tool and the in-process downstream that serves it.

A built-in tool is a plain, synchronous function from a pydantic input model to a
pydantic output model. The adapter in ``ucp.downstream.builtin`` turns a list of
them into an ordinary downstream: it publishes the models' JSON Schemas as the
tool's ``inputSchema``/``outputSchema``, validates arguments, runs the function
on a worker thread (the work is CPU-bound and must never block the protocol
loop) and turns ``ToolInputError`` into an ``is_error`` result that names the
field. Nothing here imports MCP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel


class ToolInputError(ValueError):
    """Bad input that the caller can fix: names the offending field and the problem.

    Raise it from a tool for anything schema validation cannot catch (an unknown
    instance type, timestamps out of order, a series too short, a pod larger than
    any instance type...). ``field`` is a dotted path into the arguments
    (``"series[3].timestamp"``), or ``""`` when the problem is not one field's.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)


@dataclass(frozen=True)
class Annotations:
    """MCP tool annotations (hints for the host; not security boundaries)."""

    read_only: bool = True
    destructive: bool = False
    idempotent: bool = True
    open_world: bool = False


@dataclass(frozen=True)
class BuiltinTool:
    """One built-in tool.

    ``name`` is the tool's own name (``rightsize_vm``); the pool exposes it as
    ``<server>__<name>`` (``cloud__rightsize_vm``). ``handler`` receives a
    validated instance of ``input_model`` and returns an instance of
    ``output_model``; it raises ``ToolInputError`` for bad input.
    """

    name: str
    title: str
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    handler: Callable[[Any], BaseModel]
    annotations: Annotations = field(default_factory=Annotations)
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuiltinServer:
    """A named set of built-in tools, served as one downstream."""

    name: str
    description: str
    tools: tuple[BuiltinTool, ...]
    instructions: str = ""
