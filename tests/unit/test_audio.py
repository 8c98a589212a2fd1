"""Finished-file checks used before a recording or a message is logged."""
from __future__ import annotations

import struct
import wave
from pathlib import Path

from ari_app.audio import audio_facts, wav_complete, wav_duration


def write_wav(path: Path, seconds: float, rate: int = 8000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x01" * int(seconds * rate))
    return path


def test_closed_wav_is_complete_with_its_length(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "a.wav", 2.5)
    assert wav_complete(path)
    assert abs(wav_duration(path) - 2.5) < 0.001
    facts = audio_facts(path, tmp_path)
    assert facts.path == "a.wav" and facts.size == path.stat().st_size and len(facts.sha256) == 64


def test_wav_still_being_written_is_not_complete(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "b.wav", 1.0)
    data = bytearray(path.read_bytes())
    data[4:8] = struct.pack("<I", 36)          # what a writer leaves before it closes the file
    path.write_bytes(bytes(data) + b"\x00" * 320)
    assert not wav_complete(path)
    assert not wav_complete(tmp_path / "missing.wav")


def test_closed_wav_without_audio_is_complete_only_when_its_writer_said_so(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "empty.wav", 0.0)     # a caller who hung up right after the beep
    assert path.stat().st_size == 44
    assert not wav_complete(path)                     # looks like a file just opened
    assert wav_complete(path, allow_empty=True)       # Asterisk reported the recording finished
    assert wav_duration(path) == 0.0
