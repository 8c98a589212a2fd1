"""The voice prompts callers hear, rendered at set-up as 8 kHz mono 16-bit WAV files.

A province's recording ``<prompts_dir>/<name>.wav`` wins over speech synthesis; any
other prompt is spoken by ``espeak-ng -v vi`` from the flow's Vietnamese text. A
sidecar hash beside each output makes a re-run skip what has not changed.
"""
from __future__ import annotations

import hashlib
import json
import os
import string
import wave
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hotline.adapters.programs import Progress, run
from hotline.domain.errors import ConfigError

VOICE = "vi"
SPEED = 150            # words per minute: a little slower than espeak's 175, for the telephone
SAMPLE_RATE = 8000
RENDER_VERSION = 1     # bump to re-render every prompt after changing how they are made
KEY_SUFFIX = ".sha256"


def spaced_digits(number: str) -> str:
    """"0277" -> "0 2 7 7", so that speech reads the digits one by one."""
    return " ".join(number)


def prompt_values(settings: Any) -> dict[str, str]:
    """What the flow's placeholders ({province} {hotline} {staffed_hours} {area_code}) stand for."""
    from hotline.domain.calendar import describe_staffed_hours

    numbers = list(settings.province.hotline_numbers)
    return {
        "province": settings.province.name,
        "hotline": spaced_digits(numbers[0]) if numbers else "",
        "staffed_hours": describe_staffed_hours(settings.staffed_hours),
        "area_code": spaced_digits(settings.province.area_code),
        "ticket_digits": str(settings.tickets.code_digits),
    }


def fill(name: str, text: str, values: Mapping[str, str]) -> str:
    """The prompt's text with its placeholders filled in; ConfigError on an unknown one."""
    fields = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    unknown = sorted(fields - set(values))
    if unknown:
        allowed = ", ".join("{" + key + "}" for key in values)
        raise ConfigError(None, None, f"prompt {name!r} uses the unknown placeholder {{{unknown[0]}}}",
                          f"use one of {allowed}, or write {{{{ and }}}} for a literal brace")
    return text.format_map(values)


def agency_list_text(agencies: Iterable[Any]) -> str:
    """The generated list read to a caller: "Để gặp Sở Tư pháp, nhấn 0 1. Để gặp …"."""
    sentences = [f"Để gặp {agency.name}, nhấn {spaced_digits(str(agency.code))}." for agency in agencies]
    return " ".join(sentences) or "Hiện chưa có đơn vị nào trong danh sách."


def agency_prompt(kind: str, code: str) -> str:
    """The generated prompt that says a directory entry's name: ``agency_department_01``."""
    from hotline.domain.flows.validate import AGENCY_PROMPT_PREFIX
    return f"{AGENCY_PROMPT_PREFIX}{kind}_{code}"


def prompt_texts(settings: Any, flow: Any, directory: Any) -> dict[str, str]:
    """Every prompt's final text: the flow's (placeholders filled), the generated lists and the
    agencies' names (a ticket's agency, read back by phone)."""
    from hotline.domain.flows import GENERATED_PROMPTS

    values = prompt_values(settings)
    texts = {name: fill(name, text, values) for name, text in flow.prompts.items()}
    kinds = {"department_list": "department", "district_list": "district"}
    for name in sorted(GENERATED_PROMPTS):
        texts[name] = agency_list_text(directory.of_kind(kinds.get(name, name.removesuffix("_list"))))
    for agency in directory.entries:
        texts[agency_prompt(agency.kind, agency.code)] = f"{agency.name}."
    return texts


def render_prompts(settings: Any, flow: Any, directory: Any, out_dir: Path, progress: Progress) -> dict[str, Path]:
    """Render every prompt of the flow into ``out_dir/<name>.wav``; return name -> path."""
    return render_texts(prompt_texts(settings, flow, directory), Path(settings.paths.prompts_dir), out_dir, progress)


def render_texts(texts: Mapping[str, str], recorded_dir: Path, out_dir: Path, progress: Progress,
                 voice: str = VOICE) -> dict[str, Path]:
    """Render each text (or its recording in ``recorded_dir``) to ``out_dir``, skipping unchanged ones."""
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[str, str, Path | None, str]] = []
    for name, text in texts.items():
        recorded = recorded_dir / f"{name}.wav"
        source = recorded if recorded.is_file() else None
        key = _key(text, voice, source)
        if _read_key(out_dir / f"{name}.wav") != key:
            jobs.append((name, text, source, key))
    if jobs:
        progress(f"[setup] Rendering {len(jobs)} voice prompt(s) into {out_dir}")
        with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
            list(pool.map(lambda job: _render_one(out_dir, voice, *job), jobs))
    _remove_stale(out_dir, set(texts))
    return {name: out_dir / f"{name}.wav" for name in texts}


def prompt_duration(path: Path) -> float:
    """Length of a PCM WAV file in seconds."""
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / float(wav.getframerate())


def _key(text: str, voice: str, recorded: Path | None) -> str:
    source: dict[str, Any] = {"version": RENDER_VERSION, "rate": SAMPLE_RATE}
    if recorded is not None:
        source["recorded"] = hashlib.sha256(recorded.read_bytes()).hexdigest()
    else:
        source.update(text=text, voice=voice, speed=SPEED)
    return hashlib.sha256(json.dumps(source, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _read_key(wav: Path) -> str | None:
    sidecar = wav.with_name(wav.name + KEY_SUFFIX)
    if not wav.is_file() or not sidecar.is_file():
        return None
    return sidecar.read_text(encoding="utf-8").strip()


def _render_one(out_dir: Path, voice: str, name: str, text: str, recorded: Path | None, key: str) -> None:
    out = out_dir / f"{name}.wav"
    tmp = out_dir / f".{name}.tmp.wav"
    to_8k = ["-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-e", "signed-integer", str(tmp)]
    try:
        if recorded is not None:
            run(["sox", recorded, *to_8k], f"convert the recorded prompt {recorded}",
                "Check that it is a valid WAV file (play it), or remove it to use speech synthesis.")
        else:
            spoken = out_dir / f".{name}.tts.wav"
            try:
                run(["espeak-ng", "-v", voice, "-s", str(SPEED), "-w", spoken, "--stdin"],
                    f"speak the prompt {name!r}", "Install espeak-ng (scripts/bootstrap does).", input_text=text)
                run(["sox", spoken, *to_8k], f"convert the spoken prompt {name!r} to 8 kHz")
            finally:
                spoken.unlink(missing_ok=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
        out.with_name(out.name + KEY_SUFFIX).write_text(key + "\n", encoding="utf-8")
    finally:
        tmp.unlink(missing_ok=True)


def _remove_stale(out_dir: Path, names: set[str]) -> None:
    """Remove prompts this module rendered earlier that the flow no longer has."""
    for sidecar in out_dir.glob(f"*.wav{KEY_SUFFIX}"):
        name = sidecar.name.removesuffix(f".wav{KEY_SUFFIX}")
        if name not in names:
            (out_dir / f"{name}.wav").unlink(missing_ok=True)
            sidecar.unlink(missing_ok=True)
