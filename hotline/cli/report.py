"""``hotline report``: the call-centre figures per day and per operator, and the requests (tickets) received in the
period per channel, category and agency (definitions in hotline/domain/reports.py)."""
from __future__ import annotations

import json
import unicodedata
from datetime import date, datetime, time, timedelta
from typing import Any

import click

from hotline.domain.labels import CHANNEL
from hotline.domain.reports import build_report, period_label
from hotline.domain.reports_callbacks import CALL_OUT_COLUMNS, CALLBACK_COLUMNS
from hotline.services.report_callbacks import callback_report
from hotline.services.report_queries import load_rows, ticket_figures_sql

# Column headings for operators and supervisors (Vietnamese), by JSON key.
CALL_COLUMNS = [
    ("offered", "Cuộc gọi vào hàng đợi"),
    ("answered", "Đã trả lời"),
    ("abandoned", "Bỏ máy khi chờ"),
    ("short_abandoned", "Bỏ máy trong 5 giây"),
    ("service_level", "Mức phục vụ 20 giây"),
    ("asa_seconds", "Thời gian chờ trung bình (giây)"),
    ("aht_seconds", "Thời gian xử lý trung bình (giây)"),
    ("surveys", "Khảo sát"),
    ("satisfied_share", "Hài lòng"),
    ("normal_share", "Bình thường"),
    ("not_satisfied_share", "Không hài lòng"),
    ("calls", "Tổng cuộc gọi đến"),
    ("turned_away", "Từ chối do bận"),
]
OPERATOR_COLUMNS = [c for c in CALL_COLUMNS if c[0] not in ("offered", "abandoned", "short_abandoned",
                                                            "service_level", "calls", "turned_away")]
TRANSFER_COLUMNS = [("target", "Nơi chuyển đến"), ("attempts", "Lần chuyển"), ("answered", "Đã nghe máy"),
                    ("answer_rate", "Tỉ lệ nghe máy")]
AGENCY_COLUMNS = [("assigned", "Được chuyển"), ("answered", "Đã trả lời"), ("on_time", "Đúng hạn"),
                  ("on_time_rate", "Tỉ lệ đúng hạn"), ("overdue", "Quá hạn")]
SHARES = {"calls_out_answer_rate", "callback_completion_rate",
          "on_time_rate", "service_level", "satisfied_share", "normal_share", "not_satisfied_share", "answer_rate",
          "abandon_rate"}


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write YYYY-MM-DD, e.g. 2027-03-01") from None


def _wrapup_seconds(settings: Any) -> float:
    """The configured wrap-up (after-call work) seconds, 0 when the settings have none."""
    for section in ("queue", "operators"):
        value = getattr(getattr(settings, section, None), "wrapup_seconds", None)
        if isinstance(value, (int, float)):
            return float(value)
    return 0.0


