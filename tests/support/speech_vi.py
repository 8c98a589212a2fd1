"""Real Vietnamese speech with its transcripts (tests/fixtures/speech_vi) and how a transcript is scored.

Word error rate (jiwer) on both texts normalised the same way (lower case, no punctuation, number
words as digits), and, per sentence, the share of its words the transcript got right: a sentence
is present when at least half of its words are.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import jiwer

from hotline.adapters.speech.readable import normalise_text

from .stack import ROOT

SPEECH_VI = ROOT / "tests" / "fixtures" / "speech_vi"
PRESENT = 0.5      # a sentence is present when this share of its words is recognized


@dataclass(frozen=True)
class Sample:
    path: Path          # 16 kHz mono
    speaker: str
    region: str
    text: str


def samples() -> list[Sample]:
    rows = (SPEECH_VI / "transcripts.tsv").read_text(encoding="utf-8").splitlines()
    out = []
    for row in rows:
        name, speaker, sex, region, text = row.split("\t")
        out.append(Sample(SPEECH_VI / name, f"{speaker} ({sex}, {region})", region, text))
    return out


def joined_message(dest: Path, items: list[Sample] | None = None, pause: float = 1.0, rate: int = 8000) -> Path:
    """The samples one after another with ``pause`` seconds between them (and after the last), as one
    16-bit mono WAV at ``rate``: a caller reading several sentences into voicemail."""
    gap = dest.with_suffix(".gap.wav")
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(gap), "trim", "0", str(pause)], check=True)
    parts: list[str] = []
    for s in items or samples():
        parts += [str(s.path), str(gap)]
    subprocess.run(["sox", *parts, "-r", str(rate), "-c", "1", "-b", "16", str(dest)], check=True)
    return dest


@dataclass(frozen=True)
class Score:
    wer: float                          # over every word
    words: int                          # in the reference
    sentences: list[float]              # per reference sentence: the share of its words recognized

    @property
    def missing(self) -> list[int]:
        """Indexes of the sentences that are not present."""
        return [i for i, share in enumerate(self.sentences) if share < PRESENT]


def score(reference: list[str], transcript: str) -> Score:
    """``transcript`` against the reference sentences (read in that order)."""
    ref_sentences = [normalise_text(r).split() for r in reference]
    ref = [w for s in ref_sentences for w in s]
    hyp = normalise_text(transcript).split()
    if not hyp:
        return Score(1.0, len(ref), [0.0] * len(ref_sentences))
    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    hits = set()
    for chunk in out.alignments[0]:
        if chunk.type == "equal":
            hits.update(range(chunk.ref_start_idx, chunk.ref_end_idx))
    shares, at = [], 0
    for sentence in ref_sentences:
        shares.append(sum(i in hits for i in range(at, at + len(sentence))) / max(1, len(sentence)))
        at += len(sentence)
    return Score(float(out.wer), len(ref), shares)
