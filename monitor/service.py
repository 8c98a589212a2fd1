"""The monitor's operations: an AMI event in, the picture, the call log and Redis updated.

Knows nothing of panoramisk: the AMI adapter's listener hands it events as mappings. Event
handling itself is synchronous and in arrival order (the picture is pure); the
database writes and the Redis messages go to one task each, in the same order.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from hotline.adapters.ami import Event, field

from .facts import call_update
from .pool import IdlePool
from .publish import LivePublisher
from .state import LivePicture
from .store import StoreWorker
from .waker import QueueWaker

log = logging.getLogger("monitor.service")

#: The AMI events the monitor listens to.
EVENTS = ("QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "QueueMemberAdded",
          "QueueMemberRemoved", "QueueMemberStatus", "QueueMemberPause", "AgentCalled",
          "AgentConnect", "AgentComplete", "AgentRingNoAnswer")


class MonitorService:
    def __init__(self, picture: LivePicture, store: StoreWorker | None, publisher: LivePublisher,
                 now: Callable[[], datetime], waker: QueueWaker | None = None, pool: IdlePool | None = None) -> None:
        self.picture, self.store, self.publisher, self.now = picture, store, publisher, now
        self.waker, self.pool = waker, pool
        self._pool_work: asyncio.Queue[str | None] = asyncio.Queue()
        self._outbox: asyncio.Queue[tuple[list[dict[str, Any]], dict[str, Any]]] = asyncio.Queue()

    def on_event(self, event: Event) -> None:
        """One AMI event, as it arrives (called from the listener, never blocks)."""
        now = self.now()
        messages = self.picture.apply(event, now)
        if self.waker is not None:
            if field(event, "Event") == "AgentComplete":
                self.waker.call_ended(field(event, "MemberName") or field(event, "Interface"))
            self.waker.look()      # before anything else: a free operator's phone should ring now
        if self.pool is not None:
            kind = field(event, "Event")
            if kind == "AgentComplete":
                self._pool_work.put_nowait(field(event, "MemberName") or field(event, "Interface"))
            elif kind == "QueueMemberAdded":
                self.pool.forget()
                self._pool_work.put_nowait(None)
        update = call_update(event, now)
        if update is not None and self.store is not None:
            self.store.submit(update)
        if messages:
            self._outbox.put_nowait((messages, self.picture.snapshot(now)))

    def on_status(self, messages: Iterable[Event]) -> None:
        """A QueueStatus answer after a (re)connect: rebuild the picture, backfill waiting callers."""
        now = self.now()
        messages = list(messages)
        summary = self.picture.rebuild(messages, now)
        if self.pool is not None:
            self.pool.forget()
            self._pool_work.put_nowait(None)
        if self.waker is not None:
            self.waker.look()
        log.info("picture rebuilt from QueueStatus: %d waiting, %d operators",
                 summary["waiting"], summary["operators"])
        if self.store is not None:
            for m in messages:
                update = call_update(m, now)
                if update is not None:
                    self.store.submit(update)
        self._outbox.put_nowait(([summary], self.picture.snapshot(now)))

    def refresh(self) -> None:
        """Periodic: end finished wrap-ups and rewrite the snapshot (waits grow; Redis may be back)."""
        now = self.now()
        self._outbox.put_nowait((self.picture.expire(now), self.picture.snapshot(now)))

    async def run_publisher(self) -> None:
        while True:
            messages, snapshot = await self._outbox.get()
            try:
                await self.publisher.publish(messages, snapshot)
            finally:
                self._outbox.task_done()

    async def run_pool(self, every: float) -> None:
        """The operators' idle order across the cluster's nodes (monitor/pool.py): a call ended here is told
        at once; another node's is read at least every ``every`` seconds."""
        if self.pool is None:
            return
        while True:
            try:
                operator = await asyncio.wait_for(self._pool_work.get(), every)
            except TimeoutError:
                operator = None
            try:
                if operator:
                    await self.pool.call_ended(operator)
                else:
                    await self.pool.align()
            except Exception as exc:     # Redis away: app_queue's own order until it answers again
                if self.pool.neutral():
                    log.warning("idle order not readable (%s): the queue's own order meanwhile", exc)

    async def run_refresher(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            self.refresh()

    async def drain(self) -> None:
        """Wait until everything handed over so far is published and written."""
        await self._outbox.join()
        if self.store is not None:
            await self.store.drain()
