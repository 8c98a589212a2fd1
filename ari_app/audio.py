"""Facts about finished audio files: complete?, length, checksum (no ARI here)."""
from __future__ import annotations

import hashlib
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
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return AudioFacts(path=str(path.relative_to(root)), duration=wav_duration(path),
                      sha256=digest, size=path.stat().st_size)


def wait_complete(path: Path, timeout: float, *, allow_empty: bool = False) -> bool:
    """Poll (blocking; run in a thread) until ``path`` is a closed WAV, or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if wav_complete(path, allow_empty=allow_empty):
            return True
        time.sleep(0.05)
    return wav_complete(path, allow_empty=allow_empty)
