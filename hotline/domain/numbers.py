"""Vietnamese telephone numbers: as the hotline keeps them, and which ones an operator may call out to.

Kept: ``0`` and 9 or 10 digits (0912345678, 02773851234), from any usual way of writing them (+84 912 345 678,
84-912-345-678, 0912.345.678): ``vietnamese_number``.

Called out to (``outbound_number``), as the dialplan's [hotline-outbound] says. Pure code, no I/O: the console
refuses a number here first, with a Vietnamese reason; the dialplan refuses it again on its own (defence in depth: a
phone that bypasses the console meets the same patterns). Allowed, after spaces, dots, dashes and brackets are
dropped and ``+84``/``84`` becomes ``0``:
- a mobile number: ``0`` then 3, 5, 7, 8 or 9, ten digits in all (``0912345678``);
- a fixed line: ``02`` then nine digits, eleven in all (``02773851234``: area code and subscriber);
- a toll-free line ``1800`` then four or six digits: free to the caller (an agency's own line).
Refused: anything international (``00…``, ``+`` other than ``+84``), premium-rate ``1900…`` lines, short codes
(``113``, ``1022``…) and anything else. The dialplan patterns are ``OUTBOUND_PATTERNS``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from hotline.domain.errors import HotlineError

_PHONE = re.compile(r"^0\d{9,10}$")
_MOBILE = re.compile(r"^0[35789]\d{8}$")
_SEPARATORS = re.compile(r"[\s.\-()]")
MOBILE = re.compile(r"0[35789]\d{8}")
FIXED = re.compile(r"02\d{9}")
TOLL_FREE = re.compile(r"1800(\d{4}|\d{6})")
#: The dialplan's patterns of the numbers let out (asterisk_conf/extensions.conf.j2, [hotline-outbound]).
OUTBOUND_PATTERNS = ("_0[35789]XXXXXXXX", "_02XXXXXXXXX", "_1800XXXX", "_1800XXXXXX")


def vietnamese_number(text: str | None) -> str | None:
    """The number as the hotline keeps it, or None when ``text`` is no Vietnamese number (an international one,
    a short code, a withheld caller ID)."""
    digits = national(text or "")
    return digits if _PHONE.match(digits) else None


def is_mobile(number: str | None) -> bool:
    """True for a Vietnamese mobile number as the hotline keeps it (one an SMS reaches)."""
    return bool(_MOBILE.match(number or ""))


class NumberRefused(HotlineError, ValueError):
    """A number the hotline does not call; ``vi`` says why, for the operator."""

    def __init__(self, number: str, reason: str, vi: str) -> None:
        super().__init__(f"{number!r} is refused as {reason}", vi=vi)
        self.number = number
        self.reason = reason        # international | premium | invalid


@dataclass(frozen=True)
class OutboundNumber:
    """A number the hotline may call: ``number`` as dialled (national form), ``kind`` mobile|fixed|toll_free."""

    number: str
    kind: str


def national(raw: str) -> str:
    """``raw`` without separators, ``+84``/``84`` turned into ``0`` (no check of what is left)."""
    digits = _SEPARATORS.sub("", raw or "")
    if digits.startswith("+84"):
        return "0" + digits[3:]
    if digits.startswith("84") and len(digits) in (11, 12):      # 84 + a mobile (9) or fixed (10) number
        return "0" + digits[2:]
    return digits


def outbound_number(raw: str) -> OutboundNumber:
    """The number to dial for ``raw``, or NumberRefused with the reason in Vietnamese."""
    number = national(raw)
    if not number:
        raise NumberRefused(raw, "invalid", "Hãy nhập số điện thoại của công dân.")
    if number.startswith(("00", "+")):
        raise NumberRefused(raw, "international", f"Không được gọi số quốc tế ({number}): tổng đài chỉ gọi "
                                                  "số điện thoại trong nước.")
    if number.startswith("1900"):
        raise NumberRefused(raw, "premium", f"Không được gọi đầu số {number[:4]} (dịch vụ thu cước cao).")
    for kind, pattern in (("mobile", MOBILE), ("fixed", FIXED), ("toll_free", TOLL_FREE)):
        if pattern.fullmatch(number):
            return OutboundNumber(number, kind)
    raise NumberRefused(raw, "invalid", f"Số {number} không phải số điện thoại Việt Nam hợp lệ (di động 10 số "
                                        "bắt đầu bằng 03, 05, 07, 08, 09; cố định 11 số bắt đầu bằng 02).")


def allowed(raw: str) -> bool:
    try:
        outbound_number(raw)
    except NumberRefused:
        return False
    return True
