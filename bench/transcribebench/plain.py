"""Plain Vosk, the reference: a WAV file read with ``wave`` straight into ``vosk.KaldiRecognizer``.

The model is loaded once (not timed). Timed, per file: a new recognizer at the file's own rate
(8 kHz; the model resamples to its 16 kHz itself), the file read in 0.5 s chunks (the worker's
chunk), ``AcceptWaveform`` with words on, ``FinalResult``.
"""
from __future__ import annotations

import json
import resource
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHUNK_SECONDS = 0.5     # as hotline.worker.transcribe.CHUNK_SECONDS


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


@dataclass(frozen=True)
class PlainRun:
    audio_s: float
    wall_s: float
    cpu_s: float        # this process's CPU time over the run
    words: int
    faults: int = 0     # this process's minor page faults over the run

    @property
    def rtf(self) -> float:
        return self.wall_s / self.audio_s


class PlainVosk:
    """One loaded model; ``run`` recognizes a file the plain way."""

    def __init__(self, model_dir: Path) -> None:
        import vosk
        vosk.SetLogLevel(-1)
        started = time.perf_counter()
        self._vosk = vosk
        self.model = vosk.Model(str(model_dir))
        self.load_s = time.perf_counter() - started

    def run(self, path: Path) -> PlainRun:
        with wave.open(str(path), "rb") as wf:
            rate, frames = wf.getframerate(), wf.getnframes()
            wall, cpu, faults = time.perf_counter(), time.process_time(), _minor_faults()
            words = self._recognize(wf, rate)
            wall, cpu, faults = time.perf_counter() - wall, time.process_time() - cpu, _minor_faults() - faults
        return PlainRun(frames / rate, wall, cpu, len(words), faults)

    def _recognize(self, wf: wave.Wave_read, rate: int) -> list[dict[str, Any]]:
        recognizer = self._vosk.KaldiRecognizer(self.model, rate)
        recognizer.SetWords(True)
        chunk = int(rate * CHUNK_SECONDS)
        words: list[dict[str, Any]] = []
        while data := wf.readframes(chunk):
            if recognizer.AcceptWaveform(data):
                words += json.loads(recognizer.Result()).get("result", [])
        return words + json.loads(recognizer.FinalResult()).get("result", [])
