"""A TCP proxy of the tests' own, to break a connection the way a network does: silently.

``freeze()`` stops forwarding on every connection open at that moment without closing anything (no
FIN, no RST: a cable pulled, a firewall dropping state, a NAT timing out); the peers learn of it only
by their own timeouts. Connections opened afterwards are forwarded again, as a network that came back.
"""
from __future__ import annotations

import selectors
import socket
import threading
from types import TracebackType


class TcpProxy:
    """Forwards 127.0.0.1:``port`` (chosen free) to ``target``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket, threading.Event]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._listener.close()
        with self._lock:
            for a, b, _frozen in self._pairs:
                a.close()
                b.close()

    def freeze(self) -> int:
        """Stop forwarding on the connections open now (they stay open); returns how many."""
        with self._lock:
            for _a, _b, frozen in self._pairs:
                frozen.set()
            return len(self._pairs)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            frozen = threading.Event()
            with self._lock:
                self._pairs.append((client, upstream, frozen))
            threading.Thread(target=self._pump, args=(client, upstream, frozen), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket, frozen: threading.Event) -> None:
        sel = selectors.DefaultSelector()
        sel.register(a, selectors.EVENT_READ, b)
        sel.register(b, selectors.EVENT_READ, a)
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.2):
                    if frozen.is_set():
                        continue        # the bytes wait unread: nothing reaches the other side
                    src: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = src.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
                if frozen.is_set():
                    frozen.wait()       # forwards nothing again, closes nothing
                    self._stop.wait()
                    return
        except OSError:
            return
        finally:
            sel.close()
            if not frozen.is_set():
                a.close()
                b.close()
