"""One mapping per protocol: UCP errors as JSON-RPC errors and as HTTP JSON errors."""

from __future__ import annotations

import json

from ucp.errors import DownstreamTimeoutError, InvalidArgumentsError
from ucp.frontend.errors import error_response, to_mcp_error


def test_mcp_error_keeps_the_stable_code_and_details() -> None:
    err = to_mcp_error(InvalidArgumentsError("bad field", tool="t", field="x", extra=None))
    assert err.error.code == InvalidArgumentsError.jsonrpc_code
    assert err.error.data == {"code": "invalid_arguments", "tool": "t", "field": "x"}


def test_http_error_has_the_status_of_its_class() -> None:
    response = error_response(DownstreamTimeoutError("slow", server="s"))
    assert response.status_code == 504
    body = json.loads(bytes(response.body))
    assert body == {"error": {"code": "downstream_timeout", "message": "slow", "details": {"server": "s"}}}


def test_as_mcp_errors_turns_a_ucp_error_into_its_json_rpc_error() -> None:
    import pytest
    from mcp import MCPError

    from ucp.frontend.errors import as_mcp_errors

    with pytest.raises(MCPError) as info, as_mcp_errors():
        raise InvalidArgumentsError("bad", field="x")
    assert info.value.error.data == {"code": "invalid_arguments", "field": "x"}
    with as_mcp_errors():
        pass  # nothing raised: nothing to map
