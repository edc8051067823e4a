"""Optional live adapters: each fetches real data and returns the tools' inline input form.

They are off by default: a call raises ``AdapterError`` unless the adapter is named in
the ``UCP_CLOUD_ADAPTERS`` environment variable (comma-separated, e.g.
``prometheus,cloudwatch``) or the caller passes ``enabled=True``. Client libraries are
imported lazily; a missing one raises ``MissingDependency`` naming the pip extra.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

ENV_VAR = "UCP_CLOUD_ADAPTERS"


class AdapterError(RuntimeError):
    """A live adapter could not produce data (disabled, unreachable, bad answer)."""


class MissingDependency(AdapterError, ImportError):
    """The adapter's client library is not installed."""


def require_enabled(name: str, enabled: bool | None) -> None:
    if enabled is None:
        enabled = name in {x.strip().lower() for x in os.environ.get(ENV_VAR, "").split(",") if x.strip()}
    if not enabled:
        raise AdapterError(
            f"live adapter {name!r} is off; enable it with {ENV_VAR}={name} (it reaches a live system)"
        )


def import_client(module: str, extra: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(
            f"the {module!r} package is needed for this adapter: pip install 'ucp[{extra}]' (or pip install {module})"
        ) from None
