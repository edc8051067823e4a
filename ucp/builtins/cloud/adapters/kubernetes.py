"""Kubernetes adapter (the ``kubernetes`` client via kubeconfig). Extra: ``ucp[cloud-k8s]``.

Returns pods in ``plan_bin_packing``'s inline form (name, cpu cores, memory GiB), summing
the requests of each pod's containers.
"""

from __future__ import annotations

from typing import Any

from ucp.builtins.cloud.adapters import AdapterError, import_client, require_enabled

EXTRA = "cloud-k8s"
_MEM = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}


def parse_cpu(q: str) -> float:
    """Kubernetes CPU quantity -> cores ("250m" -> 0.25, "2" -> 2.0)."""
    s = q.strip()
    try:
        if s.endswith("m"):
            return float(s[:-1]) / 1000
        if s.endswith("u"):
            return float(s[:-1]) / 1e6
        if s.endswith("n"):
            return float(s[:-1]) / 1e9
        return float(s)
    except ValueError:
        raise AdapterError(f"bad CPU quantity {q!r}") from None


def parse_memory_gib(q: str) -> float:
    """Kubernetes memory quantity -> GiB ("512Mi" -> 0.5, "1G" -> 0.931...)."""
    s = q.strip()
    for suffix in sorted(_MEM, key=len, reverse=True):
        if s.endswith(suffix):
            try:
                return float(s[: -len(suffix)]) * _MEM[suffix] / 2**30
            except ValueError:
                break
    try:
        return float(s) / 2**30
    except ValueError:
        raise AdapterError(f"bad memory quantity {q!r}") from None


def pods_to_specs(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pod objects (as dicts) -> ``[{"name", "cpu", "memory_gib"}]``."""
    out = []
    for pod in pods:
        meta, spec = pod.get("metadata", {}), pod.get("spec", {})
        cpu = mem = 0.0
        for c in spec.get("containers", []):
            req = (c.get("resources") or {}).get("requests") or {}
            cpu += parse_cpu(str(req["cpu"])) if "cpu" in req else 0.0
            mem += parse_memory_gib(str(req["memory"])) if "memory" in req else 0.0
        name = f"{meta.get('namespace', 'default')}/{meta.get('name', '?')}"
        out.append({"name": name, "cpu": cpu, "memory_gib": mem})
    return out


def list_pod_requests(
    namespace: str | None = None, context: str | None = None, enabled: bool | None = None
) -> list[dict[str, Any]]:
    require_enabled("kubernetes", enabled)
    k8s = import_client("kubernetes", EXTRA)
    k8s.config.load_kube_config(context=context)
    api = k8s.client.CoreV1Api()
    resp = api.list_namespaced_pod(namespace) if namespace else api.list_pod_for_all_namespaces()
    serialise = k8s.client.ApiClient().sanitize_for_serialization
    return pods_to_specs([serialise(p) for p in resp.items])
