"""Which numbers an operator may call a citizen on: hotline/domain/numbers.py, and the dialplan that says the same."""
from __future__ import annotations

import re

import pytest

from hotline.domain.numbers import OUTBOUND_PATTERNS, NumberRefused, national, outbound_number


@pytest.mark.parametrize(("raw", "number", "kind"), [
    ("0912345678", "0912345678", "mobile"),
    ("0912 345 678", "0912345678", "mobile"),
    ("091.234.5678", "0912345678", "mobile"),
    ("+84912345678", "0912345678", "mobile"),
    ("84 912 345 678", "0912345678", "mobile"),
    ("0388-123-456", "0388123456", "mobile"),
    ("0567123456", "0567123456", "mobile"),
    ("0701234567", "0701234567", "mobile"),
    ("0812345678", "0812345678", "mobile"),
    ("(0277) 385 1234", "02773851234", "fixed"),
    ("+842773851234", "02773851234", "fixed"),
    ("842438251234", "02438251234", "fixed"),
    ("18001234", "18001234", "toll_free"),
    ("1800 599 920", "1800599920", "toll_free"),
])
def test_vietnamese_numbers_are_let_out_in_their_national_form(raw: str, number: str, kind: str) -> None:
    got = outbound_number(raw)
    assert (got.number, got.kind) == (number, kind)


@pytest.mark.parametrize(("raw", "reason", "words"), [
    ("0012025550123", "international", "quốc tế"),
    ("+12025550123", "international", "quốc tế"),
    ("+4420 7946 0958", "international", "quốc tế"),
    ("19001234", "premium", "1900"),
    ("1900 571 234", "premium", "1900"),
    ("113", "invalid", "không phải số điện thoại Việt Nam"),
    ("1022", "invalid", "không phải"),
    ("091234567", "invalid", "không phải"),        # nine digits
    ("09123456789", "invalid", "không phải"),      # eleven
    ("0212345678", "invalid", "không phải"),       # 02 with ten digits
    ("0412345678", "invalid", "không phải"),       # no mobile prefix 04
    ("0612345678", "invalid", "không phải"),
    ("0912a45678", "invalid", "không phải"),
    ("*0912345678", "invalid", "không phải"),
    ("", "invalid", "Hãy nhập"),
    ("   ", "invalid", "Hãy nhập"),
])
def test_other_numbers_are_refused_with_a_vietnamese_reason(raw: str, reason: str, words: str) -> None:
    with pytest.raises(NumberRefused) as refused:
        outbound_number(raw)
    assert refused.value.reason == reason
    assert refused.value.vi is not None and words in refused.value.vi


def test_84_is_only_the_country_code_when_a_whole_number_follows() -> None:
    assert national("+84912345678") == "0912345678"
    assert national("8491234") == "8491234"          # too short to be 84 + a number: left as it is (refused)


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """An Asterisk extension pattern (_0[35789]XXXXXXXX) as a regular expression."""
    out = ""
    for part in re.findall(r"\[[^\]]+\]|.", pattern[1:]):
        out += {"X": r"\d", "N": "[2-9]", "Z": "[1-9]"}.get(part, part if part.startswith("[") else re.escape(part))
    return re.compile(out)


@pytest.mark.parametrize("raw", ["0912345678", "02773851234", "18001234", "1800599920", "0012025550123",
                                 "19001234", "113", "0212345678", "091234567"])
def test_the_dialplan_patterns_let_out_exactly_what_the_console_lets_out(raw: str) -> None:
    dialplan = any(_pattern_regex(p).fullmatch(raw) for p in OUTBOUND_PATTERNS)
    try:
        outbound_number(raw)
        console = True
    except NumberRefused:
        console = False
    assert dialplan == console
