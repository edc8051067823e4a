"""Issue 12 items 1 and 10 at the config loader: every malformed file is a ConfigError."""

from __future__ import annotations

from pathlib import Path

import pytest

from ucp.config.loader import read_config_file
from ucp.errors import ConfigError


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("top.json", "[1, 2]"),
        ("str.json", '"servers"'),
        ("num.json", "5"),
        ("deep.json", "[" * 100_000 + "]" * 100_000),
        ("bigint.json", '{"servers": {}, "x": ' + "9" * 5000 + "}"),
        ("deep.toml", "a = " + "[" * 5000 + "]" * 5000),
        ("bad.toml", b"[servers.x]\ncommand = '\xff'\n"),
    ],
)
def test_malformed_configs_are_config_errors_not_tracebacks(
    tmp_path: Path, name: str, content: str | bytes
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ConfigError) as info:
        read_config_file(path)
    assert info.value.file == str(path)
