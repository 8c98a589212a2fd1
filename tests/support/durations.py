"""How long each test file takes, so that the test stacks finish together.

pytest-xdist (``--dist loadfile``) hands each stack one file at a time, the next as one runs dry. Left to
itself it orders the files by how many tests they hold, which puts the few-but-long call files (an ARI app
killed at every stage of a call: 9 tests, 15 minutes) last, so one stack works alone at the end. The suite's
conftest orders them longest first instead (``scripts/test`` passes ``--no-loadscope-reorder`` so xdist keeps
that order), from the seconds each file took in a CI run, kept in ``tests/durations.json``.

After a run with ``--junitxml=F``: ``python -m tests.support.durations F`` writes the file again. A file the
table does not know is guessed from its tests (those on a stack are calls, tens of seconds each).
"""
from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

TABLE = Path(__file__).resolve().parents[1] / "durations.json"
CALL_SECONDS = 40.0        # a test on the stack the table does not know: about one call with its prompts
UNIT_SECONDS = 0.5         # any other test the table does not know


def read_table(path: Path = TABLE) -> dict[str, float]:
    """The seconds per file (path from the checkout's root); empty when the table is missing or unreadable."""
    try:
        table = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in table.items()} if isinstance(table, dict) else {}


def file_costs(files: Iterable[tuple[str, bool]], table: dict[str, float]) -> dict[str, float]:
    """Seconds expected per file, from ``(file, on_stack)`` for each collected test: the table's figure, or
    a guess from the file's tests."""
    guessed: dict[str, float] = defaultdict(float)
    for file, on_stack in files:
        guessed[file] += CALL_SECONDS if on_stack else UNIT_SECONDS
    return {file: table.get(file, guess) for file, guess in guessed.items()}


def from_junit(path: Path) -> dict[str, float]:
    """Seconds per test file in a JUnit XML report (pytest's ``classname`` is the module's dotted path)."""
    seconds: dict[str, float] = defaultdict(float)
    for case in ET.parse(path).iter("testcase"):
        module = case.get("classname", "")
        if not module.startswith("tests."):
            continue
        parts = module.split(".")
        while parts and not parts[-1].startswith("test_"):     # a test class's name after the module's
            parts.pop()
        if parts:
            seconds["/".join(parts) + ".py"] += float(case.get("time", 0) or 0)
    return dict(seconds)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.support.durations JUNIT_XML  (writes tests/durations.json)", file=sys.stderr)
        return 2
    table = {f: round(s, 1) for f, s in sorted(from_junit(Path(argv[0])).items()) if s >= 1.0}
    TABLE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"{TABLE}: {len(table)} files, {sum(table.values()) / 60:.1f} minutes in all")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
