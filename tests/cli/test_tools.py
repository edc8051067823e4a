"""`ucp tools ...` through CliRunner, in process, against the built-in `cloud` server (no
subprocess); the same commands against real stdio servers are in tests/integration/test_cli.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli

PRICES = "cloud__lookup_instance_prices"


def test_list_json_and_table(cli: Cli) -> None:
    result = cli("tools", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert PRICES in rows
    assert rows[PRICES]["server"] == "cloud"
    assert rows[PRICES]["input_schema"]["type"] == "object"
    table = cli("tools", "list", "--server", "cloud")
    assert table.exit_code == 0
    assert PRICES in table.stdout


def test_list_without_builtins_is_empty(cli: Cli) -> None:
    cli.home.mkdir(parents=True)
    cli.registry.write_text("builtins = false\n")
    result = cli("tools", "list", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


@pytest.mark.parametrize("command", [["list"], ["search", "prices"]])
def test_unknown_and_disabled_server(cli: Cli, command: list[str]) -> None:
    assert cli("registry", "add", "off", "--disabled", "--", "x").exit_code == 0
    unknown = cli("tools", *command, "--server", "clod")
    assert unknown.exit_code == 2
    assert "cloud" in unknown.stderr  # the suggestion
    disabled = cli("tools", *command, "--server", "off")
    assert disabled.exit_code == 2
    assert "ucp registry enable off" in disabled.stderr


def test_search(cli: Cli) -> None:
    result = cli("tools", "search", "instance prices", "--limit", "3", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["query"] == "instance prices"
    assert 1 <= len(data["results"]) <= 3
    assert PRICES in [r["name"] for r in data["results"]]
    table = cli("tools", "search", "instance prices")
    assert PRICES in table.stdout


def test_search_bad_input(cli: Cli) -> None:
    assert cli("tools", "search", "   ").exit_code == 2
    assert cli("tools", "search", "x", "--limit", "0").exit_code == 2


def test_describe(cli: Cli) -> None:
    result = cli("tools", "describe", PRICES, "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["name"] == PRICES
    assert "properties" in data["input_schema"]
    human = cli("tools", "describe", PRICES)
    assert "arguments:" in human.stdout


def test_describe_unknown_suggests(cli: Cli) -> None:
    result = cli("tools", "describe", "cloud__lookup_instance_price")
    assert result.exit_code == 2
    assert "did you mean" in result.stderr
    assert PRICES in result.stderr


def test_call_prints_structured_content(cli: Cli) -> None:
    result = cli("tools", "call", PRICES, "--args", '{"instance_types": ["m5.large"]}')
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert "m5.large" in json.dumps(data)
    full = json.loads(
        cli("tools", "call", PRICES, "--args", '{"instance_types": ["m5.large"]}', "--json").stdout
    )
    assert full["isError"] is False
    assert "structuredContent" in full


def test_call_args_from_file_and_stdin(cli: Cli, tmp_path: Path) -> None:
    args = tmp_path / "args.json"
    args.write_text('{"instance_types": ["m5.large"]}')
    assert cli("tools", "call", PRICES, "--args", f"@{args}").exit_code == 0
    assert (
        cli("tools", "call", PRICES, "--args", "-", input='{"instance_types": ["m5.large"]}').exit_code == 0
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ('{"instance_types": ', "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ("@/no/such/file.json", "cannot read"),
        ('{"instance_types": 5}', "instance_types"),
        ('{"no_such_field": 1}', "no_such_field"),
    ],
)
def test_call_bad_arguments_exit_2(cli: Cli, args: str, message: str) -> None:
    result = cli("tools", "call", PRICES, "--args", args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stdout == ""


def test_call_unknown_tool(cli: Cli) -> None:
    result = cli("tools", "call", "lookup_instance_prices")
    assert result.exit_code == 2
    assert PRICES in result.stderr


def test_call_tool_error_exits_1(cli: Cli) -> None:
    result = cli(
        "tools",
        "call",
        "cloud__rightsize_vm",
        "--args",
        '{"current_instance_type": "zz9.huge", "cpu": {"csv_path": "/no/such.csv"}}',
    )
    assert result.exit_code == 1, result.output
    assert "zz9.huge" in result.stderr


@pytest.mark.integration  # real process, socket or model
def test_call_on_a_server_that_cannot_start(cli: Cli, tmp_path: Path) -> None:
    assert cli("registry", "add", "ghost", "--", str(tmp_path / "missing-binary")).exit_code == 0
    result = cli("tools", "call", "ghost__anything", "--timeout", "20")
    assert result.exit_code == 1
    assert "ghost" in result.stderr
    assert "not reachable" in result.stderr


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        (
            "cloud__allocate_costs",
            '{"nodes": [{"name": "n", "hourly_cost_usd": 1e308}]}',
            "nodes[0].hourly_cost_usd",
        ),
        (
            "cloud__allocate_costs",
            '{"nodes": [{"name": "n", "hourly_cost_usd": 1}], "shared_costs": [{"name": "a", "cost_usd": 1e308}, '
            '{"name": "b", "cost_usd": 1e308}]}',
            "shared_costs[0].cost_usd",
        ),
        (
            "cloud__plan_schedule",
            '{"tag": "off=(M-F,19);on=(M-F,7);tz=pt", "hourly_cost_usd": 1e308}',
            "hourly_cost_usd",
        ),
    ],
)
def test_hostile_prices_end_in_a_short_clear_error(cli: Cli, tool: str, args: str, field: str) -> None:
    result = cli("tools", "call", tool, "--args", args)
    assert result.exit_code == 1, result.output
    assert field in result.stderr and "Traceback" not in result.output + result.stderr
    assert len(result.stderr) < 2000  # was a 28 KB traceback
