"""A small threaded FastAGI server around pyst2's ``AGI`` (the one module that speaks AGI).

pyst2's own ``fastagi`` does not import on Python 3 and its ``AGI()`` installs a
SIGHUP handler, which fails outside the main thread: ``SocketAGI`` skips that and
talks text over the connection's socket.
"""
from __future__ import annotations

import io
import logging
import socketserver
from collections.abc import Callable
from typing import Any

from asterisk.agi import AGI

from hotline.heartbeat import Heartbeat

log = logging.getLogger("agi")

Handler = Callable[["SocketAGI", list[str]], None]


class _Null(io.StringIO):
    def write(self, s: str) -> int:
        return len(s)


class SocketAGI(AGI):
    """pyst2's AGI over a FastAGI socket, without the signal hook or the debug output."""

    def __init__(self, reader: io.TextIOBase, writer: io.TextIOBase) -> None:
        self.stdin, self.stdout, self.stderr = reader, writer, _Null()
        self._got_sighup = False
        self.env: dict[str, str] = {}
        self._get_agi_env()

    @property
    def script(self) -> str:
        """The FastAGI path: agi://host:port/<script>."""
        return str(self.env.get("agi_network_script", "")).strip("/")

    @property
    def args(self) -> list[str]:
        out, n = [], 1
        while f"agi_arg_{n}" in self.env:
            out.append(self.env[f"agi_arg_{n}"])
            n += 1
        return out


class FastAGIServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], routes: dict[str, Handler],
                 heartbeat: Heartbeat | None = None) -> None:
        """``heartbeat``: beaten from the serve loop (default: the one ``hotline up``'s supervisor names)."""
        self.routes = routes
        self.heartbeat = heartbeat if heartbeat is not None else Heartbeat.from_env()
        super().__init__(address, _RequestHandler)

    def service_actions(self) -> None:
        """Called by serve_forever on every turn of its loop: a serve loop that stops turning stops the beat."""
        self.heartbeat.beat()


class _RequestHandler(socketserver.StreamRequestHandler):
    server: FastAGIServer

    def handle(self) -> None:
        reader = io.TextIOWrapper(self.rfile, encoding="utf-8", newline="\n")  # type: ignore[type-var]
        writer = io.TextIOWrapper(self.wfile, encoding="utf-8", write_through=True)  # type: ignore[type-var]
        agi = SocketAGI(reader, writer)
        if not agi.env:     # a health check that connected and left
            return
        route = self.server.routes.get(agi.script)
        if route is None:
            log.warning("unknown AGI script %r from %s", agi.script, agi.env.get("agi_channel"))
            _set_status(agi, "UNKNOWN_SCRIPT")
            return
        try:
            route(agi, agi.args)
        except Exception:
            log.exception("AGI %s failed on %s", agi.script, agi.env.get("agi_channel"))
            _set_status(agi, "ERROR")


def _set_status(agi: Any, value: str) -> None:
    try:
        agi.set_variable("HOTLINE_AGI", value)
    except Exception:  # the channel may be gone; nothing more to say to it
        pass
