"""UCP's own tools: ``ucp__search_tools``, ``ucp__describe_tool``, ``ucp__call_read_only_tool``
and ``ucp__call_tool``.

They are stable (the same list in every session), so they work in hosts that
ignore ``tools/list_changed``: the model searches, reads a schema, and calls
through them. Results are text for the model plus structured content.

There are two call tools so that a host's permission prompt means something:
``ucp__call_read_only_tool`` is annotated read-only and refuses any tool not
annotated ``readOnlyHint``, so "Always allow" on it approves reads only;
``ucp__call_tool`` calls anything and is annotated destructive, so a host keeps
asking. Policy denials and rate limits come back as ``is_error`` results the
model can read (the rule and the retry delay are in ``_meta``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import mcp_types as types

from ucp.downstream.base import CallHooks
from ucp.errors import InvalidArgumentsError, PolicyDeniedError, RateLimitedError, UnknownToolError
from ucp.router.base import RankContext, Ranker, Ranking
from ucp.router.catalog import CatalogEntry
from ucp.session.calls import CallPath, check_arguments, error_result
from ucp.session.guard import read_only
from ucp.session.state import HistoryItem, Session
from ucp.session.text import one_line, signature

SEARCH = "ucp__search_tools"
DESCRIBE = "ucp__describe_tool"
CALL = "ucp__call_tool"
CALL_READ_ONLY = "ucp__call_read_only_tool"
NAMES = (SEARCH, DESCRIBE, CALL_READ_ONLY, CALL)
CALLS = (CALL_READ_ONLY, CALL)

_READ_ONLY = types.ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


_CALL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Tool name, e.g. time__get_current_time."},
        "arguments": {
            "type": "object",
            "description": "The tool's arguments.",
            "additionalProperties": True,
        },
    },
    "required": ["name"],
    "additionalProperties": False,
}


def definitions(max_limit: int = 50) -> list[types.Tool]:
    return [
        types.Tool(
            name=SEARCH,
            title="Search tools",
            description=(
                "Find the right tool among every tool UCP can reach. Describe the task in plain words "
                "(e.g. 'current time in Tokyo', 'open a GitHub issue'). Returns ranked tool names with a "
                "one-line description and argument signature; then call one with ucp__call_tool "
                "(use ucp__describe_tool for its full schema)."
            ),
            input_schema={
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "What you want to do, in plain words."},
                    "limit": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": max_limit,
                        "description": "How many results (default 5).",
                    },
                    "server": {"type": "string", "description": "Only tools of this server."},
                },
                "required": ["query"],
                "additionalProperties": False,
            },
            output_schema={
                "type": "object",
                "properties": {
                    "query": {"type": "string"},
                    "mode": {"type": "string"},
                    "results": {"type": "array", "items": {"type": "object"}},
                },
                "required": ["query", "results"],
            },
            annotations=_READ_ONLY,
        ),
        types.Tool(
            name=DESCRIBE,
            title="Describe a tool",
            description="The full definition (input schema, output schema, annotations) of a tool found with ucp__search_tools.",
            input_schema={
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "Tool name as returned by ucp__search_tools."}
                },
                "required": ["name"],
                "additionalProperties": False,
            },
            annotations=_READ_ONLY,
        ),
        types.Tool(
            name=CALL_READ_ONLY,
            title="Call a read-only tool",
            description=(
                "Call a read-only tool (one annotated readOnlyHint: it reads, never changes anything) by the "
                "name ucp__search_tools returned. Refuses tools that may change something: call those with "
                "ucp__call_tool. Arguments are checked against the tool's schema first."
            ),
            input_schema=_CALL_SCHEMA,
            annotations=types.ToolAnnotations(
                read_only_hint=True, destructive_hint=False, idempotent_hint=False, open_world_hint=True
            ),
        ),
        types.Tool(
            name=CALL,
            title="Call a tool",
            description=(
                "Call any tool UCP can reach by the name ucp__search_tools returned, including tools that "
                "change or delete things (prefer ucp__call_read_only_tool for reads). Arguments are checked "
                "against the tool's schema first; an invalid field is named in the error."
            ),
            input_schema=_CALL_SCHEMA,
            annotations=types.ToolAnnotations(
                read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True
            ),
        ),
    ]


def _match_note(ranking: Ranking) -> str:
    """What the model should make of the results: nothing for a good match, a warning otherwise."""
    servers = ", ".join(ranking.servers) if ranking.servers else "none"
    if ranking.match == "none":
        return (
            f"No good match: no registered tool clearly does this. Registered servers: {servers}. "
            "The closest tools are listed, but the server you need may not be registered."
        )
    if ranking.match == "weak":
        return f"Weak match: check the descriptions before calling. Registered servers: {servers}."
    return ""


def render_ranking(
    ranking: Ranking, warning: Callable[[str], str | None] = lambda _name: None
) -> types.CallToolResult:
    results = []
    lines = []
    for i, r in enumerate(ranking.results, 1):
        e = r.entry
        sig = signature(e.tool.input_schema)
        item: dict[str, Any] = {
            "name": e.exposed,
            "server": e.server,
            "description": one_line(e.description),
            "signature": sig,
            "score": round(r.score, 4),
        }
        if r.confidence is not None:
            item["confidence"] = round(r.confidence, 3)
        note = warning(e.exposed)
        if note:
            item["warning"] = note
        results.append(item)
        flag = f" [{note}]" if note else ""
        shown = f"match {r.confidence:.2f}" if r.confidence is not None else f"score {r.score:.3f}"
        lines.append(f"{i}. {e.exposed}({sig}) — {one_line(e.description)}{flag} [{shown}]")
    if not lines:
        lines = ["No tools matched. Try other words, or drop the server filter."]
        if ranking.servers:
            lines.append(f"Registered servers: {', '.join(ranking.servers)}.")
    match_note = _match_note(ranking) if results else ""
    text = f"Tools for {ranking.query!r}:\n" + (match_note + "\n" if match_note else "") + "\n".join(lines)
    if results:
        text += '\nCall one with ucp__call_tool {"name": ..., "arguments": {...}}; ucp__describe_tool gives the full schema.'
    structured: dict[str, Any] = {"query": ranking.query, "mode": ranking.mode, "results": results}
    if ranking.match:
        structured["match"] = ranking.match if results else "none"
        if structured["match"] != "good":
            structured["servers"] = list(ranking.servers)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content=structured
    )


def describe(
    entry: CatalogEntry, *, changed: bool = False, warning: str | None = None
) -> types.CallToolResult:
    tool = entry.exposed_tool()
    data: dict[str, Any] = {
        "name": entry.exposed,
        "server": entry.server,
        "description": entry.description,
        "input_schema": tool.input_schema,
    }
    if tool.output_schema:
        data["output_schema"] = tool.output_schema
    if tool.annotations:
        data["annotations"] = tool.annotations.model_dump(mode="json", by_alias=True, exclude_none=True)
    if warning:
        data["warning"] = warning
    elif changed:
        data["warning"] = (
            "this tool's definition changed since UCP first saw it; "
            "the change is not approved yet (ucp trust approve)"
        )
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(data, indent=1, ensure_ascii=False))],
        structured_content=data,
    )


class MetaTools:
    """Handlers of the meta-tools for one gateway. Each validates its arguments against the
    schema it publishes (``definitions``) before doing anything."""

    def __init__(
        self,
        calls: CallPath,
        ranker: Ranker,
        *,
        flagged: Callable[[str], bool] = lambda _name: False,
        warning: Callable[[str], str | None] = lambda _name: None,
        default_limit: int = 5,
        max_limit: int = 50,
    ) -> None:
        self.calls = calls
        self.ranker = ranker
        self.default_limit = default_limit
        self.max_limit = max_limit
        self._flagged = flagged
        self._warning = warning
        self._schemas = {t.name: t.input_schema for t in definitions(max_limit)}

    def check(self, name: str, arguments: Any) -> types.CallToolResult | None:
        """``None`` when ``arguments`` match the published schema of ``name``, else the error result."""
        try:
            check_arguments(name, self._schemas[name], arguments, key=f"meta:{name}:{self.max_limit}")
        except InvalidArgumentsError as exc:
            return error_result(exc.message, exc.code, field=exc.details.get("field", ""))
        return None

    def context_for(self, session: Session) -> RankContext:
        return RankContext(
            session_id=session.id,
            context=session.context_text(),
            last_called=session.last_called,
            recent_calls=session.recent_calls(5),
            tenant=self.calls.guard.learning_scope(session.identity),
        )

    async def rank(
        self, session: Session, query: str, *, limit: int, server: str | None = None, record: bool = True
    ) -> Ranking:
        """Rank for ``query`` in the session's context; ``record`` keeps it in the session's history."""
        query = query.strip()[:2000]
        guard, identity = self.calls.guard, session.identity
        filtering = guard.filtering and not identity.local
        tel = self.calls.telemetry
        started = time.perf_counter()
        with tel.tracing.span("ucp.rank", attributes={"ucp.limit": limit}) as span:
            context = self.context_for(session)
            ranking = await self.ranker.rank(
                query,
                limit=min(max(limit * 4, 50), 200) if filtering else limit,
                server=server or None,
                context=context,
                # a named tenant learns into its own state, from the filtered ranking it was shown; the
                # default learner records unfiltered rankings only, as before
                record=bool(context.tenant) or (guard.learns_from(identity) and not filtering),
                visible=(lambda entry: guard.visible(identity, entry)) if filtering else None,
                keep=limit,
            )
            if span.is_recording():
                span.set_attribute("ucp.rank.mode", ranking.mode)
                span.set_attribute("ucp.rank.results", len(ranking.results))
        tel.metrics.searched(
            ranking.mode,
            time.perf_counter() - started,
            len(ranking.results),
            sum(1 for r in ranking.results if r.explored),
        )
        if record:
            session.record(
                HistoryItem(
                    kind="search",
                    at=time.time(),
                    text=query,
                    results=tuple(r.entry.exposed for r in ranking.results),
                )
            )
        return ranking

    async def search(
        self, session: Session, arguments: dict[str, Any]
    ) -> tuple[types.CallToolResult, Ranking | None]:
        invalid = self.check(SEARCH, arguments)
        if invalid is not None:
            return invalid, None
        query = arguments["query"]
        if not query.strip():
            return error_result(
                "ucp__search_tools needs a non-empty 'query' string.", "invalid_arguments", field="query"
            ), None
        limit = arguments.get("limit", self.default_limit)
        ranking = await self.rank(session, query, limit=limit, server=arguments.get("server"))
        return render_ranking(ranking, self._warning), ranking

    def describe(self, session: Session, arguments: dict[str, Any]) -> types.CallToolResult:
        invalid = self.check(DESCRIBE, arguments)
        if invalid is not None:
            return invalid
        name = arguments["name"]
        if not name:
            return error_result("ucp__describe_tool needs a 'name'.", "invalid_arguments", field="name")
        try:
            entry = self.calls.resolve(name, session)
        except UnknownToolError as exc:
            return error_result(exc.message, exc.code, suggestions=exc.details.get("suggestions", []))
        except PolicyDeniedError as exc:
            return error_result(exc.message, exc.code, rule=exc.details.get("rule", ""))
        session.record(HistoryItem(kind="describe", at=time.time(), tool=entry.exposed))
        return describe(entry, changed=self._flagged(entry.exposed), warning=self._warning(entry.exposed))

    def is_flagged(self, exposed: str) -> bool:
        return self._flagged(exposed)

    async def call(
        self,
        session: Session,
        arguments: dict[str, Any],
        hooks: CallHooks | None,
        *,
        read_only_only: bool = False,
    ) -> tuple[types.CallToolResult, CatalogEntry | None]:
        """``ucp__call_tool``, or ``ucp__call_read_only_tool`` with ``read_only_only``."""
        me = CALL_READ_ONLY if read_only_only else CALL
        invalid = self.check(me, arguments)
        if invalid is not None:
            return invalid, None
        name = arguments["name"]
        if not name:
            return error_result(f"{me} needs the 'name' of a tool.", "invalid_arguments", field="name"), None
        if name in NAMES:
            return error_result(
                f"{me} calls downstream tools, not UCP's own.", "invalid_arguments", field="name"
            ), None
        if read_only_only:
            entry = self.calls.lookup(name, session)
            if entry is not None and not read_only(entry):
                return error_result(
                    f"{name} is not annotated readOnlyHint (it may change something), so "
                    f"{CALL_READ_ONLY} refuses it; call it with {CALL}.",
                    "not_read_only",
                    tool=name,
                ), None
        args = arguments.get("arguments") or {}
        try:
            result = await self.calls.call(session, name, args, hooks=hooks, validate=True)
        except UnknownToolError as exc:
            return error_result(exc.message, exc.code, suggestions=exc.details.get("suggestions", [])), None
        except InvalidArgumentsError as exc:
            return error_result(exc.message, exc.code, field=exc.details.get("field", "")), None
        except PolicyDeniedError as exc:
            return error_result(exc.message, exc.code, rule=exc.details.get("rule", "")), None
        except RateLimitedError as exc:
            return error_result(
                exc.message,
                exc.code,
                rule=exc.details.get("rule", ""),
                retry_after=exc.details.get("retry_after"),
            ), None
        return result, self.calls.lookup(name, session)
