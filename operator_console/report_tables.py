"""The report as tables: the same tables on the page, in the CSV and in the XLSX (one sheet each).

Everything a person reads is Vietnamese: periods ("25/11/2026", "Tuần 48/2026", "Tháng 11/2026"),
category names, channel labels (hotline/domain/labels.py), agency and operator names. Cells keep their raw
values (shares as fractions: 0.6667); the page formats them with the ``figure`` filter, the XLSX
with a percentage format.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hotline.domain.labels import CHANNEL, DISPOSITION
from hotline.domain.reports import period_label as period_label  # re-exported for the pages and exports
from hotline.domain.reports_callbacks import CALL_OUT_COLUMNS, CALLBACK_COLUMNS, OUTCOME_ORDER
from hotline.domain.sheets import safe_row

PERIODS = {"day": "Ngày", "week": "Tuần", "month": "Tháng"}
TOTAL = "Tổng"
CALL_COLUMNS = [("offered", "Cuộc gọi vào hàng đợi"), ("answered", "Đã trả lời"), ("abandoned", "Bỏ máy khi chờ"),
                ("short_abandoned", "Bỏ máy trong 5 giây"), ("service_level", "Mức phục vụ 20 giây"),
                ("asa_seconds", "Thời gian chờ TB (giây)"), ("aht_seconds", "Thời gian xử lý TB (giây)"),
                ("surveys", "Khảo sát"), ("satisfied_share", "Hài lòng"), ("normal_share", "Bình thường"),
                ("not_satisfied_share", "Không hài lòng"), ("calls", "Tổng cuộc gọi đến"),
                ("turned_away", "Từ chối do bận")]
OPERATOR_COLUMNS = [("answered", "Đã trả lời"), ("asa_seconds", "Thời gian chờ TB (giây)"),
                    ("aht_seconds", "Thời gian xử lý TB (giây)"), ("surveys", "Khảo sát"),
                    ("satisfied_share", "Hài lòng"), ("normal_share", "Bình thường"),
                    ("not_satisfied_share", "Không hài lòng"), ("transfers", "Chuyển đầu mối"),
                    ("transfers_answered", "Đầu mối nghe máy")]
AGENCY_COLUMNS = [("assigned", "Được giao"), ("answered", "Đã trả lời"), ("on_time", "Trả lời đúng hạn"),
                  ("on_time_rate", "Tỉ lệ đúng hạn"), ("overdue", "Quá hạn (kể cả trả lời trễ)")]


@dataclass(frozen=True)
class Table:
    """A titled table: ``keys`` name each column's figure (for its format), "" for a text column."""

    title: str
    sheet: str
    head: list[str]
    keys: list[str]
    rows: list[list[Any]]


def tables(f: Mapping[str, Any], categories: Mapping[str, str], agency_name: Callable[[str], str],
           operator_name: Callable[[str], str]) -> list[Table]:
    """The report ``f`` (``operator_console.reports.figures``) as tables; ``categories``: code → name."""
    by, word = f["by"], PERIODS[f["by"]].lower()
    calls = Table(f"Cuộc gọi theo {word}", "Cuộc gọi", [PERIODS[by], *(t for _k, t in CALL_COLUMNS)],
                  ["", *(k for k, _t in CALL_COLUMNS)],
                  [[period_label(by, r[by]), *(r.get(k) for k, _t in CALL_COLUMNS)] for r in f["rows"]]
                  + [[TOTAL, *(f["total"].get(k) for k, _t in CALL_COLUMNS)]])
    operators = Table("Theo tổng đài viên", "Tổng đài viên", ["Tổng đài viên", *(t for _k, t in OPERATOR_COLUMNS)],
                      ["", *(k for k, _t in OPERATOR_COLUMNS)],
                      [[operator_name(r["operator"]), *(r.get(k) for k, _t in OPERATOR_COLUMNS)]
                       for r in f["operators"]])
    periods = [(period_label(by, p[by]), p) for p in f["tickets"]["periods"]]
    periods.append((TOTAL, f["tickets"]["total"]))
    tickets = _ticket_tables(periods, by, word, categories, agency_name)
    return [calls, operators, *callback_tables(f, by, word), *tickets,
            *([hotspot_table(f["hotspots"])] if "hotspots" in f else [])]


