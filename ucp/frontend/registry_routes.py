"""The service registry over HTTP (``/registry``): services register themselves when they
start, leave when they stop, and UCP reports their health.

``POST /registry/services`` answers 201 (new) or 200 (replaced) once UCP has read
the service's manual and indexed its tools, or 202 when the manual could not be
read yet (UCP keeps trying; ``GET /registry/health`` tells). A URL UCP may not
fetch is refused with 400 ``unsafe_url`` and a stable ``details.reason``.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from ucp.config.models import validate_server_name
from ucp.errors import PolicyDeniedError
from ucp.frontend.auth import identity_of
from ucp.frontend.openapi import Call, Endpoint, Reply
from ucp.session.api import AdminAPI


class RegisterRequest(BaseModel):
    name: str = Field(
        description="Service name (1-32 letters, digits, '-', single '_'); its tools are <name>__<tool>."
    )
    manual_url: str | None = Field(
        None, max_length=2048, description="URL of the service's UTCP manual or OpenAPI document."
    )
    base_url: str | None = Field(None, max_length=2048, description="Alternative: UCP reads <base_url>/utcp.")
    tags: list[str] = Field(
        default_factory=list, max_length=32, description="Indexed with every tool of the service."
    )
    version: str = Field("", max_length=64)
    environment: str = Field("", max_length=64, description="e.g. dev, staging, prod.")
    description: str = Field("", max_length=500)
    ttl: float | None = Field(
        None,
        ge=5,
        le=86_400,
        description="A lease in seconds: the registration is dropped unless the service registers again "
        "within it (a service that dies without deregistering leaves by itself). Default: kept until deregistered.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_server_name(value)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        if any(not t or len(t) > 64 for t in value):
            raise ValueError("tags must be 1-64 characters each")
        return value

    @model_validator(mode="after")
    def _one_url(self) -> RegisterRequest:
        if bool(self.manual_url) == bool(self.base_url):
            raise ValueError("give exactly one of manual_url and base_url")
        return self


class ServiceHealth(BaseModel):
    name: str
    healthy: bool
    state: str = Field(description="starting, ready, restarting, failed, stopped or absent.")
    last_check: float | None = Field(None, description="Unix time of the last connect or health check.")
    last_check_ok: bool | None = None
    latency_ms: float | None = Field(None, description="Duration of the last check (a manual fetch).")
    tool_count: int
    last_error: str | None = None
    health_interval: float | None = None


class ServiceInfo(BaseModel):
    name: str
    manual_url: str
    base_url: str | None = None
    tags: list[str]
    version: str
    environment: str
    description: str
    registered_at: float
    ttl: float | None = Field(None, description="The lease in seconds, if the registration is one.")
    health: ServiceHealth
    tools: list[str] = Field(description="Exposed names of the service's tools.")


class ServiceList(BaseModel):
    services: list[ServiceInfo]


class Removed(BaseModel):
    removed: str


class HealthReport(BaseModel):
    checked_at: float
    total: int
    healthy: int
    services: list[ServiceHealth]


def _admin(call: Call, action: str | None = None, name: str = "") -> AdminAPI:
    """The admin API; for a change (``action``), only for identities allowed to administer
    (a role with ``admin = true``; everyone when no roles are configured), and audited."""
    fronts = call.fronts
    if action is not None:
        identity = identity_of(call.request)
        allowed = fronts.may_administer(identity) if fronts.may_administer is not None else True
        if fronts.on_admin is not None:
            fronts.on_admin(action, identity, name, "ok" if allowed else "denied")
        if not allowed:
            raise PolicyDeniedError(
                f"{identity.subject} may not change the service registry: that needs a role with admin = true",
                rule="policy.roles.admin",
            )
    return fronts.admin


def info(admin: AdminAPI, record: dict[str, Any]) -> ServiceInfo:
    name = record["name"]
    return ServiceInfo(
        **record, health=ServiceHealth(**admin.service_health(name)), tools=admin.service_tools(name)
    )


async def register(call: Call) -> Reply:
    body = call.body
    assert isinstance(body, RegisterRequest)
    admin = _admin(call, "service_registered", body.name)
    record, created = await admin.register_service(
        body.name,
        manual_url=body.manual_url,
        base_url=body.base_url,
        tags=tuple(body.tags),
        version=body.version,
        environment=body.environment,
        description=body.description,
        ttl=body.ttl,
    )
    result = info(admin, record)
    status = (201 if created else 200) if result.health.healthy else 202
    return Reply(result, status)


async def list_services(call: Call) -> ServiceList:
    admin = _admin(call)
    return ServiceList(services=[info(admin, r) for r in admin.services()])


async def read_service(call: Call) -> ServiceInfo:
    admin = _admin(call)
    return info(admin, admin.service(call.params["name"]))


async def deregister(call: Call) -> Removed:
    record = await _admin(call, "service_deregistered", call.params["name"]).deregister_service(
        call.params["name"]
    )
    return Removed(removed=record["name"])


async def health(call: Call) -> HealthReport:
    admin = _admin(call)
    services = [ServiceHealth(**admin.service_health(r["name"])) for r in admin.services()]
    return HealthReport(
        checked_at=time.time(),
        total=len(services),
        healthy=sum(s.healthy for s in services),
        services=services,
    )


TAG = "service registry"
ENDPOINTS = [
    Endpoint(
        "POST",
        "/registry/services",
        register,
        "Register (or re-register) a service",
        TAG,
        body=RegisterRequest,
        response=ServiceInfo,
        status=201,
        extra_statuses=(200, 202),
        errors=(400, 409),
        description="UCP checks the URL (SSRF guard: 400 `unsafe_url` with `details.reason`), reads the "
        "manual and indexes the tools. 202: registered, but the manual could not be read yet.",
    ),
    Endpoint(
        "GET", "/registry/services", list_services, "List registered services", TAG, response=ServiceList
    ),
    Endpoint(
        "GET",
        "/registry/services/{name}",
        read_service,
        "Read one registered service",
        TAG,
        response=ServiceInfo,
        errors=(404,),
    ),
    Endpoint(
        "DELETE",
        "/registry/services/{name}",
        deregister,
        "Deregister a service",
        TAG,
        response=Removed,
        errors=(404,),
    ),
    Endpoint(
        "GET", "/registry/health", health, "Health of every registered service", TAG, response=HealthReport
    ),
]
