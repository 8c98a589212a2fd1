"""A stand-in for the channels' sending APIs (the SMS gateway, Zalo OA's message API, Facebook's Send API): a
real HTTP server on loopback, in a thread, that keeps every POST it receives and answers as the real API does;
the real ones cannot be reached from a test. Told to, it fails the next requests: HTTP 500, or Zalo's 200 with
``{"error": -216}`` (access token invalid).

    with standin_gateway() as gw:
        settings: send_url = gw.url("/sms"), api_url = gw.url("/zalo"), gw.url("/facebook")
        ... gw.posts  # [Post(path, headers, body)]
"""
from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Post:
    """One request the stand-in received: its path (with the query), headers (names in lower case), JSON body."""

    path: str
    headers: dict[str, str]
    body: Any


class StandinGateway:
    """What the stand-in received and how it answers next; ``fail(n, how)`` makes the next ``n`` POSTs fail."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self._failing: list[str] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def fail(self, times: int = 1, how: str = "http500") -> None:
        """The next ``times`` POSTs fail: ``http500`` (500 and a text) or ``zalo-216`` (Zalo's error answer)."""
        assert how in ("http500", "zalo-216")
        with self._lock:
            self._failing += [how] * times

    def received(self, path: str) -> list[Post]:
        with self._lock:
            return [p for p in self.posts if p.path.split("?")[0] == path]

    def answer(self, post: Post) -> tuple[int, Any]:
        """(status, JSON) for ``post``: its failure if one is due, else what the real API says on success."""
        with self._lock:
            self.posts.append(post)
            how = self._failing.pop(0) if self._failing else None
            n = next(self._ids)
        if how == "http500":
            return 500, {"error": "stand-in told to fail"}
        if how == "zalo-216":
            return 200, {"error": -216, "message": "Access token is invalid"}
        path = post.path.split("?")[0]
        if path.startswith("/zalo"):
            return 200, {"error": 0, "message": "Success", "data": {"message_id": f"zmid-{n}"}}
        if path.startswith("/facebook"):
            recipient = (post.body or {}).get("recipient", {}).get("id") if isinstance(post.body, dict) else None
            return 200, {"recipient_id": recipient, "message_id": f"m_{n}"}
        return 200, {"id": f"sms-{n}"}


def _handler(gateway: StandinGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            size = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(size)
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            status, answer = gateway.answer(Post(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: Any) -> None:
            return
    return Handler


@contextmanager
def standin_gateway() -> Iterator[StandinGateway]:
    """A stand-in gateway listening on a free loopback port until the block ends."""
    gateway = StandinGateway()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(gateway))
    gateway.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="standin-gateway", daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
