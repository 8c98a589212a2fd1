"""Small WAV files for tests: 8 kHz, 16-bit mono, as Asterisk records calls."""
from __future__ import annotations

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
