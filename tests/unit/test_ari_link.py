"""The ARI app says it holds its WebSocket (hotline/heartbeat.py's LinkBeat): a file touched while connected,
removed when the WebSocket closes, which the health checks read instead of asking Asterisk with a CLI command."""
from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ari_app.app import HotlineApp
from hotline.heartbeat import LINK_STALE as STALE
from hotline.heartbeat import LinkBeat, link_age, link_file


def test_the_file_is_fresh_while_touched_and_gone_once_cleared(tmp_path: Path) -> None:
    link = LinkBeat(link_file(tmp_path))
    assert link_age(link.path, time.time()) is None
    link.touch()
    said = link.path.stat().st_mtime
    assert link_age(link.path, said + 2) == pytest.approx(2)
    os.utime(link.path, (said - 10, said - 10))
    link.touch()                                         # a touch brings the time forward
    assert link.path.stat().st_mtime >= said
    link.clear()
    link.clear()                                         # twice: no error
    assert link_age(link.path, time.time()) is None


def test_a_link_that_cannot_be_written_never_stops_the_app(tmp_path: Path) -> None:
    link = LinkBeat(tmp_path / "missing" / "ari-connected")
    link.touch()
    link.clear()
    assert not link.path.exists()


class OneWebSocket:
    """The app's ARI client with one WebSocket that stays open until ``close`` (no event comes)."""

    app = "hotline"

    def __init__(self) -> None:
        self.closed = asyncio.Event()

    @asynccontextmanager
    async def _ws(self) -> AsyncIterator[object]:
        yield object()

    def websocket(self) -> Any:
        return self._ws()

    async def events(self, _ws: object) -> AsyncIterator[dict[str, Any]]:
        await self.closed.wait()
        return
        yield {}        # an async generator that yields nothing


class NoReconcile:
    async def run(self, _app: object, periodic: bool = False) -> None:
        return None


def test_the_app_says_connected_while_its_websocket_is_open_and_not_after(tmp_path: Path) -> None:
    ari = OneWebSocket()
    services = SimpleNamespace(ari=ari, settings=SimpleNamespace(asterisk=SimpleNamespace(reconcile_seconds=60)))
    link = LinkBeat(link_file(tmp_path), every=0.05)
    app = HotlineApp(services, NoReconcile(), link=link)     # type: ignore[arg-type]

    async def scenario() -> tuple[float | None, float | None]:
        serving = asyncio.ensure_future(app._serve(asyncio.Event()))
        await asyncio.wait_for(app.connected.wait(), 2)
        await asyncio.sleep(0.2)
        while_open = link_age(link.path, time.time())
        ari.closed.set()                                # Asterisk closed the WebSocket
        await asyncio.wait_for(serving, 2)
        return while_open, link_age(link.path, time.time())
    while_open, after = asyncio.run(scenario())
    assert while_open is not None and while_open < STALE
    assert after is None
