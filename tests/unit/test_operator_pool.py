"""One idle order for a cluster's operators (monitor/pool.py), against a real Redis: a call ended on one node
moves the operator to the back of the order on every node."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from hotline.domain.vocabulary import LAST_CALL_KEY
from monitor.pool import IdlePool, penalty_action, ranks
from tests.support.redis_server import redis_server


def test_the_longest_idle_comes_first_and_never_called_before_all() -> None:
    assert ranks({"op-a": 100.0, "op-b": 50.0}, ["op-a", "op-b", "op-c"]) == {"op-c": 0, "op-b": 1, "op-a": 2}
    assert ranks({}, ["op-b", "op-a"]) == {"op-a": 0, "op-b": 1}       # ties: by name, the same on every node
    assert penalty_action("op-a", 2) == {"Action": "QueuePenalty", "Interface": "PJSIP/op-a", "Penalty": "2",
                                         "Queue": "hotline"}


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[str]:
    with redis_server(tmp_path) as url:
        yield url


def test_a_call_ended_on_one_node_reorders_the_other(server: str) -> None:
    async def scenario() -> tuple[list[dict[str, str]], list[dict[str, str]], int]:
        clients = [aioredis.from_url(server), aioredis.from_url(server)]
        sent_a: list[dict[str, str]] = []
        sent_b: list[dict[str, str]] = []
        members = ["op-a", "op-b"]
        t = [1000.0]
        node_a = IdlePool(clients[0], sent_a.append, lambda: members, lambda: t[0])
        node_b = IdlePool(clients[1], sent_b.append, lambda: members, lambda: t[0])
        await node_a.align()
        await node_b.align()
        sent_a.clear()
        sent_b.clear()
        await node_a.call_ended("op-a")      # op-a's call on node a ended: op-b is now the longest idle
        unchanged = await node_a.align()
        await node_b.align()
        stored = await clients[0].hgetall(LAST_CALL_KEY)
        for c in clients:
            await c.aclose()
        assert stored == {b"op-a": b"1000.000"}
        return sent_a, sent_b, unchanged
    sent_a, sent_b, unchanged = asyncio.run(scenario())
    expected = [penalty_action("op-a", 1), penalty_action("op-b", 0)]
    assert sorted(sent_a, key=str) == sorted(expected, key=str) == sorted(sent_b, key=str)
    assert unchanged == 0        # nothing sent again while the order holds


def test_without_redis_the_queue_falls_back_to_its_own_order() -> None:
    sent: list[dict[str, str]] = []
    pool = IdlePool(object(), sent.append, lambda: ["op-a", "op-b"], lambda: 0.0)
    pool.applied.update({"op-a": 1, "op-b": 0})
    assert pool.neutral() == 1 and sent == [penalty_action("op-a", 0)]
    assert pool.neutral() == 0       # nothing sent again
