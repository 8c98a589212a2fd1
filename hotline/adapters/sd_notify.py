"""systemd's service notifications (sd_notify): the one module that speaks that protocol.

Under a unit with ``Type=notify`` and ``WatchdogSec=`` (tooling/system/units.py) systemd names a datagram
socket in ``NOTIFY_SOCKET``; a process says ``READY=1`` once its main loop turns and ``WATCHDOG=1`` from
that loop (hotline/heartbeat.py), and systemd kills and restarts it when the beats stop. The datagrams are
sent by cysystemd, which calls libsystemd's own ``sd_notify`` (abstract sockets, credentials) and ships it
inside its wheels, so a fresh machine needs no compiler or libsystemd-dev.

Without ``NOTIFY_SOCKET`` (``hotline up``, the tests, a process run by hand) nothing is sent and cysystemd is
not even imported: it would log an error on every call.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

ENV = "NOTIFY_SOCKET"


class Notifier:
    """Sends READY=1 and WATCHDOG=1 to systemd; a no-op when systemd asked for nothing."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._ready = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Notifier:
        """The notifier systemd asked for in ``NOTIFY_SOCKET`` (silent without it)."""
        return cls(bool(env.get(ENV)))

    def ready(self) -> None:
        """Say READY=1 once: the process serves (``Type=notify`` units start their dependents only then)."""
        if self.enabled and not self._ready:
            self._ready = self._send("READY")

    def watchdog(self) -> None:
        """Say WATCHDOG=1: the main loop still turns."""
        if self.enabled:
            self._send("WATCHDOG")

    def _send(self, what: str) -> bool:
        from cysystemd.daemon import Notification, notify

        # return_exceptions: a datagram that cannot be sent (systemd re-executing) is logged by cysystemd and
        # must not stop the loop that beats.
        return not isinstance(notify(Notification[what], return_exceptions=True), BaseException)
