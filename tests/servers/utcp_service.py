"""A small HTTP service with a UTCP manual, for the tests: it registers itself with UCP when it
starts (``POST /registry/services``) and deregisters when it stops (SIGTERM).

Serves:
- ``GET /utcp``: a UTCP manual with two tools (``weather_forecast``, ``convert_currency``) whose
  ``http`` call templates point back at this service, arguments in a ``body`` field;
- ``GET /openapi.json``: ``manuals/examples/unit-converter.openapi.json`` with ``servers`` set to
  this service, and its two operations (``GET /temperature``, ``POST /slugify``).

Usage: python utcp_service.py --port P [--ucp http://127.0.0.1:8765] [--name weather] [--key KEY]
(the key may also come from UCP_API_KEY). Without --ucp it only serves.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

OPENAPI = Path(__file__).resolve().parents[2] / "manuals" / "examples" / "unit-converter.openapi.json"
RATES = {"EUR": 1.0, "USD": 1.08, "GBP": 0.85, "JPY": 162.0}
CONDITIONS = ("sunny", "cloudy", "rain", "windy", "snow")


def manual(base: str) -> dict[str, Any]:
    def tool(
        name: str, description: str, tags: list[str], body: dict[str, Any], outputs: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "name": name,
            "description": description,
            "tags": tags,
            "inputs": {"type": "object", "properties": {"body": body}, "required": ["body"]},
            "outputs": outputs,
            "tool_call_template": {
                "name": "weather_service",
                "call_template_type": "http",
                "http_method": "POST",
                "url": f"{base}/tools/{name}",
                "content_type": "application/json",
                "body_field": "body",
            },
        }

    return {
        "utcp_version": "1.2.0",
        "manual_version": "1.0.0",
        "tools": [
            tool(
                "weather_forecast",
                "Daily weather forecast (condition and temperature) for a city.",
                ["weather", "forecast", "temperature"],
                {
                    "type": "object",
                    "properties": {
                        "city": {"type": "string", "description": "City name."},
                        "days": {"type": "integer", "minimum": 1, "maximum": 7},
                    },
                    "required": ["city"],
                },
                {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "days": {"type": "array"}},
                    "required": ["city", "days"],
                },
            ),
            tool(
                "convert_currency",
                "Convert an amount of money from one currency to another (EUR, USD, GBP, JPY).",
                ["money", "currency", "exchange rate"],
                {
                    "type": "object",
                    "properties": {
                        "amount": {"type": "number"},
                        "from": {"type": "string", "enum": sorted(RATES)},
                        "to": {"type": "string", "enum": sorted(RATES)},
                    },
                    "required": ["amount", "from", "to"],
                },
                {
                    "type": "object",
                    "properties": {"amount": {"type": "number"}, "currency": {"type": "string"}},
                    "required": ["amount", "currency"],
                },
            ),
        ],
    }


def forecast(city: str, days: int) -> dict[str, Any]:
    seed = sum(map(ord, city.lower()))
    return {
        "city": city,
        "days": [
            {
                "day": i + 1,
                "condition": CONDITIONS[(seed + i) % len(CONDITIONS)],
                "temp_c": (seed + 3 * i) % 30 - 5,
            }
            for i in range(days)
        ],
    }


def build_app(port: int, ucp: str | None, name: str, key: str | None) -> Starlette:
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}"} if key else {}

    async def utcp(request: Request) -> JSONResponse:
        return JSONResponse(manual(base))

    async def weather(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse(forecast(str(body["city"]), int(body.get("days", 1))))

    async def currency(request: Request) -> JSONResponse:
        body = await request.json()
        eur = float(body["amount"]) / RATES[body["from"]]
        return JSONResponse({"amount": round(eur * RATES[body["to"]], 2), "currency": body["to"]})

    async def openapi(request: Request) -> JSONResponse:
        doc = json.loads(OPENAPI.read_text())
        doc["servers"] = [{"url": base}]
        return JSONResponse(doc)

    async def temperature(request: Request) -> JSONResponse:
        celsius = float(request.query_params["celsius"])
        return JSONResponse({"celsius": celsius, "fahrenheit": round(celsius * 9 / 5 + 32, 2)})

    async def slugify(request: Request) -> PlainTextResponse:
        text = str((await request.json())["text"])
        return PlainTextResponse(re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-"))

    async def register() -> None:
        """Register once this service is listening (uvicorn binds after the lifespan started)."""
        assert ucp is not None
        with anyio.fail_after(30):
            while not _listening(port):
                await anyio.sleep(0.05)
            async with httpx2.AsyncClient(timeout=30) as http:
                while True:
                    try:
                        resp = await http.post(
                            f"{ucp}/registry/services",
                            headers=headers,
                            json={
                                "name": name,
                                "base_url": base,
                                "tags": ["test-service"],
                                "version": "1.0.0",
                                "environment": "test",
                            },
                        )
                        print(f"registered: {resp.status_code}", file=sys.stderr, flush=True)
                        if resp.status_code < 300:
                            return
                    except httpx2.HTTPError as exc:
                        print(f"registration failed: {exc!r}", file=sys.stderr, flush=True)
                    await anyio.sleep(0.2)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            if ucp:
                tg.start_soon(register)
            yield
            tg.cancel_scope.cancel()
        if ucp:
            with anyio.move_on_after(5):
                async with httpx2.AsyncClient(timeout=5) as http:
                    try:
                        await http.delete(f"{ucp}/registry/services/{name}", headers=headers)
                    except httpx2.HTTPError:
                        pass

    return Starlette(
        routes=[
            Route("/utcp", utcp),
            Route("/tools/weather_forecast", weather, methods=["POST"]),
            Route("/tools/convert_currency", currency, methods=["POST"]),
            Route("/openapi.json", openapi),
            Route("/temperature", temperature),
            Route("/slugify", slugify, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ucp", default=None)
    parser.add_argument("--name", default="weather")
    parser.add_argument("--key", default=os.environ.get("UCP_API_KEY"))
    args = parser.parse_args()
    app = build_app(args.port, args.ucp, args.name, args.key)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", timeout_graceful_shutdown=3)


if __name__ == "__main__":
    main()