def _agency_name(ctx: Any, key: str) -> str:
    kind, _, code = key.partition(":")
    agency = ctx.directory.find(kind, code)
    return str(agency.name) if agency is not None else key


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if key in SHARES:
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _width(text: str) -> int:
    return sum(0 if unicodedata.combining(ch) else 1 for ch in text)


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]], first: tuple[str, str]) -> str:
    """A plain text table: one line per row, headings on top, numbers right-aligned."""
    cols = [first, *columns]
    cells = [[_cell(k, row.get(k)) for k, _ in cols] for row in rows]
    widths = [max([_width(h)] + [_width(r[i]) for r in cells]) for i, (_, h) in enumerate(cols)]

    def line(values: list[str]) -> str:
        parts = [v + " " * (w - _width(v)) if i == 0 else " " * (w - _width(v)) + v
                 for i, (v, w) in enumerate(zip(values, widths, strict=True))]
        return "  ".join(parts).rstrip()

    out = [line([h for _, h in cols]), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def render_text(report: dict[str, Any]) -> str:
    """The report as plain tables with Vietnamese headings."""
    parts = [f"Báo cáo tổng đài từ {report['from']} đến {report['to']} ({report['timezone']}); "
             f"thời gian xử lý gồm {report['wrapup_seconds']:g} giây sau cuộc gọi"]
    for period, title, heading in (("day", "Theo ngày", "Ngày"), ("week", "Theo tuần", "Tuần"),
                                   ("month", "Theo tháng", "Tháng")):
        if f"{period}s" in report:
            total = {period: "Tổng", **report["total"]}
            rows = [{**row, period: period_label(period, row[period])} for row in report[f"{period}s"]]
            parts += ["", title, _table([*rows, total], CALL_COLUMNS, (period, heading))]
    if "operators" in report:
        parts += ["", "Theo tổng đài viên",
                  _table(report["operators"], [*OPERATOR_COLUMNS, ("transfers", "Chuyển tiếp")],
                         ("operator", "Tổng đài viên"))]
    parts += ["", "Chuyển tiếp theo nơi nhận"]
    parts.append(_table(report["transfers"], TRANSFER_COLUMNS[1:], TRANSFER_COLUMNS[0])
                 if report["transfers"] else "(không có)")
    parts += _callback_tables(report)
    if "tickets" in report:
        t, names = report["tickets"], report.get("names", {})
        parts += ["", f"Phản ánh, kiến nghị tiếp nhận: {t['received']}; quá hạn chưa trả lời: {t['overdue_open']}"]
        for key, title, heading in (("by_channel", "Theo kênh", "Kênh"), ("by_category", "Theo lĩnh vực", "Lĩnh vực")):
            rows = [{"name": names.get(key, {}).get(k, k), "received": n} for k, n in t[key].items()]
            parts += ["", title, _table(rows, [("received", "Số phiếu")], ("name", heading)) if rows else "(không có)"]
        rows = [{**a, "name": names.get("agencies", {}).get(a["agency"], a["agency"])} for a in t["agencies"]]
        parts += ["", "Theo cơ quan", _table(rows, AGENCY_COLUMNS, ("name", "Cơ quan")) if rows else "(không có)"]
    if "hotspots" in report:
        h = report["hotspots"]
        parts += ["", f"Điểm nóng: từ {h['min']} phiếu cùng lĩnh vực, cùng địa điểm trong {h['days']} ngày "
                      f"đến {h['until']}"]
        rows = [{**r, "codes": ", ".join(r["codes"])} for r in h["rows"]]
        parts.append(_table(rows, [("place", "Địa điểm"), ("count", "Số phiếu"), ("codes", "Mã phiếu")],
                            ("category_name", "Lĩnh vực")) if rows else "(không có)")
    return "\n".join(parts)


def _callback_tables(report: dict[str, Any]) -> list[str]:
    """The call-backs and the calls out: per period when the report is by period, and in all."""
    from hotline.domain.labels import DISPOSITION
    parts: list[str] = []
    for key, title, columns in (("callbacks", "Gọi lại cho người chờ (phím 2)", CALLBACK_COLUMNS),
                                ("calls_out", "Cuộc gọi ra", CALL_OUT_COLUMNS)):
        if key not in report:
            continue
        figures = report[key]
        period = next((p for p in ("day", "week", "month") if f"{p}s" in figures), None)
        rows = [{**r, "when": period_label(period, r[period])} for r in figures.get(f"{period}s", [])] \
            if period else []
        parts += ["", title, _table([*rows, {"when": "Tổng", **figures["total"]}], columns,
                                    ("when", {"day": "Ngày", "week": "Tuần", "month": "Tháng"}.get(period or "", "")))]
        if key == "calls_out" and figures["total"]["calls_out_by_outcome"]:
            outcomes = [{"outcome": DISPOSITION.get(k, k), "n": n}
                        for k, n in figures["total"]["calls_out_by_outcome"].items()]
            parts += ["", "Cuộc gọi ra theo kết quả", _table(outcomes, [("n", "Số cuộc")], ("outcome", "Kết quả"))]
    return parts


@click.command("report")
@click.option("--from", "first", required=True, metavar="YYYY-MM-DD", help="First day (hotline time zone).")
@click.option("--to", "last", required=True, metavar="YYYY-MM-DD", help="Last day, included.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (English keys).")
@click.option("--by", type=click.Choice(["day", "week", "month", "operator"]), default=None,
              help="Only per day, ISO week, month or operator (default: per day and per operator).")
def report_command(first: str, last: str, as_json: bool, by: str | None) -> None:
    """Call-centre figures: offered, answered, abandoned, service level, ASA, AHT, transfers, satisfaction."""
    from hotline.cli.main import _context
    start, end = _day(first), _day(last)
    if end < start:
        raise click.BadParameter("--to is before --from")
    ctx = _context()
    tz = ctx.settings.tz
    calls, transfers = load_rows(ctx.sessions(), start, end, tz)
    report = build_report(calls, transfers, tz, _wrapup_seconds(ctx.settings),
                          by=(by,) if by else ("day", "operator"))
    until = min(ctx.clock.now(), datetime.combine(end + timedelta(days=1), time(0), tz))
    t = ctx.settings.tickets
    hotspots = {"days": t.hotspot_days, "min": t.hotspot_min, "until": until.astimezone(tz).strftime("%d/%m/%Y %H:%M"),
                "rows": ctx.tickets(ctx.sessions()).hotspot_rows(until)}
    report = {"from": start.isoformat(), "to": end.isoformat(), "timezone": str(tz),
              "generated_at": datetime.now(tz).isoformat(timespec="seconds"), **report, "hotspots": hotspots}
    report.update(callback_report(ctx.sessions(), start, end, tz, by=(by,) if by else ("day", "operator")))
    # the requests received in the period, whatever their door (the figures the public page publishes)
    tickets = ticket_figures_sql(ctx.sessions(), start, end, tz, ctx.clock.now())
    report["tickets"] = tickets
    report["names"] = {"by_channel": {k: CHANNEL.get(k, k) for k in tickets["by_channel"]},
                       "by_category": {k: ctx.categories.get(k).name if k in ctx.categories else k
                                       for k in tickets["by_category"]},
                       "agencies": {a["agency"]: _agency_name(ctx, a["agency"]) for a in tickets["agencies"]}}
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        click.echo(render_text(report))
