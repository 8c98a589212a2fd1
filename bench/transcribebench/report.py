"""The figures, the issue's targets, and the table (or JSON) that shows them."""
from __future__ import annotations

import statistics
from typing import Any

from .hangups import Message
from .runs import BatchResult, Pair, SingleResult

OVERHEAD_TARGET = 0.10              # the job's time over the reference's (plain Vosk, the pipeline)


def latency_target(audio_s: float) -> float:
    """hangup -> ticket transcribed, one worker: half the audio length plus 3 s."""
    return audio_s / 2 + 3.0


REFERENCE = {
    "vosk": ("plain Vosk", "plain", "plain Vosk: wave + KaldiRecognizer in the bench process, model loaded once "
             "(not timed)"),
    "viet-asr": ("the pipeline in-process", "pipeline", "the pipeline in-process: hotline.adapters.speech.engines."
                 "transcribe_file (pydub load, pauses, viet-asr piece by piece, readable words) in the bench "
                 "process, engine loaded once (not timed)"),
}


def definitions(engine: str) -> tuple[str, ...]:
    label, _short, how = REFERENCE[engine]
    return (
        f"RTF (real-time factor): processing time / audio length. Reference, {how}. Job: transcribe_voicemail "
        "in a real rq worker (HotlineWorker), RQ's started_at -> ended_at (claim, the same pipeline, lease "
        "renewals, transcript and ticket).",
        f"overhead: sum of job times / sum of {label}'s times - 1, over the same files run alternately, after "
        "one untimed 5 s warm-up message through each (CPU: the worker process's utime+stime from hangup to "
        f"transcribed against the bench's CPU time over {label}).",
        "hangup->transcribed: from the hangup (before the Voicemail row, the ticket and the enqueue, what the "
        "ARI app does) to the first 20 ms poll of the database that sees the status transcribed (the ticket has "
        "the transcript in the same commit); one worker, idle, one message at a time.",
        "peak memory: VmHWM of the worker process (/proc/PID/status) at the end of its phase; Pss "
        "(smaps_rollup) splits the pages it shares; RQ's scheduler, a child forked by one worker after the "
        "model was loaded, is shown apart.",
        "jobs/min: messages / (first hangup -> last transcribed) x 60, two workers started together, all "
        "messages enqueued at once once both had loaded the model.",
    )


