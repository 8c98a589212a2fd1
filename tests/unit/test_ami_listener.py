"""The AMI listener checks that its pings are answered (issue 12, item 3).

A small AMI server of the test's own (asyncio, the AMI's text protocol): it accepts the login and
answers QueueStatus, and answers pings or not. One that stops answering while keeping the TCP
connection open (an Asterisk that is stopped, a link gone silent) must be left and connected to again.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hotline.adapters.ami.listener import AmiListener


class AmiServer:
    """Counts logins and pings; ``deaf`` makes it read pings without answering them."""

    def __init__(self) -> None:
        self.logins: list[float] = []
        self.pings = 0
        self.deaf = False
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        try:
            while True:
                block = await reader.readuntil(b"\r\n\r\n")
                headers = dict(line.split(": ", 1) for line in block.decode().split("\r\n") if ": " in line)
                action, action_id = headers.get("Action", "").lower(), headers.get("ActionID", "")
                if action == "login":
                    self.logins.append(time.monotonic())
                elif action == "ping":
                    self.pings += 1
                    if self.deaf:
                        continue
                writer.write(f"Response: Success\r\nActionID: {action_id}\r\nMessage: ok\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[AmiServer]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()


async def _until(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():      # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def _listening(deaf_after_login: bool, watch_seconds: float) -> tuple[AmiServer, AmiListener]:
    async with AmiServer().running() as server:
        listener = AmiListener("127.0.0.1", server.port, "hotline", "secret", [], lambda _e: None,
                               lambda _s: None, ping_interval=1)
        listener.start()
        try:
            await _until(lambda: len(server.logins) == 1, 5)
            server.deaf = deaf_after_login
            began = time.monotonic()
            await _until(lambda: time.monotonic() - began >= watch_seconds
                         or (deaf_after_login and len(server.logins) > 1), watch_seconds + 1)
        finally:
            listener.close()
        return server, listener


def test_a_silent_ami_is_left_and_connected_to_again_after_one_unanswered_ping() -> None:
    server, listener = asyncio.run(_listening(deaf_after_login=True, watch_seconds=6))
    assert len(server.logins) == 2, server.logins
    # Deaf from the first login: the first ping (1 s) unanswered at 2 s, a new connection 1 s later.
    assert server.logins[1] - server.logins[0] < 4.5
    assert listener.manager is not None and listener.manager.unanswered_pings >= 1


def test_an_ami_that_answers_its_pings_is_kept() -> None:
    server, listener = asyncio.run(_listening(deaf_after_login=False, watch_seconds=4))
    assert len(server.logins) == 1 and server.pings >= 3
    assert listener.manager is not None and listener.manager.unanswered_pings == 0
