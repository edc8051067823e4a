"""What every HTTP front is given: the two facades, the HTTP settings and the gateway's telemetry
(metrics, tracing, analytics sources), built by ``ucp.app``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ucp.config.models import HttpSettings
from ucp.observe.telemetry import Telemetry
from ucp.session.api import AdminAPI, SessionAPI


@dataclass(frozen=True)
class Fronts:
    api: SessionAPI
    admin: AdminAPI
    http: HttpSettings
    env: Mapping[str, str]
    telemetry: Telemetry = field(default_factory=Telemetry.off)
