"""Composition root of the monitor: ``python -m monitor``."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from hotline.adapters.ami import AmiListener, ami_login
from hotline.context import load_context, run_service
from hotline.domain.redact import redact_url
from hotline.heartbeat import Heartbeat

from .pool import IdlePool
from .publish import LivePublisher
from .service import EVENTS, MonitorService
from .state import LivePicture
from .store import CallFactsStore, StoreWorker
from .waker import QueueWaker, wake_action

log = logging.getLogger("monitor")

REFRESH_SECONDS = 5.0   # the snapshot is rewritten at least this often (waits grow, wrap-ups end)
POOL_SECONDS = 1.0      # another node's ended call reaches this node's idle order within this


async def amain() -> None:
    ctx = load_context()
    s = ctx.settings
    sessions = await asyncio.to_thread(ctx.sessions, tolerate_outage=True)     # callers go on without it
    store = StoreWorker(CallFactsStore(sessions))
    client = aioredis.from_url(ctx.redis_url, socket_connect_timeout=2, socket_timeout=2)
    publisher = LivePublisher(client, s.redis.live_channel, s.cluster.node)
    picture = LivePicture(int(ctx.settings.queue.wrapup_seconds))
    loop = asyncio.get_running_loop()
    timer: list[asyncio.TimerHandle] = []

    def schedule(delay: float, callback: Callable[[], None]) -> None:
        if timer:
            timer.pop().cancel()
        timer.append(loop.call_later(delay, callback))

    waker = QueueWaker(picture, send=lambda wake: listener.send(wake_action(wake)), schedule=schedule,
                       clock=time.time)
    pool = IdlePool(client, send=lambda action: listener.send(action),
                    members=lambda: [m.name for m in picture.members.values() if m.logged_in],
                    clock=time.time) if s.cluster.peer_nodes else None     # one node: app_queue's own order
    service = MonitorService(picture, store, publisher, ctx.clock.now, waker, pool)
    user, secret = ami_login(s, ctx.secrets.for_ami("monitor"))
    listener = AmiListener(s.asterisk.ami_bind, s.asterisk.ami_port, user, secret, EVENTS, service.on_event,
                           service.on_status)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(store.run()), asyncio.create_task(service.run_publisher()),
             asyncio.create_task(service.run_refresher(REFRESH_SECONDS)),
             asyncio.create_task(service.run_pool(POOL_SECONDS)),
             asyncio.create_task(Heartbeat.from_env().run())]     # from the loop: a blocked loop is seen
    log.info("monitor starting on node %s: AMI %s:%d, Redis %s, clock %s", s.cluster.node, s.asterisk.ami_bind,
             s.asterisk.ami_port, redact_url(ctx.redis_url), ctx.clock.now().isoformat())
    listener.start()
    await stop.wait()
    listener.close()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(service.drain(), 10)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await publisher.close()
    log.info("monitor stopped")


def main() -> None:
    run_service("monitor", amain)