def callback_tables(f: Mapping[str, Any], by: str, word: str) -> list[Table]:
    """The call-backs and the calls out per period and in all, the calls out per outcome as columns
    (hotline/domain/reports_callbacks.py); none when the report has no such figures."""
    if "callbacks" not in f:
        return []
    cb, out = f["callbacks"], f["calls_out"]
    callbacks = Table(f"Gọi lại cho người chờ (phím 2) theo {word}", "Gọi lại",
                      [PERIODS[by], *(t for _k, t in CALLBACK_COLUMNS)], ["", *(k for k, _t in CALLBACK_COLUMNS)],
                      [[period_label(by, r[by]), *(r.get(k) for k, _t in CALLBACK_COLUMNS)] for r in cb[f"{by}s"]]
                      + [[TOTAL, *(cb["total"].get(k) for k, _t in CALLBACK_COLUMNS)]])
    seen = {k for r in [*out[f"{by}s"], out["total"]] for k in r["calls_out_by_outcome"]}
    outcomes = [*(o for o in OUTCOME_ORDER if o in seen), *sorted(seen - set(OUTCOME_ORDER))]
    rows = [(period_label(by, r[by]), r) for r in out[f"{by}s"]] + [(TOTAL, out["total"])]
    calls_out = Table(f"Cuộc gọi ra theo {word}", "Cuộc gọi ra",
                      [PERIODS[by], *(t for _k, t in CALL_OUT_COLUMNS), *(DISPOSITION.get(o, o) for o in outcomes)],
                      ["", *(k for k, _t in CALL_OUT_COLUMNS), *outcomes],
                      [[label, *(r.get(k) for k, _t in CALL_OUT_COLUMNS),
                        *(r["calls_out_by_outcome"].get(o, 0) for o in outcomes)] for label, r in rows])
    return [callbacks, calls_out]


def hotspot_table(h: Mapping[str, Any]) -> Table:
    """The hotspots of the days up to the report's last day (hotline.domain.tickets.nearby)."""
    return Table(f"Điểm nóng: từ {h['min']} phiếu cùng lĩnh vực, cùng địa điểm trong {h['days']} ngày "
                 f"đến {h['until']}", "Điểm nóng", ["Lĩnh vực", "Địa điểm", "Số phiếu", "Mã phiếu"],
                 ["", "", "count", ""],
                 [[r["category_name"], r["place"], r["count"], ", ".join(r["codes"])] for r in h["rows"]])


def _ticket_tables(periods: list[tuple[str, Mapping[str, Any]]], by: str, word: str, categories: Mapping[str, str],
                   agency_name: Callable[[str], str]) -> list[Table]:
    seen_categories = {k for _l, p in periods for k in p["by_category"]}
    cats = [*categories, *sorted(seen_categories - set(categories))]
    seen_channels = {k for _l, p in periods for k in p["by_channel"]}
    channels = [*CHANNEL, *sorted(seen_channels - set(CHANNEL))]
    by_category = Table(f"Phiếu tiếp nhận theo lĩnh vực, theo {word}", "Phiếu theo lĩnh vực",
                        [PERIODS[by], "Phiếu tiếp nhận", "Quá hạn chưa trả lời",
                         *(categories.get(c, c) for c in cats)],
                        ["", "received", "overdue_open", *cats],
                        [[label, p["received"], p["overdue_open"], *(p["by_category"].get(c, 0) for c in cats)]
                         for label, p in periods])
    by_channel = Table(f"Phiếu tiếp nhận theo kênh, theo {word}", "Phiếu theo kênh",
                       [PERIODS[by], "Phiếu tiếp nhận", *(CHANNEL.get(c, c) for c in channels)],
                       ["", "received", *channels],
                       [[label, p["received"], *(p["by_channel"].get(c, 0) for c in channels)]
                        for label, p in periods])
    agencies = Table(f"Phiếu theo cơ quan, theo {word}", "Phiếu theo cơ quan",
                     [PERIODS[by], "Cơ quan", *(t for _k, t in AGENCY_COLUMNS)],
                     ["", "", *(k for k, _t in AGENCY_COLUMNS)],
                     [[label, agency_name(a["agency"]), *(a.get(k) for k, _t in AGENCY_COLUMNS)]
                      for label, p in periods for a in p["agencies"]])
    return [by_category, by_channel, agencies]


def is_share(key: str) -> bool:
    return key.endswith("_share") or key.endswith("_rate") or key == "service_level"


def to_csv(report: list[Table]) -> str:
    """Every table under its title, a blank line between them; UTF-8 with a BOM (Excel reads it right)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    for i, table in enumerate(report):
        if i:
            writer.writerow([])
        writer.writerows([[table.title], table.head, *(safe_row(r) for r in table.rows)])
    return out.getvalue()


def to_xlsx(report: list[Table]) -> bytes:
    """One sheet per table: its title, its head, its rows; shares as percentages."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    book = Workbook()
    for i, table in enumerate(report):
        sheet = book.active if i == 0 else book.create_sheet()
        assert sheet is not None
        sheet.title = table.sheet
        sheet.append([table.title])
        sheet.append(table.head)
        sheet["A1"].font = Font(bold=True)
        for row in table.rows:
            sheet.append(safe_row(row))
        for col, key in enumerate(table.keys, start=1):
            if is_share(key):
                for cells in sheet.iter_rows(min_row=3, min_col=col, max_col=col):
                    cells[0].number_format = "0.0%"
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()
