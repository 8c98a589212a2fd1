"""Several Asterisk nodes on one database: each node's reconciler touches only its own calls, and a node
declared dead (unseen for ``[cluster] dead_after``) has its open calls closed by one survivor, once.

The ARI apps run on the fake ARI client (tests/support/fake_ari.py) over a real database, SQLite and
PostgreSQL, as several nodes sharing it would.
"""
from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ari_app.cluster import NodeWatch
from hotline.adapters.db.cluster import ClusterRepository
from hotline.adapters.db.repository import CallRepository
from hotline.config.settings import load_settings
from hotline.domain.vocabulary import Disposition
from tests.support.ari_app import OPEN, AppUnderTest, build_app
from tests.support.fake_ari import stasis_channel

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)     # the real clock the nodes beat on (tests give their own)
DEAD_AFTER = 30.0


def _rec(root: Path, call_id: str) -> Path:
    return root / "2026" / "11" / "25" / f"{call_id}.wav"


def _open_call(repo: CallRepository, root: Path, call_id: str, node: str = "main",
               disposition: str = Disposition.IN_PROGRESS) -> None:
    """A call its node's app left open in the log (``repo``'s node is the row's)."""
    repo.start_call(call_id, channel_id=call_id, caller="0912345678", dialled="1022", started_at=OPEN,
                    answered_at=OPEN, recording_file=str(_rec(root, call_id)))
    repo.update(call_id, node=node, disposition=disposition)


def _message(root: Path, call_id: str, seconds: float = 5.0) -> Path:
    """A message Asterisk finished writing for ``call_id`` (8 kHz 16-bit mono, header closed)."""
    path = root / "2026" / "11" / "25" / f"{call_id}.voicemail.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"\x00\x01" * int(8000 * seconds)
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
    path.write_bytes(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + fmt + b"data"
                     + struct.pack("<I", len(data)) + data)
    return path


def _row(repo: CallRepository, call_id: str) -> dict[str, Any]:
    row = repo.get(call_id)
    assert row is not None, call_id
    return row


def _nodes(tmp_path: Path, database_url: str, names: tuple[str, ...],
           scenario: Callable[..., Awaitable[None]]) -> None:
    """Run ``scenario(*apps)``: one app per node name, all on ``database_url`` and one recordings root."""
    async def main() -> None:
        apps = [build_app(tmp_path / name, node=name, database_url=database_url, recordings=tmp_path / "recordings")
                for name in names]
        try:
            await scenario(*apps)
        finally:
            for t in apps:
                await t.close()
    asyncio.run(main())


def _watch(t: AppUnderTest, clock: list[datetime]) -> NodeWatch:
    return NodeWatch(ClusterRepository(t.repo.sessions), t.app.reconciler, t.ctx.settings.cluster.node,
                     beat_seconds=5, dead_after=DEAD_AFTER, clock=lambda: clock[0])


def test_the_node_comes_from_the_settings_or_hotline_node(tmp_path: Path) -> None:
    import socket
    assert load_settings(env={}).cluster.node == socket.gethostname().split(".")[0]
    assert load_settings(env={"HOTLINE_NODE": "hotline-b"}).cluster.node == "hotline-b"


