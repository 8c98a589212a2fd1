"""Vosk (Kaldi): the one module that speaks to it. A model directory the province installs."""
from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from hotline.adapters.speech.transcript import Word

DEFAULT_RATE = 16000
CHUNK_SECONDS = 0.5


def model_sample_rate(model_dir: Path) -> int:
    """The rate the model was trained on (conf/mfcc.conf --sample-frequency; Vosk's default 16 kHz)."""
    for name in ("mfcc.conf", "model.conf"):
        conf = model_dir / "conf" / name
        if conf.is_file():
            found = re.search(r"--sample-frequency=(\d+)", conf.read_text(encoding="utf-8", errors="replace"))
            if found:
                return int(found.group(1))
    return DEFAULT_RATE


class VoskEngine:
    """One loaded Vosk model; one recognizer per message, reused piece after piece (``FinalResult`` ends an
    utterance, the speaker adaptation goes on): a new recognizer per piece doubled the CPU a message cost."""

    def __init__(self, model_dir: Path) -> None:
        import vosk
        vosk.SetLogLevel(-1)
        self.name = model_dir.name
        self.sample_rate: int | None = model_sample_rate(model_dir)
        self._vosk = vosk
        self._model = vosk.Model(str(model_dir))
        self._recognizers: dict[int, Any] = {}
        self._lock = threading.Lock()

    def new_message(self) -> None:
        """The next pieces are another caller's: start from a fresh recognizer."""
        with self._lock:
            self._recognizers.clear()

    def recognize(self, pcm: bytes, rate: int) -> list[Word]:
        with self._lock:
            recognizer = self._recognizers.get(rate)
            if recognizer is None:
                recognizer = self._recognizers[rate] = self._vosk.KaldiRecognizer(self._model, rate)
                recognizer.SetWords(True)
            step = int(rate * CHUNK_SECONDS) * 2
            words: list[Word] = []
            for offset in range(0, len(pcm), step):
                if recognizer.AcceptWaveform(pcm[offset:offset + step]):
                    words += _words(recognizer.Result())
            return words + _words(recognizer.FinalResult())


def _words(result_json: str) -> list[Word]:
    result = json.loads(result_json)
    return [{"word": w["word"], "start": round(float(w["start"]), 3), "end": round(float(w["end"]), 3),
             "conf": round(float(w.get("conf", 1.0)), 4)} for w in result.get("result", [])]
