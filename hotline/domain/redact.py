"""Secrets kept out of what the hotline prints and logs: the password of every URL in a text, and a caller's
number where its reader may see only its end (agencies in the console; the wallboard's live picture in Redis).

Database and Redis URLs carry their password (``postgresql://hotline:PASSWORD@host/db``,
``redis://:PASSWORD@127.0.0.1:6379/0``); set-up output, error messages and log lines show them as
``postgresql://hotline:***@host/db``. One function for all of them, so none is forgotten.
"""
from __future__ import annotations

import re

MASK = "***"
# scheme://[user]:password@ ... : the password ends at the last '@' before the host (it may hold '@' or ':'
# when a person typed it unencoded), never crossing a space, a quote or a '/' of the path.
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@'\"]*:)[^\s/'\"]*@")


def redact_url(text: str) -> str:
    """``text`` (one URL, or any message holding URLs) with each URL's password replaced by ``***``."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)


def masked_number(number: str | None) -> str:
    """A caller's number with only its last 3 digits shown (``*******678``); nothing else of it is recoverable."""
    if not number:
        return ""
    if len(number) <= 3:
        return "*" * len(number)
    return "*" * (len(number) - 3) + number[-3:]
