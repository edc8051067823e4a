"""Reliability benchmark: load held, faults survived (with recovery times), bad inputs refused.

One command (``python -m ucp.bench.reliability`` or ``make bench-reliability``), bounded in
count and time, loopback and pipes only. Three tables, the figures of the README's
reliability section:

- **Load**: S concurrent MCP sessions (in-memory clients of a real gateway) x C calls each,
  through the gateway to two stdio servers (``faulty_server.py``), while a third server is
  being misbehaved at: errors, p50 / p99 / max latency.
- **Faults**: each fault injected into a live gateway, and how long until the server served
  again (or, for a server that must not come back, until it was parked): kill -9, a frozen
  server (caught by the call deadline), a 40 MB stdout line (with the other server's p99
  meanwhile), a 20 MB result, a server that dies after every handshake.
- **Bad input**: seeded mutations of a manual, a config and JSON-RPC lines, plus the
  billion-laughs manual: how many were parsed, refused with UCP's own error, or crashed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

FAULTY = str(Path(__file__).resolve().parent / "faulty_server.py")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _ms(value: float) -> str:
    return f"{value * 1000:.1f} ms"


def _table(title: str, header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


# ---------------------------------------------------------------- the gateway under test
async def _gateway(home: Path, servers: dict[str, tuple[str, ...]], timeout: float = 5, **pool: Any) -> Any:
    from ucp.app import Gateway
    from ucp.config.models import Config, StdioServer
    from ucp.config.paths import Paths

    config = Config(
        servers={
            n: StdioServer(name=n, command=sys.executable, args=(FAULTY, *a), timeout=5)
            for n, a in servers.items()
        },
        builtins=False,
        exposure={"mode": "full"},
        pool={"backoff_initial": 0.1, "backoff_max": 1.0, "health_interval": 300, **pool},
    )
    return Gateway(config, Paths(home).ensure(), dense=False)


async def _until(predicate: Callable[[], bool], timeout: float) -> float:
    started = time.perf_counter()
    with anyio.fail_after(timeout):
        while not predicate():  # noqa: ASYNC110 - polling pool state, as the tests do
            await anyio.sleep(0.01)
    return time.perf_counter() - started


async def load(sessions: int, calls: int, home: Path) -> list[str]:
    from mcp import Client

    from ucp.frontend.server import build_mcp_server

    latencies: list[float] = []
    errors = 0
    async with await _gateway(home, {"a": (), "b": (), "noisy": ()}, timeout=30) as gw:
        await gw.wait_ready(30, live=True)
        server = build_mcp_server(gw.api)

        async def session(i: int) -> None:
            nonlocal errors
            async with Client(server, mode="legacy") as client:
                for j in range(calls):
                    started = time.perf_counter()
                    try:
                        result = await client.call_tool(f"{'ab'[j % 2]}__echo", {"text": f"{i}-{j}"})
                        if result.is_error:
                            errors += 1
                    except Exception:
                        errors += 1
                    latencies.append(time.perf_counter() - started)

        async def misbehave() -> None:  # meanwhile: floods and surrogates at a third server
            async with Client(server, mode="legacy") as client:
                for _ in range(3):
                    try:
                        await client.call_tool("noisy__flood", {"size": 10_000_000})
                        await client.call_tool("noisy__echo", {"text": "\udfff"})
                    except Exception:
                        pass

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            tg.start_soon(misbehave)
            for i in range(sessions):
                tg.start_soon(session, i)
        wall = time.perf_counter() - started
    total = sessions * calls
    return [
        f"{sessions} x {calls}",
        str(total),
        str(errors),
        _ms(_pct(latencies, 0.5)),
        _ms(_pct(latencies, 0.99)),
        _ms(max(latencies)),
        f"{total / wall:.0f}/s",
    ]


async def faults(home: Path) -> list[list[str]]:
    rows: list[list[str]] = []
    opened = time.perf_counter()
    parked_at: list[float] = []
    async with await _gateway(home, {"a": (), "b": (), "flap": ("flap",)}, park_after=4) as gw:
        gw.pool.events.subscribe(
            lambda change: (
                parked_at.append(time.perf_counter())
                if change.server == "flap" and gw.pool.get("flap").state == "parked" and not parked_at
                else None
            )
        )
        await gw.wait_ready(30, live=True)
        pool = gw.pool

        async def works(server: str) -> bool:
            try:
                result = await pool.call_tool(server, "echo", {"text": "ok"}, timeout=2)
                return not result.is_error
            except Exception:
                return False

        async def recover(server: str, timeout: float = 30) -> float:
            started = time.perf_counter()
            with anyio.fail_after(timeout):
                while not (pool.get(server).healthy and await works(server)):  # noqa: ASYNC110
                    await anyio.sleep(0.02)
            return time.perf_counter() - started

        # kill -9 of a downstream
        pid = json.loads((await pool.call_tool("a", "pid", {})).content[0].text)["pid"]
        before = pool.get("a").restarts
        os.kill(pid, signal.SIGKILL)
        started = time.perf_counter()
        await _until(lambda: pool.get("a").restarts > before, 10)
        await recover("a")
        rows.append(["kill -9 of a stdio server", "restarted", f"{time.perf_counter() - started:.2f} s", "-"])

        # a frozen server: the call deadline holds, the probe restarts it
        started = time.perf_counter()
        try:
            await pool.call_tool("a", "freeze", {}, timeout=1)
        except Exception as exc:
            deadline_held = time.perf_counter() - started
            kind = type(exc).__name__
        else:
            deadline_held, kind = float("nan"), "no error"
        back = await recover("a")
        rows.append(
            [
                "frozen server (timeout 1 s)",
                f"{kind} after {deadline_held:.2f} s",
                f"{deadline_held + back:.2f} s",
                "-",
            ]
        )

        # a 40 MB stdout line from a, while b is called
        lat: list[float] = []
        done = anyio.Event()

        async def flood() -> None:
            try:
                await pool.call_tool("a", "flood", {"size": 40_000_000}, timeout=60)
            finally:
                done.set()

        restarts_before = pool.get("a").restarts
        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            tg.start_soon(flood)
            while not done.is_set():
                t0 = time.perf_counter()
                await pool.call_tool("b", "echo", {"text": "x"})
                lat.append(time.perf_counter() - t0)
        rows.append(
            [
                "40 MB stdout line",
                f"line dropped, answer kept; restarts +{pool.get('a').restarts - restarts_before}",
                f"{time.perf_counter() - started:.2f} s",
                f"other server p99 {_ms(_pct(lat, 0.99))} ({len(lat)} calls)",
            ]
        )

        # a 20 MB result (over [pool] max_message_bytes)
        started = time.perf_counter()
        try:
            await pool.call_tool("b", "big", {"size": 20_000_000}, timeout=30)
            outcome = "passed through (!)"
        except Exception as exc:
            outcome = type(exc).__name__
        rows.append(["20 MB result", outcome, f"{time.perf_counter() - started:.2f} s", "-"])

        # a server that dies right after every handshake
        await _until(lambda: pool.get("flap").state == "parked", 60)
        rows.append(
            [
                "dies after each handshake",
                f"parked after {pool.get('flap').restarts} restarts",
                f"{(parked_at[0] if parked_at else time.perf_counter()) - opened:.2f} s (parked)",
                "no retries until `ucp registry enable`",
            ]
        )
    return rows


# ---------------------------------------------------------------- bad input
def _mutate(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 8)):
        op = rng.random()
        pos = rng.randrange(len(data) + 1)
        if op < 0.3 and data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op < 0.55:
            data[pos:pos] = bytes(
                rng.choice([b"[", b"{", b"\xff", b"\\udfff", b"9" * 50, b"&a", b"*a", b'"'])
            )
        elif op < 0.8 and data:
            del data[pos : pos + rng.randint(1, 20)]
        else:
            data[pos:pos] = b"[" * rng.randint(100, 3000)
    return bytes(data)


def bad_input(count: int, seed: int = 12) -> list[list[str]]:
    from ucp.config.loader import read_config_file
    from ucp.downstream.utcp import _parse, to_manual
    from ucp.errors import UCPError
    from ucp.frontend.run import error_for_invalid
    from ucp.safeparse import DocumentError, load_yaml

    rng = random.Random(seed)
    manual = json.dumps(
        {
            "utcp_version": "1.0.0",
            "tools": [
                {
                    "name": "t",
                    "description": "d",
                    "inputs": {"type": "object", "properties": {"q": {"type": "string"}}},
                    "tool_call_template": {"call_template_type": "http", "url": "https://x.example/{q}"},
                }
            ],
        }
    ).encode()
    config = (
        b'[servers.time]\ncommand = "mcp-server-time"\nargs = ["--x"]\ntimeout = 30\n[pool]\npark_after = 3\n'
    )
    line = (
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a__echo","arguments":{"text":"x"}}}'
    )
    rows = []

    def run(name: str, base: bytes, one: Callable[[bytes], None]) -> None:
        ok = refused = crashed = 0
        started = time.perf_counter()
        for _ in range(count):
            try:
                one(_mutate(base, rng))
                ok += 1
            except (UCPError, DocumentError):
                refused += 1
            except Exception:
                crashed += 1
        rows.append(
            [
                name,
                str(count),
                str(ok),
                str(refused),
                str(crashed),
                _ms((time.perf_counter() - started) / count),
            ]
        )

    def manual_one(raw: bytes) -> None:
        to_manual(_parse(raw, ".json", "m.json"), server="m", origin=None, where="m.json")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ucp.toml"

        def config_one(raw: bytes) -> None:
            path.write_bytes(raw)
            read_config_file(path)

        def rpc_one(raw: bytes) -> None:
            import mcp_types as types

            try:
                types.jsonrpc_message_adapter.validate_json(raw, by_name=False)
            except Exception as exc:
                error_for_invalid(exc)  # every invalid line gets an error response
                raise DocumentError("invalid") from None

        run("UTCP manual (JSON)", manual, manual_one)
        run("registry (TOML)", config, config_one)
        run("JSON-RPC line (stdio)", line, rpc_one)
    bomb = (
        b"a: &a ["
        + b",".join([b'"lol"'] * 9)
        + b"]\n"
        + b"".join(
            f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n".encode()
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        )
    )
    started = time.perf_counter()
    try:
        load_yaml(bomb)
        verdict = "loaded (!)"
    except DocumentError as exc:
        verdict = exc.reason
    rows.append(
        [
            f"billion laughs ({len(bomb)} B YAML)",
            "1",
            "0",
            "1" if verdict != "loaded (!)" else "0",
            "0",
            f"{verdict} in {_ms(time.perf_counter() - started)}",
        ]
    )
    return rows


async def main_async(sessions: int, calls: int, mutations: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        load_row = await load(sessions, calls, Path(tmp) / "load")
        fault_rows = await faults(Path(tmp) / "faults")
    load_avg = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return "\n\n".join(
        [
            f"machine: {os.cpu_count()} cores, load average {load_avg} (figures are wall-clock)",
            _table(
                "Load held (in-memory MCP sessions -> gateway -> 2 stdio servers; a third one flooded meanwhile)",
                ["sessions x calls", "calls", "errors", "p50", "p99", "max", "throughput"],
                [load_row],
            ),
            _table("Faults survived", ["fault", "outcome", "recovered in", "meanwhile"], fault_rows),
            _table(
                "Bad input (seeded mutations)",
                ["input", "cases", "parsed", "refused (UCP error)", "crashed", "per case"],
                bad_input(mutations),
            ),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--mutations", type=int, default=1000)
    args = parser.parse_args(argv)
    from ucp.log import configure

    configure("error")
    print(anyio.run(main_async, args.sessions, args.calls, args.mutations))


if __name__ == "__main__":
    main()
