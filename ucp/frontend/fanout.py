"""Client notifications across replicas: the client-facing changes of every replica, over Redis pub/sub.

A 2025-era client holds its GET stream (where ``notifications/*`` ride) on one replica, while
the request that changed something for it — a search that grew its dynamic working set, a
resource subscription whose downstream then reports an update, a list change only one replica
heard — may be served by another. Each replica publishes the changes its session layer
re-publishes for clients (``ucp.events``) on the channel ``<namespace>:notify``, tagged with its
replica id, and turns the other replicas' messages into changes on ``remote``, a bus the
front's ``Delivery`` consumes next to the local one. Every replica delivers to the sessions
whose GET stream it holds; a replica without the stream has nothing to send to (the SDK drops
a notification with no standalone stream), so a client hears a change once per stream.

Pub/sub is fire-and-forget: a change published while Redis is down, or while a replica is
reconnecting, is lost (logged); the listener reconnects by itself with backoff. Clients that
re-list on the next turn see the current lists anyway: list changes are hints, not data.

Requests' own notifications (progress) ride the POST's response stream on the replica serving
that request and never need this.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import anyio

from ucp.events import Change, ChangeBus, ChangeKind
from ucp.log import get_logger

log = get_logger("ucp.frontend.fanout")

CHANNEL = "ucp:notify"  # ``State.key("notify")`` in a deployment's namespace


def encode(change: Change, origin: str) -> str:
    return json.dumps(
        {
            "origin": origin,
            "server": change.server,
            "kinds": sorted(change.kinds),
            "uri": change.uri,
            "session_id": change.session_id,
        }
    )


def decode(raw: str | bytes) -> tuple[str, Change] | None:
    """``(origin, change)``, or None for a message that is not one (logged)."""
    try:
        data = json.loads(raw)
        change = Change(
            str(data["server"]),
            frozenset(ChangeKind(k) for k in data["kinds"]),
            uri=data.get("uri"),
            session_id=data.get("session_id"),
        )
        return str(data["origin"]), change
    except (ValueError, KeyError, TypeError):
        log.warning("fanout_message_invalid", size=len(raw))
        return None


class Fanout:
    def __init__(
        self, client: Any, *, replica_id: str | None = None, channel: str = CHANNEL, max_backoff: float = 5.0
    ) -> None:
        self.client = client
        self.replica_id = replica_id or uuid.uuid4().hex[:12]
        self.channel = channel
        self.remote = ChangeBus()  # other replicas' changes, for this replica's Delivery
        self.max_backoff = max_backoff
        self.connected = anyio.Event()

    async def run(self, local: ChangeBus, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        async with anyio.create_task_group() as tg:
            await tg.start(self._publish_loop, local)
            tg.start_soon(self._listen_loop)
            task_status.started()

    async def _publish_loop(self, local: ChangeBus, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        async with local.stream() as changes:
            task_status.started()
            async for change in changes:
                try:
                    await self.client.publish(self.channel, encode(change, self.replica_id))
                except Exception as exc:  # Redis down: the change is lost for other replicas
                    log.warning("fanout_publish_failed", error=type(exc).__name__, server=change.server)

    async def _listen_loop(self) -> None:
        delay = 0.2
        while True:
            try:
                pubsub = self.client.pubsub()
                try:
                    await pubsub.subscribe(self.channel)
                    self.connected.set()
                    delay = 0.2
                    log.info("fanout_listening", channel=self.channel, replica=self.replica_id)
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        decoded = decode(message["data"])
                        if decoded is not None and decoded[0] != self.replica_id:
                            self.remote.publish(decoded[1])
                finally:
                    self.connected = anyio.Event()
                    with anyio.CancelScope(shield=True):
                        try:
                            await pubsub.aclose()
                        except Exception:
                            pass
            except anyio.get_cancelled_exc_class():
                raise
            except Exception as exc:
                log.warning("fanout_disconnected", error=type(exc).__name__, retry_in=round(delay, 2))
            await anyio.sleep(delay)
            delay = min(self.max_backoff, delay * 2)
