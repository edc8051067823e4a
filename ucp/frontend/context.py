"""What every HTTP front is given: the two facades, the HTTP settings, the authenticator, the
gateway's telemetry (metrics, tracing, analytics sources) and, for a replica on a shared store, what
the replica shares (``replica.py``), built by ``ucp.app``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ucp.config.models import AuthSettings, HttpSettings
from ucp.frontend.lifecycle import Lifecycle
from ucp.frontend.replica import Replica
from ucp.identity import Identity
from ucp.identity.authenticator import Authenticator
from ucp.observe.telemetry import Telemetry
from ucp.session.api import AdminAPI, SessionAPI


@dataclass(frozen=True)
class Fronts:
    api: SessionAPI
    admin: AdminAPI
    http: HttpSettings
    env: Mapping[str, str]
    telemetry: Telemetry = field(default_factory=Telemetry.off)
    auth: Authenticator | None = None  # None: API keys of [http] and the environment only
    on_auth_denied: Callable[[str, str], None] | None = None  # (reason, path): audit and metrics
    may_administer: Callable[[Identity], bool] | None = None  # may change the service registry
    on_admin: Callable[[str, Identity, str, str], None] | None = None  # (action, who, name, outcome)
    replica: Replica | None = None  # None: one process, sessions in memory (the embedded backend)
    lifecycle: Lifecycle | None = None  # drain state and readiness checks (one is made when None)
    _built: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def authenticator(self) -> Authenticator:
        if self.auth is not None:
            return self.auth
        if "auth" not in self._built:
            self._built["auth"] = Authenticator(AuthSettings(), self.http, self.env)
        built: Authenticator = self._built["auth"]
        return built
