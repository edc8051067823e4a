"""Built-in cloud-optimisation tools, one sub-package per domain (import-free on purpose).

Layout and naming rule (see ``BACKTEST.md`` for the measured behaviour):

- ``<domain>/<tool_name>.py`` defines exactly one tool, ``TOOL``, exposed as ``cloud__<tool_name>``
  (``rightsizing/rightsize_vm.py`` is ``cloud__rightsize_vm``);
- ``<domain>/schema.py`` holds that domain's pydantic input/output models when they are split out;
- every other module is a pure core named for what it computes (``packing/heuristics.py``,
  ``anomalies/detectors.py``); ``common/`` holds the envelope, catalog and series shared by all;
- ``server.py`` assembles the ``BuiltinServer`` (spec string ``ucp.builtins.cloud.server:SERVER``).

Importing this package imports nothing: the gateway lists the tools from ``tools.json`` and
imports ``server`` at the first call.
"""
