"""One injectable clock, so the hours gate and deadlines can be tested on any date.

Production uses ``SystemClock``. Tests and demos set ``HOTLINE_FAKE_NOW`` (and
``HOTLINE_FAKE_ANCHOR``, so that every process started by one command shares
the same fake timeline); ``clock_from_env`` then returns an ``OffsetClock``
whose time runs forward from the fake start at the real pace.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from os import environ
from typing import Protocol

from hotline.domain.errors import ConfigError

FAKE_NOW_VAR = "HOTLINE_FAKE_NOW"
FAKE_ANCHOR_VAR = "HOTLINE_FAKE_ANCHOR"

#: When this process imported the clock: the default anchor of a fake clock.
PROCESS_START = time.time()


class Clock(Protocol):
    """Where every "now" comes from."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...

    def offset_seconds(self) -> float:
        """Fake time minus real time, in seconds (0 for the real clock)."""
        ...


class SystemClock:
    """The real time, in ``tz``."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz

    def now(self) -> datetime:
        return datetime.now(self.tz)

    def offset_seconds(self) -> float:
        return 0.0

    def __repr__(self) -> str:
        return f"SystemClock({self.tz})"


class OffsetClock:
    """A fake time that was ``fake_start`` at the real moment ``anchor_epoch`` and runs on from there."""

    def __init__(self, fake_start: datetime, anchor_epoch: float, tz: tzinfo,
                 real_time: Callable[[], float] = time.time) -> None:
        if fake_start.tzinfo is None:
            fake_start = fake_start.replace(tzinfo=tz)
        self.fake_start = fake_start
        self.anchor_epoch = anchor_epoch
        self.tz = tz
        self._real_time = real_time

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.fake_start.timestamp() + self._elapsed(), self.tz)

    def offset_seconds(self) -> float:
        return self.fake_start.timestamp() - self.anchor_epoch

    def _elapsed(self) -> float:
        return self._real_time() - self.anchor_epoch

    def __repr__(self) -> str:
        return f"OffsetClock({self.fake_start.isoformat()}, anchor={self.anchor_epoch})"


def parse_fake_now(value: str, tz: tzinfo) -> datetime:
    """Read an ISO 8601 time; without an offset it is read in ``tz``."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"environment variable {FAKE_NOW_VAR}", None, f"{value!r} is not a date and time",
                          "write ISO 8601 with the offset, e.g. 2027-02-08T10:00:00+07:00") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def clock_from_env(tz: tzinfo, env: Mapping[str, str] | None = None) -> Clock:
    """The fake clock when ``HOTLINE_FAKE_NOW`` is set, else the system clock."""
    env = environ if env is None else env
    fake_now = env.get(FAKE_NOW_VAR, "").strip()
    if not fake_now:
        return SystemClock(tz)
    anchor_text = env.get(FAKE_ANCHOR_VAR, "").strip()
    try:
        anchor = float(anchor_text) if anchor_text else PROCESS_START
    except ValueError:
        raise ConfigError(f"environment variable {FAKE_ANCHOR_VAR}", None, f"{anchor_text!r} is not a unix time",
                          "write seconds since 1970 as a number, e.g. 1802059200.5") from None
    return OffsetClock(parse_fake_now(fake_now, tz), anchor, tz)


def fake_clock_env(fake_now: datetime, anchor: float | None = None) -> dict[str, str]:
    """The environment variables that give child processes one shared fake timeline starting now."""
    return {
        FAKE_NOW_VAR: fake_now.isoformat(),
        FAKE_ANCHOR_VAR: repr(time.time() if anchor is None else float(anchor)),
    }
