"""Benchmarks of the built-in cloud tools (``ucp bench cloud``) and the manual generator: dev-time
code, kept out of the runtime package ``ucp.builtins.cloud``."""
