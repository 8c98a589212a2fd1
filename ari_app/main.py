"""Composition root of the ARI (Stasis) app: ``python -m ari_app``."""
from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from hotline.adapters.asterisk_config import sounds_dir
from hotline.adapters.db.cluster import ClusterRepository
from hotline.adapters.db.repository import CallRepository
from hotline.adapters.db.spool import Spool
from hotline.adapters.disk import message_space_problem
from hotline.adapters.jobqueue import JobQueue, connect
from hotline.context import load_context, run_service
from hotline.domain.flows.engine import FlowEngine
from hotline.heartbeat import Heartbeat, LinkBeat, link_file

from .app import HotlineApp
from .client import AriClient
from .cluster import NodeWatch
from .reconcile import Reconciler
from .services import CallLog, CallServices

log = logging.getLogger("ari_app")


async def amain() -> None:
    ctx = load_context()
    s = ctx.settings
    sessions = await asyncio.to_thread(ctx.sessions, tolerate_outage=True)     # callers go on without it
    ari = AriClient(f"http://{s.asterisk.http_bind}:{s.asterisk.http_port}", s.asterisk.ari_user,
                    ctx.secrets.ari_password, s.asterisk.ari_app)
    spool = await asyncio.to_thread(Spool, s.call_log_spool)
    call_log = CallLog(CallRepository(sessions, node=s.cluster.node), spool, deadline=s.database.write_deadline,
                       retry_max=s.database.retry_max_seconds)
    call_log.start()
    engine = FlowEngine(ctx.flow, ctx.directory, lambda: ctx.hours.closed_reason(ctx.clock.now()),
                        lambda: _no_message_space(s.paths.recordings_root, s.recordings.min_free_mb))
    tickets = ctx.tickets(sessions)
    jobs = JobQueue(connect(ctx.redis_url), s.transcription.queue, sessions, ctx.clock.offset_seconds,
                    tickets.deadlines)
    services = CallServices(settings=s, ari=ari, engine=engine, log=call_log, now=ctx.clock.now,
                            prompts_dir=s.paths.state_dir / "prompts", tickets=tickets, jobs=jobs,
                            sounds_dir=sounds_dir(s))
    reconciler = Reconciler(services)
    watch = NodeWatch(ClusterRepository(sessions), reconciler, s.cluster.node, beat_seconds=s.cluster.beat_seconds,
                      dead_after=s.cluster.dead_after)
    app = HotlineApp(services, reconciler, watch, LinkBeat(link_file(s.call_log_spool)))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("hotline ARI app starting on node %s: flow %s, clock %s", s.cluster.node, ctx.flow.source,
             ctx.clock.now().isoformat())
    beat = asyncio.create_task(Heartbeat.from_env().run())     # from the loop: a blocked loop is seen
    await app.run_forever(stop)
    beat.cancel()
    await call_log.close()     # what the database has not taken stays in the spool for the next start


def _no_message_space(root: Path, min_free_mb: int) -> str | None:
    problem = message_space_problem(root, min_free_mb)
    if problem:
        log.error("no message can be taken: %s", problem)
    return problem


def main() -> None:
    run_service("ari_app", amain)
