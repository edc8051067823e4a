"""Self-registered services in Redis: one registry every replica serves, with leases.

Each registration is a key ``ns:svc:r:<name>`` holding the record's JSON; a registration with a
``ttl`` is a lease (the key expires unless the service registers again within it, so a service
replica that dies without deregistering leaves by itself); one without is kept until deregistered.
Every change is announced on ``ns:svc:changed``; replicas reconcile their pools with the registry
on each announcement and every few seconds (which is also how they notice expired leases).
"""

from __future__ import annotations

import json
from typing import Any

from ucp.state.base import State


class SharedServices:
    def __init__(self, state: State) -> None:
        self.state = state
        self.channel = state.key("svc", "changed")
        self._prefix = state.key("svc", "r", "")

    async def put(self, name: str, record: dict[str, Any], ttl: float | None) -> None:
        pipe = self.state.redis.pipeline(transaction=True)
        key = self._prefix + name
        if ttl:
            pipe.set(key, json.dumps(record), px=max(1, int(ttl * 1000)))
        else:
            pipe.set(key, json.dumps(record))
        pipe.publish(self.channel, name)
        await pipe.execute()

    async def delete(self, name: str) -> bool:
        pipe = self.state.redis.pipeline(transaction=True)
        pipe.delete(self._prefix + name)
        pipe.publish(self.channel, name)
        deleted, _ = await pipe.execute()
        return bool(deleted)

    async def all(self) -> dict[str, dict[str, Any]]:
        redis = self.state.redis
        keys = [k async for k in redis.scan_iter(match=self._prefix + "*", count=500)]
        if not keys:
            return {}
        values = await redis.mget(keys)
        out: dict[str, dict[str, Any]] = {}
        for key, value in zip(keys, values, strict=True):
            if value is None:
                continue  # expired between the scan and the read
            try:
                record = json.loads(value)
            except ValueError:
                continue
            if isinstance(record, dict):
                out[key.decode()[len(self._prefix) :]] = record
        return out
