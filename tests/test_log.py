from __future__ import annotations

import io
import json
from pathlib import Path

from ucp import log


def test_json_lines_with_redaction() -> None:
    out = io.StringIO()
    log.configure("info", stream=out)
    logger = log.get_logger("t")
    logger.info(
        "tool_call",
        server="s",
        api_key="hunter2",
        headers={"Authorization": "Bearer abc.def"},
        note="sent Bearer sekrit123 upstream",
    )
    logger.debug("hidden")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 1
    line = lines[0]
    assert line["event"] == "tool_call"
    assert line["api_key"] == "***"
    assert line["headers"] == {"Authorization": "***"}
    assert "sekrit123" not in line["note"]
    assert "hunter2" not in out.getvalue()
    log.configure("info")


def test_expanded_secrets_are_masked_everywhere() -> None:
    from ucp.config.loader import expand_env

    out = io.StringIO()
    log.configure("info", stream=out)
    value = expand_env("--key=${MY_SERVICE_PAT}", {"MY_SERVICE_PAT": "pat-0123456789"})
    assert value == "--key=pat-0123456789"
    log.get_logger("t").warning("downstream_failed", error=f"cannot start /opt/x {value} (ENOENT)")
    assert "pat-0123456789" not in out.getvalue()
    assert "pat-0123456789" not in log.mask_secrets(f"spawn failed: {value}")
    assert (
        log.mask_secrets("run --api-key sk-abc PASSWORD=hunter2x now") == "run --api-key *** PASSWORD=*** now"
    )
    log.configure("info")


def test_the_log_file_rotates_by_size(tmp_path: Path) -> None:
    path = tmp_path / "ucp.log"
    rotating = log.RotatingFile(path, max_bytes=1000)
    for i in range(100):
        rotating.write(f"line {i:04d} " + "x" * 40 + "\n")
    rotating.close()
    assert path.stat().st_size <= 1000
    assert (tmp_path / "ucp.log.1").stat().st_size <= 1000
    assert not (tmp_path / "ucp.log.2").exists()
    assert "line 0099" in path.read_text()
