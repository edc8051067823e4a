"""N real ``ucp serve --transport http`` replicas on one Redis, behind HAProxy: for the scale-out
benchmark (``ucp bench scale``) and the multi-replica integration tests.

Everything runs on loopback and is started here: ``redis-server`` (no persistence), the replicas
(one ``UCP_HOME`` each, as separate pods would have; started in parallel), and ``haproxy``
(Debian's; config written to the work directory): round-robin, no stickiness, health-checked on
``/readyz`` every 400 ms (down after two failures), and a retry onto another replica only when a request never reached
one (connection refused) or was refused unprocessed (503 from a draining replica). A request
that reached a replica that then died is *not* re-sent: a tool call is not idempotent. The
response header ``X-Served-By`` names the replica that answered (for the tests).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

PY = sys.executable


def _bin(name: str) -> str:
    candidate = Path(PY).parent / name
    return str(candidate) if candidate.exists() else (shutil.which(name) or name)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(
    url: str, *, timeout: float, proc: subprocess.Popen[Any] | None = None, status: int = 200
) -> None:
    """Until ``GET url`` answers ``status``; fails early if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    last = "nothing"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            r = httpx2.get(url, timeout=1.0)
            if r.status_code == status:
                return
            last = f"HTTP {r.status_code}"
        except httpx2.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer {status} within {timeout} s (last: {last})")


# ---------------------------------------------------------------- redis
@dataclass
class Redis:
    port: int
    dir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (make services)")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        from ucp.bench.proxy import wait_port

        wait_port(self.port, 20, self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


# ---------------------------------------------------------------- replicas
def replica_toml(
    *,
    servers: Mapping[str, Mapping[str, Any]],
    redis_url: str | None,
    postgres_url: str | None = None,
    drain_s: float = 5.0,
    extra: Mapping[str, Any] | None = None,
) -> str:
    import tomli_w

    doc: dict[str, Any] = {"builtins": False}
    if redis_url is not None:
        state: dict[str, Any] = {"backend": "redis", "redis_url": "${UCP_REDIS_URL}", "timeout": 1.0}
        if postgres_url is not None:
            state["postgres_url"] = "${UCP_PG_URL}"
        doc["state"] = state
    doc["http"] = {"drain_s": drain_s}
    for key, value in (extra or {}).items():
        doc[key] = value
    doc["servers"] = {name: dict(spec) for name, spec in servers.items()}
    return tomli_w.dumps(doc)


@dataclass
class Replica:
    name: str
    port: int
    home: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = (self.home / "serve.stderr").open("ab")
        self.proc = subprocess.Popen(
            [_bin("ucp"), "serve", "--transport", "http", "--port", str(self.port), "--no-dense"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        log.close()

    def wait_ready(self, timeout: float = 90.0) -> None:
        wait_http(self.url + "/readyz", timeout=timeout, proc=self.proc)

    def kill(self) -> None:
        """kill -9: no drain, no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def log_text(self) -> str:
        path = self.home / "logs" / "ucp.log"
        return path.read_text(errors="replace") if path.exists() else ""


def make_replicas(
    work: Path,
    n: int,
    *,
    toml: str,
    redis_url: str | None,
    postgres_url: str | None = None,
    env: Mapping[str, str] | None = None,
    prefix: str = "r",
) -> list[Replica]:
    out = []
    for i in range(n):
        home = work / f"{prefix}{i}"
        home.mkdir(parents=True, exist_ok=True)
        (home / "ucp.toml").write_text(toml)
        replica_env = {
            **os.environ,
            **(env or {}),
            "UCP_HOME": str(home),
            "UCP_CONFIG": str(home / "ucp.toml"),
            "UCP_LOG_LEVEL": os.environ.get("UCP_BENCH_LOG_LEVEL", "info"),
            "PYTHONUNBUFFERED": "1",
        }
        if redis_url is not None:
            replica_env["UCP_REDIS_URL"] = redis_url
        if postgres_url is not None:
            replica_env["UCP_PG_URL"] = postgres_url
        out.append(Replica(f"{prefix}{i}", free_port(), home, replica_env))
    return out


def start_all(replicas: list[Replica], timeout: float = 120.0) -> None:
    """Start every replica at once (they import in parallel), then wait for each to be ready."""
    for r in replicas:
        r.start()
    for r in replicas:
        r.wait_ready(timeout)


# ---------------------------------------------------------------- haproxy
def haproxy_cfg(listen_port: int, replicas: list[Replica]) -> str:
    servers = "\n".join(
        f"    server {r.name} 127.0.0.1:{r.port} check inter 400ms fall 2 rise 1" for r in replicas
    )
    return f"""global
    maxconn 4096

defaults
    mode http
    timeout connect 1s
    timeout client 300s
    timeout server 300s
    timeout http-request 10s
    timeout check 3s
    retries 3
    option redispatch 1
    # only requests no replica processed: connection refused, or a draining replica's 503
    retry-on conn-failure 503
    option http-buffer-request

frontend ucp_front
    bind 127.0.0.1:{listen_port}
    default_backend ucp_replicas

backend ucp_replicas
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    http-response set-header X-Served-By %[srv_name]
{servers}
"""


@dataclass
class HAProxy:
    port: int
    cfg: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        exe = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not Path(exe).exists():
            raise RuntimeError("haproxy is not installed (make services)")
        self.proc = subprocess.Popen(
            [exe, "-db", "-f", str(self.cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        from ucp.bench.proxy import wait_port

        wait_port(self.port, 20, self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None


@dataclass
class Cluster:
    replicas: list[Replica]
    lb: HAProxy | None = None
    extra: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.lb.url if self.lb is not None else self.replicas[0].url

    def wait_lb_sees(self, up: int, timeout: float = 15.0) -> None:
        """Until HAProxy routes to ``up`` distinct replicas (its health checks have run)."""
        deadline = time.monotonic() + timeout
        seen: set[str] = set()
        while time.monotonic() < deadline:
            seen.clear()
            for _ in range(up * 3):
                try:
                    r = httpx2.get(self.url + "/readyz", timeout=1.0)
                    seen.add(r.headers.get("x-served-by", ""))
                except httpx2.HTTPError:
                    pass
            if len(seen - {""}) >= up:
                return
            time.sleep(0.2)
        raise TimeoutError(f"HAProxy routes to {sorted(seen)} only, not {up} replicas")


@contextmanager
def cluster(
    work: Path,
    n: int,
    *,
    toml: str,
    redis_url: str | None,
    postgres_url: str | None = None,
    balancer: bool = True,
    prefix: str = "r",
) -> Iterator[Cluster]:
    """``n`` replicas (and HAProxy in front when ``balancer``); everything stopped on exit."""
    replicas = make_replicas(
        work, n, toml=toml, redis_url=redis_url, postgres_url=postgres_url, prefix=prefix
    )
    lb: HAProxy | None = None
    try:
        start_all(replicas)
        if balancer:
            port = free_port()
            cfg = work / f"haproxy-{prefix}.cfg"
            cfg.write_text(haproxy_cfg(port, replicas))
            lb = HAProxy(port, cfg)
            lb.start()
        c = Cluster(replicas, lb)
        if lb is not None:
            c.wait_lb_sees(n)
        yield c
    finally:
        if lb is not None:
            lb.stop()
        for r in replicas:
            if r.proc is not None and r.proc.poll() is None:
                r.proc.terminate()
        for r in replicas:
            if r.proc is not None:
                try:
                    r.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    r.proc.kill()
                    r.proc.wait(timeout=10)
