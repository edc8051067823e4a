"""Configuration models: what a registry file (``ucp.toml``) may say.

The models are frozen pydantic models with documented fields; ``loader.py`` is
the only module that reads files or the environment. String values may hold
``${ENV_VAR}`` references; they are kept verbatim here (so writing the registry
back never leaks a secret) and expanded only when a connection is opened.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
    oauth: bool = Field(
        False,
        description="The server needs OAuth (MCP authorization spec): log in once with `ucp auth login`.",
    )
    oauth_scope: str | None = Field(
        None, description="Scopes to ask for (default: what the server advertises)."
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
    encoder_threads: int | None = Field(
        None,
        ge=1,
        le=64,
        description="Threads of the embedding encoder (ONNX Runtime); default 2, or cores / workers "
        "in each worker of `ucp serve --workers N`.",
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
        description="sha256:<hex> hashes of accepted bearer keys (`printf %s KEY | sha256sum`, or "
        "`ucp keys create` for keys with scopes and expiry); plain keys are refused.",
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
    header_timeout: float = Field(
        10.0, gt=0, le=600, description="Seconds a client has to send a request's headers (slowloris)."
    )
    body_timeout: float = Field(
        30.0, gt=0, le=3600, description="Seconds a client has to send a request's body."
    )
    session_idle_s: float = Field(
        600.0, gt=0, description="An MCP HTTP session (2025-era) idle this long is closed."
    )
    max_sessions: int = Field(1000, ge=1, description="Most MCP HTTP sessions at once (then 503).")
    drain_s: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="On SIGTERM: seconds in-flight requests get to finish while new ones are refused "
        "(503, retried elsewhere by a load balancer) before UCP exits; 0 exits at once.",
    )
    ready_requires_store: bool = Field(
        True,
        description="/readyz fails while the shared state store does not answer. false: stay ready "
        "(2026-era calls and sessions a replica holds keep working; /readyz still reports the store).",
    )
    max_sessions_per_identity: int = Field(
        100,
        ge=1,
        description="Most MCP HTTP sessions one caller (identity, or client address without auth) holds "
        "at once (then 429 for that caller only).",
    )
    workers: int = Field(
        1,
        ge=1,
        le=16,
        description="HTTP worker processes (`ucp serve --workers`); >1 serves sessions on several "
        "cores while one pool process keeps one connection per downstream server (Linux).",
    )


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
    max_message_bytes: int = Field(
        16 * 1024 * 1024,
        ge=4096,
        description="Longest JSON-RPC message (stdio line) read from a downstream; a longer one is dropped "
        "and the connection restarted.",
    )
    max_result_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Largest tool result passed upstream; a larger one is an error."
    )
    park_after: int = Field(
        5,
        ge=0,
        description="Park a server after this many fast failures in a row (0: never): it is not retried "
        "until its config changes or `ucp registry enable NAME`.",
    )
    fast_failure_s: float = Field(
        10.0, gt=0, description="A connection that fails or drops within this many seconds is a fast failure."
    )


class TrustSettings(_Model):
    """What happens to tools whose definition changed since it was approved (see router/pins.py)."""

    changed_tools: Literal["withhold", "warn"] = Field(
        "withhold",
        description="withhold: listed with a warning, calls refused until `ucp trust approve`; warn: callable.",
    )
    flag_injection: bool = Field(
        True, description="Mark descriptions that look like instructions to the model in listings."
    )


class LimitSettings(_Model):
    """Bounds on every document UCP parses (manuals, OpenAPI, bodies, state files)."""

    max_document_depth: int = Field(128, ge=8, le=10_000, description="Deepest nesting accepted.")
    max_document_nodes: int = Field(
        2_000_000, ge=1000, description="Most values in one document, counted as expanded (YAML aliases)."
    )


class ApiKeySettings(_Model):
    """A static bearer key declared in the config (``ucp keys create`` keeps them in ``keys.json``)."""

    hash: str = Field(pattern=r"^sha256:[0-9a-fA-F]{64}$", description="sha256:<hex> of the key.")
    subject: str = Field("", description="Who holds it (the audit log's identity); default: the key's id.")
    scopes: tuple[str, ...] = Field((), description="Scopes the key carries (mapped to roles by [policy]).")
    roles: tuple[str, ...] = Field((), description="Roles granted directly.")
    tenant: str = Field("default", description="The tenant the key's holder belongs to.")
    expires: float | None = Field(None, description="Unix time after which the key is refused.")


class AuthSettings(_Model):
    """UCP as an OAuth 2.1 resource server (MCP authorization spec) and static API keys."""

    resource: str | None = Field(
        None,
        pattern=r"^https?://",
        description="This UCP's resource URI (RFC 8707), e.g. https://ucp.example.com/mcp: the audience "
        "tokens must name. Setting it (with issuer) turns OAuth on.",
    )
    issuer: str | None = Field(None, pattern=r"^https?://", description="The IdP's issuer URL.")
    jwks_url: str | None = Field(
        None, pattern=r"^https?://", description="The issuer's JWKS; default: from its discovery document."
    )
    audience: tuple[str, ...] = Field(
        (), description="Accepted audiences; default: the resource URI (with and without trailing slash)."
    )
    algorithms: tuple[str, ...] = Field(("RS256", "ES256", "PS256", "EdDSA"), min_length=1)
    leeway: float = Field(30.0, ge=0, le=600, description="Clock skew allowed on exp/nbf/iat, seconds.")
    jwks_cache_seconds: float = Field(
        600.0, ge=1, description="Keys are refetched after this long, or at once on an unknown kid."
    )
    introspection_url: str | None = Field(
        None, pattern=r"^https?://", description="RFC 7662 endpoint for opaque (non-JWT) tokens."
    )
    introspection_client_id: str = ""
    introspection_client_secret_env: str = Field(
        "UCP_INTROSPECTION_SECRET", description="Environment variable holding the introspection secret."
    )
    required_scopes: tuple[str, ...] = Field((), description="Every token must carry these scopes.")
    scopes_supported: tuple[str, ...] = Field((), description="Advertised in the resource metadata.")
    scope_claim: str = Field("scope", description="Claim with the token's scopes (space-separated or list).")
    groups_claim: str = Field("groups", description="Claim with the identity's groups.")
    tenant_claim: str = Field("tenant", description="Claim naming the identity's tenant.")
    subject_claim: str = Field("sub", description="Claim naming the identity.")
    keys: dict[str, ApiKeySettings] = Field(default_factory=dict, description="Static keys by id.")


class RoleSettings(_Model):
    """What one role may see and call. Globs match exposed names (``server__tool``)."""

    allow: tuple[str, ...] = Field(("*",), description="Tool globs this role may use.")
    deny: tuple[str, ...] = Field((), description="Tool globs this role may not use (wins over allow).")
    read_only: bool = Field(False, description="Only tools annotated readOnlyHint.")
    max_argument_bytes: int | None = Field(None, ge=2, description="Largest JSON arguments of one call.")
    scopes: tuple[str, ...] = Field((), description="Identities with any of these scopes get the role.")
    groups: tuple[str, ...] = Field((), description="Identities in any of these groups get the role.")
    admin: bool = Field(False, description="May change the service registry over HTTP (/registry).")


class PolicySettings(_Model):
    """Roles and what they allow. No roles: every identity may use everything (single-user installs)."""

    roles: dict[str, RoleSettings] = Field(default_factory=dict)
    default_role: str | None = Field(None, description="Role of an identity no binding matched.")


class TenantSettings(_Model):
    """A tenant's own servers: visible and callable only by its identities."""

    servers: tuple[str, ...] = Field((), description="Server-name globs owned by this tenant.")
    roles: tuple[str, ...] = Field((), description="If set, the only roles this tenant's identities get.")


