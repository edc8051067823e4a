"""The shared registry's keys and records (against a real Redis: tests/integration/test_shared_services.py)."""

from __future__ import annotations

from ucp.config.models import StateSettings
from ucp.pool.services import ServiceRecord, _record
from ucp.state import open_state
from ucp.state.services import SharedServices


def test_keys_and_channel_are_in_the_namespace() -> None:
    state = open_state(StateSettings(backend="redis", redis_url="redis://127.0.0.1:1/0", namespace="team"))
    shared = SharedServices(state)
    assert shared.channel == "team:svc:changed"
    assert shared._prefix == "team:svc:r:"


def test_a_record_round_trips_through_its_json_form_with_its_lease() -> None:
    record = ServiceRecord("weather", "http://127.0.0.1:9/utcp", tags=("a",), ttl=30.0, registered_at=100.0)
    back = _record(record.to_dict())
    assert back == record
    assert back.expired(131.0) and not back.expired(129.0)
    assert not ServiceRecord("x", "http://h/utcp").expired(1e12)
