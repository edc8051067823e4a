"""The misbehaving MCP server of the fault tests (flood, huge result, frozen, flapping, crash):
its code lives in ``ucp/bench/faulty_server.py`` so the reliability benchmark runs it too."""

from __future__ import annotations

import runpy
from pathlib import Path

if __name__ == "__main__":
    runpy.run_path(
        str(Path(__file__).resolve().parents[2] / "ucp" / "bench" / "faulty_server.py"), run_name="__main__"
    )
