"""One pool of operators across a cluster's nodes: the longest-idle free operator is rung first, whichever
node the caller is on (README: Scaling out).

app_queue orders operators by its own memory of the calls it put through (``leastrecent``): an operator who
just finished a call on node A looks idle since ever to node B. So the monitors share each operator's last
call end in Redis (LAST_CALL_KEY: operator -> epoch seconds, written by the node whose queue the call came
from), and each monitor gives its own queue's members a penalty equal to their rank by that time (the
longest idle 0). app_queue tries the lowest penalty first among the operators it may ring, so every node
rings in one order. It runs on a cluster's nodes only ([cluster] peers); one node keeps app_queue's own order.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hotline.adapters.ami import queue_penalty
from hotline.domain.vocabulary import LAST_CALL_KEY, QUEUE_NAME

log = logging.getLogger("monitor.pool")


def ranks(last_calls: Mapping[str, float], operators: Iterable[str]) -> dict[str, int]:
    """Each operator's place in the idle order: 0 for the one whose last call ended longest ago (or never)."""
    order = sorted(operators, key=lambda name: (last_calls.get(name, 0.0), name))
    return {name: place for place, name in enumerate(order)}


def penalty_action(operator: str, penalty: int, queue: str = QUEUE_NAME) -> dict[str, str]:
    """The AMI action that sets an operator's penalty in the queue."""
    return queue_penalty(queue, f"PJSIP/{operator}", penalty)


@dataclass
class IdlePool:
    """Keeps this node's penalties in the cluster's idle order.

    Args:
        store: where the operators' last call ends are shared: a ``redis.asyncio`` client (``hset``,
            ``hgetall``).
        send: sends an AMI action on the monitor's connection.
        members: the logged-in operators of this node's queue now.
        clock: real time in seconds.
    """

    store: Any
    send: Callable[[dict[str, str]], None]
    members: Callable[[], Iterable[str]]
    clock: Callable[[], float]
    applied: dict[str, int] = field(default_factory=dict)

    async def call_ended(self, operator: str) -> None:
        """An operator's call from this node's queue ended (AgentComplete): the cluster learns it, then the
        penalties follow."""
        await self.store.hset(LAST_CALL_KEY, operator, f"{self.clock():.3f}")
        await self.align()

    def forget(self) -> None:
        """After a reconnection, or a member added: the queue's penalties are not known; set them all again."""
        self.applied.clear()

    def neutral(self) -> int:
        """Redis away: every penalty back to 0, so app_queue's own order serves meanwhile (stale ranks would send
        every call to one operator); returns how many were set. ``align`` takes over once Redis answers."""
        changed = 0
        for name in list(self.members()):
            if self.applied.get(name, 0) != 0:
                self.send(penalty_action(name, 0))
                changed += 1
            self.applied[name] = 0
        return changed

    async def align(self) -> int:
        """Set the penalties that differ from the idle order; returns how many were set."""
        raw = await self.store.hgetall(LAST_CALL_KEY)
        last = {k.decode(): float(v) for k, v in raw.items()}
        wanted = ranks(last, self.members())
        changed = 0
        for name, penalty in wanted.items():
            if self.applied.get(name) != penalty:
                self.send(penalty_action(name, penalty))
                self.applied[name] = penalty
                changed += 1
        if changed:
            log.info("idle order: %s", ", ".join(sorted(wanted, key=wanted.__getitem__)))
        return changed
