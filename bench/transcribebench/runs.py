"""The two phases: one worker beside the reference (plain Vosk, or the pipeline in-process), message after
message; then two workers on a batch."""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .hangups import Hangups, Message
from .instance import Instance
from .plain import PlainRun, Reference

Log = Callable[[str], None]
WARMUP_SECONDS = 5.0        # one message through each path first, not counted (first-run costs of a process)


def wait_timeout(length: float, count: int = 1) -> float:
    """Generous: an RTF of 3 on every message, plus two minutes."""
    return 3.0 * length * count + 120.0


@dataclass
class Pair:
    """One file through the reference, then the same file as a voicemail through the worker's job."""

    plain: PlainRun
    message: Message


@dataclass
class SingleResult:
    plain_load_s: float
    worker_ready_s: float | None
    pairs: list[Pair] = field(default_factory=list)
    memory: dict[str, int] = field(default_factory=dict)
    warmup: Pair | None = None      # the first run of each, in a fresh process: not counted


@dataclass
class BatchResult:
    length: float
    messages: list[Message]
    workers: list[dict[str, Any]]
    span_s: float                   # first hangup -> last message transcribed

    @property
    def jobs_per_min(self) -> float:
        return len(self.messages) / self.span_s * 60.0 if self.span_s > 0 else 0.0


def run_single(instance: Instance, hangups: Hangups, files: dict[float, Path], plan: list[tuple[float, int]],
               reference: Callable[[], Reference], log: Log) -> SingleResult:
    """The reference and the job on one worker, alternately, ``runs`` times per length (shortest first)."""
    log(f"starting one worker (rq worker --with-scheduler --worker-class HotlineWorker, engine {instance.engine}) "
        "and loading the reference's model")
    worker = instance.start_workers(["bench-w1"])[0]
    plain = reference()
    log(f"  worker ready in {worker.ready_s:.1f} s (model loaded, registered); {plain.label}: model loaded in "
        f"{plain.load_s:.1f} s")
    result = SingleResult(plain.load_s, worker.ready_s)
    result.warmup = Pair(plain.run(files[WARMUP_SECONDS]), _one_message(hangups, worker, files[WARMUP_SECONDS],
                                                                         WARMUP_SECONDS))
    warm = result.warmup
    log(f"  warm-up ({WARMUP_SECONDS:g} s message, not counted): reference RTF {warm.plain.rtf:.3f}, job RTF "
        f"{_fmt(warm.message.job_s, warm.message.audio_s)}")
    total = sum(runs for _, runs in plan)
    for length, runs in plan:
        for _ in range(runs):
            pair = Pair(plain.run(files[length]), _one_message(hangups, worker, files[length], length))
            result.pairs.append(pair)
            m = pair.message
            log(f"  {len(result.pairs)}/{total} {length:g} s: reference RTF {pair.plain.rtf:.3f}; job RTF "
                f"{_fmt(m.job_s, m.audio_s)}, hangup->transcribed {m.latency_s:.2f} s ({m.status})")
    result.memory = worker.memory()
    instance.stop_workers([worker])
    del plain
    return result


def _one_message(hangups: Hangups, worker: Any, source: Path, length: float) -> Message:
    m = hangups.prepare(source, length)
    cpu, faults = worker.cpu_seconds(), worker.minor_faults()
    hangups.hang_up(m)
    hangups.wait([m], wait_timeout(length))
    m.worker_cpu_s, m.worker_faults = worker.cpu_seconds() - cpu, worker.minor_faults() - faults
    hangups.finish([m])
    return m


def run_batch(instance: Instance, hangups: Hangups, source: Path, length: float, count: int, workers: int,
              log: Log) -> BatchResult:
    """``workers`` workers started together; once all are ready, ``count`` messages hang up back to back."""
    log(f"starting {workers} workers together, then {count} messages of {length:g} s at once")
    started = instance.start_workers([f"bench-w{i + 2}" for i in range(workers)])
    log("  workers ready in " + ", ".join(f"{w.ready_s:.1f} s" for w in started))
    prepared = [hangups.prepare(source, length) for _ in range(count)]
    first = time.time()
    messages = [hangups.hang_up(m) for m in prepared]
    hangups.wait(messages, wait_timeout(length, count))
    span = max(m.done or first for m in messages) - first
    hangups.finish(messages)
    done_by = Counter(m.job.get("worker") for m in messages)
    facts = [{"name": w.name, "pid": w.pid, "ready_s": w.ready_s, "jobs": done_by.get(w.name, 0),
              "memory": w.memory()} for w in started]
    instance.stop_workers(started)
    result = BatchResult(length, messages, facts, span)
    split = ", ".join(f"{f['name']} {f['jobs']}" for f in facts)
    log(f"  {count} messages transcribed in {span:.1f} s: {result.jobs_per_min:.1f} jobs/min ({split})")
    return result


def _fmt(job_s: float | None, audio_s: float) -> str:
    return "?" if job_s is None else f"{job_s / audio_s:.3f}"
