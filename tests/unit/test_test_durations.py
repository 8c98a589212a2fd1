"""The suite's own scheduling aid (tests.support.durations): files longest first, from a CI run's JUnit report."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.durations import CALL_SECONDS, UNIT_SECONDS, file_costs, from_junit, read_table

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.faults.test_app_restarts" name="test_a" time="96.5"/>
<testcase classname="tests.faults.test_app_restarts" name="test_b[ringing]" time="80.0"/>
<testcase classname="tests.unit.test_call.TestSomething" name="test_c" time="0.25"/>
<testcase classname="tests.unit.test_call" name="test_d" time="0.75"/>
<testcase classname="" name="collection error" time="0"/>
</testsuite></testsuites>"""


def test_a_junit_report_gives_the_seconds_of_each_file(tmp_path: Path) -> None:
    (tmp_path / "j.xml").write_text(JUNIT)
    assert from_junit(tmp_path / "j.xml") == pytest.approx({"tests/faults/test_app_restarts.py": 176.5,
                                                            "tests/unit/test_call.py": 1.0})


def test_known_files_cost_their_measure_and_others_are_guessed_from_their_tests() -> None:
    collected = [("tests/faults/a.py", True), ("tests/faults/a.py", True), ("tests/unit/b.py", False),
                 ("tests/integration/new.py", True), ("tests/unit/new.py", False)]
    costs = file_costs(collected, {"tests/faults/a.py": 900.0, "tests/unit/b.py": 3.0})
    assert costs == {"tests/faults/a.py": 900.0, "tests/unit/b.py": 3.0,
                     "tests/integration/new.py": CALL_SECONDS, "tests/unit/new.py": UNIT_SECONDS}


def test_a_missing_or_broken_table_orders_by_the_guess_alone(tmp_path: Path) -> None:
    assert read_table(tmp_path / "none.json") == {}
    (tmp_path / "bad.json").write_text("{not json")
    assert read_table(tmp_path / "bad.json") == {}


def test_the_suites_table_names_only_files_that_exist() -> None:
    """A renamed or deleted file left in tests/durations.json would be a silent no-op: keep it true."""
    root = Path(__file__).resolve().parents[2]
    table = read_table()
    assert table, "tests/durations.json is missing: python -m tests.support.durations JUNIT_XML writes it"
    assert [f for f in table if not (root / f).is_file()] == []
