"""What a transcription gives: readable text with per-word timings, and the engine's raw words."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: A word: {"word": str, "start": s, "end": s, "conf": float | None}; times from the message's start.
Word = dict[str, Any]


@dataclass(frozen=True)
class Transcript:
    text: str                                                   # readable: sentence case, digits
    words: list[Word] = field(default_factory=list)             # the readable words with their timings
    confidence: float | None = None                             # mean of the words' conf, where given
    audio_seconds: float = 0.0
    raw_text: str = ""                                          # what the engine said, as it said it
    pieces: int = 0                                             # stretches of speech found between pauses

    @property
    def has_speech(self) -> bool:
        return bool(self.words) and bool(self.text.strip())


def mean_confidence(words: list[Word]) -> float | None:
    confs = [w["conf"] for w in words if w.get("conf") is not None]
    return round(sum(confs) / len(confs), 4) if confs else None
