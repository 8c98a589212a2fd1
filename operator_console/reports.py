"""Reports: the call-centre figures and the ticket figures (hotline/domain/reports.py, added up by the
database: hotline/services/report_queries.py) per day, ISO week or month, and per operator; as charts (SVG
drawn on the server: no script needed), as tables, and as CSV and XLSX downloads of the same tables
(operator_console/report_tables.py)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, render_template, request

from hotline.domain.reports import CallSums, TicketSums, operator_rows
from hotline.domain.vocabulary import AccessAction
from hotline.services.report_callbacks import callback_report
from hotline.services.report_queries import (
    day_sums,
    operator_names,
    operator_sums,
    operator_transfers,
    ticket_day_sums,
)

from .auth import requires
from .filters import agency_name
from .report_tables import PERIODS, Table, period_label, tables, to_csv, to_xlsx
from .services import log_read, services

bp = Blueprint("reports", __name__, url_prefix="/reports")


def _args() -> tuple[date, date, str]:
    today = services().ctx.clock.now().astimezone(services().ctx.settings.tz).date()
    try:
        last = date.fromisoformat(request.args.get("to") or today.isoformat())
        first = date.fromisoformat(request.args.get("from") or (last - timedelta(days=29)).isoformat())
    except ValueError:
        last, first = today, today - timedelta(days=29)
    if first > last:
        first, last = last, first
    period = str(request.args.get("by") or "day")
    if period not in PERIODS:
        period = "day"
    return first, min(last, first + timedelta(days=366)), period


def _period_of(period: str, day: str) -> str:
    """The key ``hotline.domain.reports.period_key`` gives the instants of ``day`` (2026-W48, 2026-11, the day)."""
    d = date.fromisoformat(day)
    if period == "week":
        year, number, _ = d.isocalendar()
        return f"{year}-W{number:02d}"
    return day[:7] if period == "month" else day


def figures() -> dict[str, Any]:
    """The report the request asks for: calls and tickets per period (the database adds them up day by
    day, then per period), the totals, and the operators' figures."""
    svc = services()
    first, last, period = _args()
    tz, now = svc.ctx.settings.tz, svc.ctx.clock.now()
    wrapup = float(svc.ctx.settings.queue.wrapup_seconds)
    calls: dict[str, CallSums] = {}
    for day, sums in sorted(day_sums(svc.sessions, first, last, tz).items()):
        key = _period_of(period, day)
        calls[key] = calls.get(key, CallSums()) + sums
    tickets: dict[str, TicketSums] = {}
    for day, tsums in ticket_day_sums(svc.sessions, first, last, tz, now).items():
        key = _period_of(period, day)
        tickets[key] = tickets.get(key, TicketSums()) + tsums
    operators = operator_rows(operator_sums(svc.sessions, first, last, tz),
                              operator_transfers(svc.sessions, first, last, tz), wrapup)
    return {"from": first, "to": last, "by": period, "hotspots": hotspots(first, last),
            "rows": [{period: key, **sums.figures(wrapup)} for key, sums in calls.items()],
            "total": sum(calls.values(), CallSums()).figures(wrapup), "operators": operators,
            "tickets": {"periods": [{period: key, **tickets[key].figures()} for key in sorted(tickets)],
                        "total": sum(tickets.values(), TicketSums()).figures()},
            **callback_report(svc.sessions, first, last, tz, (period,))}


def hotspots(first: date, last: date) -> dict[str, Any]:
    """The hotspots of the ``[tickets] hotspot_days`` up to the end of the report's last day (or now)."""
    svc = services()
    t, tz, now = svc.ctx.settings.tickets, svc.ctx.settings.tz, svc.ctx.clock.now()
    until = min(now, datetime.combine(last + timedelta(days=1), time(0), tz))
    return {"days": t.hotspot_days, "min": t.hotspot_min, "until": until.astimezone(tz).strftime("%d/%m/%Y %H:%M"),
            "rows": svc.tickets.hotspot_rows(until)}


