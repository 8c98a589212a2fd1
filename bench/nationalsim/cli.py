"""``bench/national_sim``: the 1022 hotline of all 34 provinces on paper — calls from the seeds' volumes,
trunk channels (Erlang B), operators (Erlang C, checked by a Monte-Carlo run), Asterisk nodes for a pair
per province against shared regional clusters, recordings and PostgreSQL growth per year."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import assumptions as assumptions_mod
from . import montecarlo, provinces, report, routing, sizing

EXIT_OK, EXIT_DISAGREES, EXIT_BAD_INPUT = 0, 1, 2
PG_URL = "postgresql://postgres@127.0.0.1:5432/hotline_national_sim"


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/national_sim", description=__doc__.split("\n\n")[0])
    p.add_argument("--json", action="store_true", help="print JSON instead of the tables")
    p.add_argument("--assumptions", action="store_true", help="print every assumption with its source, then stop")
    p.add_argument("--seed", type=int, default=1022, help="the Monte-Carlo run's random seed (default 1022)")
    p.add_argument("--mc-province", default="Hồ Chí Minh", help="the province whose busy hour is simulated")
    p.add_argument("--mc-hours", type=int, default=5000,
                   help="busy hours simulated back to back (default 5000; the first warms up)")
    p.add_argument("--routes", action="store_true", help="print Kamailio's routes (dialled number -> province -> "
                   "dispatcher set), then stop")
    p.add_argument("--kamailio", metavar="DIR", help="write province_route.cfg and dispatcher.list for --layout")
    p.add_argument("--layout", choices=("a", "b"), default="b",
                   help="for --kamailio: (a) a pair per province, (b) regional clusters (default)")
    p.add_argument("--measure-rows", type=int, default=0, metavar="N",
                   help="also measure bytes per row with N rows of each table on a fresh database")
    p.add_argument("--measure-db", choices=("sqlite", "postgresql"), default="sqlite",
                   help=f"where --measure-rows measures: a temporary SQLite file, or {PG_URL} "
                        "(dropped and created again, dropped at the end)")
    assumptions_mod.add_options(p)
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    options = parse(argv)
    try:
        assumed = assumptions_mod.from_options(options)
        country = provinces.load()
        mc_province = country.province(options.mc_province)
    except ValueError as exc:
        print(f"bench/national_sim: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if options.assumptions:
        print(report.table(["assumption", "value", "source"], assumptions_mod.describe(assumed)))
        return EXIT_OK
    if options.routes:
        print(report.routes_table(routing.routes(country)))
        return EXIT_OK
    plan = sizing.plan(country, assumed)
    if options.kamailio:
        for path in routing.write(country, options.layout, _set_nodes(plan, options.layout), Path(options.kamailio)):
            print(f"wrote {path}", file=sys.stderr)
    low = sizing.plan(country, replace(assumed, calls_per_1000_per_year=country.low.per_1000_per_year))
    checks = _checks(plan, mc_province.name, assumed, options)
    measured = _measure(options) if options.measure_rows else None
    headroom = {layout: sizing.headroom(country, assumed, layout) for layout in ("a", "b")}
    if options.json:
        print(json.dumps(report.as_json(plan, low, assumed, checks, measured, headroom), ensure_ascii=False,
                         indent=1, default=_plain))
    else:
        print(_text(plan, low, country, assumed, measured, headroom))
        print("\n" + report.checks_table(mc_province.name, _queued(plan, mc_province.name, assumed), checks, assumed))
    return EXIT_OK if all(check.agrees for check in checks) else EXIT_DISAGREES


def _checks(plan: sizing.Plan, name: str, assumed: assumptions_mod.Assumptions,
            options: argparse.Namespace) -> list[montecarlo.Check]:
    """The Monte-Carlo check of the Erlang C operators figure of one province's busy hour."""
    operators = next(p.staffing.operators for p in plan.provinces if p.province.name == name)
    return montecarlo.around(_queued(plan, name, assumed), assumed.aht_seconds, operators, assumed.answer_within,
                             options.mc_hours, options.seed)


def _set_nodes(plan: sizing.Plan, layout: str) -> dict[int, int]:
    """Nodes of each dispatcher set (numbered from 1 in the provinces' or the regions' order)."""
    return dict(enumerate(plan.site_nodes(layout), start=1))


def _queued(plan: sizing.Plan, name: str, assumed: assumptions_mod.Assumptions) -> float:
    """Calls an hour that reach the operators' queue at the busy hour of province ``name``."""
    busy = next(p.demand.busy_hour_calls for p in plan.provinces if p.province.name == name)
    return busy * assumed.queue_share


def _measure(options: argparse.Namespace) -> dict[str, float]:
    from . import rowsize
    if options.measure_db == "sqlite":
        return rowsize.measure(options.measure_rows)
    from consolebench.cli import fresh_postgres
    fresh_postgres(PG_URL)
    try:
        return rowsize.measure(options.measure_rows, PG_URL)
    finally:
        rowsize.drop_database(PG_URL)


def _text(plan: sizing.Plan, low: sizing.Plan, country: provinces.Country, assumed: assumptions_mod.Assumptions,
          measured: dict[str, float] | None, headroom: dict[str, float]) -> str:
    parts = [
        f"bench/national_sim: {len(country.provinces)} provinces, populations of {country.year}, approximate "
        "(the source: bench/nationalsim/provinces.yaml)",
        "\n".join([*report.totals_lines(plan, country, assumed, low),
                   f"headroom: the rate can grow {headroom['a']:.1f}x before the busiest province's pair (a), "
                   f"{headroom['b']:.1f}x before the busiest region's pair (b) needs a third node"]),
        "Per province (busy hour of the busiest ordinary day; nodes (a): the province's own, N+1, at least 2)\n"
        + report.provinces_table(plan),
        "Layouts: (a) a pair per province against (b) shared regional clusters (machines: Asterisk nodes + "
        f"{sizing.PROXIES_PER_SITE} Kamailio + {sizing.DATABASES_PER_SITE} PostgreSQL per site)\n"
        + report.layouts_table(plan),
        "PostgreSQL growth per year, all provinces (bytes/row: assumption; measured: --measure-rows)\n"
        + report.rows_table(plan, assumed, measured),
    ]
    return "\n\n".join(parts)


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, int | float) else str(value)