class RateSettings(_Model):
    """A token bucket: ``rate`` calls per ``per`` seconds, bursts of up to ``burst`` (default: rate)."""

    rate: float = Field(gt=0)
    per: float = Field(60.0, gt=0)
    burst: float | None = Field(None, gt=0)


class RateLimitSettings(_Model):
    """Call rate limits (in memory, per process)."""

    identity: RateSettings | None = Field(None, description="Per identity, across its tools.")
    tenant: RateSettings | None = Field(None, description="Per tenant, across its identities.")
    tool: RateSettings | None = Field(None, description="Per tool, across everyone (protects downstreams).")
    tools: dict[str, RateSettings] = Field(
        default_factory=dict, description="Per tool glob (overrides `tool` for matching tools)."
    )


class AuditSettings(_Model):
    """The append-only audit log (JSONL under UCP_HOME/audit)."""

    enabled: bool = True
    arguments: Literal["digest", "full"] = Field(
        "digest", description="digest: only a SHA-256 of the arguments (default); full: the arguments too."
    )
    max_bytes: int = Field(10 * 1024 * 1024, ge=4096, description="Rotate the file past this size.")
    keep: int = Field(5, ge=1, le=1000, description="Rotated files kept.")


class TelemetrySettings(_Model):
    """Metrics, traces and call records (``ucp/observe``). Metrics and call records are on by
    default (in-process, cheap); traces are off unless enabled here or by ``OTEL_*`` variables."""

    metrics: bool = Field(True, description="Serve Prometheus metrics at /metrics.")
    max_tool_labels: int = Field(
        200, ge=1, le=10_000, description="Distinct tool labels in metrics; tools beyond it count as `other`."
    )
    tracing: bool = Field(
        False,
        description="Emit OpenTelemetry traces (also on when OTEL_TRACES_EXPORTER or "
        "OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT is set and OTEL_SDK_DISABLED is not true).",
    )
    otlp_endpoint: str | None = Field(
        None,
        description="OTLP/HTTP traces endpoint, e.g. http://127.0.0.1:4318/v1/traces "
        "(else OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT).",
    )
    sample_ratio: float = Field(
        1.0, ge=0.0, le=1.0, description="Share of new traces sampled (parent-based: a sampled caller wins)."
    )
    service_name: str = Field("ucp", min_length=1, max_length=100, description="OTel service.name.")
    record_arguments: bool = Field(
        False, description="Put tool arguments in span attributes (off: they may hold secrets)."
    )
    call_records: bool = Field(True, description="Keep a bounded call log for the analytics API.")
    max_call_records: int = Field(100_000, ge=1000, description="Most call records kept on disk.")


