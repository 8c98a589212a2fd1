"""Speech to text with Vosk: the one module that speaks to the recognizer.

A ``Transcriber`` loads its model once (seconds, hundreds of MB) and is kept for the
life of the worker process; every job reuses it.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydub import AudioSegment

CHUNK_SECONDS = 0.5
DEFAULT_RATE = 16000


@dataclass(frozen=True)
class Transcript:
    text: str
    words: list[dict[str, Any]] = field(default_factory=list)   # word, start, end, conf (seconds)
    confidence: float | None = None                             # mean of the words' conf
    audio_seconds: float = 0.0

    @property
    def has_speech(self) -> bool:
        return bool(self.words) and bool(self.text.strip())


def model_present(model_dir: Path) -> bool:
    """A Vosk model directory has am/ (acoustic model) and conf/."""
    return (model_dir / "am").is_dir() and (model_dir / "conf").is_dir()


def model_sample_rate(model_dir: Path) -> int:
    """The rate the model was trained on (conf/mfcc.conf --sample-frequency; Vosk's default 16 kHz)."""
    for name in ("mfcc.conf", "model.conf"):
        conf = model_dir / "conf" / name
        if conf.is_file():
            found = re.search(r"--sample-frequency=(\d+)", conf.read_text(encoding="utf-8", errors="replace"))
            if found:
                return int(found.group(1))
    return DEFAULT_RATE


class Transcriber:
    """One loaded Vosk model; ``transcribe`` runs a fresh recognizer over a WAV file."""

    def __init__(self, model_dir: Path) -> None:
        import vosk
        vosk.SetLogLevel(-1)
        self.model_dir = model_dir
        self.name = model_dir.name
        self.sample_rate = model_sample_rate(model_dir)
        self._vosk = vosk
        self._model = vosk.Model(str(model_dir))

    def load_audio(self, path: Path) -> AudioSegment:
        """The file as 16-bit mono PCM at the model's rate (pydub)."""
        audio = AudioSegment.from_file(str(path))
        return audio.set_channels(1).set_sample_width(2).set_frame_rate(self.sample_rate)

    def transcribe(self, path: Path, progress: Callable[[float], None] | None = None) -> Transcript:
        """Recognize ``path``; ``progress(seconds done)`` is called after every chunk (a job renews its lease)."""
        audio = self.load_audio(path)
        return self.recognize(audio.raw_data, progress)

    def recognize(self, pcm: bytes, progress: Callable[[float], None] | None = None) -> Transcript:
        """Recognize 16-bit mono PCM at ``self.sample_rate``."""
        recognizer = self._vosk.KaldiRecognizer(self._model, self.sample_rate)
        recognizer.SetWords(True)
        step = int(self.sample_rate * CHUNK_SECONDS) * 2
        words: list[dict[str, Any]] = []
        for offset in range(0, len(pcm), step):
            if recognizer.AcceptWaveform(pcm[offset:offset + step]):
                words += _words(recognizer.Result())
            if progress is not None:
                progress(offset / 2 / self.sample_rate)
        words += _words(recognizer.FinalResult())
        text = " ".join(w["word"] for w in words)
        confidence = round(sum(w["conf"] for w in words) / len(words), 4) if words else None
        return Transcript(text, words, confidence, len(pcm) / 2 / self.sample_rate)


def _words(result_json: str) -> list[dict[str, Any]]:
    result = json.loads(result_json)
    return [{"word": w["word"], "start": round(float(w["start"]), 3), "end": round(float(w["end"]), 3),
             "conf": round(float(w.get("conf", 1.0)), 4)} for w in result.get("result", [])]