def pct(values: list[float], q: float) -> float | None:
    """The q-th percentile, linear between the closest ranks (numpy's default)."""
    if not values:
        return None
    data = sorted(values)
    k = (len(data) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def _num(value: float | None, fmt: str = ".2f", suffix: str = "") -> str:
    return "-" if value is None else f"{value:{fmt}}{suffix}"


def _ratio(a: float, b: float) -> float | None:
    return a / b - 1 if b > 0 else None


def row(length: float | None, pairs: list[Pair]) -> dict[str, Any]:
    """The figures of one length (``None``: every file)."""
    done = [p for p in pairs if p.message.job_s is not None]
    audio = sum(p.message.audio_s for p in done)
    plain, job = sum(p.plain.wall_s for p in done), sum(p.message.job_s or 0.0 for p in done)
    plain_cpu = sum(p.plain.cpu_s for p in done)
    job_cpu = sum(p.message.worker_cpu_s or 0.0 for p in done)
    latencies = [p.message.latency_s for p in pairs if p.message.latency_s is not None]
    audio_s = statistics.median(p.message.audio_s for p in pairs) if pairs else 0.0
    p95 = pct(latencies, 95)
    target = latency_target(audio_s) if length is not None else None
    return {"length_s": length, "runs": len(pairs), "audio_s": audio_s, "jobs_timed": len(done),
            "plain_rtf": plain / audio if audio else None, "job_rtf": job / audio if audio else None,
            "overhead": _ratio(job, plain), "overhead_cpu": _ratio(job_cpu, plain_cpu),
            "plain_cpu_rtf": plain_cpu / audio if audio else None, "job_cpu_rtf": job_cpu / audio if audio else None,
            "latency_p50_s": pct(latencies, 50), "latency_p95_s": p95, "latency_max_s": max(latencies, default=None),
            "latency_target_s": target, "latency_pass": None if target is None or p95 is None else p95 < target,
            "words_plain": statistics.median(p.plain.words for p in pairs) if pairs else None,
            "words_job": statistics.median(p.message.job.get("result", {}).get("words", 0) for p in pairs)
            if pairs else None,
            "breakdown_p50_s": breakdown([p.message for p in pairs])}


def breakdown(messages: list[Message]) -> dict[str, float | None]:
    """Medians of the latency's parts: the writes at hangup, waiting for the worker, the job, seeing it."""
    parts: dict[str, list[float]] = {"hangup_writes": [], "queue_wait": [], "job": [], "to_seen": []}
    for m in messages:
        j = m.job
        parts["hangup_writes"].append(m.queued - m.hangup)
        if j.get("started") and j.get("enqueued") and j.get("ended") and m.done:
            parts["queue_wait"].append(j["started"] - j["enqueued"])
            parts["job"].append(j["ended"] - j["started"])
            parts["to_seen"].append(m.done - j["ended"])
    return {k: pct(v, 50) for k, v in parts.items()}


def summarize(single: SingleResult, batch: BatchResult | None, engine: str) -> dict[str, Any]:
    lengths = sorted({p.message.length for p in single.pairs})
    rows = [row(length, [p for p in single.pairs if p.message.length == length]) for length in lengths]
    out: dict[str, Any] = {"rows": rows, "all": row(None, single.pairs)}
    memories = [("bench-w1", single.memory)] + [(w["name"], w["memory"]) for w in (batch.workers if batch else [])]
    out["memory"] = [{"worker": name, **mem} for name, mem in memories]
    out["peak_memory_mb"] = max((mem.get("hwm_kb", 0) for _, mem in memories), default=0) / 1024
    if batch is not None:
        same = [p.message.latency_s for p in single.pairs if p.message.length == batch.length and p.message.latency_s]
        one = 60.0 / statistics.mean(same) if same else None
        out["batch"] = {"length_s": batch.length, "messages": len(batch.messages), "span_s": batch.span_s,
                        "jobs_per_min": batch.jobs_per_min, "one_worker_jobs_per_min": one,
                        "scaling": batch.jobs_per_min / one if one else None, "workers": batch.workers,
                        "statuses": sorted({m.status for m in batch.messages}),
                        "tickets_ok": sum(m.ticket_ok for m in batch.messages)}
    out["engine"], out["reference"] = engine, REFERENCE[engine][0]
    out["targets"] = targets(out)
    return out


def targets(s: dict[str, Any]) -> list[dict[str, str]]:
    total = s["all"]
    wall, cpu = _num(_pc(total["overhead"]), "+.1f", " %"), _num(_pc(total["overhead_cpu"]), "+.1f", " %")
    goals = [{"target": f"job overhead over {s['reference']} < {OVERHEAD_TARGET:.0%} (all files)",
              "figure": f"job RTF {_num(total['job_rtf'], '.3f')} vs {REFERENCE[s['engine']][1]} "
                        f"{_num(total['plain_rtf'], '.3f')}: "
                        f"{wall} (CPU {cpu})",
              "result": _verdict(None if total["overhead"] is None else total["overhead"] < OVERHEAD_TARGET)}]
    for r in s["rows"]:
        goals.append({"target": f"hangup->transcribed p95 < {r['latency_target_s']:.1f} s ({r['length_s']:g} s "
                                f"messages, 1 worker)",
                      "figure": f"p95 {_num(r['latency_p95_s'], '.2f', ' s')} over {r['runs']}",
                      "result": _verdict(r["latency_pass"])})
    peak = ", ".join(f"{m['worker']} {m.get('hwm_kb', 0) / 1024:.0f} MB" for m in s["memory"])
    goals.append({"target": "peak memory per worker (VmHWM; no target)", "figure": peak, "result": "-"})
    if "batch" in s:
        b = s["batch"]
        one = f", 1 worker {b['one_worker_jobs_per_min']:.1f}" if b["one_worker_jobs_per_min"] else ""
        goals.append({"target": f"jobs per minute, 2 workers ({b['messages']} x {b['length_s']:g} s; no target)",
                      "figure": f"{b['jobs_per_min']:.1f} jobs/min{one}", "result": "-"})
    return goals


def _pc(value: float | None) -> float | None:
    return None if value is None else value * 100


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("PASS" if ok else "FAIL")


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_text(info: dict[str, Any], s: dict[str, Any]) -> str:
    short = REFERENCE[s["engine"]][1]
    head = ["audio", "runs", f"{short} RTF", "job RTF", "overhead", "CPU overhead",
            "hangup->transcribed p50/p95/max s", "target s", "pass", f"words {short}/job"]
    body = [_line(f"{r['length_s']:g} s", r) for r in s["rows"]] + [_line("all", s["all"])]
    parts = [f"{k}: {v}" for k, v in info["header"].items()]
    parts += ["", table([head, *body]), ""]
    if "batch" in s:
        b = s["batch"]
        per = ", ".join(f"{w['name']} {w['jobs']} jobs, ready in {_num(w['ready_s'], '.1f')} s" for w in b["workers"])
        parts.append(f"two workers, {b['messages']} x {b['length_s']:g} s at once: {b['span_s']:.1f} s, "
                     f"{b['jobs_per_min']:.1f} jobs/min (one worker back to back: "
                     f"{_num(b['one_worker_jobs_per_min'], '.1f')}; x{_num(b['scaling'], '.2f')}); {per}")
    for m in s["memory"]:
        kids = (f"; its RQ scheduler child: VmHWM {_mb(m, 'children_hwm_kb')} MB, Pss {_mb(m, 'children_pss_kb')} MB"
                if m.get("children") else "")
        parts.append(f"memory {m['worker']}: VmHWM {_mb(m, 'hwm_kb')} MB, VmRSS {_mb(m, 'rss_kb')} MB, "
                     f"Pss {_mb(m, 'pss_kb')} MB{kids}")
    b50 = s["all"]["breakdown_p50_s"]
    parts.append("latency parts, p50 s: " + ", ".join(f"{k} {_num(v, '.3f')}" for k, v in b50.items()))
    parts += ["", table([["target", "figure", "result"], *[[g["target"], g["figure"], g["result"]]
                                                          for g in s["targets"]]])]
    parts += ["", *info.get("notes", []), "", *(f"- {d}" for d in definitions(s["engine"]))]
    return "\n".join(parts)


def _mb(memory: dict[str, Any], key: str) -> str:
    return f"{memory.get(key, 0) / 1024:.0f}"


def _line(label: str, r: dict[str, Any]) -> list[str]:
    lat = "/".join(_num(r[k], ".2f") for k in ("latency_p50_s", "latency_p95_s", "latency_max_s"))
    return [label, str(r["runs"]), _num(r["plain_rtf"], ".3f"), _num(r["job_rtf"], ".3f"),
            _num(_pc(r["overhead"]), "+.1f", " %"), _num(_pc(r["overhead_cpu"]), "+.1f", " %"), lat,
            _num(r["latency_target_s"], ".1f"), _verdict(r["latency_pass"]),
            f"{_num(r['words_plain'], '.0f')}/{_num(r['words_job'], '.0f')}"]


def render_json(info: dict[str, Any], s: dict[str, Any], single: SingleResult,
                batch: BatchResult | None) -> dict[str, Any]:
    def msg(m: Message) -> dict[str, Any]:
        return {"length_s": m.length, "audio_s": m.audio_s, "voicemail_id": m.voicemail_id, "status": m.status,
                "latency_s": m.latency_s, "job_s": m.job_s, "worker_cpu_s": m.worker_cpu_s,
                "worker_minor_faults": m.worker_faults,
                "ticket_ok": m.ticket_ok, "hangup": m.hangup, "queued": m.queued, "done": m.done, "job": m.job}
    def pair(p: Pair) -> dict[str, Any]:
        return {"plain": vars(p.plain) | {"rtf": p.plain.rtf}, "job": msg(p.message)}
    return {"meta": info, "summary": s, "single": {"plain_load_s": single.plain_load_s,
                                                    "worker_ready_s": single.worker_ready_s,
                                                    "warmup": pair(single.warmup) if single.warmup else None,
                                                    "runs": [pair(p) for p in single.pairs]},
            "batch": [msg(m) for m in batch.messages] if batch else None,
            "definitions": definitions(s["engine"])}
