"""Reports: the call-centre figures (hotline/reports.py) and the ticket figures, per day, week or
month, as charts (SVG drawn on the server: no script needed) and as CSV and XLSX downloads."""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, render_template, request

from hotline.reports import CallSums, day_sums, ticket_figures_sql

from .auth import requires
from .filters import agency_name
from .services import services

bp = Blueprint("reports", __name__, url_prefix="/reports")
PERIODS = {"day": "Ngày", "week": "Tuần", "month": "Tháng"}
COLUMNS = [("offered", "Cuộc gọi vào hàng đợi"), ("answered", "Đã trả lời"), ("abandoned", "Bỏ máy khi chờ"),
           ("short_abandoned", "Bỏ máy trong 5 giây"), ("service_level", "Mức phục vụ 20 giây"),
           ("asa_seconds", "Thời gian chờ TB (giây)"), ("aht_seconds", "Thời gian xử lý TB (giây)"),
           ("satisfied_share", "Hài lòng")]
AGENCY_COLUMNS = [("agency", "Cơ quan"), ("assigned", "Được giao"), ("answered", "Đã trả lời"),
                  ("on_time", "Đúng hạn"), ("on_time_rate", "Tỉ lệ đúng hạn"), ("overdue", "Quá hạn")]


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
    d = date.fromisoformat(day)
    if period == "week":
        year, number, _ = d.isocalendar()
        return f"{year}-W{number:02d}"
    return day[:7] if period == "month" else day


def figures() -> dict[str, Any]:
    """The call figures added up by the database day by day (``day_sums``), then per period."""
    svc = services()
    first, last, period = _args()
    tz = svc.ctx.settings.tz
    wrapup = float(svc.ctx.settings.queue.wrapup_seconds)
    groups: dict[str, CallSums] = {}
    for day, sums in sorted(day_sums(svc.sessions, first, last, tz).items()):
        key = _period_of(period, day)
        groups[key] = groups.get(key, CallSums()) + sums
    rows = [{period: key, **sums.figures(wrapup)} for key, sums in groups.items()]
    total = sum(groups.values(), CallSums()).figures(wrapup)
    tickets = ticket_figures_sql(svc.sessions, first, last, tz, svc.ctx.clock.now())
    return {"from": first, "to": last, "by": period, "rows": rows, "total": total, "tickets": tickets}


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
    named = [{"k": categories.get(k).name if k in categories else k, "v": v}
             for k, v in f["tickets"]["by_category"].items()]
    if f["by"] == "day":
        calls = [{**r, "day": f"{r['day'][8:10]}/{r['day'][5:7]}"} for r in calls]
    charts = {"calls": bars(calls, f["by"], "Cuộc gọi vào hàng đợi", "offered"),
              "categories": bars(named, "k", "Phiếu theo lĩnh vực", "v")}
    return render_template("reports.html", f=f, periods=PERIODS, columns=COLUMNS, agency_columns=AGENCY_COLUMNS,
                           charts=charts)


def _table() -> tuple[list[str], list[list[Any]], list[str], list[list[Any]]]:
    f = figures()
    head = [PERIODS[f["by"]], *[title for _k, title in COLUMNS]]
    body = [[r[f["by"]], *[r.get(k) for k, _t in COLUMNS]] for r in f["rows"]]
    body.append(["Tổng", *[f["total"].get(k) for k, _t in COLUMNS]])
    ahead = [t for _k, t in AGENCY_COLUMNS]
    abody = [[agency_name(a["agency"]), *[a.get(k) for k, _t in AGENCY_COLUMNS[1:]]] for a in f["tickets"]["agencies"]]
    return head, body, ahead, abody


@bp.route("/export.csv")
@requires("reports.view")
def export_csv() -> Response:
    head, body, ahead, abody = _table()
    out = io.StringIO()
    out.write("\ufeff")                      # Excel opens UTF-8 with Vietnamese correctly only with a BOM
    writer = csv.writer(out)
    writer.writerows([head, *body, [], ahead, *abody])
    first, last, _p = _args()
    return Response(out.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename=bao-cao-1022-{first}-{last}.csv"})


@bp.route("/export.xlsx")
@requires("reports.view")
def export_xlsx() -> Response:
    from openpyxl import Workbook
    head, body, ahead, abody = _table()
    book = Workbook()
    calls = book.active
    calls.title = "Cuộc gọi"
    for row in [head, *body]:
        calls.append(row)
    tickets = book.create_sheet("Phiếu theo cơ quan")
    for row in [ahead, *abody]:
        tickets.append(row)
    data = io.BytesIO()
    book.save(data)
    first, last, _p = _args()
    return Response(data.getvalue(), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename=bao-cao-1022-{first}-{last}.xlsx"})
