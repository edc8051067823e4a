"""UCP: one MCP endpoint in front of a pool of downstream tool servers.

The request path, outside in: ``frontend`` (MCP, REST, UTCP out) -> ``session``
(``SessionAPI`` / ``AdminAPI``: exposure, meta-tools, the call path) -> ``router``
(catalog and ranking) / ``pool`` (connections) -> ``downstream`` (one adapter per
wire). ``ucp.app`` is the composition root that builds them (docs/DESIGN.md).

The public API is what ``__all__`` names; everything else may change without
notice. Names load lazily, so ``import ucp`` stays cheap (a host launches UCP
cold, and ``ucp --version`` should not import the MCP SDK).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Gateway": "ucp.app",
    "serve_stdio": "ucp.app",
    "serve_http": "ucp.app",
    "Config": "ucp.config.models",
    "read_config_file": "ucp.config.loader",
    "Paths": "ucp.config.paths",
    "SessionAPI": "ucp.session.api",
    "AdminAPI": "ucp.session.api",
    "ToolView": "ucp.session.api",
    "SearchResult": "ucp.session.api",
    "Change": "ucp.events",
    "ChangeKind": "ucp.events",
    "ChangeBus": "ucp.events",
    "UCPError": "ucp.errors",
}

__all__ = [
    "AdminAPI",
    "Change",
    "ChangeBus",
    "ChangeKind",
    "Config",
    "Gateway",
    "Paths",
    "SearchResult",
    "SessionAPI",
    "ToolView",
    "UCPError",
    "__version__",
    "read_config_file",
    "serve_http",
    "serve_stdio",
]

if TYPE_CHECKING:
    from ucp.app import Gateway, serve_http, serve_stdio
    from ucp.config.loader import read_config_file
    from ucp.config.models import Config
    from ucp.config.paths import Paths
    from ucp.errors import UCPError
    from ucp.events import Change, ChangeBus, ChangeKind
    from ucp.session.api import AdminAPI, SearchResult, SessionAPI, ToolView


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ucp' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
