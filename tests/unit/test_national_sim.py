"""bench/national_sim: Erlang B and C against published values, the Monte-Carlo run against Erlang C, the
plan's totals against its provinces, the storage arithmetic, the provinces' data and Kamailio's routes."""
from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "bench") not in sys.path:
    sys.path.append(str(ROOT / "bench"))

from nationalsim import cli, erlang, montecarlo, provinces, routing, rowsize, sizing  # noqa: E402
from nationalsim.assumptions import Assumptions  # noqa: E402
from nationalsim.storage import audio_bytes, yearly_storage  # noqa: E402
from nationalsim.traffic import Demand, working_days  # noqa: E402


@pytest.fixture(scope="module")
def country() -> provinces.Country:
    return provinces.load()


@pytest.fixture(scope="module")
def plan(country: provinces.Country) -> sizing.Plan:
    return sizing.plan(country, Assumptions())


# Erlang B and C


@pytest.mark.parametrize(("traffic", "servers", "published"), [
    (10.0, 15, 0.0365),     # the textbook example: 10 E offered to 15 trunks
    (5.0, 10, 0.0184),
    (1.0, 1, 0.5),
    (2.0, 2, 0.4),
])
def test_erlang_b_gives_published_blocking(traffic: float, servers: int, published: float) -> None:
    assert erlang.erlang_b(traffic, servers) == pytest.approx(published, abs=5e-5)


@pytest.mark.parametrize(("traffic", "trunks"), [(10.0, 18), (100.0, 117), (1.0, 5)])
def test_trunks_at_one_percent_match_the_erlang_b_table(traffic: float, trunks: int) -> None:
    assert erlang.servers_for_blocking(traffic, 0.01) == trunks


def test_erlang_b_recursion_equals_the_closed_formula() -> None:
    for traffic in (0.3, 2.5, 7.5, 15.0):
        for servers in range(0, 21):
            closed = (traffic ** servers / math.factorial(servers)) / sum(
                traffic ** k / math.factorial(k) for k in range(servers + 1))
            assert erlang.erlang_b(traffic, servers) == pytest.approx(closed, rel=1e-12)


def test_erlang_b_stays_finite_where_factorials_overflow() -> None:
    blocking = erlang.erlang_b(10_000.0, 10_100)
    assert 0.0 < blocking < 0.01
    trunks = erlang.servers_for_blocking(10_000.0, 0.01)   # lost calls lighten the load: fewer than 10,000
    assert 9_900 < trunks < 10_000
    assert erlang.erlang_b(10_000.0, trunks) <= 0.01 < erlang.erlang_b(10_000.0, trunks - 1)


def test_erlang_c_gives_published_values() -> None:
    assert erlang.erlang_c(2.0, 3) == pytest.approx(4 / 9, rel=1e-12)   # M/M/3 at 2 E, exactly 4/9
    assert erlang.erlang_c(10.0, 11) == pytest.approx(0.6821, abs=5e-5)
    # the call-centre textbook case: 10 E, AHT 180 s, 80 % in 20 s needs 14 agents (13 give 79.6 %)
    assert erlang.service_level(10.0, 13, 180, 20) == pytest.approx(0.7956, abs=5e-4)
    assert erlang.service_level(10.0, 14, 180, 20) == pytest.approx(0.8884, abs=5e-4)
    assert erlang.agents_for_service_level(10.0, 180, 20, 0.8) == 14
    assert erlang.mean_wait(10.0, 14, 180) == pytest.approx(7.8, abs=0.1)


def test_erlang_c_with_no_spare_server_always_waits() -> None:
    assert erlang.erlang_c(5.0, 5) == 1.0
    assert erlang.service_level(5.0, 4, 180, 20) == 0.0
    assert math.isinf(erlang.mean_wait(5.0, 5, 180))


def test_more_servers_lose_and_wait_less_and_more_traffic_more() -> None:
    for servers in range(1, 30):
        assert erlang.erlang_b(8.0, servers + 1) < erlang.erlang_b(8.0, servers)
        assert erlang.erlang_b(8.5, servers) > erlang.erlang_b(8.0, servers)
        if servers > 8:
            assert erlang.erlang_c(8.0, servers + 1) < erlang.erlang_c(8.0, servers)
            assert erlang.service_level(8.0, servers + 1, 300, 20) > erlang.service_level(8.0, servers, 300, 20)
    needed = [erlang.agents_for_service_level(a / 4, 300, 20, 0.8) for a in range(0, 200)]
    assert needed == sorted(needed) and needed[0] == 1


def test_erlang_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        erlang.erlang_b(-1.0, 3)
    with pytest.raises(ValueError):
        erlang.servers_for_blocking(3.0, 0.0)
    with pytest.raises(ValueError):
        erlang.agents_for_service_level(3.0, 300, 20, 1.0)


# Monte-Carlo


