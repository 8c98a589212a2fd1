"""A second ARI application that only listens (subscribeAll): what Asterisk says it played.

Tests read the PlaybackStarted events of a caller's channel, e.g. the digits of a ticket
code read back, straight from Asterisk rather than from the app's own logs.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from .stack import Stack

APP = "test-observer"


class AriEvents:
    def __init__(self, stack: Stack) -> None:
        s = stack.ctx.settings
        self.url = (f"ws://{s.asterisk.http_bind}:{s.asterisk.http_port}/ari/events?app={APP}&subscribeAll=true"
                    f"&api_key={s.asterisk.ari_user}:{stack.ctx.secrets.ari_password}")
        self.events: list[dict[str, Any]] = []
        self._ws: Any = None
        self._thread: threading.Thread | None = None
        self._connected = threading.Event()
        self._error = ""

    def __enter__(self) -> AriEvents:
        self._thread = threading.Thread(target=self._listen, name="ari-events", daemon=True)
        self._thread.start()
        if not self._connected.wait(10):
            raise AssertionError(f"the ARI observer could not connect: {self._error}")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._ws is not None:
            self._ws.close()
        if self._thread is not None:
            self._thread.join(5)

    def _listen(self) -> None:
        try:
            with connect(self.url, open_timeout=10) as ws:
                self._ws = ws
                self._connected.set()
                for message in ws:
                    self.events.append(json.loads(message))
        except (ConnectionClosed, OSError) as exc:
            self._error = repr(exc)

    def played(self, channel_id: str, since: int = 0) -> list[str]:
        """The media URIs Asterisk started playing on ``channel_id``, in order, after the first ``since`` events
        (a playback of several media gives a PlaybackStarted for each one, and a PlaybackContinuing when it
        moves on)."""
        out = []
        for event in list(self.events)[since:]:
            playback = event.get("playback") or {}
            if event.get("type") == "PlaybackStarted" and playback.get("target_uri") == f"channel:{channel_id}":
                out.append(str(playback.get("media_uri", "")))
        return out

    def heard(self, channel_id: str, since: int = 0) -> list[str]:
        """The prompts (file names) played on ``channel_id`` after the first ``since`` events."""
        return [Path(uri).name for uri in self.played(channel_id, since)]

    def of_channel(self, channel_id: str, kind: str) -> list[dict[str, Any]]:
        """The events of type ``kind`` about ``channel_id``: the channel's own, and its recordings' and
        playbacks' (whose target is the channel), in the order Asterisk sent them."""
        target = f"channel:{channel_id}"
        return [event for event in list(self.events) if event.get("type") == kind and (
            (event.get("channel") or {}).get("id") == channel_id
            or (event.get("recording") or event.get("playback") or {}).get("target_uri") == target)]
