"""The facades implement every member of the protocols the fronts depend on."""

from __future__ import annotations

import inspect

from ucp.session.admin import AdminFacade
from ucp.session.api import AdminAPI, SessionAPI
from ucp.session.facade import SessionFacade


def _members(protocol: type) -> set[str]:
    return {n for n, _ in inspect.getmembers(protocol) if not n.startswith("_")}


def test_facades_implement_the_protocols() -> None:
    for protocol, impl in ((SessionAPI, SessionFacade), (AdminAPI, AdminFacade)):
        missing = _members(protocol) - _members(impl)
        assert not missing, f"{impl.__name__} lacks {sorted(missing)}"
        for name in _members(protocol):
            want = inspect.signature(getattr(protocol, name)) if callable(getattr(protocol, name)) else None
            have = getattr(impl, name)
            if want is not None and callable(have):
                assert list(inspect.signature(have).parameters) == list(want.parameters), name
