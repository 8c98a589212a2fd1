"""hotline.domain.redact: no URL's password in what the hotline prints or logs."""
from __future__ import annotations

import logging

import pytest

from hotline.context import RedactingFormatter
from hotline.domain.redact import redact_url


@pytest.mark.parametrize(("text", "shown"), [
    ("redis://:s3cr%40t@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
    ("postgresql+psycopg://hotline:pa:ss@w@db.example/hotline", "postgresql+psycopg://hotline:***@db.example/hotline"),
    ("rediss://user:pw@cache:6380", "rediss://user:***@cache:6380"),
    ("PostgreSQL refuses postgresql://u:pw@h/d: no. See redis://:x@h/0.",
     "PostgreSQL refuses postgresql://u:***@h/d: no. See redis://:***@h/0."),
])
def test_every_urls_password_is_masked(text: str, shown: str) -> None:
    assert redact_url(text) == shown


@pytest.mark.parametrize("text", ["sqlite:////var/lib/hotline/hotline.db", "redis://127.0.0.1:6379/0",
                                  "http://user@host/path", "ws://127.0.0.1:8088/ws", "time 10:00 @ desk"])
def test_a_text_without_a_password_is_unchanged(text: str) -> None:
    assert redact_url(text) == text


def test_log_lines_and_their_tracebacks_are_redacted() -> None:
    formatter = RedactingFormatter("%(levelname)s %(message)s")
    try:
        raise ConnectionError("cannot reach redis://:hunter2@127.0.0.1:6379/0")
    except ConnectionError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "database %s down", ("postgresql://u:pw@h/d",),
                                   exc_info=__import__("sys").exc_info())
    line = formatter.format(record)
    assert "hunter2" not in line and ":pw@" not in line
    assert "postgresql://u:***@h/d" in line and "redis://:***@127.0.0.1" in line
