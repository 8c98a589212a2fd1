"""The verdict: sustainable rates, the issue's targets, and the table (or JSON) that shows them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .queue_run import FREE_RING_P95_MS, QueueResult
from .runs import PROMPT_P95_MS, RATE_TOLERANCE, RunResult

TARGET_CONCURRENT = 100
TARGET_RATE = 5.0
TARGET_RATIO = 0.90

DEFINITIONS = (
    "answer->prompt: Asterisk's timestamp of the channel going Up (200 OK) to the first prompt "
    "starting (ARI PlaybackStarted for the app, the Playback step for the baseline), seen by a "
    "second ARI app subscribed to all events.",
    f"sustainable rate: the highest rate tried at which that run and every slower one had zero "
    f"failed calls, a prompt on every call, answer->prompt p95 < {PROMPT_P95_MS:g} ms and SIPp "
    f"placing the calls at >= {RATE_TOLERANCE:.0%} of the rate asked ('>=' when the fastest rate passed).",
    "failed: calls not ended by the caller's own BYE after the whole script (rejected, cut off, "
    "no answer, SIPp errors). CPU: utime+stime from /proc over the run, divided by its calls.",
)


@dataclass
class Sustained:
    rate: float                 # 0: not even the slowest rate passed
    censored: bool              # the fastest rate tried passed: the true figure may be higher

    def text(self) -> str:
        return f"{'>=' if self.censored else ''}{self.rate:g}/s"


def sustainable(results: list[RunResult], path: str) -> Sustained:
    runs = sorted((r for r in results if r.spec.path == path), key=lambda r: r.spec.rate)
    best = 0.0
    for r in runs:
        if not r.passed:
            return Sustained(best, False)
        best = r.spec.rate
    return Sustained(best, bool(runs))


def main_run(results: list[RunResult], path: str, rate: float, calls: int) -> RunResult | None:
    return next((r for r in results if r.spec.path == path and r.spec.rate == rate and r.spec.calls == calls), None)


def targets(results: list[RunResult], rate: float, calls: int) -> list[dict[str, Any]]:
    app = main_run(results, "app", rate, calls)
    out = []
    if app is None:
        return [{"target": "main run of the app", "figure": "not run", "result": "FAIL"}]
    reach = calls >= TARGET_CONCURRENT and rate >= TARGET_RATE
    ok_calls = app.failed == 0 and app.no_prompt == 0
    out.append(_target(f"{TARGET_CONCURRENT} concurrent recorded calls (app)",
                       f"peak {app.peak_channels} channels, {app.recordings}/{app.spec.calls} recorded",
                       app.peak_channels >= TARGET_CONCURRENT and app.recordings >= app.spec.calls and ok_calls,
                       reach))
    out.append(_target(f"{TARGET_RATE:g} new calls/s with zero failed calls (app)",
                       f"{_num(app.setup_rate, '.2f')}/s, {app.failed} failed, {app.no_prompt} without prompt",
                       (app.setup_rate or 0) >= RATE_TOLERANCE * TARGET_RATE and ok_calls, reach))
    p95 = app.answer_prompt_ms.get("p95")
    out.append(_target(f"answer->first prompt p95 < {PROMPT_P95_MS:g} ms (app)", f"{_num(p95, '.0f')} ms",
                       p95 is not None and p95 < PROMPT_P95_MS, True))
    a, b = sustainable(results, "app"), sustainable(results, "baseline")
    ratio = a.rate / b.rate if b.rate else None
    figure = f"app {a.text()} / baseline {b.text()} = {_num(ratio, '.0%')}"
    if a.censored and b.censored:
        figure += " (both held the fastest rate tried)"
    out.append(_target(f"app sustainable rate >= {TARGET_RATIO:.0%} of baseline", figure,
                       ratio is not None and ratio >= TARGET_RATIO, b.rate > 0))
    return out


def _target(name: str, figure: str, ok: bool, tried: bool) -> dict[str, Any]:
    return {"target": name, "figure": figure, "result": ("PASS" if ok else "FAIL") if tried else "NOT TRIED"}


COLUMNS = ("run", "calls", "peak", "setup/s", "failed", "no-prompt", "INV->200 p95/p99 ms",
           "ans->prompt p50/p95/max ms", "stasis->prompt p95", "app CPU ms/call", "ast CPU ms/call",
           "SIPp CPU s", "held s", "rec", "slow DNS", "pass")


def run_row(r: RunResult) -> list[str]:
    inv, ans = r.invite_200_ms, r.answer_prompt_ms
    app_cpu = r.cpu_per_call("ari_app")
    return [r.spec.name, str(r.spec.calls), str(r.peak_channels), _num(r.setup_rate, ".2f"), str(r.failed),
            str(r.no_prompt), f"{_num(inv.get('p95'), '.0f')}/{_num(inv.get('p99'), '.0f')}",
            f"{_num(ans.get('p50'), '.0f')}/{_num(ans.get('p95'), '.0f')}/{_num(ans.get('max'), '.0f')}",
            _num(r.stasis_prompt_ms.get("p95"), ".0f"), _num(None if app_cpu is None else app_cpu * 1000, ".1f"),
            _num((r.cpu_per_call("asterisk") or 0) * 1000, ".1f"), _num(r.cpu_s.get("sipp"), ".1f"),
            _num(r.held_s, ".1f"), str(r.recordings), str(len(r.asterisk_log.get("slow_lookups_s", []))),
            "yes" if r.passed else "NO"]


def table(rows: list[list[str]], headers: tuple[str, ...] | list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


QUEUE_DEFINITIONS = (
    "free->ring: from an operator phone's BYE (the operator hangs up; SIPp -trace_msg stamp) to the next "
    "INVITE that phone receives, minus the wrap-up (bench setting [queue] wrapup_seconds), counted only "
    "when that operator was needed: more callers waiting in app_queue and not yet bridged (observer: "
    "ChannelDialplan Queue -> ChannelEnteredBridge) than other phones ringing plus other operators idle. "
    "At other hang-ups no caller was left for this operator, so the next ring waits for a new caller.",
    "lost: callers whose number (From of the operator's INVITE) no operator phone answered: rejected, "
    "cut off, or sent to voicemail after the queue's max wait. wait: queued -> bridged (Asterisk). "
    "Callers do not rate: the survey asks twice, then the app hangs up. CPU: /proc over the run / callers.",
)

QUEUE_COLUMNS = ("run", "callers", "ops", "answered", "lost", "free->ring n", "free->ring p50/p95/max ms",
                 "wait p50/p95/max s", "calls/op min-max", "app CPU ms/call", "ast CPU ms/call", "SIPp CPU s",
                 "peak", "rec", "pass")


def queue_row(q: QueueResult) -> list[str]:
    fr, w = q.free_ring_ms, q.wait_s
    per_op = list(q.calls_per_operator.values()) or [0]
    app_cpu = q.cpu_per_call("ari_app")
    return [q.spec.name, str(q.spec.callers), str(q.spec.operators), str(q.answered_callers), str(len(q.lost)),
            f"{q.needed_moments}/{q.free_moments}",
            f"{_num(fr.get('p50'), '.0f')}/{_num(fr.get('p95'), '.0f')}/{_num(fr.get('max'), '.0f')}",
            f"{_num(w.get('p50'), '.1f')}/{_num(w.get('p95'), '.1f')}/{_num(w.get('max'), '.1f')}",
            f"{min(per_op)}-{max(per_op)}", _num(None if app_cpu is None else app_cpu * 1000, ".1f"),
            _num((q.cpu_per_call("asterisk") or 0) * 1000, ".1f"), _num(q.cpu_s.get("sipp"), ".1f"),
            str(q.peak_channels), str(q.recordings), "yes" if q.passed else "NO"]


def queue_targets(q: QueueResult) -> list[dict[str, Any]]:
    p95 = q.free_ring_ms.get("p95")
    figure = f"p95 {_num(p95, '.0f')} ms over {q.needed_moments} hang-ups with a caller waiting"
    if q.needed_not_rung:
        figure += f", {q.needed_not_rung} never rung again"
    return [_target(f"operator free -> phone rings p95 < {FREE_RING_P95_MS:g} ms (queue)", figure,
                    p95 is not None and p95 < FREE_RING_P95_MS and not q.needed_not_rung, q.needed_moments > 0),
            _target("zero calls lost (queue)", f"{len(q.lost)} of {q.spec.callers} got no operator",
                    not q.lost, True)]


def render_queue(q: QueueResult) -> list[str]:
    parts = [f"queue: {q.spec.callers} callers at {q.spec.rate:g}/s press 0; {q.spec.operators} SIPp operator "
             f"phones ring 0-{q.spec.ring_max:g} s, talk {q.spec.talk:g} s and hang up; wrap-up {q.wrapup_s:g} s; "
             f"run {q.wall_s:.0f} s", "", table([queue_row(q)], QUEUE_COLUMNS), "",
             f"callers' SIPp outcomes: {q.outcomes}; app's call log, queue_outcome: {q.app_outcomes}",
             f"calls per operator: {q.calls_per_operator}",
             f"app_queue announcements to waiting callers: {q.announcements}; the monitor's wakes of waiting "
             f"callers when an operator was free: {q.wakes} (bench/README.md, 'Findings')"]
    if q.lost:
        parts.append(f"lost: {', '.join(q.lost[:20])}{' ...' if len(q.lost) > 20 else ''}")
    if q.worst:
        parts.append("slowest free->ring: " + "; ".join(
            f"{w['phone']} at {w['at'][11:]} {w['gap_ms']} ms (waiting {w['waiting']}, ringing {w['ringing']}, "
            f"idle {w['idle']})" for w in q.worst))
    parts += [f"SIPp, {q.spec.name}: {problem}" for problem in q.problems]
    parts += [f"Asterisk, {q.spec.name}: {warning}" for warning in q.asterisk_log.get("other_warnings", [])]
    return parts


def render_text(meta: dict[str, Any], results: list[RunResult], goals: list[dict[str, Any]],
                queue: QueueResult | None = None) -> str:
    head = (f"hold {meta['hold']:g} s, key {meta['key']} at {meta['key_at']:.1f} s; concurrency limit "
            f"{meta['limit']}; " if results else f"key 0 at {meta['key_at']:.1f} s; ")
    parts = [f"bench/ivr_load  {meta['date']}  {meta['machine']}",
             f"Asterisk {meta['asterisk']}; {head}total {meta['elapsed_s']:.0f} s", ""]
    if results:
        parts += [table([run_row(r) for r in results], COLUMNS), ""]
        for path in ("app", "baseline"):
            parts.append(f"sustainable rate, {path}: {sustainable(results, path).text()}")
        parts.append("")
    if queue is not None:
        parts += [*render_queue(queue), ""]
    parts += [table([[g["target"], g["figure"], g["result"]] for g in goals], ("target", "figure", "result")),
              ""]
    for r in results:
        for problem in r.problems:
            parts.append(f"SIPp, {r.spec.name}: {problem}")
        for warning in r.asterisk_log.get("other_warnings", []):
            parts.append(f"Asterisk, {r.spec.name}: {warning}")
    parts += dns_notes(results) + ([] if queue is None else _queue_dns(queue))
    parts += [f"* {d}" for d in DEFINITIONS] if results else []
    parts += [f"* {d}" for d in QUEUE_DEFINITIONS] if queue is not None else []
    if meta.get("skipped"):
        parts.append(f"* not run (a slower rate of that path already failed): {', '.join(meta['skipped'])}")
    return "\n".join(parts)


def dns_notes(results: list[RunResult]) -> list[str]:
    """Asterisk's own-address DNS look-ups on the SIP path: how many, and the slow ones."""
    calls = sum(r.spec.calls for r in results)
    lookups = sum(r.asterisk_log.get("root_lookups", 0) for r in results)
    slow = [s for r in results for s in r.asterisk_log.get("slow_lookups_s", [])]
    if not lookups:
        return []
    line = (f"Asterisk looked up A.ROOT-SERVERS.NET (its own address, ast_find_ourip) {lookups} times for "
            f"{calls} calls, on the SIP thread handling the INVITE")
    if slow:
        line += f"; {len(slow)} took >= 1 s (slowest {max(slow):.1f} s), holding the INVITEs queued behind"
    return [line + " (bench/README.md, 'Findings')"]


def _queue_dns(q: QueueResult) -> list[str]:
    lookups, slow = q.asterisk_log.get("root_lookups", 0), q.asterisk_log.get("slow_lookups_s", [])
    if not lookups:
        return []
    return [f"Asterisk looked up A.ROOT-SERVERS.NET {lookups} times in the queue run ({len(slow)} took >= 1 s)"]


def render_json(meta: dict[str, Any], results: list[RunResult], goals: list[dict[str, Any]],
                queue: QueueResult | None = None) -> dict[str, Any]:
    return {"meta": meta, "runs": [r.to_json() for r in results],
            "sustainable_rate": {p: vars(sustainable(results, p)) for p in ("app", "baseline")} if results else None,
            "queue": queue.to_json() if queue is not None else None,
            "targets": goals, "definitions": list(DEFINITIONS) + list(QUEUE_DEFINITIONS if queue else ())}


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)
