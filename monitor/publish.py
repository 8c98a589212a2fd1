"""Publishes live queue changes on Redis pub/sub and keeps the wallboard's snapshot key, per node.

Each node's monitor has its own channel and snapshot (``<[redis] live_channel>:node:<[cluster] node>`` and
``…:snapshot``) and notes in ``<live_channel>:nodes`` the real time of its last snapshot, so that the
wallboard finds every node and adds them up; every message and snapshot carries its node.
Redis being down never stops the monitor: messages are dropped while it is away,
the outage is logged once, and the next change (or the periodic refresh) rewrites
the snapshot when Redis answers again.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from hotline.domain.vocabulary import live_beat_key, live_node_channel, live_nodes_key, live_snapshot_key

log = logging.getLogger("monitor.publish")


BEAT_TTL = 3600    # seconds the proof of life outlives a monitor that stopped writing it


class LivePublisher:
    """Sends ``node``'s messages to its channel beside ``live_channel`` (``[redis] live_channel``) and writes its
    snapshot, and beside it the real time it did (``live_beat_key``: how ``hotline status`` sees the monitor
    alive; ``live_nodes_key``: how the wallboard finds the nodes)."""

    def __init__(self, client: aioredis.Redis, live_channel: str, node: str) -> None:
        self._redis = client
        self.node = node
        self.channel = live_node_channel(live_channel, node)
        self.snapshot_key, self.beat_key = live_snapshot_key(self.channel), live_beat_key(self.channel)
        self.nodes_key = live_nodes_key(live_channel)
        self.down = False

    async def publish(self, messages: list[dict[str, Any]], snapshot: dict[str, Any]) -> bool:
        """Publish ``messages`` then store ``snapshot``; False (and logged once) while Redis is away."""
        now = f"{time.time():.3f}"
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(self.snapshot_key, _dumps({**snapshot, "node": self.node}))
                pipe.set(self.beat_key, now, ex=BEAT_TTL)
                pipe.hset(self.nodes_key, self.node, now)
                for message in messages:
                    pipe.publish(self.channel, _dumps({**message, "node": self.node}))
                await pipe.execute()
        except (RedisError, OSError) as exc:
            if not self.down:
                self.down = True
                log.warning("Redis unreachable (%s); live updates paused, retrying on every change", exc)
            return False
        if self.down:
            self.down = False
            log.info("Redis reachable again; live updates resumed")
        return True

    async def close(self) -> None:
        await self._redis.aclose()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
