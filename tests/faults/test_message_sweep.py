"""Message files the call log never got (issue 12, item 6), found by the ARI app's file sweep.

Two fallback calls (the ARI app down) as Asterisk and the AGI server would leave them on disk, written
into the stack's recordings root where Asterisk writes them (``<hotline day>/<call id>.wav`` and, beside
it, ``<call id>.voicemail.wav``; Asterisk's user, 0644), with 20 s of a Vietnamese caller's speech:

1. a message Asterisk never closed (it died mid-message, or its disk filled: the header still says 0 s,
   as format_wav writes it when it opens the file), untouched for two minutes; its call's row is the
   one the AGI fallback writes, closed, with no message row and no recording row (the AGI server that
   waited for the file to close restarted, issue 12's own example);
2. a closed message with no row at all, nor its call (the AGI server was down too): the call's
   recording and its message are all there is.

Restarting the ARI app is a (re)connection: its reconciler sweeps the files at once (the periodic sweep
runs every 10 passes of ``[asterisk] reconcile_seconds``, 5 minutes). Both messages become voicemail rows
of 20 s with a ticket each, the first file's header says 20 s, and a second sweep adds nothing.
"""
from __future__ import annotations

import os
import signal
import struct
import subprocess
import time
import wave
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from hotline.adapters.db.models import Call, Ticket
from hotline.domain.clock import clock_from_env
from hotline.domain.vocabulary import Disposition
from tests.support.stack import Stack, log_since, wait_for

SATURDAY = datetime.fromisoformat("2026-11-28T10:00:00+07:00")
RATE = 8000                 # Asterisk's wav: 8 kHz, 16-bit, mono
MESSAGE = 20.0              # seconds of speech in each message
CALL = 25.0                 # the call's own recording: the apology, the beep, the message
LEFT_AGO = 120.0            # real seconds since Asterisk last wrote the files (the sweep waits for 60)


def _pcm(speech: Path, seconds: float) -> bytes:
    """``seconds`` of the caller's speech (said again, then silence), as raw 16-bit samples."""
    out = subprocess.run(["sox", "-V1", str(speech), "-t", "raw", "-r", str(RATE), "-c", "1", "-b", "16",
                          "-e", "signed-integer", "-", "repeat", "2", "pad", "0", str(seconds),
                          "trim", "0", str(seconds)], check=True, capture_output=True).stdout
    assert len(out) == int(seconds * RATE) * 2
    return out


def _wav(pcm: bytes, *, closed: bool) -> bytes:
    """The WAV Asterisk's format_wav writes: sizes 0 when it opens the file, the real ones when it closes it."""
    size = len(pcm) if closed else 0
    riff = 36 + size if closed else 0
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, RATE, RATE * 2, 2, 16)
    return b"RIFF" + struct.pack("<I", riff) + b"WAVE" + b"fmt " + fmt + b"data" + struct.pack("<I", size) + pcm


def _header(path: Path) -> tuple[int, int]:
    """(RIFF size, data size) as the file's header says."""
    head = path.read_bytes()[:44]
    return struct.unpack("<I", head[4:8])[0], struct.unpack("<I", head[40:44])[0]


class Recordings:
    """The stack's recordings root, written the way Asterisk writes it."""

    def __init__(self, stack: Stack) -> None:
        assert stack.asterisk is not None
        self.root = stack.recordings
        self.uid, self.gid = stack.asterisk.install.user_ids()

    def day(self, started: datetime) -> Path:
        """The call's day folder (MixMonitor's and Record()'s, made by Asterisk when missing)."""
        path = self.root
        for part in (f"{started:%Y}", f"{started:%m}", f"{started:%d}"):
            path = path / part
            if not path.exists():
                path.mkdir(mode=0o755)
                os.chown(path, self.uid, self.gid)
        return path

    def write(self, path: Path, data: bytes, real_mtime: float) -> Path:
        path.write_bytes(data)
        os.chown(path, self.uid, self.gid)
        path.chmod(0o644)
        os.utime(path, (real_mtime, real_mtime))
        return path