def test_a_restarted_node_leaves_the_open_calls_of_another_node_alone(tmp_path: Path, database_url: str) -> None:
    """The issue's regression test: node A's app restarts while node B has calls in progress."""
    async def scenario(a: AppUnderTest) -> None:
        root = a.services.recordings_root
        b = CallRepository(a.repo.sessions, node="node-b")
        _open_call(b, root, "b1")
        _open_call(b, root, "b2", "voicemail", Disposition.CLOSED_HOURS)
        _message(root, "b2")                     # B's caller has just finished a message: B logs it
        _open_call(a.repo, root, "a1")           # A's own call, gone while A's app was down
        _open_call(CallRepository(a.repo.sessions), root, "old1")     # logged before nodes were recorded
        a.ari.listed_channels = []               # A's Asterisk shows neither (B's callers are on B's)
        await a.app.reconcile()
        for _ in range(2):
            await a.app.reconciler.run(a.app, periodic=True)
        await a.flush()
        assert _row(a.repo, "a1")["asterisk_node"] == "node-a"
        assert _row(a.repo, "a1")["ended_at"] and _row(a.repo, "old1")["ended_at"]
        for call_id, disposition in (("b1", Disposition.IN_PROGRESS), ("b2", Disposition.CLOSED_HOURS)):
            row = _row(a.repo, call_id)
            assert row["ended_at"] is None and row["disposition"] == disposition, row
            assert row["voicemails"] == [] and row["recording"] is None
        assert "b1" not in a.app.calls and a.ari.asked("hangup") == []
    _nodes(tmp_path, database_url, ("node-a",), scenario)


def test_a_node_in_stasis_elsewhere_is_never_adopted(tmp_path: Path, database_url: str) -> None:
    """Only channels this node's Asterisk lists are adopted; B's row says nothing to A."""
    async def scenario(a: AppUnderTest) -> None:
        root = a.services.recordings_root
        _open_call(CallRepository(a.repo.sessions, node="node-b"), root, "b1")
        a.ari.listed_channels = [stasis_channel("a2", str(_rec(root, "a2")))]
        await a.app.reconcile()
        await a.settle(lambda: "a2" in a.app.calls, "A's own new caller adopted")
        await a.flush()
        assert set(a.app.calls) == {"a2"} and _row(a.repo, "a2")["asterisk_node"] == "node-a"
        assert _row(a.repo, "b1")["ended_at"] is None
    _nodes(tmp_path, database_url, ("node-a",), scenario)


def test_a_dead_nodes_calls_are_closed_by_one_survivor_only_after_dead_after(tmp_path: Path,
                                                                            database_url: str) -> None:
    async def scenario(a: AppUnderTest, b: AppUnderTest, c: AppUnderTest) -> None:
        root = a.services.recordings_root
        clock = [T0]
        watches = {t.ctx.settings.cluster.node: _watch(t, clock) for t in (a, b, c)}
        for w in watches.values():
            await w.beat()
        _open_call(a.repo, root, "a1")
        _open_call(a.repo, root, "a2", "voicemail", Disposition.CLOSED_HOURS)
        _message(root, "a2")
        _open_call(a.repo, root, "a3", "queue", Disposition.TO_QUEUE)
        _open_call(b.repo, root, "b1")
        # A dies (no more beats); B and C go on beating. Up to dead_after, A's calls are untouched.
        for seconds in (5, 15, 25, 30):
            clock[0] = T0 + timedelta(seconds=seconds)
            closed = await asyncio.gather(watches["node-b"].beat(), watches["node-c"].beat())
            assert closed == [[], []], seconds
            assert all(_row(a.repo, c)["ended_at"] is None for c in ("a1", "a2", "a3"))
        # Past dead_after both survivors beat at once: exactly one declares A dead and closes its calls.
        clock[0] = T0 + timedelta(seconds=DEAD_AFTER + 1)
        closed = await asyncio.gather(watches["node-b"].beat(), watches["node-c"].beat())
        assert sorted(map(len, closed)) == [0, 3] and sorted(sum(closed, [])) == ["a1", "a2", "a3"]
        [dead] = [n for n in ClusterRepository(a.repo.sessions).nodes() if n.name == "node-a"]
        assert dead.dead_since is not None and dead.dead_by in ("node-b", "node-c")
        rows = {c: _row(a.repo, c) for c in ("a1", "a2", "a3")}
        assert rows["a1"]["disposition"] == Disposition.NODE_LOST and all(r["ended_at"] for r in rows.values())
        assert rows["a3"]["disposition"] == Disposition.TO_QUEUE          # how far it got is kept
        [vm] = rows["a2"]["voicemails"]
        assert rows["a2"]["disposition"] == Disposition.VOICEMAIL and vm["ticket"]
        # Later beats change nothing: closed once, one message, one ticket; B's own call is B's.
        clock[0] += timedelta(seconds=10)
        assert await asyncio.gather(watches["node-b"].beat(), watches["node-c"].beat()) == [[], []]
        assert len(_row(a.repo, "a2")["voicemails"]) == 1 and _row(a.repo, "b1")["ended_at"] is None
        # A comes back: alive again, and not declared dead before dead_after has passed once more.
        await watches["node-a"].beat()
        [back] = [n for n in ClusterRepository(a.repo.sessions).nodes() if n.name == "node-a"]
        assert back.dead_since is None and back.dead_by is None
    _nodes(tmp_path, database_url, ("node-a", "node-b", "node-c"), scenario)


