"""Configuration models: what a registry file (``ucp.toml``) may say.

The models are frozen pydantic models with documented fields; ``loader.py`` is
the only module that reads files or the environment. String values may hold
``${ENV_VAR}`` references; they are kept verbatim here (so writing the registry
back never leaks a secret) and expanded only when a connection is opened.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SERVER_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]|_(?!_)){0,31}$")
"""Server names: 1-32 letters, digits, ``-`` or single ``_``, starting with a letter or
digit. No ``__`` (it separates server and tool in exposed names) and no ``.``."""

RESERVED_SERVER_NAMES = frozenset({"ucp"})

ExposureMode = Literal["full", "search", "dynamic"]
ExposureChoice = Literal["auto", "full", "search", "dynamic"]


def validate_server_name(name: str) -> str:
    """Return ``name`` if it is a valid, unreserved server name; raise ``ValueError`` otherwise."""
    if name.lower() in RESERVED_SERVER_NAMES:
        raise ValueError(f"the server name {name!r} is reserved for UCP's own tools; pick another name")
    if not SERVER_NAME_RE.match(name):
        raise ValueError(
            f"invalid server name {name!r}: use 1-32 letters, digits, '-' or single '_' "
            "(no '__', no '.', no spaces), starting with a letter or digit"
        )
    return name


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class ServerBase(_Model):
    """Settings every downstream has, whatever its wire."""

    name: str = Field(description="Unique server name; exposed tools are named <name>__<tool>.")
    description: str = Field("", description="What this server is for (shown in `ucp registry list`).")
    enabled: bool = Field(True, description="Disabled servers are kept in the registry but not started.")
    timeout: float = Field(60.0, gt=0, le=3600, description="Per-call timeout in seconds.")
    connect_timeout: float = Field(
        30.0, gt=0, le=600, description="Seconds to connect and list before giving up."
    )
    max_concurrency: int = Field(8, ge=1, le=1024, description="Calls in flight at once to this server.")
    tags: tuple[str, ...] = Field((), description="Free-form tags; indexed by the router.")
    pinned: tuple[str, ...] = Field((), description="Tool names of this server always listed, in every mode.")

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return validate_server_name(value)


class StdioServer(ServerBase):
    """An MCP server started as a subprocess, spoken to over stdin/stdout."""

    type: Literal["stdio"] = "stdio"
    command: str = Field(min_length=1, description="Executable to run (absolute path or on PATH).")
    args: tuple[str, ...] = ()
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment; values may use ${VAR}.")
    cwd: str | None = None


class HttpServer(ServerBase):
    """An MCP server over streamable HTTP."""

    type: Literal["http"] = "http"
    url: str = Field(pattern=r"^https?://", description="The MCP endpoint, e.g. https://host/mcp.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Sent on every request; values may use ${VAR}."
    )


class SseServer(ServerBase):
    """An MCP server over the legacy HTTP+SSE transport."""

    type: Literal["sse"] = "sse"
    url: str = Field(pattern=r"^https?://", description="The SSE endpoint, e.g. https://host/sse.")
    headers: dict[str, str] = Field(default_factory=dict)


class UtcpServer(ServerBase):
    """A UTCP manual: a file, an HTTP(S) URL serving a manual, or an OpenAPI document."""

    type: Literal["utcp"] = "utcp"
    manual: str = Field(min_length=1, description="Path or http(s) URL of a UTCP manual or OpenAPI document.")
    variables: dict[str, str] = Field(
        default_factory=dict, description="Variables for the manual's templates."
    )
    allowed_protocols: tuple[str, ...] = Field(
        (),
        description="Call template types the manual may use besides its own (e.g. 'cli' in a file manual).",
    )


ServerConfig = Annotated[StdioServer | HttpServer | SseServer | UtcpServer, Field(discriminator="type")]


class ExposureSettings(_Model):
    """How tools are shown to each session (see DESIGN.md §2)."""

    mode: ExposureChoice = Field(
        "auto", description="auto picks per client; or force full / search / dynamic."
    )
    full_threshold: int = Field(
        30, ge=0, description="auto: list everything when the catalog has at most this many tools."
    )
    client_modes: dict[str, ExposureMode] = Field(
        default_factory=dict,
        description="Per-client override: clientInfo.name (case-insensitive substring) -> mode.",
    )
    dynamic_max_tools: int = Field(12, ge=1, le=200, description="dynamic: most tools in a working set.")
    dynamic_token_budget: int = Field(
        6000, ge=200, description="dynamic: most tokens the working set's schemas may take."
    )
    search_limit: int = Field(5, ge=1, le=50, description="Default number of results of ucp__search_tools.")
    initial_wait: float = Field(
        5.0, ge=0, le=120, description="First tools/list waits this long for servers still connecting."
    )


class RouterSettings(_Model):
    embedding_model: str | None = Field(
        None, description="sentence-transformers name or path; default: the bundled all-MiniLM-L6-v2."
    )
    dense: bool = Field(
        True, description="Load the embedding model in the background (BM25 serves meanwhile)."
    )
    health_demotion: float = Field(
        1.0, ge=0, le=1, description="Unhealthy servers' tools are hidden (1) or demoted."
    )


class LearningSettings(_Model):
    enabled: bool = Field(True, description="Record feedback and learn from successful calls.")
    exploration: bool = Field(True, description="Reserve a share of surfaced slots for uncertain tools.")
    explore_share: float = Field(
        0.2, ge=0, le=0.5, description="Share of surfaced slots open to exploration."
    )
    seed: int | None = Field(None, description="Seed the bandit's RNG (tests, reproducible benchmarks).")
    retention_days: float = Field(
        90.0, gt=0, description="Feedback events older than this are compacted away."
    )
    max_events: int = Field(200_000, ge=1000, description="Most feedback events kept on disk.")


class HttpSettings(_Model):
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=0, le=65535)
    api_keys: tuple[str, ...] = Field(
        (),
        description="sha256:<hex> hashes of accepted bearer keys (`printf %s KEY | sha256sum`); plain keys are refused.",
    )
    api_keys_env: str = Field(
        "UCP_API_KEYS", description="Environment variable with comma-separated plain keys."
    )
    allow_private_networks: bool = Field(
        False, description="Let UCP fetch manuals from private (RFC 1918) addresses."
    )
    allow_loopback_fetch: bool = Field(True, description="Let UCP fetch manuals from 127.0.0.1/localhost.")
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="Largest request body accepted.")
    max_response_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Largest manual or response UCP reads."
    )
    health_interval: float = Field(
        60.0, gt=0, description="Seconds between health checks of registered services."
    )
    public_url: str | None = Field(None, description="Base URL written into the served UTCP manual.")


class PoolSettings(_Model):
    backoff_initial: float = Field(0.5, gt=0, description="First restart delay in seconds.")
    backoff_max: float = Field(30.0, gt=0, description="Longest restart delay in seconds.")
    health_interval: float = Field(
        30.0, gt=0, description="Seconds between liveness checks of a connected server."
    )
    acquire_timeout: float = Field(30.0, gt=0, description="Longest wait for a free concurrency slot.")
    cache_lists: bool = Field(
        True, description="Answer the first tools/list from each server's last-known lists while it connects."
    )


class Config(_Model):
    """Everything one UCP process is configured with."""

    servers: dict[str, ServerConfig] = Field(default_factory=dict)
    exposure: ExposureSettings = Field(default_factory=ExposureSettings)
    router: RouterSettings = Field(default_factory=RouterSettings)
    learning: LearningSettings = Field(default_factory=LearningSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    pool: PoolSettings = Field(default_factory=PoolSettings)
    builtins: bool = Field(True, description="Serve the built-in cloud tools as the server `cloud`.")
    log_level: str = Field("info", pattern=r"^(?i)(debug|info|warning|error)$")
