"""The injectable clock: real, fake-with-offset, and the environment that shares a fake timeline."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hotline.domain.clock import OffsetClock, SystemClock, clock_from_env, fake_clock_env
from hotline.domain.errors import ConfigError

VN = ZoneInfo("Asia/Ho_Chi_Minh")


class FakeRealTime:
    """A controllable stand-in for time.time()."""

    def __init__(self, start: float) -> None:
        self.value = start

    def __call__(self) -> float:
        return self.value


def test_system_clock_is_aware_and_current() -> None:
    clock = SystemClock(VN)
    now = clock.now()
    assert now.utcoffset() == timedelta(hours=7)
    assert abs(now.timestamp() - time.time()) < 5
    assert clock.offset_seconds() == 0.0


def test_offset_clock_runs_forward_from_the_fake_start() -> None:
    real = FakeRealTime(1_000_000.0)
    start = datetime(2027, 2, 8, 10, 0, tzinfo=VN)
    clock = OffsetClock(start, anchor_epoch=1_000_000.0, tz=VN, real_time=real)
    assert clock.now() == start
    real.value += 90.5
    assert clock.now() == datetime(2027, 2, 8, 10, 1, 30, 500000, tzinfo=VN)
    assert clock.now().tzinfo is VN
    assert clock.offset_seconds() == start.timestamp() - 1_000_000.0


def test_offset_clock_with_real_time_moves() -> None:
    start = datetime(2027, 2, 8, 10, 0, tzinfo=VN)
    clock = OffsetClock(start, time.time() - 60, VN)
    assert timedelta(seconds=59) < clock.now() - start < timedelta(seconds=70)


def test_naive_fake_start_is_read_in_the_zone() -> None:
    clock = OffsetClock(datetime(2027, 2, 8, 10, 0), 0.0, VN, real_time=lambda: 0.0)
    assert clock.now() == datetime(2027, 2, 8, 3, 0, tzinfo=UTC)


def test_from_env_without_fake_is_the_system_clock() -> None:
    assert isinstance(clock_from_env(VN, env={}), SystemClock)


def test_processes_sharing_an_anchor_share_the_timeline() -> None:
    anchor = time.time() - 30
    env = fake_clock_env(datetime(2027, 2, 8, 10, 0, tzinfo=VN), anchor=anchor)
    assert env == {"HOTLINE_FAKE_NOW": "2027-02-08T10:00:00+07:00", "HOTLINE_FAKE_ANCHOR": repr(anchor)}
    first, second = clock_from_env(VN, env), clock_from_env(VN, dict(env))
    assert isinstance(first, OffsetClock)
    assert first.offset_seconds() == second.offset_seconds()
    assert abs((second.now() - first.now()).total_seconds()) < 1
    # 30 real seconds have passed since the anchor, so fake time has moved on by as much
    assert timedelta(seconds=29) < first.now() - datetime(2027, 2, 8, 10, 0, tzinfo=VN) < timedelta(seconds=40)


def test_fake_clock_env_anchors_now_by_default() -> None:
    before = time.time()
    env = fake_clock_env(datetime(2027, 2, 8, 10, 0, tzinfo=VN))
    assert before <= float(env["HOTLINE_FAKE_ANCHOR"]) <= time.time()


def test_fake_now_without_offset_is_read_in_the_zone() -> None:
    clock = clock_from_env(VN, {"HOTLINE_FAKE_NOW": "2027-02-08T22:59:00", "HOTLINE_FAKE_ANCHOR": repr(time.time())})
    now = clock.now()
    assert (now.hour, now.minute, now.utcoffset()) == (22, 59, timedelta(hours=7))


def test_fake_now_without_anchor_anchors_at_process_start() -> None:
    clock = clock_from_env(VN, {"HOTLINE_FAKE_NOW": "2027-02-08T10:00:00+07:00"})
    assert isinstance(clock, OffsetClock)
    assert clock.anchor_epoch <= time.time()
    assert clock.now() >= datetime(2027, 2, 8, 10, 0, tzinfo=VN)


@pytest.mark.parametrize(("env", "variable"), [
    ({"HOTLINE_FAKE_NOW": "08/02/2027 10:00"}, "HOTLINE_FAKE_NOW"),
    ({"HOTLINE_FAKE_NOW": "2027-02-08T10:00:00+07:00", "HOTLINE_FAKE_ANCHOR": "yesterday"}, "HOTLINE_FAKE_ANCHOR"),
])
def test_malformed_fake_values_say_the_format(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        clock_from_env(VN, env)
    assert caught.value.file == f"environment variable {variable}"
    assert "e.g." in caught.value.hint
