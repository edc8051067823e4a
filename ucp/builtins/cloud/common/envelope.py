"""The envelope every cloud tool answers in, and small helpers shared by the tools.

Every output states how it was computed (``method``), from which data
(``data_sources`` with dates and licences), under which ``assumptions``, with which
``warnings`` (stale prices, gaps, too little history) and, where it applies, a
``confidence`` statement. Input models forbid unknown fields so a typo is an error
that names the field, and neither inputs nor outputs accept NaN or infinity.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ucp.builtins.base import ToolInputError

HOURS_PER_MONTH = 730.0  # AWS's convention for monthly prices
MAX_ABS_INPUT = 1e15  # any number beyond this in an input is refused: sums and products would overflow


def _check_magnitude(value: Any) -> None:
    if isinstance(value, float | int) and not isinstance(value, bool):
        if not math.isfinite(value) or abs(value) > MAX_ABS_INPUT:
            raise ValueError(
                f"{value!r} is beyond +/-{MAX_ABS_INPUT:g} (sums and products of such numbers overflow); "
                "rescale the unit"
            )
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _check_magnitude(item)
    elif isinstance(value, dict):
        for item in value.values():
            _check_magnitude(item)


class StrictInput(BaseModel):
    """Base of every input model: unknown fields, NaN/inf and numbers beyond +/-1e15 are
    validation errors (a 1e308 USD/h price is finite, but its monthly cost is not)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _bounded_numbers(cls, value: Any) -> Any:
        _check_magnitude(value)  # nested models were checked by their own validator
        return value


class OutputModel(BaseModel):
    """Base of every output model: NaN/inf can never reach the JSON answer."""

    model_config = ConfigDict(allow_inf_nan=False)


class Method(OutputModel):
    name: str = Field(description="Algorithm used.")
    reference: str = Field(description="The system whose method this follows.")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Parameters actually used.")


class DataSource(OutputModel):
    name: str
    as_of: str = Field(description="Date (or date range) of the data.")
    licence: str
    url: str = ""


class Envelope(OutputModel):
    """Fields common to every cloud tool's output."""

    method: Method
    data_sources: list[DataSource] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    confidence: str | None = Field(default=None, description="How far to trust the result, and why.")


def today() -> date:
    """Today's date (UTC). Tests monkeypatch this to make staleness deterministic."""
    return datetime.now(UTC).date()


def user_data_source(name: str, first: datetime | None = None, last: datetime | None = None) -> DataSource:
    """The caller's own data, with its date range when known."""
    span = f"{first.isoformat()} to {last.isoformat()}" if first and last else "as supplied"
    return DataSource(name=name, as_of=span, licence="caller's data", url="")


def rnd(x: float, digits: int = 6) -> float:
    """Round for output; a non-finite value here is a bug, never something to emit."""
    if not math.isfinite(x):
        raise ArithmeticError(f"non-finite value {x!r} reached an output")
    return round(float(x), digits)


def require(condition: bool, field: str, problem: str) -> None:
    """Raise ``ToolInputError(field, problem)`` unless ``condition`` holds."""
    if not condition:
        raise ToolInputError(field, problem)


def dedupe(messages: list[str]) -> list[str]:
    """Keep the first occurrence of each message, in order."""
    seen: set[str] = set()
    out: list[str] = []
    for m in messages:
        if m not in seen:
            seen.add(m)
            out.append(m)
    return out
