"""This node among the nodes sharing the database: its sign of life, and the calls of a node that died.

While the app is connected to its Asterisk, every ``[cluster] beat_seconds`` it writes that its node is
alive (``cluster_nodes.last_seen``), then declares dead any other node unseen for ``[cluster] dead_after``
seconds (one survivor wins each declaration: ``ClusterRepository.claim_dead``) and closes the open calls of
the nodes it declared, through the reconciler's closing path (a message on disk becomes a ticket, the
recording is finished). A node's calls are never touched before it is declared dead; a node that beats
again is alive again. A node whose app cannot reach its Asterisk writes no beat: it is not serving calls.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from hotline.adapters.db.cluster import ClusterRepository
from hotline.domain.vocabulary import Disposition

from .reconcile import Reconciler

log = logging.getLogger("ari_app.cluster")


def real_now() -> datetime:
    return datetime.now(UTC)


class NodeWatch:
    """The beat of ``node`` and its watch over the other nodes.

    Args:
        cluster: the nodes' table.
        reconciler: closes a dead node's calls (its ``close_lost``).
        node: this node's name (``[cluster] node``).
        beat_seconds: how often ``run`` beats.
        dead_after: seconds unseen after which another node is declared dead.
        clock: the real time (UTC); tests give their own.
    """

    def __init__(self, cluster: ClusterRepository, reconciler: Reconciler, node: str, *, beat_seconds: float,
                 dead_after: float, clock: Callable[[], datetime] = real_now) -> None:
        self.cluster, self.reconciler, self.node = cluster, reconciler, node
        self.beat_seconds, self.dead_after, self.clock = beat_seconds, dead_after, clock

    async def beat(self) -> list[str]:
        """One beat: this node alive, other nodes declared dead when their time is up, and the open calls
        of the nodes this node declared closed; returns the call ids it closed."""
        await self._beat_only()
        return await self._close_declared()

    async def run(self) -> None:
        """Beat every ``beat_seconds`` until cancelled; a failed beat (the database away) is tried again. The
        dead nodes' calls are closed beside the beats, never in their way: closing waits for recordings to go
        quiet (seconds), and a node whose beats stopped meanwhile would itself be declared dead (seen on the
        cluster: node b, busy closing node a's calls for 15 s, was declared dead by a, which closed b's live
        calls)."""
        closing: asyncio.Task[list[str]] | None = None
        while True:
            try:
                await self._beat_only()
                if closing is None or closing.done():
                    closing = asyncio.create_task(self._close_declared(), name="close-dead-nodes")
            except Exception:
                log.exception("node %s: beat failed; trying again in %.0f s", self.node, self.beat_seconds)
            await asyncio.sleep(self.beat_seconds)

    async def _beat_only(self) -> None:
        if await asyncio.to_thread(self.cluster.beat, self.node, self.clock()):
            log.warning("node %s was declared dead by another node and is alive again", self.node)
        for dead in await asyncio.to_thread(self.cluster.claim_dead, self.node, self.clock(), self.dead_after):
            log.warning("node %s not seen for %.0f s: declared dead by node %s; closing its calls", dead,
                        self.dead_after, self.node)

    async def _close_declared(self) -> list[str]:
        try:
            closed: list[str] = []
            for dead in await asyncio.to_thread(self.cluster.declared_by, self.node):
                calls = await asyncio.to_thread(self.cluster.open_calls_of, dead)
                if calls:
                    await self.reconciler.close_lost(calls, Disposition.NODE_LOST)
                    log.info("node %s: %d open calls of dead node %s closed", self.node, len(calls), dead)
                    closed += calls
            return closed
        except Exception:
            log.exception("node %s: closing a dead node's calls failed; trying again at the next beat", self.node)
            return []
