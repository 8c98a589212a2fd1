"""viet-asr: the one module that speaks to it. A Vietnamese Conformer model (int8 ONNX, ~69 MB)
inside its wheel, run offline through its ``transcribe`` preset (its VAD and punctuation presets
may download models: never used here).

It gives text only, lower case, numbers as words, with no word timings: each word is placed in
its piece in proportion to its length, so the console can still follow the audio by sentence.
"""
from __future__ import annotations

import logging
import threading

import numpy as np

from hotline.adapters.speech.transcript import Word

log = logging.getLogger("hotline.adapters.speech.vietasr")
#: Silence put before each piece: without it the first syllable of a piece is often lost.
LEAD_SECONDS = 0.3
WARNINGS = 3        # the native library's log level: warnings and errors only (2 adds its INFO lines)


class VietAsrEngine:
    sample_rate: int | None = None      # any rate: the engine resamples (telephone messages: 8 kHz)

    def __init__(self) -> None:
        import vietasr
        from vietasr.ffi import native
        native.lib.vietasr_set_log_level(WARNINGS)      # its load messages are not the worker's news
        self._pipeline = vietasr.Pipeline.preset("transcribe")
        self.name = f"viet-asr {vietasr.__version__}"
        self._lock = threading.Lock()   # one native pipeline: one piece at a time

    def new_message(self) -> None:
        """Nothing to reset: each piece is recognized on its own."""

    def recognize(self, pcm: bytes, rate: int) -> list[Word]:
        piece = np.frombuffer(pcm, dtype=np.int16)
        audio = np.concatenate([np.zeros(int(LEAD_SECONDS * rate), dtype=np.int16), piece])
        with self._lock:
            text = self._pipeline.transcribe(audio, sample_rate=float(rate)).text
        return spread(text.split(), len(piece) / rate)


def spread(tokens: list[str], seconds: float) -> list[Word]:
    """Timings for words the engine did not time: the piece shared in proportion to each word's length."""
    weights = [len(t) + 1 for t in tokens]
    total, at, words = sum(weights), 0.0, []
    for token, weight in zip(tokens, weights, strict=True):
        share = seconds * weight / total
        words.append({"word": token, "start": round(at, 3), "end": round(at + share, 3), "conf": None})
        at += share
    return words
