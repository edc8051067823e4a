"""UCP: one MCP endpoint in front of a pool of downstream tool servers.

The request path, outside in: ``frontend`` (the MCP server UCP exposes) ->
``session`` (per-session context and exposure) -> ``router`` (catalog and
ranking) / ``pool`` (connections) -> ``downstream`` (one adapter per wire).
``ucp.app`` is the only module that wires them together.
"""

__version__ = "0.1.0"
