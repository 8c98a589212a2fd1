"""The ARI app waiting for a call's recording that will never be closed (Asterisk on a full disk leaves it empty).

Each ended call waits up to ``file_wait`` (15 s) for MixMonitor's file. Found by tests/faults/test_disk_full.py:
that wait held one of the event loop's worker threads for its whole length, so a handful of calls ending on a
full disk held them all (every other file and spool operation of the app waited behind them) and the app's
exit waited for the last one (asyncio.run joins the worker threads).
"""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.support.ari_app import AppUnderTest, build_app, run_app

WAIT = 3.0


def _empty_recordings(tmp: Path, count: int) -> list[Path]:
    day = tmp / "recordings" / "2026" / "11" / "25"
    day.mkdir(parents=True, exist_ok=True)
    files = [day / f"hotline1-1796460007.{n}.wav" for n in range(count)]
    for path in files:
        path.touch()         # what MixMonitor leaves when not even the header could be written
    return files


def test_recordings_that_never_close_hold_no_worker_thread_while_awaited(tmp_path: Path) -> None:
    files = _empty_recordings(tmp_path, 6)

    async def scenario(t: AppUnderTest) -> None:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(2))
        t.services.file_wait = WAIT
        waits = [asyncio.create_task(t.services.finish_recording(path.stem, path)) for path in files]
        await asyncio.sleep(0.2)
        started = time.monotonic()
        assert await asyncio.wait_for(asyncio.to_thread(lambda: "done"), WAIT / 2) == "done"
        assert time.monotonic() - started < 0.5
        assert await asyncio.gather(*waits) == [False] * len(files)     # never closed: left to the sweep
    run_app(tmp_path, scenario)


def test_the_app_exits_at_once_while_recordings_that_never_close_are_awaited(tmp_path: Path) -> None:
    files = _empty_recordings(tmp_path, 3)
    returned = 0.0

    async def main() -> None:
        nonlocal returned
        t = build_app(tmp_path)
        t.services.file_wait = WAIT
        waits = [asyncio.create_task(t.services.finish_recording(path.stem, path)) for path in files]
        await asyncio.sleep(0.2)
        await t.close()
        assert not any(w.done() for w in waits)
        returned = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - returned < 1.0


def _unclosed_recording(path: Path, seconds: float, quiet_for: float) -> None:
    """A call's WAV as Asterisk leaves it when it dies mid-call: audio on disk, the header's sizes still 0,
    and nothing written to it for ``quiet_for`` seconds."""
    import os
    import wave
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x10\x00" * int(8000 * seconds))
    with path.open("r+b") as f:
        f.seek(4)
        f.write(b"\0\0\0\0")
        f.seek(40)
        f.write(b"\0\0\0\0")
    os.utime(path, (time.time() - quiet_for, time.time() - quiet_for))


def test_an_ended_calls_recording_its_writer_left_is_repaired_and_logged_at_once(tmp_path: Path) -> None:
    """Asterisk killed mid-call: the call's WAV never closes. Once nobody has written it for QUIET_FOR_REPAIR,
    the call's end repairs it and logs its recording (not minutes later at the sweep); a file written a moment
    ago is left to the sweep."""
    import wave

    from ari_app.services import QUIET_FOR_REPAIR
    day = tmp_path / "recordings" / "2026" / "11" / "25"
    left, fresh = day / "hotline1-1796460008.0.wav", day / "hotline1-1796460008.1.wav"
    _unclosed_recording(left, 4.0, QUIET_FOR_REPAIR + 5)
    _unclosed_recording(fresh, 4.0, 0)

    async def scenario(t: AppUnderTest) -> None:
        for path in (left, fresh):
            await asyncio.to_thread(t.repo.start_call, path.stem, channel_id=path.stem, caller="0912345678",
                                    dialled="1022", started_at=t.services.now())
        assert await t.services.finish_recording(left.stem, left) is True
        assert await t.services.finish_recording(fresh.stem, fresh) is False
        await t.flush()
        assert t.repo.get(left.stem)["recording"]["duration"] == 4.0
        assert t.repo.get(fresh.stem)["recording"] is None
    run_app(tmp_path, scenario)
    with wave.open(str(left)) as w:
        assert w.getnframes() == 4 * 8000
