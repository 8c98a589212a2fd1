"""Cells of the spreadsheets the hotline hands out (CSV and XLSX: reports, the AccessLog, a citizen's export).

Text that came from outside (a search typed by an operator, a caller's words, a name) must never be taken
for a formula when an admin opens the file: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is written with a leading apostrophe, which spreadsheet programs show as plain text.
Numbers are left as they are.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet cell that cannot run: text that would start a formula gets an apostrophe."""
    if isinstance(value, str) and len(value) > 1 and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]
