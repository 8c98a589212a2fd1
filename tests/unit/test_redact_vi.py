"""hotline.domain.redact.redact_personal on Vietnamese texts as citizens write them (tests/fixtures/redaction/
examples.yaml): names, phone and ID numbers, e-mails and house-numbered addresses go, places and amounts stay; and
``hard_findings`` finds what approval of a published answer refuses."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hotline.domain.redact import hard_findings, redact_personal

EXAMPLES: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "fixtures" / "redaction" / "examples.yaml").read_text(encoding="utf-8"))


def test_there_are_enough_examples() -> None:
    assert len(EXAMPLES) >= 40


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["input"][:40] for e in EXAMPLES])
def test_each_example_is_redacted_as_written(example: dict[str, Any]) -> None:
    got = redact_personal(example["input"])
    assert got.text == example["output"]
    assert [r.kind for r in got.removed] == example["removed"]
    assert redact_personal(got.text).removed == ()          # nothing more to take from what it gives


@pytest.mark.parametrize(("text", "kinds"), [
    ("Liên hệ 0912 345 678.", ["phone"]), ("Mail: a.b@c.vn", ["email"]), ("CCCD 079123456789", ["id"]),
    ("Ông [họ tên] đã được trả lời.", []), ("Chị Lan ở số 12 đường Lê Lợi.", []),
])
def test_hard_findings_are_numbers_emails_and_ids_only(text: str, kinds: list[str]) -> None:
    assert [r.kind for r in hard_findings(text)] == kinds
