"""A UDP socket that records the RTP sent to it: put its port in a desk's SDP to see what arrives."""
from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass

from tooling.sipp.pcap import DTMF_EVENTS

_EVENT_KEYS = {code: key for key, code in DTMF_EVENTS.items()}


@dataclass(frozen=True)
class ReceivedRtp:
    """One RTP packet as received."""

    at: float  # time.monotonic() on arrival
    payload_type: int
    marker: bool
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes

    @property
    def event(self) -> tuple[str, bool, int] | None:
        """For a telephone-event packet: (key, end bit, duration)."""
        if self.payload_type != 101 or len(self.payload) < 4:
            return None
        code, flags, duration = struct.unpack("!BBH", self.payload[:4])
        return _EVENT_KEYS.get(code, "?"), bool(flags & 0x80), duration


class RtpSink:
    """Listen on ``host``:``port`` (0 = any free port) in a thread and keep every RTP packet."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.packets: list[ReceivedRtp] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, name=f"rtp-sink-{self.port}", daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if len(data) < 12 or data[0] >> 6 != 2:
                continue
            b0, b1, seq, timestamp, ssrc = struct.unpack("!BBHII", data[:12])
            packet = ReceivedRtp(time.monotonic(), b1 & 0x7F, bool(b1 & 0x80), seq, timestamp, ssrc,
                                 data[12 + 4 * (b0 & 0x0F):])
            with self._lock:
                self.packets.append(packet)

    def snapshot(self) -> list[ReceivedRtp]:
        """The packets received so far."""
        with self._lock:
            return list(self.packets)

    def keys(self) -> str:
        """The DTMF keys received, one per distinct event timestamp, in order."""
        seen: dict[int, str] = {}
        for packet in self.snapshot():
            event = packet.event
            if event is not None and packet.timestamp not in seen:
                seen[packet.timestamp] = event[0]
        return "".join(seen.values())

    def wait_for_keys(self, keys: str, timeout: float) -> str:
        """Wait until at least ``len(keys)`` keys arrived (TimeoutError otherwise); return them."""
        deadline = time.monotonic() + timeout
        while len(self.keys()) < len(keys):
            if time.monotonic() > deadline:
                raise TimeoutError(f"RTP sink :{self.port} got keys {self.keys()!r}, expected {keys!r}")
            time.sleep(0.02)
        return self.keys()

    def close(self) -> None:
        """Stop listening."""
        self._stop.set()
        self._thread.join(2.0)
        self.sock.close()

    def __enter__(self) -> RtpSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
