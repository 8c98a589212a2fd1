"""How ``hotline console`` serves the console with waitress: threads for the capped live streams and the
requests beside them, and idle connections closed.

A wallboard stream holds one waitress thread while it is open; ``[console] max_streams`` of them are allowed
(operator_console.wallboard), so the server gets that many threads plus ``REQUEST_THREADS`` for sign-in, pages
and the API, which the streams can never take. A connection with no request in flight and no traffic for
``[console] idle_seconds`` is closed (checked every ``idle_seconds / 5``, at most every 10 s), so idle
sockets cannot hold the server's ``CONNECTIONS`` for long; a stream in flight is never closed as idle.
A connection with a request in flight is still read (``channel_request_lookahead``), so a stream whose
screen was closed sees it within a second or two and gives its slot back.
"""
from __future__ import annotations

from typing import Any

from hotline.config.schema import ConsoleSettings

REQUEST_THREADS = 16     # threads no stream can take
CONNECTIONS = 200        # open connections at once (waitress stops accepting beyond, until some close)


def waitress_options(console: ConsoleSettings) -> dict[str, Any]:
    """The arguments of waitress's ``serve``/``create_server`` (besides the app, host and port)."""
    return {"threads": console.max_streams + REQUEST_THREADS, "connection_limit": CONNECTIONS,
            "channel_timeout": console.idle_seconds, "cleanup_interval": max(1, min(10, console.idle_seconds // 5)),
            "channel_request_lookahead": 1, "asyncore_use_poll": True, "ident": "hotline-1022"}
