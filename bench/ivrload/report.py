"""The verdict: sustainable rates, the issue's targets, and the table (or JSON) that shows them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


def render_text(meta: dict[str, Any], results: list[RunResult], goals: list[dict[str, Any]]) -> str:
    parts = [f"bench/ivr_load  {meta['date']}  {meta['machine']}",
             f"Asterisk {meta['asterisk']}; hold {meta['hold']:g} s, key {meta['key']} at "
             f"{meta['key_at']:.1f} s; concurrency limit {meta['limit']}; total {meta['elapsed_s']:.0f} s", "",
             table([run_row(r) for r in results], COLUMNS), ""]
    for path in ("app", "baseline"):
        parts.append(f"sustainable rate, {path}: {sustainable(results, path).text()}")
    parts += ["", table([[g["target"], g["figure"], g["result"]] for g in goals], ("target", "figure", "result")),
              ""]
    for r in results:
        for problem in r.problems:
            parts.append(f"SIPp, {r.spec.name}: {problem}")
        for warning in r.asterisk_log.get("other_warnings", []):
            parts.append(f"Asterisk, {r.spec.name}: {warning}")
    parts += dns_notes(results)
    parts += [f"* {d}" for d in DEFINITIONS]
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


def render_json(meta: dict[str, Any], results: list[RunResult], goals: list[dict[str, Any]]) -> dict[str, Any]:
    return {"meta": meta, "runs": [r.to_json() for r in results],
            "sustainable_rate": {p: vars(sustainable(results, p)) for p in ("app", "baseline")},
            "targets": goals, "definitions": list(DEFINITIONS)}


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)
