"""``ucp``'s public API: exactly the names of ``__all__``, each importable, loaded lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ucp

EXPECTED = {
    "__version__",
    "AdminAPI",
    "Change",
    "ChangeBus",
    "ChangeKind",
    "Config",
    "Gateway",
    "Paths",
    "SearchResult",
    "SessionAPI",
    "ToolView",
    "UCPError",
    "read_config_file",
    "serve_http",
    "serve_stdio",
}


def test_public_api_is_deliberate() -> None:
    assert set(ucp.__all__) == EXPECTED
    assert set(ucp._EXPORTS) | {"__version__"} == EXPECTED  # every public name resolves lazily
    for name in ucp.__all__:
        assert getattr(ucp, name) is not None
    assert ucp.Gateway.__module__ == "ucp.app"
    assert issubclass(ucp.UCPError, Exception)
    with pytest.raises(AttributeError):
        _ = ucp.NotPublic  # type: ignore[attr-defined]


@pytest.mark.integration
def test_import_ucp_is_cheap() -> None:
    """`import ucp` (and its version) must not pull in the MCP SDK or the router."""
    code = "import sys, ucp; ucp.__version__; print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'ucp', 'numpy')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['ucp']"
