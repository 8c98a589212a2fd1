"""The accuracy run's figures: per file and overall word error rate, missing sentences, the targets."""
from __future__ import annotations

from typing import Any

from tests.support.speech_vi import Score

from .accuracy import Outcome
from .report import table

WER_TARGET = 0.12       # through the phone path, word-weighted over every call


def phone_score(o: Outcome) -> Score:
    """The phone path's score; a call that failed, or a message not transcribed, heard nothing."""
    if o.phone is None:
        return Score(1.0, sum(len(s.split()) for s in o.item.sentences), [0.0] * len(o.item.sentences))
    return o.phone


def overall(scores: list[Score | None]) -> float | None:
    """Word error rate over every word of every call (each call weighted by its reference words)."""
    counted = [s for s in scores if s is not None]
    words = sum(s.words for s in counted)
    return sum(s.wer * s.words for s in counted) / words if words else None


def _missing(score: Score | None) -> str:
    if score is None:
        return "?"
    if not score.missing:
        return "-"
    if len(score.sentences) == 1:
        return "missing"
    return ", ".join(f"#{i + 1}" for i in score.missing)


def _pc(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def summarize(engine: str, outcomes: list[Outcome]) -> dict[str, Any]:
    phone = [phone_score(o) for o in outcomes]
    direct = [o.direct for o in outcomes]
    wer = overall(list(phone))
    sentences = sum(len(s.sentences) for s in phone)
    missing = [(o.item.name, i + 1) for o, s in zip(outcomes, phone, strict=True) for i in s.missing]
    failed = [f"{o.item.name}: {o.call_problem or o.status}" for o in outcomes
              if o.call_problem or o.status != "transcribed"]
    targets = [
        {"target": f"WER <= {WER_TARGET:.0%} through the phone path ({engine}, word-weighted, {len(outcomes)} calls)",
         "figure": f"{_pc(wer)} (16 kHz direct {_pc(overall(direct))})",
         "result": "PASS" if wer is not None and wer <= WER_TARGET and not failed else "FAIL"},
        {"target": f"no sentence missing from any transcript ({engine}, phone path)",
         "figure": f"{len(missing)} of {sentences} missing"
                   + (": " + ", ".join(f"{name} #{i}" for name, i in missing) if missing else ""),
         "result": "PASS" if not missing and not failed else "FAIL"},
    ]
    alone = [i for i, o in enumerate(outcomes) if len(o.item.sentences) == 1]
    return {"engine": engine, "model": next((o.model for o in outcomes if o.model), ""),
            "wer_phone": wer, "wer_direct": overall(direct), "missing": missing, "failed": failed,
            "wer_phone_files_alone": overall([phone[i] for i in alone]),
            "wer_direct_files_alone": overall([direct[i] for i in alone]),
            "rows": [row(o) for o in outcomes], "targets": targets}


def row(o: Outcome) -> dict[str, Any]:
    phone = phone_score(o)
    return {"file": o.item.name, "speaker": o.item.speaker, "words": phone.words, "caller": o.caller,
            "ticket": o.ticket, "status": o.status, "call_problem": o.call_problem,
            "wer_phone": phone.wer, "wer_direct": o.direct.wer if o.direct else None,
            "sentences_phone": phone.sentences, "sentences_direct": o.direct.sentences if o.direct else None,
            "missing_phone": phone.missing, "missing_direct": o.direct.missing if o.direct else None,
            "reference": " ".join(o.item.sentences), "transcript_phone": o.phone_text,
            "transcript_direct": o.direct_text, **o.extra}


def render_engine(s: dict[str, Any], outcomes: list[Outcome]) -> list[str]:
    head = ["file", "speaker", "words", "WER phone path", "WER 16 kHz direct", "missing (phone)", "missing (16 kHz)"]
    body = [[o.item.name, o.item.speaker, str(phone_score(o).words), _pc(phone_score(o).wer),
             _pc(o.direct.wer if o.direct else None), _missing(phone_score(o)), _missing(o.direct)]
            for o in outcomes]
    words = sum(phone_score(o).words for o in outcomes)
    alone = [o for o in outcomes if len(o.item.sentences) == 1]
    alone_words = sum(phone_score(o).words for o in alone)
    body.append(["the files alone (word-weighted)", f"{len(alone)} calls", str(alone_words),
                 _pc(s["wer_phone_files_alone"]), _pc(s["wer_direct_files_alone"]), "", ""])
    body.append(["overall (word-weighted)", f"{len(outcomes)} calls", str(words), _pc(s["wer_phone"]),
                 _pc(s["wer_direct"]), str(len(s["missing"])), str(sum(len(o.direct.missing) for o in outcomes
                                                                        if o.direct))])
    lines = [f"engine {s['engine']} (the worker's model: {s['model'] or '?'})", "", table([head, *body]), ""]
    lines.append("transcripts that differ from the text (reference / phone path / 16 kHz direct):")
    for o in outcomes:
        if phone_score(o).wer > 0 or (o.direct and o.direct.wer > 0):
            lines += [f"  {o.item.name}", f"    ref:    {' '.join(o.item.sentences)}",
                      f"    phone:  {o.phone_text or '(' + (o.call_problem or o.status or 'nothing') + ')'}",
                      f"    16 kHz: {o.direct_text}"]
    return lines + [*(f"  not transcribed: {f}" for f in s["failed"]), ""]


def render_text(info: dict[str, Any], engines: list[tuple[dict[str, Any], list[Outcome]]],
                not_measured: list[str]) -> str:
    parts = [f"{k}: {v}" for k, v in info["header"].items()] + [""]
    for s, outcomes in engines:
        parts += render_engine(s, outcomes)
    parts += [*(f"not measured: {why}" for why in not_measured), ""]
    goals = [g for s, _ in engines for g in s["targets"]]
    parts.append(table([["target", "figure", "result"], *[[g["target"], g["figure"], g["result"]] for g in goals]]))
    parts += ["", *(f"- {d}" for d in DEFINITIONS)]
    return "\n".join(parts)


def render_json(info: dict[str, Any], engines: list[tuple[dict[str, Any], list[Outcome]]],
                not_measured: list[str]) -> dict[str, Any]:
    return {"meta": info, "engines": [s for s, _ in engines], "not_measured": not_measured,
            "targets": [g for s, _ in engines for g in s["targets"]], "definitions": DEFINITIONS}


DEFINITIONS = (
    "phone path: the 16 kHz fixture converted to 8 kHz by sox, streamed by a SIPp caller as G.711 u-law (PCMU) "
    "after the voicemail beep of the bench's own hotline on a Saturday, 1 s of silence, # ; Asterisk records "
    "it, the ARI app makes the ticket, the real worker (rq worker, HotlineWorker) transcribes it.",
    "16 kHz direct: hotline.adapters.speech.engines.transcribe_file on the 16 kHz fixture file in the bench's process "
    "(the same pipeline, no phone line).",
    "WER: word error rate (jiwer) of the transcript against the text, both lower case without punctuation and "
    "with number words as digits (tests.support.speech_vi.score); overall (the target's): weighted by each "
    "call's words, over the six files and the joined message; the files alone: the six short calls only.",
    "missing: a sentence of which fewer than half the words were recognized (#n: the n-th sentence of the "
    "joined message).",
)
