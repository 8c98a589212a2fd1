"""One long-lived AMI connection for a process that follows events (the monitor).

It reconnects with a growing delay (1, 2, 4 … up to 30 s) and, after each successful login,
asks ``QueueStatus`` so that the listener's owner can rebuild its picture from what app_queue
knows now (AMI does not replay the events missed while disconnected). Actions sent on it are
fire-and-forget: a refusal or a lost connection is logged. Its pings are checked: a Ping not
answered within the ping interval means an Asterisk that is stopped or a link gone silent (TCP
says nothing for minutes), so the connection is dropped and made again.
"""
from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterable
from typing import Any

from panoramisk import Manager

from .messages import Event

log = logging.getLogger("hotline.adapters.ami.listener")


class BackoffManager(Manager):
    """panoramisk's Manager with an exponential reconnect delay and a logged login refusal."""

    def __init__(self, min_delay: int = 1, max_delay: int = 30, **config: Any) -> None:
        super().__init__(reconnect_timeout=min_delay, **config)
        self.min_delay, self.max_delay = min_delay, max_delay
        self.reconnect_timeout: int = min_delay
        self.unanswered_pings = 0       # pings dropped for want of an answer, since the start

    def ping(self) -> None:
        """panoramisk sends a Ping and forgets it; this one also checks that it is answered in time."""
        self.pinger = self.loop.call_later(self.ping_interval, self.ping)
        protocol = self.protocol
        if protocol is None or protocol.closed:
            return
        answer = protocol.send({"Action": "Ping"})
        check = self.loop.call_later(self.ping_interval, self._ping_unanswered, protocol, answer)
        answer.add_done_callback(lambda _f: check.cancel())

    def _ping_unanswered(self, protocol: Any, answer: asyncio.Future[Any]) -> None:
        if answer.done() or protocol is not self.protocol or protocol.closed:
            return
        self.unanswered_pings += 1
        log.warning("AMI at %s:%s did not answer a ping in %d s; reconnecting",
                    self.config["host"], self.config["port"], self.ping_interval)
        transport = getattr(protocol, "transport", None)
        if transport is not None:
            transport.abort()       # connection_lost follows: on_disconnect, then a new connection

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        failed = f.cancelled() or f.exception() is not None
        if failed:
            self.reconnect_timeout = min(self.reconnect_timeout * 2, self.max_delay)
            log.warning("AMI not reachable at %s:%s; next try in %d s",
                        self.config["host"], self.config["port"], self.reconnect_timeout)
            self.loop.call_later(self.reconnect_timeout, self.connect)
            return
        self.reconnect_timeout = self.min_delay
        super().connection_made(f)

    def login(self, future: asyncio.Future[Any]) -> bool:
        ok = bool(super().login(future))
        if not ok:
            log.error("AMI login refused for user %r: check manager.conf and secrets.toml",
                      self.config.get("username"))
        return ok


class AmiListener:
    """Feeds the ``events`` named to ``on_event`` and each login's QueueStatus answer to ``on_status``."""

    def __init__(self, host: str, port: int, username: str, secret: str, events: Iterable[str],
                 on_event: Callable[[Event], None], on_status: Callable[[list[Event]], None],
                 ping_interval: int = 5) -> None:
        self._config: dict[str, Any] = {"host": host, "port": port, "username": username, "secret": secret}
        self._ping_interval = ping_interval
        self._events = tuple(events)
        self._on_event, self._on_status = on_event, on_status
        self.manager: BackoffManager | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.manager = BackoffManager(loop=loop, ping_delay=self._ping_interval,
                                      ping_interval=self._ping_interval,
                                      on_login=self._logged_in, on_disconnect=self._disconnected,
                                      **self._config)
        for name in self._events:
            self.manager.register_event(name, self._dispatch)
        self.manager.connect()

    def close(self) -> None:
        if self.manager is not None:
            self.manager.close()
        for task in list(self._tasks):
            task.cancel()

    def _dispatch(self, _manager: Manager, event: Event) -> None:
        try:
            self._on_event(event)
        except Exception:  # one bad event must not stop the listener
            log.exception("event %r not handled", dict(event))

    def send(self, action: dict[str, str]) -> None:
        """Send an action without waiting for its answer; a refusal or a lost connection is logged."""
        manager = self.manager
        if manager is None or manager.protocol is None:
            log.warning("AMI not connected: %s %s not sent", action.get("Action"), action.get("Channel", ""))
            return
        try:
            answer = manager.send_action(action)
        except Exception as exc:      # the connection went away under us
            log.warning("AMI %s not sent: %s", action.get("Action"), exc)
            return
        if isinstance(answer, asyncio.Future):
            answer.add_done_callback(functools.partial(self._answered, action))

    @staticmethod
    def _answered(action: dict[str, str], answer: asyncio.Future[Any]) -> None:
        if answer.cancelled():
            return
        exc = answer.exception()
        reply: Any = None if exc is not None else answer.result()
        if exc is not None or str(reply.get("Response", "")).lower() == "error":
            log.info("AMI %s on %s refused: %s", action.get("Action"), action.get("Channel", ""),
                     exc if exc is not None else reply.get("Message"))

    def _logged_in(self, manager: Manager) -> None:
        log.info("AMI logged in at %s:%s; asking QueueStatus", self._config["host"], self._config["port"])
        task = asyncio.ensure_future(self._queue_status(manager))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _disconnected(self, _manager: Manager, exc: Any) -> None:
        log.warning("AMI connection lost (%s); reconnecting", exc)

    async def _queue_status(self, manager: Manager) -> None:
        try:
            answer = await asyncio.wait_for(manager.send_action({"Action": "QueueStatus"}), 15)
        except (TimeoutError, OSError) as exc:
            log.warning("QueueStatus got no answer (%s); the picture is rebuilt at the next login", exc)
            return
        messages = answer if isinstance(answer, list) else [answer]
        self._on_status([m for m in messages if "event" in m])
