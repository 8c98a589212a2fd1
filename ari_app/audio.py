"""Facts about finished audio files: complete?, length, checksum (no ARI here)."""
from __future__ import annotations

import asyncio
import hashlib
import os
import struct
import time
from pathlib import Path

from hotline.adapters.db.repository import AudioFacts


def wav_complete(path: Path, *, allow_empty: bool = False) -> bool:
    """True when the WAV header's sizes agree with the file: the writer has closed it. A file with
    no audio at all looks like one just opened: ``allow_empty`` when its writer said it closed it."""
    try:
        with path.open("rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return False
            riff_size = struct.unpack("<I", head[4:8])[0]
        return riff_size + 8 == path.stat().st_size and (riff_size > 36 or (allow_empty and riff_size == 36))
    except OSError:
        return False


def wav_duration(path: Path) -> float:
    """Seconds of audio, from the fmt and data chunks (tolerates extra chunks)."""
    with path.open("rb") as f:
        data = f.read()
    pos, rate, block = 12, 8000, 2
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if cid == b"fmt ":
            _fmt, _ch, rate, _brate, block = struct.unpack("<HHIIH", data[pos + 8:pos + 22])
        elif cid == b"data":
            size = min(size, len(data) - pos - 8)
            return size / float(rate * max(block, 1))
        pos += 8 + size + (size & 1)
    return 0.0


def audio_facts(path: Path, root: Path) -> AudioFacts:
    """The file's facts for its row. The file is made durable first (fsync): a row, and a ticket, must
    never stand for audio that a power cut could still take away."""
    with path.open("rb") as f:
        os.fsync(f.fileno())
        digest = hashlib.sha256(f.read()).hexdigest()
    return AudioFacts(path=str(path.relative_to(root)), duration=wav_duration(path),
                      sha256=digest, size=path.stat().st_size)


def repair_wav(path: Path) -> bool:
    """A WAV its writer never closed (Asterisk killed, or its disk full, mid-recording) still says in its
    header that it holds no audio. Rewrite the RIFF and data sizes to the audio actually on disk (whole
    sample frames; a torn last frame is cut off). True when the header was rewritten; never run it on a
    file that is still being written (its writer would not know)."""
    with path.open("r+b") as f:
        head = f.read(12)
        size = os.fstat(f.fileno()).st_size
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return False
        pos, block = 12, 2
        while pos + 8 <= size:
            f.seek(pos)
            cid, length = f.read(4), struct.unpack("<I", f.read(4))[0]
            if cid == b"fmt ":
                block = max(struct.unpack("<HHIIH", f.read(14))[4], 1)
            elif cid == b"data":
                data = size - pos - 8
                data -= data % block
                if length == data and struct.unpack("<I", head[4:8])[0] == pos + data:
                    return False
                f.truncate(pos + 8 + data)
                f.seek(pos + 4)
                f.write(struct.pack("<I", data))
                f.seek(4)
                f.write(struct.pack("<I", pos + data))
                f.flush()
                os.fsync(f.fileno())
                return True
            pos += 8 + length + (length & 1)
    return False


def abandoned(path: Path, quiet_seconds: float) -> bool:
    """Not closed by its writer and untouched for ``quiet_seconds``: nobody is writing it any more (a
    recording being made is written to every 20 ms)."""
    try:
        return not wav_complete(path, allow_empty=True) and time.time() - path.stat().st_mtime > quiet_seconds
    except OSError:
        return False


def wait_complete(path: Path, timeout: float, *, allow_empty: bool = False) -> bool:
    """Poll (blocking; run in a thread) until ``path`` is a closed WAV, or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if wav_complete(path, allow_empty=allow_empty):
            return True
        time.sleep(0.05)
    return wav_complete(path, allow_empty=allow_empty)


async def until_complete(path: Path, timeout: float, *, allow_empty: bool = False, every: float = 0.05) -> bool:
    """:func:`wait_complete` for the event loop: a worker thread for each look, never for the whole wait. A file
    that never closes (Asterisk on a full disk leaves a call's recording empty) must not hold a thread for
    ``timeout``: a few calls ending together would hold them all, and every other file and spool operation
    of the app, and its exit, would wait behind them."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(wav_complete, path, allow_empty=allow_empty):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(every)
    return True
