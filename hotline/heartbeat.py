"""A child's proof of life for the supervisor of ``hotline up``: a file touched from the process's main loop.

The supervisor names the file in ``HOTLINE_HEARTBEAT_FILE`` (``<state_dir>/heartbeat/<name>``) and restarts
a child whose file has not been touched for its deadline. The beat comes from the loop that does the
work (the event loop of the ARI app and the monitor, the serve loop of the AGI server), never from a
thread of its own, so a blocked loop stops the beat. Without the variable (the test stack, a process
run by hand) nothing is written.

Under systemd (tooling/system/units.py) the same beat is a ``WATCHDOG=1`` datagram to ``NOTIFY_SOCKET``
(hotline/adapters/sd_notify.py), and the first one comes with ``READY=1``: the unit's ``WatchdogSec=``
restarts a process whose loop stops, as the supervisor does.

The ARI app's ``LinkBeat`` is a second file of the same kind, for the health checks rather than the supervisor:
"my WebSocket to Asterisk is open" (below).
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path

from hotline.adapters.sd_notify import Notifier

ENV = "HOTLINE_HEARTBEAT_FILE"
EVERY = 2.0     # seconds between two touches of the file
log = logging.getLogger("hotline.heartbeat")


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


# -- the ARI app's link to Asterisk, for the health checks ----------------------------------------------------------
LINK_FILE = "ari-connected"
LINK_EVERY = 1.0     # seconds between two touches while connected
LINK_STALE = 3.0     # seconds without a touch after which the app is not connected (killed, its loop stuck)


def link_file(spool_dir: Path) -> Path:
    """The ARI app's link file, beside its call-log spool (``settings.call_log_spool``)."""
    return Path(spool_dir) / LINK_FILE


class LinkBeat:
    """Whether the ARI app holds its WebSocket to Asterisk, as the app itself says (``hotline status``, /healthz).

    While its event WebSocket is open, the ARI app ``run``s this: the file is touched every ``LINK_EVERY`` seconds
    from its event loop (a stuck loop stops the touches too); when the WebSocket closes the task is cancelled and
    ``clear`` removes the file at once. The health checks read its age (``link_age``): connected while it is at
    most ``LINK_STALE`` seconds old. The spool's folder is the ARI app's own wherever it runs (``hotline up``,
    the systemd units, a cluster's node), and the health checks already read it, on the same machine.

    Why the app's word and not Asterisk's: Asterisk's own list (``ari show websocket sessions``) is a CLI command,
    which needs AMI's ``command`` class (any CLI command at all, ``core stop now`` included) in the console and
    ``hotline watch``; AMI has no action or event about ARI applications; and ARI's ``GET /applications/{app}``
    builds the same JSON as ``GET /applications`` (every event source's ``to_json``, device states included),
    which was dropped as the cluster gate's frequent probe after a restarted Asterisk stopped answering ARI and
    AMI while it was polled (Asterisk issue 2170: the request blocks behind an application's teardown and keeps
    its HTTP thread). The health checks run every few seconds (``hotline watch``; /healthz, open to anyone,
    cached 2 s), so they stay off that path; and Asterisk keeps an application listed for a while after its
    WebSocket closed (tests/support/stack.py waits for the app's own "connected" for that reason), so an answer
    there would not even mean connected. ARI would also put an ARI account in two processes that have none.
    ``cluster_nodes``' beat says "connected" too, but every ``[cluster] beat_seconds`` (5 s) through the database:
    a killed app would be seen only after two beats, and a database outage, which the app rides out with its
    spool, would read as the app being down. What this does not see: an Asterisk whose ARI is wedged while the
    WebSocket stays open (issue 2170's state); the app's own reconnection (the WebSocket's pings, 7.5 s) does.
    """

    def __init__(self, path: Path, every: float = LINK_EVERY) -> None:
        self.path, self.every = path, every
        self._failing = False

    def touch(self) -> None:
        """Say "connected now"; a failure is logged once and never stops the calls."""
        try:
            try:
                os.utime(self.path)
            except FileNotFoundError:
                self.path.touch()
        except OSError as exc:
            if not self._failing:
                log.warning("cannot write %s (%s): hotline status will say the app is not connected", self.path, exc)
            self._failing = True
            return
        self._failing = False

    async def run(self) -> None:
        while True:
            self.touch()
            await asyncio.sleep(self.every)

    def clear(self) -> None:
        """Say "not connected" (the WebSocket closed)."""
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("cannot remove %s (%s): it goes stale within %.0f s", self.path, exc, LINK_STALE)


def link_age(path: Path, now: float) -> float | None:
    """Seconds since the app last said it was connected (``now``: ``time.time()``); None when it says it is not."""
    try:
        return max(0.0, now - path.stat().st_mtime)
    except FileNotFoundError:
        return None
