"""Vietnamese telephone numbers as the hotline keeps them: ``0`` and 9 or 10 digits (0912345678, 02773851234),
from any usual way of writing them (+84 912 345 678, 84-912-345-678, 0912.345.678)."""
from __future__ import annotations

import re

_PHONE = re.compile(r"^0\d{9,10}$")
_MOBILE = re.compile(r"^0[35789]\d{8}$")
_SEPARATORS = re.compile(r"[\s.\-()]")


def vietnamese_number(text: str | None) -> str | None:
    """The number as the hotline keeps it, or None when ``text`` is no Vietnamese number (an international one,
    a short code, a withheld caller ID)."""
    digits = _SEPARATORS.sub("", text or "")
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) >= 11:
        digits = "0" + digits[2:]
    return digits if _PHONE.match(digits) else None


def is_mobile(number: str | None) -> bool:
    """True for a Vietnamese mobile number as the hotline keeps it (one an SMS reaches)."""
    return bool(_MOBILE.match(number or ""))
