"""The CLI as a client of a running ``ucp serve``.

``ucp tools list|search|describe|call``, ``ucp route explain`` and ``ucp stats`` first look
for a gateway serving the same registry (``--url URL`` or ``$UCP_URL``, else the discovery
files of ``ucp.config.running``) and, when one answers, ask it over ``/api/v1/cli/...``:
answers in milliseconds instead of starting every server, and one learning state. Only when
none runs (or ``--local``) do they start the servers in process. Plain ``urllib``: nothing
to import on the fast path.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from ucp import errors
from ucp.config.paths import config_path, default_paths
from ucp.config.running import find_running

URL_ENV = "UCP_URL"
TOKEN_ENV = "UCP_TOKEN"

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="A running `ucp serve --transport http` to use, e.g. http://127.0.0.1:8765 (env UCP_URL; "
        "default: the one serving this registry, if any).",
        show_default=False,
    ),
]
LocalOption = Annotated[
    bool, typer.Option("--local", help="Start the servers in this process even if a `ucp serve` runs.")
]


def _by_code() -> dict[str, type[errors.UCPError]]:
    out: dict[str, type[errors.UCPError]] = {}
    stack: list[type[errors.UCPError]] = [errors.UCPError]
    while stack:
        cls = stack.pop()
        out.setdefault(cls.code, cls)
        stack.extend(cls.__subclasses__())
    return out


class GatewayUnreachableError(errors.UCPError):
    code = "gateway_unreachable"
    http_status = 503


@dataclass(frozen=True)
class Remote:
    url: str
    token: str | None = None
    timeout: float = 120.0

    def _request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None
    ) -> Any:
        query = urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v is not None})
        url = f"{self.url.rstrip('/')}{path}" + (f"?{query}" if query else "")
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("accept", "application/json")
        if data is not None:
            request.add_header("content-type", "application/json")
        if self.token:
            request.add_header("authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                error = json.loads(exc.read())["error"]
            except (ValueError, KeyError, TypeError):
                raise GatewayUnreachableError(f"{url}: HTTP {exc.code}") from None
            cls = _by_code().get(error.get("code", ""), errors.UCPError)
            raised = cls(error.get("message", ""), **(error.get("details") or {}))
            raised.code = error.get("code", raised.code)
            raise raised from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise GatewayUnreachableError(f"cannot reach the gateway at {self.url}: {exc}") from None

    def get(self, path: str, **params: Any) -> Any:
        return self._request("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self._request("POST", path, body=body)

    def alive(self) -> bool:
        try:
            health = Remote(self.url, self.token, timeout=2.0).get("/healthz")
        except errors.UCPError:
            return False
        return isinstance(health, dict) and health.get("status") == "ok"


def connect(config: Path | None, url: str | None = None, *, local: bool = False) -> Remote | None:
    """The running gateway the command should use, or None (start the servers in process)."""
    if local:
        return None
    explicit = url or os.environ.get(URL_ENV)
    if explicit:
        remote = Remote(explicit.removesuffix("/mcp"), os.environ.get(TOKEN_ENV))
        if not remote.alive():
            raise GatewayUnreachableError(f"no UCP answers at {remote.url} (--url / {URL_ENV})")
        return remote
    running = find_running(default_paths().home, config_path(config))
    if running is None:
        return None
    remote = Remote(running.url, running.token)
    return remote if remote.alive() else None
