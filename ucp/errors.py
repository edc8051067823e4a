"""One error hierarchy with stable codes.

Every error UCP raises on purpose is a ``UCPError`` with a stable ``code`` (tests
and scripts assert on codes, never on message text), a message a user can act
on, and optional structured ``details``. The frontend maps them to MCP: errors
about the request itself (unknown tool, bad arguments) become JSON-RPC errors;
failures of a downstream become ``is_error`` tool results the model can read.
"""

from __future__ import annotations

from typing import Any

# JSON-RPC codes (from the JSON-RPC 2.0 spec, as used by MCP)
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
METHOD_NOT_FOUND = -32601


class UCPError(Exception):
    """Base class. ``code`` is stable; ``message`` says what failed and what to do."""

    code: str = "ucp_error"
    jsonrpc_code: int = INTERNAL_ERROR
    http_status: int = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


# ---------------------------------------------------------------- configuration
class ConfigError(UCPError):
    """A config or registry file is malformed. Names the file, the entry and the field."""

    code = "config_invalid"
    http_status = 400

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        entry: str | None = None,
        field: str | None = None,
        **details: Any,
    ) -> None:
        where = ", ".join(
            part
            for part in (
                f"file {file}" if file else "",
                f"entry {entry!r}" if entry else "",
                f"field {field!r}" if field else "",
            )
            if part
        )
        super().__init__(
            f"{where}: {message}" if where else message, file=file, entry=entry, field=field, **details
        )
        self.file, self.entry, self.field = file, entry, field


class RegistryError(UCPError):
    """A registry operation cannot be done (duplicate name, unknown name...)."""

    code = "registry_error"
    http_status = 400


class UnknownServerError(RegistryError):
    code = "unknown_server"
    http_status = 404


class DuplicateServerError(RegistryError):
    code = "duplicate_server"
    http_status = 409


# ---------------------------------------------------------------- requests
class UnknownToolError(UCPError):
    """No tool by that name; ``details['suggestions']`` lists near matches."""

    code = "unknown_tool"
    jsonrpc_code = INVALID_PARAMS
    http_status = 404


class InvalidArgumentsError(UCPError):
    """Arguments do not match the tool's input schema; names the field."""

    code = "invalid_arguments"
    jsonrpc_code = INVALID_PARAMS
    http_status = 422


class UnknownResourceError(UCPError):
    code = "unknown_resource"
    jsonrpc_code = INVALID_PARAMS
    http_status = 404


class UnknownPromptError(UCPError):
    code = "unknown_prompt"
    jsonrpc_code = INVALID_PARAMS
    http_status = 404


class ToolWithheldError(UCPError):
    """A tool whose definition changed since it was approved is withheld (trust fails closed)."""

    code = "tool_withheld"
    jsonrpc_code = INVALID_PARAMS
    http_status = 403


class UnknownSessionError(UCPError):
    """No live session has this id (sessions end when idle or when their connection closes)."""

    code = "unknown_session"
    jsonrpc_code = INVALID_PARAMS
    http_status = 404


# ---------------------------------------------------------------- downstream faults
class DownstreamError(UCPError):
    """A downstream failed; becomes an ``is_error`` result naming server and cause."""

    code = "downstream_error"
    http_status = 502

    def __init__(self, message: str, *, server: str, **details: Any) -> None:
        super().__init__(message, server=server, **details)
        self.server = server


class DownstreamUnavailableError(DownstreamError):
    """The server is not connected (starting, restarting, failed, disabled)."""

    code = "downstream_unavailable"
    http_status = 503


class DownstreamTimeoutError(DownstreamError):
    code = "downstream_timeout"
    http_status = 504


class DownstreamBusyError(DownstreamError):
    """The per-server concurrency limit was reached and the wait timed out."""

    code = "downstream_busy"
    http_status = 503


class DownstreamProtocolError(DownstreamError):
    """The downstream answered with something that is not valid MCP/UTCP."""

    code = "downstream_protocol"


# ---------------------------------------------------------------- HTTP front
class AuthError(UCPError):
    code = "unauthorized"
    http_status = 401


class PayloadTooLargeError(UCPError):
    code = "payload_too_large"
    http_status = 413


class UnsafeURLError(UCPError):
    """A URL UCP was asked to fetch is not allowed (SSRF guard)."""

    code = "unsafe_url"
    http_status = 400


class ManualError(UCPError):
    """A UTCP manual or OpenAPI document cannot be loaded or converted."""

    code = "manual_invalid"
    http_status = 422


# ---------------------------------------------------------------- policy and limits
class PolicyDeniedError(UCPError):
    """The caller's policy does not allow this tool or these arguments; ``details['rule']`` names the rule."""

    code = "policy_denied"
    jsonrpc_code = INVALID_PARAMS
    http_status = 403


class RateLimitedError(UCPError):
    """A rate limit was reached; ``details['retry_after']`` says when to try again (seconds)."""

    code = "rate_limited"
    jsonrpc_code = INVALID_PARAMS
    http_status = 429


class StoreUnavailableError(UCPError):
    """The shared state store (Redis or PostgreSQL, ``[state]``) could not be reached in time; the
    message names the store, never its URL."""

    code = "store_unavailable"
    http_status = 503


# ---------------------------------------------------------------- installation
class ExtraMissingError(UCPError):
    """A command needs an optional extra that is not installed (e.g. ``ucp train`` needs ``ucp[train]``)."""

    code = "extra_missing"


def require_extra(extra: str, feature: str, modules: tuple[str, ...]) -> None:
    """Raise ``ExtraMissingError`` naming the pip command when one of ``modules`` is not importable."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ExtraMissingError(
            f"{feature} needs {', '.join(missing)}, which a default install leaves out; "
            f"install the {extra} extra: pip install 'ucp[{extra}]'",
            extra=extra,
            missing=missing,
        )


def error_from_dict(data: Any) -> UCPError | None:
    """The ``UCPError`` that ``to_dict()`` described (``None`` if ``data`` names no known code): how
    an error raised in UCP's pool process reaches a worker with its class and code intact."""
    if not isinstance(data, dict) or not isinstance(data.get("code"), str):
        return None
    classes: list[type[UCPError]] = [UCPError]
    found: type[UCPError] | None = None
    while classes:
        cls = classes.pop()
        if cls.code == data["code"]:
            found = cls
            break
        classes.extend(cls.__subclasses__())
    if found is None:
        return None
    raw = data.get("details")
    details: dict[str, Any] = raw if isinstance(raw, dict) else {}
    error = found.__new__(found)
    UCPError.__init__(error, str(data.get("message", "")), **details)
    return error
