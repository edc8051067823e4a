"""A built-in server for the process-isolation test: one tool that spins the CPU, one that says its pid."""

from __future__ import annotations

import os

from pydantic import BaseModel

from ucp.builtins.base import BuiltinServer, BuiltinTool


class In(BaseModel):
    seconds: float = 0


class Out(BaseModel):
    pid: int


def spin(args: In) -> Out:
    while True:  # never returns: only killing the worker stops it
        pass


def pid(args: In) -> Out:
    return Out(pid=os.getpid())


SERVER = BuiltinServer(
    "spin",
    "CPU spinner",
    (
        BuiltinTool("spin", "Spin", "Spins.", In, Out, spin),
        BuiltinTool("pid", "Pid", "Worker pid.", In, Out, pid),
    ),
)
