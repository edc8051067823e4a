"""Register this service with UCP, or deregister it: the postStart / preStop hook of a service's pod.

A service that does not register itself (as examples/utcp_service/service.py does) gets the same
lifecycle from its pod: postStart runs `python3 /ucp-hooks/ucp-register.py register`, preStop runs
`... deregister`. Standard library only, so any image with python3 can run it. Settings come from
the environment:

    UCP_URL              UCP's Service                    (default http://ucp:8765)
    UCP_API_KEY          a UCP key allowed to register    (required)
    SERVICE_NAME         the name UCP files the tools under (required)
    SERVICE_URL          the service's stable (Service) URL; UCP reads <SERVICE_URL>/utcp
    SERVICE_MANUAL_URL   or the manual's URL itself
    SERVICE_TAGS, SERVICE_VERSION, SERVICE_ENVIRONMENT, SERVICE_DESCRIPTION   optional
    UCP_REGISTER_TIMEOUT seconds to keep trying while UCP is unreachable (default 30)
    UCP_REGISTER_LOG     where messages go (default /proc/1/fd/2: hook output is not logged,
                         PID 1's stderr is the container's log)

Registering is idempotent (UCP replaces a registration of the same name). A refusal (bad key, bad
name, unsafe URL: HTTP 4xx) exits 1, which Kubernetes reports as FailedPostStartHook with this
script's message. UCP unreachable until the deadline exits 0 with a warning on the container's
stderr: the service keeps serving its other clients and registers again when its pod restarts.
Deregistering a service UCP does not know (404) is success.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

DEFAULT_UCP_URL = "http://ucp:8765"


class Refused(Exception):
    """UCP answered with a 4xx: retrying will not help."""


def registration(env: Mapping[str, str]) -> dict[str, Any]:
    """The body of ``POST /registry/services`` from the environment."""
    name = env.get("SERVICE_NAME", "").strip()
    if not name:
        raise Refused("SERVICE_NAME is not set")
    body: dict[str, Any] = {"name": name}
    if env.get("SERVICE_MANUAL_URL"):
        body["manual_url"] = env["SERVICE_MANUAL_URL"].strip()
    elif env.get("SERVICE_URL"):
        body["base_url"] = env["SERVICE_URL"].strip()
    else:
        raise Refused("set SERVICE_URL (UCP reads <SERVICE_URL>/utcp) or SERVICE_MANUAL_URL")
    tags = [t.strip() for t in env.get("SERVICE_TAGS", "").split(",") if t.strip()]
    if tags:
        body["tags"] = tags
    for key, field in (("SERVICE_VERSION", "version"), ("SERVICE_ENVIRONMENT", "environment")):
        if env.get(key):
            body[field] = env[key]
    if env.get("SERVICE_DESCRIPTION"):
        body["description"] = env["SERVICE_DESCRIPTION"]
    return body


def build_request(action: str, env: Mapping[str, str]) -> urllib.request.Request:
    """The HTTP request that registers (``register``) or deregisters (``deregister``) the service."""
    key = env.get("UCP_API_KEY", "").strip()
    if not key:
        raise Refused("UCP_API_KEY is not set (a key UCP accepts for /registry)")
    base = env.get("UCP_URL", DEFAULT_UCP_URL).rstrip("/")
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    if action == "register":
        data = json.dumps(registration(env)).encode()
        headers["Content-Type"] = "application/json"
        return urllib.request.Request(f"{base}/registry/services", data=data, headers=headers, method="POST")
    if action == "deregister":
        name = env.get("SERVICE_NAME", "").strip()
        if not name:
            raise Refused("SERVICE_NAME is not set")
        return urllib.request.Request(f"{base}/registry/services/{name}", headers=headers, method="DELETE")
    raise Refused(f"unknown action {action!r}: use register or deregister")


def attempt(request: urllib.request.Request, opener: Callable[..., Any]) -> int:
    """Send once; the HTTP status. 4xx raises Refused (404 on DELETE is success: already gone)."""
    try:
        with opener(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        if exc.code == 404 and request.get_method() == "DELETE":
            return 404
        if 400 <= exc.code < 500:
            detail = exc.read(500).decode("utf-8", "replace")
            raise Refused(f"UCP refused ({exc.code}): {detail}") from None
        raise


def run(
    action: str,
    env: Mapping[str, str],
    *,
    opener: Callable[..., Any] = urllib.request.urlopen,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    warn: Callable[[str], None] = print,
) -> int:
    """Exit status: 0 done (or UCP unreachable until the deadline), 1 refused."""
    try:
        request = build_request(action, env)
    except Refused as exc:
        warn(f"ucp-register: {exc}")
        return 1
    deadline = clock() + float(env.get("UCP_REGISTER_TIMEOUT", "30"))
    delay = 0.5
    while True:
        try:
            status = attempt(request, opener)
            warn(f"ucp-register: {action} {env.get('SERVICE_NAME')}: HTTP {status}")
            return 0
        except Refused as exc:
            warn(f"ucp-register: {exc}")
            return 1
        except (OSError, urllib.error.URLError) as exc:  # connection refused, timeout, 5xx
            if clock() + delay > deadline:
                warn(f"ucp-register: UCP unreachable, gave up on {action}: {exc}")
                return 0
            sleep(delay)
            delay = min(delay * 2, 5.0)


def _to_container_log(message: str) -> None:
    """To UCP_REGISTER_LOG (the container's log by default), and to stderr, which a failed hook's
    event shows."""
    print(message, file=sys.stderr)
    try:
        with open(os.environ.get("UCP_REGISTER_LOG", "/proc/1/fd/2"), "a") as log:
            log.write(message + "\n")
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(run(sys.argv[1] if len(sys.argv) > 1 else "", os.environ, warn=_to_container_log))
