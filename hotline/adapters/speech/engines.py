"""The configured speech engine and the one way every message is transcribed with it.

``[transcription] engine`` chooses ``viet-asr`` (the default: a Vietnamese model inside its
Python package, offline) or ``vosk`` (a model directory the province installs). Each worker
process loads its engine once and keeps it; ``transcribe_file`` is the same pipeline for both:
the audio as 16-bit mono, cut at its pauses, each piece recognized, the words made readable.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from pydub import AudioSegment

from hotline.adapters.speech.pauses import VAD_RATES, speech_pieces
from hotline.adapters.speech.readable import readable
from hotline.adapters.speech.transcript import Transcript, Word, mean_confidence

ENGINES = ("viet-asr", "vosk")


class EngineUnavailable(RuntimeError):
    """The engine cannot be used now (not installed, no model, failed to load); the message waits."""


class Engine(Protocol):
    name: str                    # stored on the message: which engine (and model) transcribed it
    sample_rate: int | None      # what the engine is fed; None: the file's own rate

    def new_message(self) -> None:
        """The pieces that follow are another message's."""
        ...

    def recognize(self, pcm: bytes, rate: int) -> list[Word]:
        """The words of one piece of 16-bit mono PCM, timed from the piece's start."""
        ...


def vosk_model_present(model_dir: Path) -> bool:
    """A Vosk model directory has am/ (acoustic model) and conf/."""
    return (model_dir / "am").is_dir() and (model_dir / "conf").is_dir()


def engine_problem(settings: Any) -> str | None:
    """Why the configured engine cannot run, without loading it (None: it can). ``settings``:
    the [transcription] section."""
    if settings.engine == "vosk":
        if not vosk_model_present(Path(settings.model_dir)):
            return f"no Vosk model at {settings.model_dir}; waiting for one (README: Transcription)"
        return None
    if importlib.util.find_spec("vietasr") is None:
        return "viet-asr is not installed in this Python environment (scripts/bootstrap installs it)"
    return None


def describe(settings: Any) -> str:
    """One line for `hotline check` and set-up: the engine and its model."""
    if settings.engine == "vosk":
        return f"vosk, model {settings.model_dir}"
    return "viet-asr, its built-in Vietnamese model (offline)"


def open_engine(settings: Any) -> Engine:
    """Load the configured engine (seconds; once per process). Raises EngineUnavailable."""
    problem = engine_problem(settings)
    if problem:
        raise EngineUnavailable(problem)
    try:
        if settings.engine == "vosk":
            from hotline.adapters.speech.vosk_engine import VoskEngine
            return VoskEngine(Path(settings.model_dir))
        from hotline.adapters.speech.vietasr_engine import VietAsrEngine
        return VietAsrEngine()
    except Exception as exc:   # a broken install or model: the message waits, and says why
        raise EngineUnavailable(f"{settings.engine} failed to load: {type(exc).__name__}: {exc}") from exc


def transcribe_file(engine: Engine, path: Path, progress: Callable[[float], None] | None = None) -> Transcript:
    """Transcribe a message; ``progress(seconds done)`` after each piece (a job renews its lease)."""
    audio = AudioSegment.from_file(str(path)).set_channels(1).set_sample_width(2)
    rate = engine.sample_rate or (audio.frame_rate if audio.frame_rate in VAD_RATES else 16000)
    return transcribe_pcm(engine, audio.set_frame_rate(rate).raw_data, rate, progress)


def transcribe_pcm(engine: Engine, pcm: bytes, rate: int,
                   progress: Callable[[float], None] | None = None) -> Transcript:
    """Transcribe 16-bit mono PCM at ``rate``, piece by piece between pauses."""
    sentences: list[list[Word]] = []
    engine.new_message()
    for piece in speech_pieces(pcm, rate):
        begin, end = piece.seconds(rate)
        words = engine.recognize(pcm[piece.start * 2:piece.end * 2], rate)
        sentences.append([{**w, "start": round(w["start"] + begin, 3), "end": round(w["end"] + begin, 3)}
                          for w in words])
        if progress is not None:
            progress(end)
    raw = [w for s in sentences for w in s]
    words = [w for s in readable(sentences) for w in s]
    return Transcript(" ".join(w["word"] for w in words), words, mean_confidence(raw), len(pcm) / 2 / rate,
                      " ".join(w["word"] for w in raw), len(sentences))
