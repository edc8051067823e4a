"""Helpers shared by the cloud tool tests: call a tool the way the adapter does."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from ucp.builtins.base import BuiltinTool, ToolInputError
from ucp.builtins.cloud.common import envelope

FROZEN_TODAY = date(2026, 11, 23)


def call(tool: BuiltinTool, args: dict[str, Any]) -> dict[str, Any]:
    """Validate with the input model, run the handler, dump as JSON-ready dict."""
    out = tool.handler(tool.input_model.model_validate(args))
    assert isinstance(out, tool.output_model)
    return out.model_dump(mode="json")


def call_model(tool: BuiltinTool, args: dict[str, Any]) -> BaseModel:
    return tool.handler(tool.input_model.model_validate(args))


def error_field(tool: BuiltinTool, args: dict[str, Any]) -> str:
    """The field an is_error result would name: from ToolInputError or pydantic's loc."""
    try:
        tool.handler(tool.input_model.model_validate(args))
    except ToolInputError as exc:
        return exc.field
    except ValidationError as exc:
        loc = exc.errors()[0]["loc"]
        out = ""
        for part in loc:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        return out
    raise AssertionError("no error raised")


def series(
    values: Sequence[float], start: datetime | None = None, step_min: float = 5
) -> list[dict[str, Any]]:
    t0 = start or datetime(2026, 1, 5, tzinfo=UTC)
    return [
        {"timestamp": (t0 + timedelta(minutes=step_min * i)).isoformat(), "value": float(v)}
        for i, v in enumerate(values)
    ]


@pytest.fixture(autouse=True)
def frozen_today(monkeypatch: pytest.MonkeyPatch) -> date:
    monkeypatch.setattr(envelope, "today", lambda: FROZEN_TODAY)
    return FROZEN_TODAY
