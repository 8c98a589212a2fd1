"""The plan as aligned text tables (figures with their units) and as JSON."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from .assumptions import Assumptions
from .montecarlo import Check
from .provinces import REGION_NAMES, Country
from .routing import Route
from .sizing import DATABASES_PER_SITE, PROXIES_PER_SITE, Plan

GB, TB = 1e9, 1e12           # decimal units, as disks are sold
RETAINED_YEARS = 5           # ticket content and the AccessLog are kept 1825 days; rows stay for the reports


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell; text left, numbers right; a rule under the headers."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(headers[i]), *(len(row[i]) for row in cells)) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in cells) if cells else False for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(cell.rjust(w) if num else cell.ljust(w)
                         for cell, w, num in zip(row, widths, numeric, strict=True)).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(row) for row in cells)])


def provinces_table(plan: Plan) -> str:
    rows = [[p.province.name, p.province.region, f"{p.province.population / 1e6:.2f}",
             f"{p.demand.calls_per_year:,.0f}", f"{p.demand.busy_hour_calls:.1f}",
             f"{p.staffing.erlangs:.2f}", p.staffing.operators, f"{p.staffing.service_level:.0%}",
             f"{p.staffing.operator_hours_per_day:.0f}", f"{p.trunk_erlangs:.2f}", p.channels, p.nodes,
             f"{p.storage.audio_bytes / GB:.0f}", f"{p.storage.database_bytes / GB:.2f}"] for p in plan.provinces]
    rows.append(["all 34", "", f"{plan.total('province.population') / 1e6:.1f}",
                 f"{plan.total('demand.calls_per_year'):,.0f}", f"{plan.total('demand.busy_hour_calls'):.0f}",
                 f"{plan.total('staffing.erlangs'):.1f}", f"{plan.total('staffing.operators'):.0f}", "",
                 f"{plan.total('staffing.operator_hours_per_day'):.0f}", f"{plan.total('trunk_erlangs'):.1f}",
                 f"{plan.total('channels'):.0f}", f"{plan.total('nodes'):.0f}",
                 f"{plan.storage.audio_bytes / GB:,.0f}", f"{plan.storage.database_bytes / GB:.1f}"])
    return table(["province", "region", "pop. M", "calls/yr", "busy-h calls", "op. E", "operators", "SL 20 s",
                  "op-h/day", "trunk E", "channels", "nodes (a)", "audio GB/yr", "DB GB/yr"], rows)


def layouts_table(plan: Plan) -> str:
    rows = [[f"(b) {REGION_NAMES[r.region]}", len(r.provinces), f"{r.trunk_erlangs:.1f}", r.channels, r.nodes,
             r.nodes + PROXIES_PER_SITE + DATABASES_PER_SITE, f"{r.storage.audio_bytes / TB:.2f}",
             f"{r.storage.database_bytes / GB:.1f}"] for r in plan.regions]
    rows.append(["(b) 3 regional clusters", len(plan.provinces), f"{plan.total('trunk_erlangs'):.1f}",
                 sum(r.channels for r in plan.regions), sum(r.nodes for r in plan.regions), plan.machines("b"),
                 f"{plan.storage.audio_bytes / TB:.2f}", f"{plan.storage.database_bytes / GB:.1f}"])
    rows.append(["(a) a pair per province", len(plan.provinces), f"{plan.total('trunk_erlangs'):.1f}",
                 f"{plan.total('channels'):.0f}", f"{plan.total('nodes'):.0f}", plan.machines("a"),
                 f"{plan.storage.audio_bytes / TB:.2f}", f"{plan.storage.database_bytes / GB:.1f}"])
    return table(["layout", "provinces", "busy-h E", "channels", "Asterisk nodes", "machines", "audio TB/yr",
                  "DB GB/yr"], rows)


def totals_lines(plan: Plan, country: Country, assumptions: Assumptions, low: Plan) -> list[str]:
    s, a = plan.storage, assumptions
    transcribe_h = plan.total("demand.messages_per_year") * a.message_seconds * a.transcribe_rtf / 3600 / 365
    return [
        f"rate: {plan.rate:.2f} calls/yr per 1,000 residents (seeds: {country.high.province} "
        f"{country.high.per_1000_per_year:.2f} high, {country.low.province} {country.low.per_1000_per_year:.2f} low)",
        f"calls a year: {plan.total('demand.calls_per_year'):,.0f} (at the low seed: "
        f"{low.total('demand.calls_per_year'):,.0f}); messages: {plan.total('demand.messages_per_year'):,.0f}",
        f"busy hour, all provinces at once: {plan.total('demand.busy_hour_calls'):,.0f} calls, "
        f"{plan.total('trunk_erlangs'):.1f} erlangs; on one national pool {plan.national_channels} channels, "
        f"i.e. {plan.national_channels / a.node_capacity:.1f} nodes' worth",
        f"recordings: {s.recording_hours:,.0f} h/yr = {s.recordings_bytes / TB:.2f} TB/yr; messages "
        f"{s.messages_bytes / GB:,.0f} GB/yr (WAV {a.recording_kbps:.0f} kbit/s; kept 365 days by default)",
        f"PostgreSQL: {sum(s.rows.values()) / 1e6:.1f} M rows/yr, {s.database_bytes / GB:.1f} GB/yr, about "
        f"{RETAINED_YEARS * s.database_bytes / GB:.0f} GB after {RETAINED_YEARS} years (rows are kept)",
        f"transcription: {transcribe_h:.1f} CPU-hours a day in all (RTF {a.transcribe_rtf})",
        f"operators at the busy hour: {plan.total('staffing.operators'):.0f} seats; "
        f"{plan.total('staffing.operator_hours_per_day'):,.0f} operator-hours on a mean working day",
    ]


def rows_table(plan: Plan, assumptions: Assumptions, measured: dict[str, float] | None) -> str:
    from .storage import TABLE_BYTES
    rows = []
    for name, field_name in TABLE_BYTES.items():
        count = plan.storage.rows.get(name, 0.0)
        per_row = getattr(assumptions, field_name)
        seen = f"{measured[name]:.0f}" if measured and name in measured else "-"
        rows.append([name, f"{count / 1e6:.2f}", per_row, seen, f"{count * per_row / GB:.2f}"])
    return table(["table", "M rows/yr", "bytes/row", "measured", "GB/yr"], rows)


def checks_table(province: str, calls_per_hour: float, checks: list[Check], assumptions: Assumptions) -> str:
    a = assumptions
    title = (f"Monte-Carlo vs Erlang C, {province}: {calls_per_hour:.1f} queued calls/h, AHT {a.aht_seconds:.0f} s, "
             f"answered within {a.answer_within:.0f} s")
    rows = [[c.operators, f"{c.calls:,}", f"{c.simulated_level:.1%} ± {c.interval:.1%}", f"{c.formula_level:.1%}",
             f"{c.simulated_wait_share:.1%}", f"{c.formula_wait_share:.1%}", "yes" if c.agrees else "NO"]
            for c in checks]
    return title + "\n" + table(["operators", "calls simulated", "within 20 s (sim.)", "Erlang C",
                                 "waited (sim.)", "Erlang C P(wait)", "agrees"], rows)


def as_json(plan: Plan, low: Plan, assumptions: Assumptions, checks: list[Check],
            measured: dict[str, float] | None, headroom: dict[str, float]) -> dict[str, Any]:
    """Everything printed, as plain data (bytes and counts per year, unrounded)."""
    return {
        "assumptions": asdict(assumptions),
        "rate_per_1000_per_year": plan.rate,
        "provinces": [{"name": p.province.name, "region": p.province.region, "population": p.province.population,
                       "calls_per_year": p.demand.calls_per_year, "busy_hour_calls": p.demand.busy_hour_calls,
                       "operator_erlangs": p.staffing.erlangs, "operators": p.staffing.operators,
                       "service_level": p.staffing.service_level,
                       "operator_hours_per_day": p.staffing.operator_hours_per_day,
                       "trunk_erlangs": p.trunk_erlangs, "channels": p.channels, "nodes_pair_layout": p.nodes,
                       "recordings_bytes_per_year": p.storage.recordings_bytes,
                       "messages_bytes_per_year": p.storage.messages_bytes,
                       "database_bytes_per_year": p.storage.database_bytes} for p in plan.provinces],
        "regions": [{"region": r.region, "provinces": [p.province.name for p in r.provinces],
                     "trunk_erlangs": r.trunk_erlangs, "channels": r.channels, "nodes": r.nodes}
                    for r in plan.regions],
        "layouts": {layout: {"nodes": sum(plan.site_nodes(layout)), "machines": plan.machines(layout),
                             "headroom": headroom[layout]} for layout in ("a", "b")},
        "national": {"calls_per_year": plan.total("demand.calls_per_year"),
                     "calls_per_year_low_seed": low.total("demand.calls_per_year"),
                     "busy_hour_calls": plan.total("demand.busy_hour_calls"),
                     "national_pool_channels": plan.national_channels,
                     "rows_per_year": plan.storage.rows, "database_bytes_per_year": plan.storage.database_bytes,
                     "recordings_bytes_per_year": plan.storage.recordings_bytes,
                     "messages_bytes_per_year": plan.storage.messages_bytes},
        "monte_carlo": [vars(check) | {"agrees": check.agrees} for check in checks],
        "measured_bytes_per_row": measured,
    }


def routes_table(routes: Sequence[Route]) -> str:
    return table(["dialled", "province", "set (a)", "set (b)", "fallback (b)"],
                 [[r.dialled, r.province, r.pair_set, r.region_set, r.fallback_set] for r in routes])


def _is_number(cell: str) -> bool:
    text = cell.replace(",", "").replace("%", "").strip()
    try:
        float(text)
    except ValueError:
        return not text or text == "-"
    return True