def test_monte_carlo_agrees_with_erlang_c() -> None:
    check = montecarlo.simulate(120, 180, 8, 20, hours=1001, seed=7)   # 6 E on 8 operators
    assert check.calls > 100_000
    assert check.agrees
    assert abs(check.simulated_level - check.formula_level) < 0.02
    assert check.simulated_wait_share == pytest.approx(check.formula_wait_share, abs=0.02)


def test_monte_carlo_tells_one_operator_from_the_next() -> None:
    """The simulation with 8 operators lies far from the formula with 7: the check could fail."""
    with8 = montecarlo.simulate(120, 180, 8, 20, hours=1001, seed=7)
    assert abs(with8.simulated_level - erlang.service_level(6.0, 7, 180, 20)) > 0.2


def test_monte_carlo_is_seeded() -> None:
    first = montecarlo.simulate(20, 300, 3, 20, hours=41, seed=1022)
    assert montecarlo.simulate(20, 300, 3, 20, hours=41, seed=1022) == first
    assert montecarlo.simulate(20, 300, 3, 20, hours=41, seed=1023) != first


def test_ratio_estimate_of_equal_batches() -> None:
    level, interval = montecarlo.ratio_estimate([(8, 10), (8, 10), (8, 10)])
    assert level == 0.8 and interval == 0.0


# The plan


def test_provinces_are_the_34_with_unique_area_codes(country: provinces.Country) -> None:
    assert len(country.provinces) == 34
    assert len({p.name for p in country.provinces}) == 34
    codes = [code for p in country.provinces for code in p.area_codes]
    assert len(codes) == len(set(codes)) == 63
    assert {p.region for p in country.provinces} == set(provinces.REGIONS)
    assert country.province(" đồng nai ").area_codes == ("0251", "0271")
    assert 100e6 < sum(p.population for p in country.provinces) < 120e6


def test_seed_rates_per_1000_residents(country: provinces.Country) -> None:
    assert country.high.per_1000_per_year == pytest.approx(9300 * 12 / 8 / 3_097_107 * 1000)
    assert country.high.per_1000_per_year == pytest.approx(4.50, abs=0.01)
    assert country.low.per_1000_per_year == pytest.approx(1.25, abs=0.01)


def test_a_province_file_mistake_names_the_entry(tmp_path: Path) -> None:
    text = provinces.DATA.read_text(encoding="utf-8").replace('region: north, population: 8807523',
                                                              'region: west, population: 8807523')
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="Hà Nội: region"):
        provinces.load(tmp_path / "p.yaml")


def test_working_days_come_from_the_hotline_calendar() -> None:
    assert 240 <= working_days(2026) <= 252     # 261 weekdays less Tết and the other holidays


def test_totals_are_the_sums_of_the_provinces(plan: sizing.Plan, country: provinces.Country) -> None:
    assert plan.total("channels") == sum(p.channels for p in plan.provinces)
    assert plan.total("demand.calls_per_year") == pytest.approx(
        sum(p.population for p in country.provinces) / 1000 * country.high.per_1000_per_year)
    assert plan.storage.database_bytes == pytest.approx(sum(p.storage.database_bytes for p in plan.provinces))
    assert plan.storage.rows["tickets"] == pytest.approx(sum(p.storage.rows["tickets"] for p in plan.provinces))
    members = [p.province.name for region in plan.regions for p in region.provinces]
    assert sorted(members) == sorted(p.name for p in country.provinces)
    assert sum(r.trunk_erlangs for r in plan.regions) == pytest.approx(plan.total("trunk_erlangs"))
    assert plan.machines("a") == sum(p.nodes + 4 for p in plan.provinces)


def test_pooling_needs_fewer_channels_than_separate_provinces(plan: sizing.Plan) -> None:
    pooled = sum(r.channels for r in plan.regions)
    assert plan.national_channels <= pooled < plan.total("channels")
    for region in plan.regions:
        assert region.channels <= sum(p.channels for p in region.provinces)


def test_every_province_meets_the_targets(plan: sizing.Plan) -> None:
    for p in plan.provinces:
        assert p.staffing.service_level >= 0.8
        assert erlang.erlang_b(p.trunk_erlangs, p.channels) <= 0.01
        assert p.nodes >= 2
        assert p.demand.busy_hour_calls > p.demand.staffed_calls_per_day / 16   # the busy hour is above the mean


def test_nodes_are_n_plus_one_and_at_least_two() -> None:
    assert [sizing.nodes_for(c, 100) for c in (0, 1, 100, 101, 200, 250)] == [2, 2, 2, 3, 3, 4]


def test_a_higher_rate_grows_everything(country: provinces.Country, plan: sizing.Plan) -> None:
    bigger = sizing.plan(country, Assumptions(calls_per_1000_per_year=plan.rate * 20))
    assert bigger.total("channels") > plan.total("channels")
    assert bigger.total("staffing.operators") > plan.total("staffing.operators")
    assert bigger.storage.audio_bytes > 19 * plan.storage.audio_bytes


