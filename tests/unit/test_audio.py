"""Finished-file checks used before a recording or a message is logged."""
from __future__ import annotations

import os
import struct
import time
import wave
from pathlib import Path

from ari_app.audio import abandoned, audio_facts, repair_wav, wav_complete, wav_duration


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


def _unclosed(path: Path, seconds: float, torn: int = 0) -> Path:
    """A message as Asterisk leaves it when killed mid-recording: the header of an empty file, the audio."""
    write_wav(path, seconds)
    data = bytearray(path.read_bytes())
    data[4:8] = struct.pack("<I", 36)
    data[40:44] = struct.pack("<I", 0)
    path.write_bytes(bytes(data) + b"\x07" * torn)
    return path


def test_a_message_asterisk_never_closed_gets_the_length_of_its_audio(tmp_path: Path) -> None:
    path = _unclosed(tmp_path / "m.voicemail.wav", 20.0, torn=1)     # a torn half sample at the end
    assert not wav_complete(path) and wav_duration(path) == 0.0     # the header says it holds nothing
    assert repair_wav(path)
    assert wav_complete(path) and abs(wav_duration(path) - 20.0) < 0.001
    with wave.open(str(path)) as w:                                 # any reader takes it now
        assert w.getnframes() == 160000
    assert not repair_wav(path)                                     # already right: left alone


def test_a_file_that_is_no_wav_is_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(b"not a wav at all")
    assert not repair_wav(path) and path.read_bytes() == b"not a wav at all"


def test_only_an_unclosed_file_nobody_writes_to_is_abandoned(tmp_path: Path) -> None:
    unclosed = _unclosed(tmp_path / "u.wav", 1.0)
    closed = write_wav(tmp_path / "c.wav", 1.0)
    assert not abandoned(unclosed, 60)                              # written a moment ago: being recorded
    old = time.time() - 120
    os.utime(unclosed, (old, old))
    os.utime(closed, (old, old))
    assert abandoned(unclosed, 60) and not abandoned(closed, 60)
    assert not abandoned(tmp_path / "missing.wav", 60)
