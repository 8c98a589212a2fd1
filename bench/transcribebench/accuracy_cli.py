"""``bench/transcribe --accuracy``: the engines' word error rate through the real phone path, and directly."""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from hotline.adapters.speech.engines import vosk_model_present

from . import accuracy_report
from .accuracy import Outcome, make_items, measure
from .choice import configured_vosk_model, is_korean, korean_test_model, transcription_settings
from .common import (
    EXIT_PASS,
    EXIT_TARGET_FAILED,
    CannotRun,
    catch_signals,
    log,
    require_tools,
    run_identity,
    run_then_close,
)
from .phone import PORTS, SATURDAY, PhoneStack

NOT_ROOT = ("--accuracy needs root: it runs Asterisk in its chroot with bind mounts (as "
            "bench/ivr_load does). Run it with sudo; the other runs of bench/transcribe need no root.")


def preflight() -> None:
    if os.geteuid() != 0:
        raise CannotRun(NOT_ROOT)
    require_tools((os.environ.get("HOTLINE_SIPP", "sipp"), "sox", "redis-server"),
                  "scripts/bootstrap installs SIPp (sip-tester) and sox; redis-server is Debian's redis-server package")


def vosk_plan(model: Path | None) -> tuple[Path | None, str | None]:
    """(the Vietnamese Vosk model to measure, or None and why not)."""
    chosen = model.resolve() if model is not None else configured_vosk_model()
    if not vosk_model_present(chosen):
        return None, (f"vosk: no Vosk model at {chosen} ([transcription] model_dir / HOTLINE_VOSK_MODEL / --model); "
                      f"the Korean test model ({korean_test_model()}) is not Vietnamese, so its error rate on "
                      "Vietnamese speech would say nothing")
    if is_korean(chosen):
        return None, f"vosk: {chosen} is the Korean test model, not a Vietnamese one"
    return chosen, None


def header(phone: PhoneStack, started: float) -> dict[str, str]:
    ast = phone.stack.asterisk
    version = ast.rx("core show version").split()[1] if ast is not None else "?"
    ports = ", ".join(f"{section}.{key} {value}" for (section, key), value in PORTS.items())
    return {**run_identity(), "asterisk": version, "stack": f"own instance in {phone.base}: {ports}",
            "hotline clock": f"{SATURDAY.isoformat()} (a Saturday: closed, voicemail)",
            "speech": "tests/fixtures/speech_vi: 6 read sentences (4 Northern, 2 Southern speakers), 16 kHz",
            "elapsed": f"{time.monotonic() - started:.0f} s",
            "load average after": f"{os.getloadavg()[0]:.2f}"}


def run(phone: PhoneStack, engines: list[tuple[str, Path | None]]) -> list[tuple[dict[str, Any], list[Outcome]]]:
    workdir = phone.base / "accuracy"
    items = make_items(workdir / "audio")
    log(f"{len(items)} messages: the six fixture files and the six joined "
        f"({', '.join(i.name for i in items)})")
    log(f"starting the bench's hotline in {phone.base} (SIP {PORTS[('sip', 'port')]}, HTTP "
        f"{PORTS[('asterisk', 'http_port')]}, AMI {PORTS[('asterisk', 'ami_port')]}, AGI {PORTS[('agi', 'port')]}, "
        f"RTP {PORTS[('asterisk', 'rtp_start')]}-{PORTS[('asterisk', 'rtp_end')]})")
    phone.start()
    log(f"  up; hotline clock {SATURDAY.isoformat()}")
    results = []
    for n, (engine, model) in enumerate(engines):
        settings = transcription_settings(engine, model)
        outcomes = measure(phone.stack, engine, settings, items, 100 * n + 1, workdir / engine, log)
        results.append((accuracy_report.summarize(engine, outcomes), outcomes))
    return results


def main(args: argparse.Namespace) -> int:
    preflight()
    started = time.monotonic()
    vosk_model, why_not = vosk_plan(args.model)
    engines: list[tuple[str, Path | None]] = [("viet-asr", None)] + ([("vosk", vosk_model)] if vosk_model else [])
    not_measured = [why_not] if why_not else []
    for line in not_measured:
        log(f"note: {line}")
    catch_signals()
    phone = PhoneStack.create(vosk_model)

    def measure_and_report() -> int:
        results = run(phone, engines)
        info = {"header": header(phone, started)}
        if args.json:
            print(json.dumps(accuracy_report.render_json(info, results, not_measured), indent=2,
                             ensure_ascii=False, default=str))
        else:
            print(accuracy_report.render_text(info, results, not_measured))
        failed = any(g["result"] == "FAIL" for s, _ in results for g in s["targets"])
        return EXIT_TARGET_FAILED if failed else EXIT_PASS

    return run_then_close(phone, args.keep, "SIPp, the worker, the apps and Asterisk", measure_and_report)
