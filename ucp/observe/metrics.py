"""Prometheus metrics of one gateway, in a registry of its own (``/metrics``).

Why a registry per gateway rather than prometheus-client's global one: tests and
benchmarks build several gateways in one process, and several replicas behind a
load balancer are each scraped on their own (Prometheus sums them; no shared
counters needed). Everything here is a plain counter, gauge or histogram fed by
the one call path (``ucp.session.calls``), the meta-tools' ranking, the
client-event bus and — for state that already lives elsewhere (downstream state,
restarts, sessions) — collectors that read it at scrape time, so nothing is
counted twice and nothing goes stale.

Label cardinality is bounded: the first ``max_tool_labels`` distinct tools get a
label of their own, every later one counts as ``other`` (``ToolLabels``); client
names are bounded the same way. Auth denials and rate-limit hits are counters
the HTTP front's auth / limits modules increment (``auth_denied``, ``rate_limited``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OTHER = "other"
HIT_KS = (1, 3, 5, 10)

# UCP's own share of a call is sub-millisecond; a downstream's is milliseconds to minutes.
OVERHEAD_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1)
DOWNSTREAM_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
SEARCH_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)


class BoundedLabels:
    """The first ``limit`` distinct values keep their name; later ones become ``other``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        with self._lock:
            if len(self._seen) < self.limit:
                self._seen.add(value)
                return value
        return OTHER


ToolLabels = BoundedLabels


ServerRows = Callable[[], Sequence[Mapping[str, Any]]]
SessionRows = Callable[[], Iterable[tuple[str, str]]]  # (mode, client name) of each live session


class _StateCollector(Collector):
    """Downstream state, health, restarts and sessions, read when Prometheus scrapes."""

    def __init__(
        self, servers: ServerRows | None, sessions: SessionRows | None, clients: BoundedLabels
    ) -> None:
        self.servers = servers
        self.sessions = sessions
        self.clients = clients

    def collect(self) -> Iterable[Metric]:
        if self.servers is not None:
            up = GaugeMetricFamily(
                "ucp_downstream_up", "1 when the downstream is healthy.", labels=["server"]
            )
            state = GaugeMetricFamily(
                "ucp_downstream_state",
                "The downstream's connection state (1 for the current one).",
                labels=["server", "state"],
            )
            restarts = GaugeMetricFamily(
                "ucp_downstream_restarts", "Restarts of the downstream since UCP started.", labels=["server"]
            )
            tools = GaugeMetricFamily(
                "ucp_downstream_tools", "Tools the downstream lists.", labels=["server"]
            )
            for row in self.servers():
                name = str(row.get("name", ""))
                up.add_metric([name], 1.0 if row.get("healthy") else 0.0)
                state.add_metric([name, str(row.get("state", ""))], 1.0)
                restarts.add_metric([name], float(row.get("restarts", 0) or 0))
                tools.add_metric([name], float(row.get("tools", 0) or 0))
            yield from (up, state, restarts, tools)
        if self.sessions is not None:
            sessions = GaugeMetricFamily(
                "ucp_sessions", "Live sessions by exposure mode and client.", labels=["mode", "client"]
            )
            counts: dict[tuple[str, str], int] = {}
            for mode, client in self.sessions():
                key = (mode, self.clients(client or "unknown"))
                counts[key] = counts.get(key, 0) + 1
            for (mode, client), n in sorted(counts.items()):
                sessions.add_metric([mode, client], float(n))
            yield sessions


