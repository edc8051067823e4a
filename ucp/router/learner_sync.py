"""Keeps a shared learner in step with Redis: pushes its increments, applies everyone else's.

``run()`` (a task of the gateway) loads the shared statistics once, then every ``interval``
pushes the learner's journal (``SharedLearning.push``: one MULTI, then a publish of the changed
tools) while a subscriber re-reads the tools each publish names, from any replica. A missed
message (a subscriber reconnect) is healed by a full reload on reconnect and every
``full_every`` seconds. Measured on loopback: a success on replica A reaches replica B's
rankings in about ``interval`` + 2 ms (tests/integration/test_shared_learning.py prints it).

Store outage: a failed push puts its batch back in the journal (posterior increments coalesce,
so they are never dropped; usage vectors beyond the bound are, counted in ``dropped``), the
failure is logged once per outage (``learning_store_unreachable``) and once on recovery
(``learning_store_recovered``) with what was pushed; rankings meanwhile use the last-known
shared statistics plus this replica's own increments.
"""

from __future__ import annotations

import math
from typing import Any

import anyio

from ucp.log import get_logger
from ucp.router.learner import Learner
from ucp.state.learning import SharedLearning, parse_change

log = get_logger("ucp.learning")


class LearnerSync:
    def __init__(
        self, learner: Learner, shared: SharedLearning, *, interval: float = 0.2, full_every: float = 60.0
    ) -> None:
        self.learner = learner
        self.shared = shared
        self.interval = interval
        self.full_every = full_every
        self.failing = False
        self.pushes = 0
        self.failures = 0
        self.received = 0
        self.loaded = anyio.Event()

    async def reload(self) -> None:
        tools = await self.shared.read_all()
        names = sorted(set(tools) | set(self.learner.tools))
        self.learner.apply_shared(tools, names)

    async def flush(self) -> bool:
        """Push the journal once; False (the batch kept for the next try) when the store failed."""
        journal = self.learner.journal
        if not len(journal):
            return True
        batch = journal.take()
        try:
            await self.shared.push(batch)
        except Exception as exc:
            journal.restore(batch)
            self.failures += 1
            if not self.failing:
                self.failing = True
                log.warning(
                    "learning_store_unreachable",
                    error=type(exc).__name__,
                    buffered=len(journal),
                    action="buffering learning updates in memory until the store is back",
                )
            return False
        self.pushes += 1
        if self.failing:
            self.failing = False
            log.info("learning_store_recovered", pushed=len(batch), dropped_usage_updates=journal.dropped)
        return True

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._subscribe)
            while True:
                await anyio.sleep(self.interval)
                await self.flush()

    async def _subscribe(self) -> None:
        delay = 0.1
        last_full = -math.inf
        while True:
            pubsub: Any = None
            try:
                pubsub = self.shared.state.redis.pubsub()
                await pubsub.subscribe(self.shared.channel)
                await self.reload()  # after (re)subscribing: nothing published meanwhile is missed
                last_full = anyio.current_time()
                self.loaded.set()
                delay = 0.1
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if anyio.current_time() - last_full > self.full_every:
                        await self.reload()
                        last_full = anyio.current_time()
                    if message is None or message.get("type") != "message":
                        continue
                    tools, reset = parse_change(message.get("data"))
                    self.received += 1
                    if reset:
                        self.learner.tools.clear()
                        self.learner.usage.clear()
                        await self.reload()
                    elif tools:
                        self.learner.apply_shared(await self.shared.read(tools), tools)
            except anyio.get_cancelled_exc_class():
                raise
            except Exception as exc:
                log.debug("learning_subscription_lost", error=type(exc).__name__, retry_in=delay)
                await anyio.sleep(delay)
                delay = min(delay * 2, 2.0)
            finally:
                if pubsub is not None:
                    with anyio.CancelScope(shield=True):
                        try:
                            await pubsub.aclose()
                        except Exception:
                            pass

    async def reset(self) -> int:
        """Forget what every replica learned: the shared counts and this learner's."""
        self.learner.reset()
        return await self.shared.reset()
