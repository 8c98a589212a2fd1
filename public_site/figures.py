"""The public transparency page (``/so-lieu``): a month's figures and the published answers, and the month's open
data (``/so-lieu/<month>.csv`` and ``.json``). No sign-in, Vietnamese, printable.

The figures are hotline.services.public_figures' (the same functions as ``hotline report``), computed once per
month and kept a few minutes in this process; the answers are those a supervisor approved and did not withdraw
(hotline.services.publishing), read at every request so a withdrawn one is gone at once (the page itself may be
kept by a browser or a proxy for ``PAGE_MAX_AGE`` seconds).
"""
from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request

from hotline.domain.labels import CHANNEL
from hotline.domain.sheets import safe_row
from hotline.services.public_figures import MonthError, checked_month

from . import services
from .charts import bar_chart

bp = Blueprint("figures", __name__)
PAGE_MAX_AGE = 60          # seconds a browser or proxy may keep the page (a withdrawn answer goes within it)
DATA_MAX_AGE = 300         # ... and the month's open data (as long as this process keeps the figures)
SATISFACTION = (("satisfied_share", "Hài lòng"), ("normal_share", "Bình thường"),
                ("not_satisfied_share", "Không hài lòng"))
AGENCY_COLUMNS = (("assigned", "Được chuyển"), ("answered", "Đã trả lời"), ("on_time", "Đúng hạn"),
                  ("on_time_rate", "Tỉ lệ đúng hạn"), ("overdue", "Quá hạn"))


@bp.get("/so-lieu")
def page() -> Any:
    figures, error = _month(request.args.get("thang"))
    if error is not None:
        return error
    view, month = labelled(figures), figures["month"]
    charts = {"channels": bar_chart("Phản ánh, kiến nghị theo kênh", view["channels"]),
              "categories": bar_chart("Phản ánh, kiến nghị theo lĩnh vực", view["categories"]),
              "agencies": bar_chart("Tỉ lệ trả lời đúng hạn theo cơ quan",
                                    [(a["name"], a["on_time_rate"]) for a in view["agencies"]], percent=True),
              "satisfaction": bar_chart("Mức hài lòng qua khảo sát sau cuộc gọi", view["satisfaction"], percent=True)}
    answers = [{**a, "category_name": _category(a["category"])} for a in services().publishing.published()]
    body = render_template("figures.html", v=view, charts=charts, answers=answers, month=month,
                           columns=AGENCY_COLUMNS)
    return _cached(Response(body, mimetype="text/html"), PAGE_MAX_AGE)


@bp.get("/so-lieu/<month>.json")
def data_json(month: str) -> Any:
    figures, error = _month(month)
    if error is not None:
        return error
    view = labelled(figures)
    return _cached(jsonify({**figures, "labels": view["labels"]}), DATA_MAX_AGE)


@bp.get("/so-lieu/<month>.csv")
def data_csv(month: str) -> Any:
    figures, error = _month(month)
    if error is not None:
        return error
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Mục", "Mã", "Tên", "Chỉ số", "Giá trị"])
    for row in csv_rows(figures, labelled(figures)["labels"]):
        writer.writerow(safe_row(row))
    response = Response("\ufeff" + out.getvalue(), mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="so-lieu-1022-{figures["month"]}.csv"'
    return _cached(response, DATA_MAX_AGE)


def labelled(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures with the Vietnamese names of channels, categories and agencies, as the page lists them."""
    t, c = figures["tickets"], figures["calls"]
    labels = {"channels": {k: CHANNEL.get(k, k) for k in t["by_channel"]},
              "categories": {k: _category(k) for k in t["by_category"]},
              "agencies": {a["agency"]: services().agency_name(a["agency"]) or a["agency"] for a in t["agencies"]}}
    return {"labels": labels, "received": t["received"], "overdue_open": t["overdue_open"],
            "channels": [(labels["channels"][k], n) for k, n in t["by_channel"].items()],
            "categories": [(labels["categories"][k], n) for k, n in t["by_category"].items()],
            "agencies": [{**a, "name": labels["agencies"][a["agency"]]} for a in t["agencies"]],
            "satisfaction": [(name, c[key]) for key, name in SATISFACTION], "surveys": c["surveys"],
            "calls": c["calls"], "answered": figures["answered"], "median_hours": figures["median_answer_hours"],
            "month": figures["month"], "computed_at": figures["computed_at"]}


def csv_rows(figures: dict[str, Any], labels: dict[str, dict[str, str]]) -> list[list[Any]]:
    """One row per figure: section, code, name, figure, value (the month's open data as a table)."""
    t, c = figures["tickets"], figures["calls"]
    rows: list[list[Any]] = [["tong", "", "Tổng", "received", t["received"]],
                             ["tong", "", "Tổng", "overdue_open", t["overdue_open"]],
                             ["tong", "", "Tổng", "answered", figures["answered"]],
                             ["tong", "", "Tổng", "median_answer_hours", figures["median_answer_hours"]]]
    rows += [["kenh", k, labels["channels"][k], "received", n] for k, n in t["by_channel"].items()]
    rows += [["linh_vuc", k, labels["categories"][k], "received", n] for k, n in t["by_category"].items()]
    rows += [["co_quan", a["agency"], labels["agencies"][a["agency"]], key, a[key]]
             for a in t["agencies"] for key, _ in AGENCY_COLUMNS]
    rows += [["khao_sat", "", "Khảo sát sau cuộc gọi", key, c[key]] for key in ("calls", "surveys")]
    rows += [["khao_sat", "", name, key, c[key]] for key, name in SATISFACTION]
    return rows


def _month(month: str | None) -> tuple[dict[str, Any], Any]:
    """The figures of ``month`` (None: the last complete one), or the Vietnamese 400 of a month refused."""
    svc = services()
    try:
        return svc.figures.month(checked_month(month, svc.figures.today())), None
    except MonthError as e:
        svc.refused("invalid")
        return {}, (render_template("error.html", message=e.vi, title="Không có số liệu"), 400)


def _category(code: str) -> str:
    categories = services().ctx.categories
    return categories.get(code).name if code in categories else code


def _cached(response: Response, seconds: int) -> Response:
    response.headers["Cache-Control"] = f"public, max-age={seconds}"
    return response
