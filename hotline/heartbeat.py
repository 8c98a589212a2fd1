"""A child's proof of life for the supervisor of ``hotline up``: a file touched from the process's main loop.

The supervisor names the file in ``HOTLINE_HEARTBEAT_FILE`` (``<state_dir>/heartbeat/<name>``) and restarts
a child whose file has not been touched for its deadline. The beat comes from the loop that does the
work (the event loop of the ARI app and the monitor, the serve loop of the AGI server), never from a
thread of its own, so a blocked loop stops the beat. Without the variable (the test stack, a process
run by hand) nothing is written.

Under systemd (tooling/system/units.py) the same beat is a ``WATCHDOG=1`` datagram to ``NOTIFY_SOCKET``
(hotline/adapters/sd_notify.py), and the first one comes with ``READY=1``: the unit's ``WatchdogSec=``
restarts a process whose loop stops, as the supervisor does.
"""
from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from pathlib import Path

from hotline.adapters.sd_notify import Notifier

ENV = "HOTLINE_HEARTBEAT_FILE"
EVERY = 2.0     # seconds between two touches of the file


class Heartbeat:
    """Touches ``path`` and tells systemd (``notifier``) at most every ``every`` seconds; does nothing when
    neither was asked for."""

    def __init__(self, path: Path | None, every: float = EVERY, notifier: Notifier | None = None) -> None:
        self.path, self.every = path, every
        self.notifier = notifier if notifier is not None else Notifier(False)
        self._last = float("-inf")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, every: float = EVERY) -> Heartbeat:
        """The heartbeat the supervisor asked for in ``HOTLINE_HEARTBEAT_FILE`` and systemd in ``NOTIFY_SOCKET``
        (none without them)."""
        value = env.get(ENV, "")
        return cls(Path(value) if value else None, every, Notifier.from_env(env))

    def beat(self) -> None:
        """Beat if the last beat is older than ``every`` (cheap: one utime call, one datagram)."""
        now = time.monotonic()
        if (self.path is None and not self.notifier.enabled) or now - self._last < self.every:
            return
        self._last = now
        self.notifier.ready()       # once: the loop turns, so the process serves
        self.notifier.watchdog()
        if self.path is None:
            return
        try:
            os.utime(self.path)
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()

    async def run(self) -> None:
        """Beat from the event loop until cancelled: a loop blocked for longer than the deadline is seen."""
        while True:
            self.beat()
            await asyncio.sleep(self.every)
