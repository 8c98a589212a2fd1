"""Ticket codes a caller can key on a phone and hear back: digits only, the last a check digit.

The check digit is Damm's (python-stdnum): every single wrong digit and every swap of two
neighbouring digits is caught, so a mistyped code is refused at once instead of finding
somebody else's ticket.
"""
from __future__ import annotations

import secrets

from stdnum import damm


def new_code(digits: int) -> str:
    """A random code of ``digits`` digits (``digits - 1`` random ones and the check digit)."""
    body = f"{secrets.randbelow(10 ** (digits - 1)):0{digits - 1}d}"
    return body + damm.calc_check_digit(body)


def is_valid(code: str, digits: int) -> bool:
    """True when ``code`` has the right length, only digits, and a correct check digit."""
    return len(code) == digits and code.isdigit() and damm.is_valid(code)