REDIS_URL_RE = re.compile(r"^(redis|rediss|unix)://")
POSTGRES_URL_RE = re.compile(r"^postgres(ql)?://")
_REF_ONLY = re.compile(r"^\$\{(?:env:)?[A-Za-z_][A-Za-z0-9_]*\}$")


def check_store_url(value: str, pattern: re.Pattern[str], kind: str, example: str) -> str:
    """``value`` if it is a URL of the right scheme (or a ``${VAR}`` to be checked once expanded).

    The message never repeats the value: a URL may carry a password."""
    if _REF_ONLY.match(value) or (value.startswith("${") and "}" in value):
        return value
    if not pattern.match(value):
        raise ValueError(
            f"not a {kind} URL (expected e.g. {example}; the value is not shown: it may hold a password)"
        )
    return value


class StateSettings(_Model):
    """Where shared state lives (see ucp/state/STATE.md). ``embedded`` (default): this process's memory
    and SQLite under UCP_HOME, as for one user. ``redis``: hot state (learning posteriors and usage
    evidence, rate-limit buckets, self-registered services, sessions) in Redis, durable records
    (feedback events, audit log) in PostgreSQL when ``postgres_url`` is set, so N replicas share them."""

    backend: Literal["embedded", "redis"] = Field("embedded", description="embedded or redis.")
    redis_url: str | None = Field(
        None, description="redis://[:password@]host:port/db (or rediss://, unix://); ${VAR} allowed."
    )
    postgres_url: str | None = Field(
        None,
        description="postgresql://user:password@host:port/db for durable records; ${VAR} allowed. "
        "Unset: those records stay in each replica's UCP_HOME.",
    )
    namespace: str = Field(
        "ucp",
        pattern=r"^[a-z][a-z0-9_]{0,39}$",
        description="Prefix of every Redis key and the PostgreSQL schema: deployments sharing a store "
        "use different namespaces.",
    )
    flush_interval: float = Field(
        0.2, gt=0, le=10, description="Seconds between pushes of learning updates to the shared store."
    )
    buffer_max: int = Field(
        50_000, ge=100, description="Most learning updates held in memory while the store is unreachable."
    )
    lease_ttl: float = Field(
        30.0, ge=2, le=3600, description="Seconds a replica's registrations live unless it renews them."
    )
    timeout: float = Field(2.0, gt=0, le=60, description="Seconds one store operation may take.")

    @property
    def shared_learning(self) -> bool:
        """Whether the learned statistics live in the shared store."""
        return self.backend == "redis"

    @field_validator("redis_url")
    @classmethod
    def _check_redis(cls, value: str | None) -> str | None:
        return None if value is None else check_store_url(value, REDIS_URL_RE, "Redis", "redis://host:6379/0")

    @field_validator("postgres_url")
    @classmethod
    def _check_postgres(cls, value: str | None) -> str | None:
        return (
            None
            if value is None
            else check_store_url(value, POSTGRES_URL_RE, "PostgreSQL", "postgresql://user@host:5432/ucp")
        )

    @model_validator(mode="after")
    def _check_backend(self) -> StateSettings:
        if self.backend == "redis" and not self.redis_url:
            raise ValueError('backend = "redis" needs redis_url (e.g. redis_url = "${UCP_REDIS_URL}")')
        return self


class Config(_Model):
    """Everything one UCP process is configured with."""

    servers: dict[str, ServerConfig] = Field(default_factory=dict)
    exposure: ExposureSettings = Field(default_factory=ExposureSettings)
    router: RouterSettings = Field(default_factory=RouterSettings)
    learning: LearningSettings = Field(default_factory=LearningSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    pool: PoolSettings = Field(default_factory=PoolSettings)
    trust: TrustSettings = Field(default_factory=TrustSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    tenants: dict[str, TenantSettings] = Field(default_factory=dict)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    state: StateSettings = Field(default_factory=StateSettings)
    builtins: bool = Field(True, description="Serve the built-in cloud tools as the server `cloud`.")
    log_level: str = Field("info", pattern=r"^(?i)(debug|info|warning|error)$")
