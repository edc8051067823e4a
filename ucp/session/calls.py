"""The call path every front shares (MCP, REST, UTCP out, the CLI), behind ``SessionAPI``.

Resolve the exposed name in the catalog (as the session's identity may see it),
admit the call (policy and rate limits: ``guard.py``), optionally validate the arguments
against the tool's schema, call through the pool, turn downstream failures into
``is_error`` results the model can read, log one line per call and one audit line,
and record the call in the session (it feeds the next ranking and the learning layer).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import mcp_types as types

from ucp.downstream.base import CallHooks
from ucp.errors import (
    DownstreamError,
    InvalidArgumentsError,
    PolicyDeniedError,
    RateLimitedError,
    UCPError,
    UnknownToolError,
)
from ucp.log import get_logger
from ucp.naming import suggest
from ucp.observe.telemetry import Telemetry
from ucp.pool.pool import Pool
from ucp.router.catalog import Catalog, CatalogEntry
from ucp.session.guard import Guard
from ucp.session.state import HistoryItem, Session

if TYPE_CHECKING:  # jsonschema loads at the first validated call: off the cold-start path
    from jsonschema import Draft202012Validator

log = get_logger("ucp.calls")

MAX_ARGUMENT_BYTES = 1024 * 1024


class CallObserver(Protocol):
    def on_call(self, session: Session, entry: CatalogEntry, ok: bool, error_code: str | None) -> None: ...


def error_result(message: str, code: str, **details: Any) -> types.CallToolResult:
    """An ``is_error`` result: readable text for the model, a stable code in ``_meta``."""
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=message)],
        is_error=True,
        _meta={"ucp/error": {"code": code, **details}},
    )


@functools.lru_cache(maxsize=2048)
def _compiled(content_hash: str, schema_json: str) -> Draft202012Validator | None:
    from jsonschema import Draft202012Validator, SchemaError

    schema = json.loads(schema_json)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError:
        return None
    return Draft202012Validator(schema)


def _validator(content_hash: str, schema: dict[str, Any]) -> Draft202012Validator | None:
    """Compiled validators, cached by the tool's content hash (compiling dominates validating)."""
    return _compiled(content_hash, json.dumps(schema, sort_keys=True, default=str))


def validate_arguments(entry: CatalogEntry, arguments: Any) -> None:
    """Check arguments against the tool's input schema; names the first invalid field."""
    check_arguments(
        entry.exposed, entry.tool.input_schema or {"type": "object"}, arguments, key=entry.content_hash
    )


def check_arguments(tool: str, schema: dict[str, Any], arguments: Any, *, key: str = "") -> None:
    """Validate ``arguments`` against ``schema``; ``InvalidArgumentsError`` names the first invalid field.
    A schema that is itself broken validates nothing (the tool's server judges the arguments)."""
    if not isinstance(arguments, dict):
        raise InvalidArgumentsError(
            f"arguments for {tool} must be a JSON object, got {type(arguments).__name__}",
            tool=tool,
            field="",
        )
    from jsonschema import SchemaError
    from jsonschema.exceptions import UnknownType, best_match

    try:
        validator = _validator(key or tool, schema)
        error = best_match(validator.iter_errors(arguments)) if validator is not None else None
    except (SchemaError, UnknownType, RecursionError):
        return
    if error is None:
        return
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "required" and isinstance(error.validator_value, list):
        missing = [
            r for r in error.validator_value if isinstance(error.instance, dict) and r not in error.instance
        ]
        path = ".".join([*(str(p) for p in error.absolute_path), *missing[:1]])
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        extra = sorted(set(error.instance) - set((error.schema or {}).get("properties", {})))
        path = ".".join([*(str(p) for p in error.absolute_path), *extra[:1]])
    raise InvalidArgumentsError(
        f"invalid arguments for {tool}: field {path or '(root)'!r}: {error.message[:300]}",
        tool=tool,
        field=path,
    )


