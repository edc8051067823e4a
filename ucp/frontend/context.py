"""What every HTTP front is given: the two facades and the HTTP settings (built by ``ucp.app``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ucp.config.models import HttpSettings
from ucp.session.api import AdminAPI, SessionAPI


@dataclass(frozen=True)
class Fronts:
    api: SessionAPI
    admin: AdminAPI
    http: HttpSettings
    env: Mapping[str, str]
