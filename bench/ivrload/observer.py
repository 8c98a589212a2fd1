"""A second ARI application that only watches: every channel's answer and first prompt, live channels.

It connects as its own app (``bench-observer``) with ``subscribeAll=true``, so it sees
the events of every channel, in the hotline's Stasis app or in plain dialplan, without
taking part in any call. Times are Asterisk's own event timestamps (millisecond
precision), so the observer's own delays do not count.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

APP = "bench-observer"
#: Dialplan applications that start the baseline's first prompt.
PROMPT_APPS = {"Playback", "Background", "Read"}
#: The prompt [hotline-busy] plays to a caller turned away (past [capacity] max_calls).
BUSY_PROMPT = "all_lines_busy"


@dataclass
class ChannelTimes:
    """What one caller channel went through, in epoch seconds (Asterisk's clock)."""

    label: str | None
    exten: str
    created: float
    up: float | None = None
    stasis: float | None = None
    first_prompt: float | None = None
    destroyed: float | None = None
    queued: float | None = None          # entered app_queue (dialplan app Queue)
    left_queue: float | None = None      # left app_queue's wait: bridged to an operator, or another app
    bridged: float | None = None         # first bridge entered after ``queued`` (the operator answered)
    caller: str = ""                     # the caller's number (the overload run's probes have their own)
    busy: float | None = None            # the "all lines are busy" message started (turned away, never Up)

    def waiting(self) -> tuple[float, float] | None:
        """The interval the caller waited in the queue for an operator (None if never queued)."""
        if self.queued is None:
            return None
        ends = [t for t in (self.bridged, self.left_queue, self.destroyed) if t is not None]
        return self.queued, min(ends) if ends else float("inf")

    def answer_to_prompt_ms(self) -> float | None:
        if self.up is None or self.first_prompt is None:
            return None
        return (self.first_prompt - self.up) * 1000

    def stasis_to_prompt_ms(self) -> float | None:
        if self.stasis is None or self.first_prompt is None:
            return None
        return (self.first_prompt - self.stasis) * 1000


@dataclass
class Sample:
    at: float            # time.time()
    label: str | None
    channels: int


@dataclass
class Observer:
    """Runs in a thread of its own (an asyncio loop); the bench reads its figures between runs."""

    base_url: str
    user: str
    password: str
    interval: float = 0.5
    label: str | None = None                          # the run new channels belong to
    channels: dict[str, ChannelTimes] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    connected: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    # -- lifecycle (called from the bench's thread) ------------------------------------
    def start(self, timeout: float = 10.0) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="observer", daemon=True)
        self._thread.start()
        if not self.connected.wait(timeout):
            raise RuntimeError(f"the observer could not connect to ARI: {self.errors[-1:] or 'timeout'}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def of_run(self, label: str) -> list[ChannelTimes]:
        return [c for c in list(self.channels.values()) if c.label == label]

    def peak(self, label: str) -> int:
        return max((s.channels for s in list(self.samples) if s.label == label), default=0)

    def live(self) -> int:
        """Channels alive now, by the last sample."""
        return self.samples[-1].channels if self.samples else 0

    # -- the loop -----------------------------------------------------------------------
    async def _main(self) -> None:
        auth = aiohttp.BasicAuth(self.user, self.password)
        async with aiohttp.ClientSession(auth=auth, timeout=aiohttp.ClientTimeout(total=None)) as session:
            url = self.base_url.replace("http", "ws", 1) + "/ari/events"
            try:
                async with session.ws_connect(url, params={"app": APP, "subscribeAll": "true"}) as ws:
                    self.connected.set()
                    tasks = [asyncio.create_task(self._listen(ws)), asyncio.create_task(self._sample(session))]
                    while not self._stop.is_set():
                        await asyncio.sleep(0.1)
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
            except (aiohttp.ClientError, OSError) as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")

    async def _listen(self, ws: Any) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            try:
                self.on_event(json.loads(msg.data))
            except (KeyError, ValueError) as exc:
                self.errors.append(f"event not understood: {exc}")

    async def _sample(self, session: aiohttp.ClientSession) -> None:
        url = f"{self.base_url}/ari/channels"
        while True:
            started = time.monotonic()
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as resp:
                    live = len(await resp.json())
                self.samples.append(Sample(time.time(), self.label, live))
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                self.errors.append(f"GET /channels: {exc!r}")
            await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))

    # -- events -------------------------------------------------------------------------
    def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        at = _epoch(event.get("timestamp"))
        if kind == "PlaybackStarted":
            target = event["playback"].get("target_uri", "")
            times = self.channels.get(target.removeprefix("channel:"))
            if times is not None and times.first_prompt is None:
                times.first_prompt = at
            return
        channel = event.get("channel")
        if not channel:
            return
        times = self.channels.get(channel["id"])
        if kind == "ChannelCreated" or times is None:
            if times is None:
                times = ChannelTimes(self.label, channel.get("dialplan", {}).get("exten", ""),
                                     _epoch(channel.get("creationtime")) or at,
                                     caller=channel.get("caller", {}).get("number", ""))
                self.channels[channel["id"]] = times
        if kind == "ChannelStateChange" and channel.get("state") == "Up" and times.up is None:
            times.up = at
        elif kind == "ChannelDialplan":
            app = event.get("dialplan_app")
            if app == "Queue" and times.queued is None:
                times.queued = at
            elif times.queued is not None and times.left_queue is None and app != "Queue":
                times.left_queue = at
            if app == "Playback" and BUSY_PROMPT in event.get("dialplan_app_data", ""):
                times.busy = at
                return
            if app == "Stasis" and times.stasis is None:
                times.stasis = at
            elif app in PROMPT_APPS and times.first_prompt is None:
                times.first_prompt = at
        elif kind == "ChannelEnteredBridge":
            if times.queued is not None and times.bridged is None:
                times.bridged = at
        elif kind == "ChannelDestroyed":
            times.destroyed = at


def _epoch(stamp: str | None) -> float:
    return datetime.fromisoformat(stamp).timestamp() if stamp else time.time()
