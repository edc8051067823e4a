"""HTTP routes beyond MCP: REST API, UTCP out, service registry, auth (see issue 6)."""

from __future__ import annotations

from typing import Any

from ucp.app import Gateway
from ucp.frontend.http import RouteFactory


def api_routes() -> list[RouteFactory]:
    return []


def auth_middleware(gateway: Gateway) -> list[tuple[Any, dict[str, Any]]]:
    return []
