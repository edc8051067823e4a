"""Prometheus ``query_range`` adapter (stdlib HTTP; no extra needed).

Returns the inline series form ``[{"timestamp", "value"}, ...]``. A query must select
exactly one series (aggregate it, e.g. ``avg(rate(...))``). Samples Prometheus reports
as NaN/Inf are dropped and counted in ``warnings``, never replaced.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ucp.builtins.cloud.adapters import AdapterError, require_enabled


@dataclass(frozen=True)
class Fetched:
    points: list[dict[str, Any]]
    source: str
    warnings: list[str] = field(default_factory=list)


def parse_matrix(body: dict[str, Any], source: str) -> Fetched:
    """Turn a ``query_range`` JSON answer into inline points."""
    if body.get("status") != "success":
        raise AdapterError(
            f"Prometheus error from {source}: {body.get('errorType', '')} {body.get('error', '')}".strip()
        )
    data = body.get("data") or {}
    if data.get("resultType") != "matrix":
        raise AdapterError(f"expected a range vector (matrix), got {data.get('resultType')!r}")
    result = data.get("result") or []
    if len(result) != 1:
        raise AdapterError(
            f"the query returned {len(result)} series; aggregate it to exactly one (e.g. avg(...))"
        )
    points: list[dict[str, Any]] = []
    dropped = 0
    for ts, raw in result[0].get("values", []):
        value = float(raw)
        if not math.isfinite(value):
            dropped += 1
            continue
        points.append({"timestamp": datetime.fromtimestamp(float(ts), tz=UTC).isoformat(), "value": value})
    warnings = (
        [f"{dropped} NaN/Inf sample(s) from Prometheus were dropped (left as gaps)."] if dropped else []
    )
    return Fetched(points, source, warnings)


def query_range(
    base_url: str,
    query: str,
    start: datetime,
    end: datetime,
    step_s: float,
    token: str | None = None,
    timeout_s: float = 10.0,
    enabled: bool | None = None,
) -> Fetched:
    """GET ``{base_url}/api/v1/query_range`` and return one series as inline points."""
    require_enabled("prometheus", enabled)
    if end <= start:
        raise AdapterError("end must be after start")
    params = urllib.parse.urlencode(
        {
            "query": query,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": f"{step_s:g}",
        }
    )
    url = f"{base_url.rstrip('/')}/api/v1/query_range?{params}"
    if not url.startswith(("http://", "https://")):
        raise AdapterError("base_url must be an http(s) URL")
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # scheme checked above
            body = json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:200]
        raise AdapterError(f"Prometheus at {base_url} answered HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise AdapterError(f"cannot reach Prometheus at {base_url}: {exc}") from None
    except json.JSONDecodeError:
        raise AdapterError(f"Prometheus at {base_url} did not return JSON") from None
    return parse_matrix(body, base_url)
