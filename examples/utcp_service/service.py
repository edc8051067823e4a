"""A service that publishes its tools as a UTCP manual and registers itself with UCP.

Copy this file to start your own. It needs starlette and uvicorn; registration uses only
the standard library. Settings come from the environment:

    UCP_URL        UCP's HTTP address                 (default http://127.0.0.1:8765)
    UCP_API_KEY    a UCP API key, when UCP has keys   (default: none)
    SERVICE_NAME   the name UCP files the tools under (default shipping)
    PORT           where this service listens         (default 8790)
    PUBLIC_URL     how UCP reaches this service       (default http://127.0.0.1:$PORT)

On start it POSTs {name, base_url, tags, version, environment} to UCP's /registry/services
(UCP then reads GET <base_url>/utcp and indexes the tools); on SIGTERM or Ctrl-C it DELETEs
the registration. If it dies without deregistering, UCP's health checks mark it unhealthy
and its tools leave search results until it is back.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

UCP_URL = os.environ.get("UCP_URL", "http://127.0.0.1:8765").rstrip("/")
UCP_API_KEY = os.environ.get("UCP_API_KEY", "")
NAME = os.environ.get("SERVICE_NAME", "shipping")
PORT = int(os.environ.get("PORT", "8790"))
PUBLIC_URL = os.environ.get("PUBLIC_URL", f"http://127.0.0.1:{PORT}").rstrip("/")

RATES = {"domestic": 4.5, "europe": 9.0, "world": 17.5}  # per kg


# ---------------------------------------------------------------- the tools
def shipping_cost(weight_kg: float, zone: str) -> dict[str, Any]:
    return {"zone": zone, "weight_kg": weight_kg, "cost_eur": round(2.0 + RATES[zone] * weight_kg, 2)}


def track_parcel(tracking_id: str) -> dict[str, Any]:
    steps = ["label created", "picked up", "in transit", "out for delivery", "delivered"]
    return {"tracking_id": tracking_id, "status": steps[sum(map(ord, tracking_id)) % len(steps)]}


TOOLS = {
    "shipping_cost": (shipping_cost, "Price of shipping a parcel by weight and destination zone.",
                      ["shipping", "price", "parcel"],
                      {"weight_kg": {"type": "number", "exclusiveMinimum": 0},
                       "zone": {"type": "string", "enum": sorted(RATES)}}, ["weight_kg", "zone"]),
    "track_parcel": (track_parcel, "Where a parcel is, by its tracking id.", ["shipping", "tracking", "parcel"],
                     {"tracking_id": {"type": "string"}}, ["tracking_id"]),
}


def manual() -> dict[str, Any]:
    """The UTCP manual: each tool's arguments travel as the JSON body (body_field), so types survive."""
    return {
        "utcp_version": "1.2.0",
        "manual_version": "1.0.0",
        "tools": [
            {
                "name": name,
                "description": description,
                "tags": tags,
                "inputs": {"type": "object", "required": ["body"], "properties": {
                    "body": {"type": "object", "properties": props, "required": required}}},
                "outputs": {"type": "object"},
                "tool_call_template": {
                    "name": NAME, "call_template_type": "http", "http_method": "POST",
                    "url": f"{PUBLIC_URL}/tools/{name}", "content_type": "application/json", "body_field": "body",
                },
            }
            for name, (_fn, description, tags, props, required) in TOOLS.items()
        ],
    }


async def get_manual(request: Request) -> JSONResponse:
    return JSONResponse(manual())


async def call(request: Request) -> JSONResponse:
    fn = TOOLS[request.path_params["name"]][0]
    try:
        return JSONResponse(fn(**await request.json()))
    except (TypeError, KeyError, ValueError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)


# ---------------------------------------------------------------- self-registration
def _ucp(method: str, path: str, body: dict[str, Any] | None = None) -> int:
    request = urllib.request.Request(f"{UCP_URL}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    if UCP_API_KEY:
        request.add_header("Authorization", f"Bearer {UCP_API_KEY}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        print(f"UCP answered {exc.code}: {exc.read()[:500]!r}", file=sys.stderr)
        return int(exc.code)


def _listening() -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", PORT)) == 0


async def register() -> None:
    # uvicorn starts listening after the lifespan started: wait for our own port first
    with anyio.fail_after(30):
        while not _listening():  # noqa: ASYNC110 (a socket has no event to wait on)
            await anyio.sleep(0.05)
    registration = {"name": NAME, "base_url": PUBLIC_URL, "tags": ["example"], "version": "1.0.0",
                    "environment": os.environ.get("ENVIRONMENT", "dev")}
    for attempt in range(60):  # UCP may be starting too
        try:
            status = await anyio.to_thread.run_sync(_ucp, "POST", "/registry/services", registration)
            if status < 300:
                print(f"registered with UCP as {NAME!r} ({status})", file=sys.stderr)
                return
        except OSError as exc:
            print(f"UCP not reachable yet ({exc}); retrying", file=sys.stderr)
        await anyio.sleep(min(5.0, 0.2 * (attempt + 1)))


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with anyio.create_task_group() as tg:
        tg.start_soon(register)
        yield
        tg.cancel_scope.cancel()
    try:
        await anyio.to_thread.run_sync(_ucp, "DELETE", f"/registry/services/{NAME}")
        print("deregistered from UCP", file=sys.stderr)
    except OSError:
        pass


app = Starlette(routes=[Route("/utcp", get_manual), Route("/tools/{name}", call, methods=["POST"])], lifespan=lifespan)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning")
