"""Keeps a service beside the supervised children answering: Asterisk, the hotline's own Redis.

A Watchdog thread looks every ``poll`` seconds whether the service's process still runs and probes it
every ``interval`` seconds with a deadline (``timeout``). A process that died, or ``misses`` probes in a
row without an answer (a hung or stopped process: it is killed with SIGKILL first), is started again
with the same configuration; then ``after_restart`` runs (Asterisk: operators back in the queue). Each
step is one log line a supervisor can grep ("Asterisk died (signal 9); restarting", "Asterisk answered
again after 6.2 s"). A start that fails is tried again every ``retry`` seconds; nothing else is stopped.
"""
from __future__ import annotations

import base64
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from hotline.domain.errors import HotlineError
from tooling.system.shell import wait_until

if TYPE_CHECKING:
    from tooling.system.asterisk_process import AsteriskProcess

log = logging.getLogger("hotline.watchdog")

POLL = 0.2          # seconds between two looks at the process
INTERVAL = 1.0      # seconds between two probes
TIMEOUT = 2.0       # a probe not answered within this is a miss
MISSES = 3          # misses in a row before the service is restarted
RETRY = 5.0         # seconds before a failed start is tried again


class Watched(Protocol):
    """What a Watchdog needs of a service."""

    name: str

    def exited(self) -> str | None:
        """None while the process runs, else how it ended ("signal 9", "exit code 1")."""

    def answers(self, timeout: float) -> bool:
        """True when the service answered a probe within ``timeout`` seconds."""

    def kill(self) -> None:
        """SIGKILL the process (even a stopped one) and reap it."""

    def start(self) -> None:
        """Start the service with its configuration; return once it serves (HotlineError otherwise)."""


class Watchdog:
    """One thread that restarts one service when it dies or stops answering."""

    def __init__(self, service: Watched, after_restart: Callable[[], None] | None = None, *, poll: float = POLL,
                 interval: float = INTERVAL, timeout: float = TIMEOUT, misses: int = MISSES,
                 retry: float = RETRY, before_restart: Callable[[], None] | None = None) -> None:
        """``before_restart``: run once the fault is seen, before the kill and the start (a cluster leaves the
        node out of Kamailio's list there); ``after_restart``: once it serves again."""
        self.service, self.after_restart, self.before_restart = service, after_restart, before_restart
        self.poll, self.interval, self.timeout, self.misses, self.retry = poll, interval, timeout, misses, retry
        self.restarts = 0
        self.recoveries: list[tuple[float, float]] = []    # (detected after, answered again after), seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"watchdog-{self.service.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (waits for a restart under way to finish); safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        last_answer = time.monotonic()
        next_probe = last_answer + self.interval
        missed = 0
        while not self._stop.wait(self.poll):
            how = self.service.exited()
            if how is not None:
                self._restore(f"{self.service.name} died ({how}); restarting", time.monotonic(), last_answer)
            elif time.monotonic() >= next_probe:
                if self.service.answers(self.timeout):
                    last_answer, missed = time.monotonic(), 0
                else:
                    missed += 1
                    log.warning("%s did not answer within %.1f s (%d of %d)", self.service.name, self.timeout,
                                missed, self.misses)
                if missed < self.misses:
                    next_probe = time.monotonic() + self.interval
                    continue
                self._restore(f"{self.service.name} has not answered for {time.monotonic() - last_answer:.1f} s; "
                              "killing it (SIGKILL) and restarting", time.monotonic(), last_answer)
            else:
                continue
            last_answer, missed = time.monotonic(), 0
            next_probe = last_answer + self.interval

    def _restore(self, why: str, detected: float, last_answer: float) -> None:
        """Kill, start again until it serves (or the watchdog is stopped), then run ``after_restart``."""
        log.error("%s", why)
        name = self.service.name
        if self.before_restart is not None:
            try:
                self.before_restart()
            except Exception:   # the restart matters more than what comes before it
                log.exception("before restarting %s", name)
        while True:
            self.service.kill()
            try:
                self.service.start()
                break
            except HotlineError as exc:
                log.error("%s could not be started again: %s; trying again in %.0f s", name, exc, self.retry)
                if self._stop.wait(self.retry):
                    return
        self.restarts += 1
        back = time.monotonic()
        self.recoveries.append((detected - last_answer, back - detected))
        log.warning("%s answered again after %.1f s (fault seen %.1f s after its last answer)", name,
                    back - detected, detected - last_answer)
        if self.after_restart is not None:
            try:
                self.after_restart()
            except Exception:   # the service runs: a failed follow-up must not stop the watch
                log.exception("after restarting %s", name)


def http_answers(url: str, user: str, password: str, timeout: float) -> bool:
    """True when ``url`` answers a GET with 2xx within ``timeout`` (HTTP basic authentication)."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= int(response.status) < 300
    except (OSError, urllib.error.URLError, ValueError):
        return False


class WatchedAsterisk:
    """Asterisk as a Watchdog sees it: its process, and ARI's ``GET /asterisk/ping`` as the probe."""

    name = "Asterisk"

    def __init__(self, process: AsteriskProcess, http_url: str, user: str, password: str) -> None:
        self.process = process
        self.ping_url = f"{http_url.rstrip('/')}/ari/asterisk/ping"
        self.user, self.password = user, password

    def exited(self) -> str | None:
        return self.process.exited()

    def answers(self, timeout: float) -> bool:
        return http_answers(self.ping_url, self.user, self.password, timeout)

    def kill(self) -> None:
        self.process.kill()

    def start(self) -> None:
        """Start it again (same rendered configuration, same mounts); return once ARI answers."""
        self.process.start(walk_owned=False)
        wait_until(lambda: self.answers(TIMEOUT), 20, "Asterisk's ARI to answer after its restart",
                   hint=f"Its output is in {self.process.log_path}.", interval=0.2)