def report_tables(f: dict[str, Any]) -> list[Table]:
    """``f`` as the tables the page and both downloads show, with the province's names."""
    svc = services()
    names = operator_names(svc.sessions)

    def operator_name(name: str) -> str:
        return f"{names[name]} ({name})" if names.get(name) else name
    categories = {c.code: c.name for c in svc.ctx.categories.entries}
    return tables(f, categories, agency_name, operator_name)


def bars(rows: list[dict[str, Any]], key: str, label: str, value: str, width: int = 900, height: int = 160) -> str:
    """A bar chart as SVG markup: one bar per row, its value above it and its name below."""
    from markupsafe import escape
    values = [float(r.get(value) or 0) for r in rows]
    top = max(values, default=0) or 1
    step = width / max(len(rows), 1)
    bar = max(min(step * 0.7, 70.0), 2.0)
    show_names = len(rows) <= 31
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height + 44}" role="img" aria-label="{escape(label)}">']
    for i, (row, v) in enumerate(zip(rows, values, strict=True)):
        h = round(v / top * (height - 16))
        x = i * step + (step - bar) / 2
        name = str(row.get(key))
        parts.append(f'<rect x="{x:.1f}" y="{height - h}" width="{bar:.1f}" height="{h}">'
                     f'<title>{escape(name)}: {v:g}</title></rect>')
        if show_names:
            short = name if len(name) <= max(int(step / 6.5), 5) else name[:max(int(step / 6.5), 5) - 1] + "…"
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height + 16}" font-size="11" text-anchor="middle">'
                         f'{escape(short)}</text>')
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - h - 4}" font-size="11" '
                         f'text-anchor="middle">{v:g}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _every_day(rows: list[dict[str, Any]], first: date, last: date) -> list[dict[str, Any]]:
    """One row per day of the period, days without calls as zeros (the chart's time axis is even)."""
    have = {r["day"]: r for r in rows}
    out = []
    day = first
    while day <= last:
        out.append(have.get(day.isoformat(), {"day": day.isoformat(), "offered": 0}))
        day += timedelta(days=1)
    return out


@bp.route("/")
@requires("reports.view")
def index() -> Any:
    f = figures()
    categories = services().ctx.categories
    calls = _every_day(f["rows"], f["from"], f["to"]) if f["by"] == "day" else f["rows"]
    calls = [{**r, "label": f"{r['day'][8:10]}/{r['day'][5:7]}" if f["by"] == "day"
              else period_label(f["by"], r[f["by"]])} for r in calls]
    named = [{"k": categories.get(k).name if k in categories else k, "v": v}
             for k, v in f["tickets"]["total"]["by_category"].items()]
    charts = {"calls": bars(calls, "label", "Cuộc gọi vào hàng đợi", "offered"),
              "categories": bars(named, "k", "Phiếu theo lĩnh vực", "v")}
    return render_template("reports.html", f=f, periods=PERIODS, tables=report_tables(f), charts=charts)


def _filename(ext: str) -> str:
    first, last, period = _args()
    return f"attachment; filename=bao-cao-1022-{first}-{last}-{period}.{ext}"


def _log_download(ext: str) -> None:
    """A download is an AccessLog row: its operators' table names people and their figures."""
    first, last, period = _args()
    log_read(AccessAction.REPORT_EXPORT, "reports", format=ext, from_day=first.isoformat(), to_day=last.isoformat(),
             by=period)


@bp.route("/export.csv")
@requires("reports.view")
def export_csv() -> Response:
    _log_download("csv")
    return Response(to_csv(report_tables(figures())), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": _filename("csv")})


@bp.route("/export.xlsx")
@requires("reports.view")
def export_xlsx() -> Response:
    _log_download("xlsx")
    return Response(to_xlsx(report_tables(figures())),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": _filename("xlsx")})