def test_a_single_node_is_never_declared_dead_by_itself(tmp_path: Path, database_url: str) -> None:
    async def scenario(a: AppUnderTest) -> None:
        clock = [T0]
        watch = _watch(a, clock)
        await watch.beat()
        _open_call(a.repo, a.services.recordings_root, "a1")
        clock[0] = T0 + timedelta(hours=2)       # the node was stopped for two hours
        assert await watch.beat() == []
        assert _row(a.repo, "a1")["ended_at"] is None      # its reconciler closes it, as before
        assert [n.dead_since for n in ClusterRepository(a.repo.sessions).nodes()] == [None]
    _nodes(tmp_path, database_url, ("node-a",), scenario)


def test_claiming_a_dead_node_is_won_once_across_threads(database_url: str) -> None:
    """Many survivors at the same instant (threads, their own connections): one declaration."""
    from concurrent.futures import ThreadPoolExecutor

    from hotline.adapters.db import open_database
    cluster = ClusterRepository(open_database(database_url))
    cluster.beat("dead", T0)
    now = T0 + timedelta(seconds=DEAD_AFTER + 1)
    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(lambda i: cluster.claim_dead(f"survivor-{i}", now, DEAD_AFTER), range(8)))
    assert sorted(map(len, won)) == [0] * 7 + [1]


def test_beats_go_on_while_a_dead_nodes_calls_are_being_closed(database_url: str) -> None:
    """Closing waits for recordings to go quiet; meanwhile this node must keep beating, or the others declare it
    dead and close its live calls (seen on the real cluster before the closing ran beside the beats)."""
    from hotline.adapters.db import open_database
    sessions = open_database(database_url)
    cluster = ClusterRepository(sessions)
    started = datetime.now(UTC)
    cluster.beat("node-dead", started - timedelta(seconds=120))
    CallRepository(sessions, node="node-dead").start_call("lost-1", channel_id="lost-1", caller="0940000071",
                                                          dialled="1022", started_at=started, answered_at=started)
    beats: list[datetime] = []
    release = asyncio.Event()

    class SlowReconciler:
        async def close_lost(self, calls: list[str], disposition: str) -> None:
            await release.wait()          # a recording that stays loud

    class CountingCluster(ClusterRepository):
        def beat(self, node: str, now: datetime) -> bool:
            beats.append(now)
            return super().beat(node, now)

    watch = NodeWatch(CountingCluster(sessions), SlowReconciler(), "node-alive",  # type: ignore[arg-type]
                      beat_seconds=0.05, dead_after=10)

    async def scenario() -> None:
        task = asyncio.create_task(watch.run())
        with contextlib.suppress(TimeoutError):      # 8 beats while the closing is held, within 5 s
            await asyncio.wait_for(_until(lambda: len(beats) >= 8), 5)
        release.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    asyncio.run(scenario())
    assert len(beats) >= 8, f"only {len(beats)} beats in 5 s while the closing waited"


async def _until(condition: Callable[[], bool]) -> None:
    """Return once ``condition`` holds, looking again at every turn of the loop's timers (the caller's
    wait_for gives the deadline)."""
    while not condition():
        await asyncio.sleep(0.01)
