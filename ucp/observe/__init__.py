"""Observability: Prometheus metrics, OpenTelemetry traces, call records and the analytics over them.

Sits just above the foundation (config, log, errors): every layer may report to it,
and it imports none of them. See ``ucp/observe/OBSERVE.md``.
"""