def test_headroom_is_where_a_third_node_comes(country: provinces.Country) -> None:
    assumed = Assumptions()
    factor = sizing.headroom(country, assumed, "b")
    rate = sizing.rate_per_1000(country, assumed)
    assert max(sizing.plan(country, replace(assumed, calls_per_1000_per_year=rate * factor)).site_nodes("b")) == 2
    assert max(sizing.plan(country, replace(assumed, calls_per_1000_per_year=rate * factor * 1.02)
                           ).site_nodes("b")) > 2


# Storage


def test_an_hour_of_wav_is_57_6_megabytes() -> None:
    assert audio_bytes(3600, 1, 128) == 3600 * 16_000 + 44


def test_a_year_of_storage_by_hand() -> None:
    assumed = Assumptions()    # closed calls: 20 s of prompts, 60 % leave 60 s; 128 kbit/s
    demand = Demand(calls_per_year=1000, staffed_calls_per_year=800, closed_calls_per_year=200,
                    messages_per_year=120, staffed_calls_per_day=800 / 250, busy_hour_calls=5.0)
    year = yearly_storage(demand, staffed_call_seconds=300, assumptions=assumed)
    seconds = 800 * 300 + 200 * (20 + 0.6 * 60)
    assert year.recording_hours == pytest.approx(seconds / 3600)
    assert year.recordings_bytes == pytest.approx(seconds * 16_000 + 1000 * 44)
    assert year.messages_bytes == pytest.approx(120 * 60 * 16_000 + 120 * 44)
    tickets = (800 * 0.7 + 120) * 1.25
    assert year.rows["tickets"] == pytest.approx(tickets)
    assert year.rows["ticket_events"] == pytest.approx(tickets * 5)
    assert year.database_bytes == pytest.approx(
        1000 * 600 + 1000 * 300 + 120 * 5000 + 800 * 0.15 * 350 + tickets * 2500 + tickets * 5 * 300
        + tickets * 4 * 350 + 800 * 0.7 * 3 * 200)


def test_measured_rows_on_the_project_schema() -> None:
    measured = rowsize.measure(200)
    assert set(measured) == {"calls", "recordings", "voicemails", "transfers", "tickets", "ticket_events",
                             "access_log", "operator_events"}
    assert all(size > 50 for size in measured.values())
    assert measured["tickets"] > measured["calls"] > measured["ticket_events"]


# Routing and the command


def test_routes_tell_the_province_by_the_dialled_area_code(country: provinces.Country) -> None:
    routes = {route.dialled: route for route in routing.routes(country)}
    assert len(routes) == 63
    assert routes["02511022"].province == routes["02711022"].province == "dong-nai"
    assert routes["0241022"].province == "ha-noi" and routes["0241022"].region_set == 1
    south = routes["0281022"]
    assert south.province == "ho-chi-minh" and south.region_set == 3 and south.fallback_set == 1
    assert routing.slug("Đắk Lắk") == "dak-lak"


@pytest.mark.skipif(shutil.which("kamailio") is None, reason="no kamailio on this machine")
@pytest.mark.parametrize("layout", ["a", "b"])
def test_kamailio_accepts_the_generated_route(tmp_path: Path, country: provinces.Country, layout: str) -> None:
    routing.write(country, layout, {}, tmp_path)
    modules = "".join(f'loadmodule "{m}.so"\n' for m in ("pv", "tm", "sl", "rr", "maxfwd", "textops", "siputils",
                                                          "dispatcher"))
    (tmp_path / "check.cfg").write_text(
        f"#!KAMAILIO\nlisten=udp:127.0.0.1:5999\n{modules}"
        f'modparam("dispatcher", "list_file", "{tmp_path / "dispatcher.list"}")\n'
        "request_route {\n\tif (is_method(\"INVITE\") && !has_totag()) {\n\t\trecord_route();\n"
        "\t\troute(PROVINCE);\n\t\tt_relay();\n\t\texit;\n\t}\n\tif (loose_route()) { t_relay(); exit; }\n}\n"
        f'include_file "{tmp_path / "province_route.cfg"}"\n', encoding="utf-8")
    done = subprocess.run(["kamailio", "-c", "-f", str(tmp_path / "check.cfg")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_command_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--json", "--mc-hours", "201", "--seed", "5"]) == cli.EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert len(data["provinces"]) == 34
    assert data["layouts"]["a"]["nodes"] == 68 and data["layouts"]["b"]["nodes"] == 6
    assert all(check["agrees"] for check in data["monte_carlo"])


def test_the_command_refuses_a_share_above_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--queue-share", "1.5"]) == cli.EXIT_BAD_INPUT
    assert "--queue-share" in capsys.readouterr().err
