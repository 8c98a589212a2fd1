"""Where the speech is: a message cut at its pauses by a voice-activity detector (WebRTC's VAD).

A recognizer given a long message whole may silently drop part of it (viet-asr dropped the first
~6 s of a 32 s message); given the stretches between pauses, each comes back. A stretch longer
than ``max_seconds`` (speech without a pause) is cut at its quietest moment.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import webrtcvad

FRAME_MS = 30
VAD_RATES = (8000, 16000, 32000, 48000)


@dataclass(frozen=True)
class Piece:
    start: int      # first sample
    end: int        # one past the last sample

    def seconds(self, rate: int) -> tuple[float, float]:
        return self.start / rate, self.end / rate


@dataclass(frozen=True)
class PauseRules:
    aggressiveness: int = 2      # WebRTC VAD 0-3: how readily a frame is called non-speech
    min_pause: float = 0.3       # shorter gaps do not cut
    min_speech: float = 0.2      # shorter voiced stretches are clicks, not speech
    pad: float = 0.4             # audio kept either side of a stretch (0.2-0.4 s: the best figures)
    max_seconds: float = 12.0    # longer stretches are cut at their quietest frame


def speech_pieces(pcm: bytes, rate: int, rules: PauseRules = PauseRules()) -> list[Piece]:
    """The stretches of speech in 16-bit mono ``pcm`` at ``rate`` (one of VAD_RATES), in order."""
    if rate not in VAD_RATES:
        raise ValueError(f"the VAD takes {VAD_RATES} Hz, not {rate}")
    samples = np.frombuffer(pcm, dtype=np.int16)
    n = rate * FRAME_MS // 1000
    frames = len(samples) // n
    vad = webrtcvad.Vad(rules.aggressiveness)
    voiced = [vad.is_speech(samples[i * n:(i + 1) * n].tobytes(), rate) for i in range(frames)]
    runs = _merge(_runs(voiced), round(rules.min_pause * 1000 / FRAME_MS))
    min_frames, pad = round(rules.min_speech * 1000 / FRAME_MS), round(rules.pad * 1000 / FRAME_MS)
    kept = [(max(0, a - pad), min(frames, b + pad)) for a, b in runs if b - a >= min_frames]
    energy = _frame_energy(samples, n, frames)
    limit = max(2, round(rules.max_seconds * 1000 / FRAME_MS))
    pieces: list[Piece] = []
    for a, b in _merge(kept, 0):
        for x, y in _split_long(a, b, limit, energy):
            pieces.append(Piece(x * n, y * n if y < frames else len(samples)))
    return pieces


def _runs(voiced: list[bool]) -> list[tuple[int, int]]:
    runs, start = [], None
    for i, v in enumerate([*voiced, False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            runs.append((start, i))
            start = None
    return runs


def _merge(runs: list[tuple[int, int]], gap: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in runs:
        if merged and a - merged[-1][1] <= gap:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _frame_energy(samples: np.ndarray, n: int, frames: int) -> np.ndarray:
    if frames == 0:
        return np.zeros(0)
    blocks = samples[:frames * n].astype(np.float64).reshape(frames, n)
    return np.asarray((blocks ** 2).mean(axis=1))


def _split_long(a: int, b: int, limit: int, energy: np.ndarray) -> list[tuple[int, int]]:
    """Cut [a, b) into stretches of at most ``limit`` frames, each cut at the quietest frame of the
    second half of the window before the limit."""
    out = []
    while b - a > limit:
        lo, hi = a + limit // 2, a + limit
        cut = lo + int(np.argmin(energy[lo:hi]))
        out.append((a, cut))
        a = cut
    out.append((a, b))
    return out