def _fallback_call(stack: Stack, files: Recordings, call_id: str, pcm: bytes, call_pcm: bytes, *,
                   message_closed: bool, logged: bool) -> Path:
    """A call the dialplan's fallback took ``LEFT_AGO`` seconds ago; returns its message file. ``logged``:
    the call's row as the AGI fallback writes it (started, then ended at the hangup), no message row."""
    now = clock_from_env(stack.ctx.settings.tz, stack.app_env).now()
    started = now - timedelta(seconds=LEFT_AGO + CALL)
    ended = now - timedelta(seconds=LEFT_AGO)
    day = files.day(started)
    left = time.time() - LEFT_AGO
    rec = files.write(day / f"{call_id}.wav", _wav(call_pcm, closed=True), left)
    message = files.write(day / f"{call_id}.voicemail.wav", _wav(pcm, closed=message_closed), left)
    if logged:
        stack.repo.start_call(call_id, channel_id=call_id, caller="0960000401", dialled="1022", started_at=started,
                              answered_at=started, disposition=Disposition.APP_FALLBACK, recording_file=str(rec))
        stack.repo.end_call(call_id, ended_at=ended, disposition=Disposition.APP_FALLBACK)
    return message


def _tickets(stack: Stack, call_ids: list[str]) -> int:
    with stack.repo.sessions() as s:
        return int(s.scalar(select(func.count(Ticket.id)).join(Call, Ticket.call_id == Call.id)
                            .where(Call.call_id.in_(call_ids))) or 0)


def _kept(stack: Stack, call_id: str, timeout: float = 30) -> dict[str, Any]:
    """The call's row once its message is a voicemail row with a ticket and its recording is logged."""
    def kept() -> dict[str, Any]:
        row = stack.repo.get(call_id) or {}
        return row if row.get("voicemails") and row["voicemails"][0]["ticket"] and row["recording"] else {}
    return wait_for(kept, timeout, f"the message of {call_id} to be a ticket")


def _sweep_at_restart(stack: Stack, write: Callable[[], object]) -> float:
    """Stop the ARI app, ``write()`` the files, start it again (its reconnection sweeps the files);
    returns when it was started (monotonic)."""
    stack.kill("ari_app", signal.SIGTERM)
    write()
    started = time.monotonic()
    stack.start_proc("ari_app")
    return started


def test_an_unclosed_message_and_a_message_without_a_row_become_tickets_of_their_length_once(
        stack: Stack, speech: Path) -> None:
    stack.set_clock(SATURDAY)
    files = Recordings(stack)
    pcm, call_pcm = _pcm(speech, MESSAGE), _pcm(speech, CALL)
    system = stack.ctx.settings.asterisk.system_name
    epoch = int(time.time() - LEFT_AGO - CALL)           # Asterisk's unique ids: <system>-<epoch>.<n>
    unclosed, unlogged, marker = (f"{system}-{epoch}.{n}" for n in (9001, 9002, 9003))
    log = stack.logs / "ari_app.log"
    mark = log.stat().st_size
    paths: dict[str, Path] = {}

    def crashed() -> None:
        paths[unclosed] = _fallback_call(stack, files, unclosed, pcm, call_pcm, message_closed=False, logged=True)
        paths[unlogged] = _fallback_call(stack, files, unlogged, pcm, call_pcm, message_closed=True, logged=False)
    started = _sweep_at_restart(stack, crashed)
    rows = {c: _kept(stack, c) for c in (unclosed, unlogged)}
    swept = time.monotonic() - started
    print(f"message sweep: both messages tickets {swept:.1f} s after the ARI app was started again")

    for call_id, row in rows.items():
        [vm] = row["voicemails"]
        assert abs(vm["duration"] - MESSAGE) <= 0.5, (call_id, vm)
        assert vm["status"] == "pending" and vm["path"] == str(paths[call_id].relative_to(files.root))
        assert abs(row["recording"]["duration"] - CALL) <= 0.5
        assert row["ended_at"] and row["disposition"] == Disposition.APP_FALLBACK
    # The header was rewritten to the audio on disk: 20 s, whole frames, every sample kept.
    assert _header(paths[unclosed]) == (36 + len(pcm), len(pcm))
    with wave.open(str(paths[unclosed])) as w:
        assert w.getnframes() / w.getframerate() == MESSAGE
    assert paths[unclosed].read_bytes()[44:] == pcm
    app_log = log_since(log, mark)
    assert f"{paths[unclosed]} was never closed by Asterisk: header repaired" in app_log
    assert _tickets(stack, [unclosed, unlogged]) == 2
    codes = {c: r["voicemails"][0]["ticket"] for c, r in rows.items()}

    # A second sweep (the next restart) adds nothing to them; a message left meanwhile shows it ran.
    _sweep_at_restart(stack, lambda: _fallback_call(stack, files, marker, pcm, call_pcm, message_closed=True,
                                                    logged=True))
    _kept(stack, marker)
    for call_id, code in codes.items():
        again = stack.repo.get(call_id)
        assert again is not None and [vm["ticket"] for vm in again["voicemails"]] == [code]
    assert _tickets(stack, [unclosed, unlogged]) == 2
