"""Small WAV files for tests: 8 kHz, 16-bit mono, as Asterisk records calls."""
from __future__ import annotations

import math
import struct
import wave
from pathlib import Path


def write_wav(path: Path, seconds: float, frame: bytes = b"\x00\x08\x00\xf8") -> Path:
    """``seconds`` of a constant pattern (``frame``: a whole number of 16-bit samples)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(frame * int(8000 * 2 * seconds / len(frame)))
    return path


def write_tone(path: Path, seconds: float, rate: int = 8000) -> Path:
    """``seconds`` of a 440 Hz tone, mono 16-bit at ``rate`` Hz."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate)))
                      for n in range(int(seconds * rate)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return path