class CallPath:
    """Resolve, check, call through the pool, record; observers (priors, learning) hear of each call,
    ``telemetry`` (metrics, a span, a call record) of each call too, with UCP's own time and the
    downstream's measured apart."""

    def __init__(
        self,
        catalog: Catalog,
        pool: Pool,
        *,
        observers: Sequence[CallObserver] = (),
        extra_names: Iterable[str] = (),
        guard: Guard | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.catalog = catalog
        self.pool = pool
        self.guard = guard or Guard()
        self.telemetry = telemetry if telemetry is not None else Telemetry.off()
        self._observers = tuple(observers)
        self._extra_names = tuple(extra_names)  # UCP's own tools, for "did you mean"

    def unknown(self, name: str, session: Session | None) -> UnknownToolError:
        if session is None:
            names: Iterable[str] = self.catalog.entries
        else:
            names = (e.exposed for e in self.guard.filter(session.identity, self.catalog.entries.values()))
        near = suggest(name, [*names, *self._extra_names])
        hint = f" Did you mean: {', '.join(near)}?" if near else ""
        return UnknownToolError(f"unknown tool {name!r}.{hint}", tool=name, suggestions=near)

    def lookup(self, name: str, session: Session | None) -> CatalogEntry | None:
        """The entry, or ``None`` when there is none for this session's identity."""
        entry = self.catalog.resolve(name)
        if entry is not None and session is not None and self.guard.hidden(session.identity, name, entry):
            return None
        return entry

    def resolve(self, name: str, session: Session | None = None) -> CatalogEntry:
        """The entry of ``name`` as ``session``'s identity may see it (``UnknownToolError`` if
        none; ``PolicyDeniedError`` if its policy forbids it)."""
        entry = self.lookup(name, session)
        if session is not None:
            decision = (
                self.guard.decide(session.identity, entry)
                if entry is not None
                else self.guard.policy.decide(session.identity, name, name.split("__", 1)[0])
            )
            if not decision.allowed and not decision.hidden:
                raise PolicyDeniedError(decision.message, rule=decision.rule, tool=name)
        if entry is None:
            raise self.unknown(name, session)
        return entry

    async def call(
        self,
        session: Session,
        name: str,
        arguments: dict[str, Any] | None,
        *,
        hooks: CallHooks | None = None,
        validate: bool = False,
    ) -> types.CallToolResult:
        """Call a tool by exposed name. Unknown names raise ``UnknownToolError``; invalid
        arguments (when ``validate``) raise ``InvalidArgumentsError``; downstream
        failures come back as ``is_error`` results."""
        tel = self.telemetry
        started = time.perf_counter()
        with tel.call_span(name) as span:
            try:
                entry, args = self._check(session, name, arguments, validate)
                await self.guard.admit_rate(session, name, entry)
            except UCPError as exc:
                tel.call_rejected(span, exc.code)
                if isinstance(exc, RateLimitedError):
                    tel.metrics.rate_limit_hit(str(exc.details.get("rule", "")))
                raise
            tel.span_arguments(span, args)
            tel.metrics.call_started(entry.server)
            sent = time.perf_counter()
            error_code: str | None = None
            with tel.downstream_span(entry.server, entry.tool.name):
                try:
                    result = await self.pool.call_tool(entry.server, entry.tool.name, args, hooks=hooks)
                except DownstreamError as exc:
                    error_code = exc.code
                    result = error_result(
                        f"UCP: {exc.message}", exc.code, server=entry.server, tool=entry.tool.name
                    )
            answered = time.perf_counter()
            downstream_ms = (answered - sent) * 1000
            outcome = "error" if result.is_error else "ok"
            if error_code is None and result.is_error:
                error_code = "tool_error"
            log.info(
                "tool_call",
                session_id=session.id,
                server=entry.server,
                tool=entry.tool.name,
                duration_ms=round(downstream_ms, 2),
                outcome=outcome,
                error_code=error_code,
            )
            followed = _rank_after_search(session, entry.exposed)
            if followed is not False:
                tel.metrics.followed_search(followed)
            session.record(
                HistoryItem(
                    kind="call",
                    at=time.time(),
                    tool=entry.exposed,
                    arguments=_summarise(args),
                    outcome=outcome if error_code is None else f"error:{error_code}",
                    duration_ms=round(downstream_ms, 2),
                )
            )
            self.guard.record(
                "call",
                session,
                entry.exposed,
                outcome=outcome,
                duration_ms=downstream_ms,
                arguments=args,
                error_code=error_code,
            )
            for observer in self._observers:  # each decides whose learning state the call feeds
                try:
                    observer.on_call(session, entry, not result.is_error, error_code)
                except Exception:
                    log.exception("call_observer_failed")
            tel.call_finished(
                span,
                session=session.id,
                client=session.client_name,
                server=entry.server,
                tool=entry.tool.name,
                outcome=outcome,
                error_code=error_code,
                overhead_s=(sent - started) + (time.perf_counter() - answered),
                downstream_s=answered - sent,
                structured=result.structured_content,
            )
        return result

    def _check(
        self, session: Session, name: str, arguments: dict[str, Any] | None, validate: bool
    ) -> tuple[CatalogEntry, dict[str, Any]]:
        entry = self.lookup(name, session)
        args = arguments or {}
        size = len(json.dumps(args, default=str))
        self.guard.admit(session, name, entry, size)
        if entry is None:
            raise self.unknown(name, session)
        if size > MAX_ARGUMENT_BYTES:
            raise InvalidArgumentsError(
                f"arguments for {name} are {size} bytes; the limit is {MAX_ARGUMENT_BYTES}",
                tool=name,
                field="",
            )
        if validate:
            validate_arguments(entry, args)
        return entry, args


def _rank_after_search(session: Session, tool: str, horizon: int = 50) -> int | bool | None:
    """For the first call after a search: the called tool's rank in it (None: not shown).
    False when another call came between (only the first call after a search counts)."""
    for i, item in enumerate(reversed(session.history)):
        if i >= horizon or item.kind == "call":
            return False
        if item.kind == "search":
            return item.results.index(tool) + 1 if tool in item.results else None
    return False


def _summarise(args: dict[str, Any], limit: int = 300) -> dict[str, Any]:
    """Arguments as kept in history: short values kept, long ones truncated."""
    out: dict[str, Any] = {}
    for key, value in list(args.items())[:20]:
        text = value if isinstance(value, (int, float, bool)) or value is None else str(value)
        out[key] = text[:limit] + "…" if isinstance(text, str) and len(text) > limit else text
    return out
