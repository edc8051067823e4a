"""One error hierarchy: every class has its own stable code and a sensible HTTP status."""

from __future__ import annotations

import pytest

import ucp.errors as errors


def _classes() -> list[type[errors.UCPError]]:
    return [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.UCPError)]


def test_codes_are_unique_and_statuses_valid() -> None:
    classes = _classes()
    assert len(classes) > 15
    codes = [c.code for c in classes]
    assert len(codes) == len(set(codes)), sorted(codes)
    for cls in classes:
        assert cls.code and cls.code == cls.code.lower(), cls
        assert 400 <= cls.http_status <= 599, cls
        assert isinstance(cls.jsonrpc_code, int)


def test_details_travel_with_the_message() -> None:
    exc = errors.UnknownToolError("unknown tool 'x'", tool="x", suggestions=["y"])
    assert exc.message == "unknown tool 'x'" and str(exc).startswith("unknown tool")
    assert exc.details == {"tool": "x", "suggestions": ["y"]}
    assert issubclass(errors.DownstreamTimeoutError, errors.DownstreamError)


def test_require_extra_names_the_pip_command() -> None:
    from ucp.errors import ExtraMissingError, require_extra

    require_extra("train", "ucp train", ("json",))  # present: no error
    with pytest.raises(ExtraMissingError) as err:
        require_extra("train", "ucp train", ("json", "ucp_no_such_module_xyz"))
    assert err.value.code == "extra_missing"
    assert "pip install 'ucp[train]'" in err.value.message and "ucp_no_such_module_xyz" in err.value.message


def test_error_from_dict_rebuilds_class_code_and_details() -> None:
    from ucp.errors import DownstreamTimeoutError, error_from_dict

    original = DownstreamTimeoutError("took too long", server="s", timeout=5)
    rebuilt = error_from_dict(original.to_dict())
    assert isinstance(rebuilt, DownstreamTimeoutError)
    assert rebuilt.code == "downstream_timeout"
    assert rebuilt.message == "took too long"
    assert rebuilt.details == {"server": "s", "timeout": 5}
    assert error_from_dict({"code": "no_such_code"}) is None
    assert error_from_dict("not a dict") is None
