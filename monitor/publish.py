"""Publishes live queue changes on Redis pub/sub and keeps the wallboard's snapshot key.

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

from hotline.domain.vocabulary import live_beat_key

log = logging.getLogger("monitor.publish")


BEAT_TTL = 3600    # seconds the proof of life outlives a monitor that stopped writing it


class LivePublisher:
    """Sends messages to ``channel`` and writes the snapshot to ``snapshot_key`` (``[redis] live_channel``),
    and beside it the real time it did (``live_beat_key``: how ``hotline status`` sees the monitor alive)."""

    def __init__(self, client: aioredis.Redis, channel: str, snapshot_key: str) -> None:
        self._redis = client
        self.channel, self.snapshot_key = channel, snapshot_key
        self.beat_key = live_beat_key(channel)
        self.down = False

    async def publish(self, messages: list[dict[str, Any]], snapshot: dict[str, Any]) -> bool:
        """Publish ``messages`` then store ``snapshot``; False (and logged once) while Redis is away."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(self.snapshot_key, _dumps(snapshot))
                pipe.set(self.beat_key, f"{time.time():.3f}", ex=BEAT_TTL)
                for message in messages:
                    pipe.publish(self.channel, _dumps(message))
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
