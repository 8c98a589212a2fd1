"""The references the worker's job is measured against, each loaded once in the bench's process (not timed).

``PlainVosk`` (``--engine vosk``): a WAV file read with ``wave`` straight into
``vosk.KaldiRecognizer``. Timed, per file: a new recognizer at the file's own rate (8 kHz; the
model resamples to its 16 kHz itself), the file read in 0.5 s chunks (the engine's chunk),
``AcceptWaveform`` with words on, ``FinalResult``.

``PlainPipeline`` (``--engine viet-asr``): the product's own pipeline in-process,
``hotline.adapters.speech.engines.transcribe_file`` with the engine loaded once (pydub load, pauses,
recognition piece by piece, readable words): the job minus RQ, the database and the lease.
"""
from __future__ import annotations

import json
import resource
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

CHUNK_SECONDS = 0.5     # as hotline.adapters.speech.vosk_engine.CHUNK_SECONDS


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


class Reference(Protocol):
    label: str          # how the output names it
    load_s: float       # seconds its model took to load

    def run(self, path: Path) -> PlainRun:
        """Transcribe ``path`` once, timed."""
        ...


def _timed(work: Callable[[], int], audio_s: float) -> PlainRun:
    wall, cpu, faults = time.perf_counter(), time.process_time(), _minor_faults()
    words = work()
    wall, cpu, faults = time.perf_counter() - wall, time.process_time() - cpu, _minor_faults() - faults
    return PlainRun(audio_s, wall, cpu, words, faults)


class PlainPipeline:
    """The configured engine loaded once; ``run`` is ``transcribe_file`` on a file, in this process."""

    label = "the pipeline in-process"

    def __init__(self, settings: Any) -> None:
        from hotline.adapters.speech.engines import open_engine
        started = time.perf_counter()
        self.engine = open_engine(settings)
        self.load_s = time.perf_counter() - started

    def run(self, path: Path) -> PlainRun:
        from hotline.adapters.speech.engines import transcribe_file
        with wave.open(str(path), "rb") as wf:
            audio_s = wf.getnframes() / wf.getframerate()
        return _timed(lambda: len(transcribe_file(self.engine, path).words), audio_s)


class PlainVosk:
    """One loaded model; ``run`` recognizes a file the plain way."""

    label = "plain Vosk"

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
            return _timed(lambda: len(self._recognize(wf, rate)), frames / rate)

    def _recognize(self, wf: wave.Wave_read, rate: int) -> list[dict[str, Any]]:
        recognizer = self._vosk.KaldiRecognizer(self.model, rate)
        recognizer.SetWords(True)
        chunk = int(rate * CHUNK_SECONDS)
        words: list[dict[str, Any]] = []
        while data := wf.readframes(chunk):
            if recognizer.AcceptWaveform(data):
                words += json.loads(recognizer.Result()).get("result", [])
        return words + json.loads(recognizer.FinalResult()).get("result", [])
