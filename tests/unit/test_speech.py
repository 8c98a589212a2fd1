"""The speech pipeline on real Vietnamese speech: pauses found where they are, every sentence back,
the configured engine chosen and explained, and viet-asr working with no network at all."""
from __future__ import annotations

import shutil
import subprocess
import sys
import wave
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from hotline.adapters.speech.engines import (
    EngineUnavailable,
    engine_problem,
    open_engine,
    transcribe_file,
    vosk_model_present,
)
from hotline.adapters.speech.pauses import PauseRules, speech_pieces
from tests.support.speech_vi import joined_message, samples, score
from tests.support.stack import ROOT


def pcm_of(path: Path) -> tuple[bytes, int]:
    with wave.open(str(path)) as w:
        return w.readframes(w.getnframes()), w.getframerate()


@pytest.fixture(scope="module")
def viet_asr() -> object:
    return open_engine(SimpleNamespace(engine="viet-asr", model_dir=Path("/nonexistent")))


@pytest.fixture(scope="module")
def message(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return joined_message(tmp_path_factory.mktemp("speech") / "six.wav")


def test_pieces_are_the_sentences_between_the_pauses(message: Path) -> None:
    pcm, rate = pcm_of(message)
    pieces = [p.seconds(rate) for p in speech_pieces(pcm, rate)]
    at, spans = 0.0, []
    for s in samples():
        with wave.open(str(s.path)) as w:
            length = w.getnframes() / w.getframerate()
        spans.append((at, at + length))
        at += length + 1.0
    assert len(pieces) == len(spans), pieces
    for (a, b), (x, y) in zip(pieces, spans, strict=True):
        assert a <= x + 0.4 and b >= y - 0.4, ((a, b), (x, y))      # each sentence inside its piece
        assert b - a < (y - x) + 0.9                                 # and not much more


def test_silence_has_no_pieces_and_long_speech_is_cut_at_most_every_max_seconds(message: Path) -> None:
    assert speech_pieces(bytes(8000 * 2 * 5), 8000) == []
    pcm, rate = pcm_of(message)
    speech = np.frombuffer(pcm, dtype=np.int16)
    no_pauses = np.concatenate([speech[speech != 0]] * 2).tobytes()     # ~55 s of speech, pauses removed
    rules = PauseRules(max_seconds=8.0)
    pieces = [p.seconds(rate) for p in speech_pieces(no_pauses, rate, rules)]
    assert len(pieces) >= 6 and all(b - a <= 8.0 + 2 * rules.pad + 0.05 for a, b in pieces), pieces
    assert all(b1 <= a2 + 1e-9 for (_a1, b1), (a2, _b2) in pairwise(pieces))    # in order, no overlap
    with pytest.raises(ValueError, match="8000"):
        speech_pieces(pcm, 11025)


@pytest.mark.parametrize("rate", [8000, 16000])
def test_viet_asr_gives_back_every_sentence_readable_and_timed(viet_asr: object, message: Path, tmp_path: Path,
                                                               rate: int) -> None:
    wav = message if rate == 8000 else joined_message(tmp_path / "16k.wav", rate=16000)
    t = transcribe_file(viet_asr, wav)  # type: ignore[arg-type]
    got = score([s.text for s in samples()], t.text)
    assert got.wer <= 0.12 and not got.missing, (got, t.text)
    assert t.pieces == 6 and t.text.count(".") == 6 and t.text[0].isupper()
    assert t.raw_text == t.raw_text.lower() and "mười chín" in t.raw_text and "19" in t.text
    assert [w["word"] for w in t.words] == t.text.split() and t.confidence is None
    assert all(a["end"] <= b["start"] + 1e-6 for a, b in pairwise(t.words))
    assert 28 < t.audio_seconds < 31 and t.words[-1]["end"] <= t.audio_seconds


def test_choosing_the_engine(tmp_path: Path) -> None:
    assert engine_problem(SimpleNamespace(engine="viet-asr", model_dir=tmp_path)) is None
    vosk = SimpleNamespace(engine="vosk", model_dir=tmp_path / "vosk-model-small-vn-0.4")
    assert "no Vosk model at" in (engine_problem(vosk) or "")
    with pytest.raises(EngineUnavailable, match="no Vosk model"):
        open_engine(vosk)


def test_a_vosk_model_needs_both_its_acoustic_model_and_its_configuration(tmp_path: Path) -> None:
    """The one check `hotline check`, `hotline status` and the worker share (engine_problem)."""
    vosk = SimpleNamespace(engine="vosk", model_dir=tmp_path)
    (tmp_path / "am").mkdir()
    assert not vosk_model_present(tmp_path) and engine_problem(vosk)
    (tmp_path / "conf").mkdir()
    assert vosk_model_present(tmp_path) and engine_problem(vosk) is None


OFFLINE = """
import sys
from pathlib import Path
from types import SimpleNamespace
from hotline.adapters.speech.engines import open_engine, transcribe_file
engine = open_engine(SimpleNamespace(engine="viet-asr", model_dir=Path("/nonexistent")))
print(transcribe_file(engine, Path(sys.argv[1])).text)
"""


def test_viet_asr_opens_no_network_connection(tmp_path: Path) -> None:
    assert shutil.which("strace"), "strace is missing: scripts/test installs it (scripts/bootstrap)"
    trace = tmp_path / "trace"
    done = subprocess.run(["strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o", str(trace),
                           sys.executable, "-c", OFFLINE, str(samples()[3].path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "xanh tươi" in done.stdout
    calls = trace.read_text().splitlines()
    assert not [c for c in calls if "AF_INET" in c], calls


def test_viet_asr_works_on_a_machine_with_no_network(tmp_path: Path) -> None:
    """In a network namespace of its own (no interface but a loopback that is down)."""
    done = subprocess.run(["unshare", "--net", sys.executable, "-c", OFFLINE, str(samples()[4].path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "cá" in done.stdout
