from __future__ import annotations

import io
import json

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