class Metrics:
    """The gateway's metrics. Methods are cheap (a dict lookup and a lock per sample)."""

    def __init__(
        self,
        *,
        max_tool_labels: int = 200,
        max_client_labels: int = 50,
        servers: ServerRows | None = None,
        sessions: SessionRows | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.tools = BoundedLabels(max_tool_labels)
        self.clients = BoundedLabels(max_client_labels)
        r = self.registry
        self.calls = Counter(
            "ucp_tool_calls",
            "Tool calls by server, tool and outcome.",
            ["server", "tool", "outcome"],
            registry=r,
        )
        self.overhead = Histogram(
            "ucp_call_overhead_seconds",
            "UCP's own time per call (resolve, check, record), the downstream's time excluded.",
            ["server"],
            buckets=OVERHEAD_BUCKETS,
            registry=r,
        )
        self.downstream = Histogram(
            "ucp_downstream_call_seconds",
            "Time from handing the call to the pool until the downstream answered.",
            ["server"],
            buckets=DOWNSTREAM_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "ucp_calls_in_flight", "Calls waiting on a downstream now.", ["server"], registry=r
        )
        self.searches = Counter(
            "ucp_searches", "Rankings served (meta-tool, REST, UTCP search).", ["mode"], registry=r
        )
        self.search_seconds = Histogram(
            "ucp_search_seconds",
            "Time to rank the catalog for one search.",
            buckets=SEARCH_BUCKETS,
            registry=r,
        )
        self.followed = Counter(
            "ucp_router_searches_followed",
            "Searches whose next call in the session was a tool (shown or not).",
            registry=r,
        )
        self.hits = Counter(
            "ucp_router_hits",
            "Searches followed by a call of a tool shown at rank <= k (hit rate at k = this / followed).",
            ["k"],
            registry=r,
        )
        self.hit_rate = Gauge(
            "ucp_router_hit_rate",
            "Hit rate at k since UCP started (hits / searches followed).",
            ["k"],
            registry=r,
        )
        self.shown = Counter(
            "ucp_router_results_shown",
            "Tools shown in rankings, explored or exploited.",
            ["explored"],
            registry=r,
        )
        self.explore_share = Gauge(
            "ucp_router_exploration_share", "Share of shown slots given to exploration.", registry=r
        )
        self.list_changes = Counter(
            "ucp_list_change_notifications",
            "List-change events sent towards clients, by kind.",
            ["kind"],
            registry=r,
        )
        self.auth_denials = Counter(
            "ucp_auth_denials", "HTTP requests refused by auth, by reason.", ["reason"], registry=r
        )
        self.rate_limited = Counter(
            "ucp_rate_limited", "Requests refused by a rate limit.", ["scope"], registry=r
        )
        self.registry.register(_StateCollector(servers, sessions, self.clients))
        self._lock = threading.Lock()
        self._followed = 0
        self._hits = dict.fromkeys(HIT_KS, 0)
        self._shown = [0, 0]  # exploited, explored
        for k in HIT_KS:
            self.hits.labels(str(k))
            self.hit_rate.labels(str(k)).set(0)

    # ------------------------------------------------------------ the call path
    def call_started(self, server: str) -> None:
        self.in_flight.labels(server).inc()

    def call_finished(
        self, server: str, tool: str, outcome: str, overhead_s: float, downstream_s: float | None
    ) -> None:
        """One call done; ``downstream_s`` is None when it never reached the downstream."""
        self.calls.labels(server, self.tools(f"{server}/{tool}").partition("/")[2] or OTHER, outcome).inc()
        self.overhead.labels(server).observe(max(overhead_s, 0.0))
        if downstream_s is not None:
            self.in_flight.labels(server).dec()
            self.downstream.labels(server).observe(downstream_s)

    def call_rejected(self, outcome: str) -> None:
        """A call refused before any server was chosen (unknown tool, invalid arguments)."""
        self.calls.labels("", "", outcome).inc()

    # ------------------------------------------------------------ the router
    def searched(self, mode: str, seconds: float, shown: int, explored: int) -> None:
        self.searches.labels(mode).inc()
        self.search_seconds.observe(seconds)
        if shown:
            self.shown.labels("false").inc(shown - explored)
            if explored:
                self.shown.labels("true").inc(explored)
            with self._lock:
                self._shown[0] += shown - explored
                self._shown[1] += explored
                self.explore_share.set(self._shown[1] / max(1, sum(self._shown)))

    def followed_search(self, rank: int | None) -> None:
        """The first call after a search: ``rank`` of the called tool in it (1-based), None if not shown."""
        self.followed.inc()
        with self._lock:
            self._followed += 1
            for k in HIT_KS:
                if rank is not None and rank <= k:
                    self._hits[k] += 1
                    self.hits.labels(str(k)).inc()
                self.hit_rate.labels(str(k)).set(self._hits[k] / self._followed)

    # ------------------------------------------------------------ the rest
    def list_changed(self, kinds: Iterable[str]) -> None:
        for kind in kinds:
            self.list_changes.labels(kind).inc()

    def auth_denied(self, reason: str) -> None:
        self.auth_denials.labels(reason).inc()

    def rate_limit_hit(self, scope: str) -> None:
        self.rate_limited.labels(scope).inc()

    def render(self) -> bytes:
        """The exposition text Prometheus scrapes."""
        return generate_latest(self.registry)

    def value(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        """One sample's current value (0 when absent): for the dashboard and tests."""
        got = self.registry.get_sample_value(name, dict(labels or {}))
        return float(got) if got is not None else 0.0
