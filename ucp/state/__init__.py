"""Where UCP's state lives: this process (embedded) or stores every replica shares (Redis, PostgreSQL).

``open_state(settings, env)`` builds a ``State`` from ``[state]``; the parts that keep state (the
learner, the rate limiter, the audit log, the service registry, the session store) take it and pick
their embedded or shared implementation. See STATE.md for what each store holds.
"""

from __future__ import annotations

from ucp.state.base import State, StoreHealth, open_state

__all__ = ["State", "StoreHealth", "open_state"]
