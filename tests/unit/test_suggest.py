"""Tickets that sort themselves: the suggested category and agency of a ticket.

The models on the labelled requests of tests/fixtures/suggest (a seeded held-out split, as bench/suggest);
no suggestion for an empty, one-word or unknowable text; and, on SQLite and PostgreSQL (``database_url``),
what operators confirm is learnt at the next training, the worker's nightly job writes the model's file and
a new process reads it instead of training.
"""
from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import joblib
import pytest
import yaml

from hotline.context import Context
from hotline.domain.directory import load_directory
from hotline.domain.suggest import Example, seed_examples, train
from hotline.domain.tickets.categories import load_categories
from hotline.services.suggest import CONFIRMED
from hotline.worker import jobs
from hotline.worker.runtime import Runtime
from tests.unit.test_console import add_voicemail, console_context, console_env, sign_in
from tests.unit.test_console import world as world  # noqa: F401  (the same fixture, re-used)

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = ROOT / "tests" / "fixtures" / "suggest" / "requests.yaml"
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def requests() -> list[Example]:
    rows = yaml.safe_load(REQUESTS.read_text(encoding="utf-8"))["requests"]
    return [Example(r["text"], r["category"], r["agency"]) for r in rows]


def split(examples: list[Example], share: float = 0.3, seed: int = 1022) -> tuple[list[Example], list[Example]]:
    """(training, held out): the same seeded split as bench/suggest."""
    shuffled = examples[:]
    random.Random(seed).shuffle(shuffled)
    cut = int(len(shuffled) * (1 - share))
    return shuffled[:cut], shuffled[cut:]


def seeds() -> list[Example]:
    return seed_examples(load_categories(ROOT / "ticket_categories.yaml"), load_directory(ROOT / "transfer_directory"))


def test_the_fixture_covers_every_category_and_every_department_and_district() -> None:
    examples = requests()
    directory = load_directory(ROOT / "transfer_directory")
    agencies = {f"{a.kind}:{a.code}" for a in directory.entries if a.kind in ("department", "district")}
    assert len(examples) >= 300 and len(agencies) == 29
    assert {e.category for e in examples} == set(load_categories(ROOT / "ticket_categories.yaml")._by_code)
    assert {e.agency for e in examples} == agencies


def test_held_out_requests_are_sorted_well_enough() -> None:
    training, held_out = split(requests())
    model = train(seeds() + training, NOW)
    top1 = sum(model.category.rank(e.text, 1)[0].label == e.category for e in held_out) / len(held_out)
    top3 = sum(e.agency in [g.label for g in model.agency.rank(e.text, 3)] for e in held_out) / len(held_out)
    assert top1 >= 0.8, f"category top-1 {top1:.2f}"
    assert top3 >= 0.7, f"agency top-3 {top3:.2f}"


def test_no_suggestion_for_empty_one_word_or_unknowable_text() -> None:
    model = train(seeds() + requests(), NOW)
    assert model.suggest("", 0.3) is None and model.suggest("   ", 0.3) is None
    assert model.suggest("Đèn", 0.3) is None and model.suggest("đèn!", 0.3) is None
    assert model.suggest("Đèn đường tắt cả tuần nay", 0.99) is None         # nothing that confident
    found = model.suggest("Đèn đường tắt cả tuần nay, ban đêm tối om nguy hiểm", 0.3)
    assert found is not None and found.category is not None and found.category.label == "infrastructure"
    agencies_only = train([e for e in seeds() if e.agency], NOW)            # no category learnt at all
    assert agencies_only.category.rank("Đèn đường tắt cả tuần nay", 1) == []
    guess = agencies_only.suggest("Hỏi thủ tục ở Sở Tư pháp", 0.0)
    assert guess is not None and guess.category is None and guess.agency is not None


@pytest.fixture()
def ctx(tmp_path: Path, database_url: str) -> Context:
    return console_context(console_env(tmp_path, database_url))


def test_a_confirmed_suggestion_changes_the_next_training(ctx: Context) -> None:
    tickets = ctx.tickets()
    suggest = ctx.suggestions(tickets)
    text = "Bãi đỗ xe tự phát của hợp tác xã Zorbex lấn chiếm vỉa hè"
    before = suggest.train()
    ticket = tickets.create(channel="phone", content=text, actor="lan")
    done = suggest.confirm(ticket["code"], category="violations", agency="district:07", actor="lan")
    assert done["category"] == "violations" and done["agency"] == "district:07" and done["status"] == "assigned"
    [event] = [e for e in (tickets.get(ticket["code"]) or {})["events"] if e["action"] == CONFIRMED]
    assert event["actor"] == "lan" and event["detail"]["agency"] == "district:07"
    assert 0 <= event["detail"]["agency_confidence"] <= 1 and event["detail"]["category"] == "violations"
    assert Example(text, "violations", "district:07") in suggest.examples()
    after = suggest.train()
    probe = "Hợp tác xã Zorbex lại lấn chiếm vỉa hè làm bãi xe"
    assert after.agency.confidence(probe, "district:07") > before.agency.confidence(probe, "district:07")
    assert after.examples == before.examples + 1
    assert suggest.for_ticket(tickets.get(ticket["code"]) or {}) is None      # confirmed: not suggested again


def test_answered_tickets_teach_their_final_category_and_agency(ctx: Context) -> None:
    tickets = ctx.tickets()
    suggest = ctx.suggestions(tickets)
    t = tickets.create(channel="phone", content="Cống Quorvan ở ấp 3 nghẹt", category="infrastructure",
                       agency="district:12", actor="lan")
    assert Example(t["content"], "infrastructure", "district:12") not in suggest.examples()   # still open
    tickets.answer(t["code"], "Đã nạo vét", actor="xd")
    assert Example(t["content"], "infrastructure", "district:12") in suggest.examples()


def test_the_nightly_job_retrains_and_writes_the_file(ctx: Context) -> None:
    rt = Runtime.build(ctx)
    path = ctx.settings.paths.models / "suggest.joblib"
    hour = ctx.settings.suggest.retrain_hour
    assert not path.exists() and rt.suggest.due(NOW, ctx.settings.tz, hour)
    done = jobs.retrain_suggestions(rt)
    assert path.is_file() and done["examples"] > 0 and done["categories"] == len(ctx.categories)
    now = rt.now()
    assert not rt.suggest.due(now, ctx.settings.tz, hour)                    # trained today after retrain_hour
    assert rt.suggest.due(now + timedelta(days=1), ctx.settings.tz, hour)    # the next night
    assert jobs.retrain_suggestions in jobs.JOB_FUNCTIONS


def test_the_model_file_survives_a_restart(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    first = ctx.suggestions(ctx.tickets()).train()
    again = ctx.suggestions(ctx.tickets())       # another process: reads the file, trains nothing

    def refuse(*_args: Any) -> Any:
        raise AssertionError("trained again instead of reading the file")
    monkeypatch.setattr(type(again), "train", refuse)
    model = again.model()
    assert model.trained_at == first.trained_at and model.sizes == first.sizes
    text = "Hỏi thủ tục cấp phiếu lý lịch tư pháp"
    assert model.category.rank(text, 2) == first.category.rank(text, 2)


def learnt(world: dict[str, Any]) -> None:
    """The model the worker would have trained after the fixture's requests were answered, in its file."""
    path = world["ctx"].settings.paths.models / "suggest.joblib"
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(train(seeds() + requests(), NOW), path)


def test_the_ticket_page_shows_the_suggestion_and_confirms_it_in_one_click(world: dict[str, Any]) -> None:
    svc = world["svc"]
    learnt(world)
    t = svc.tickets.create(channel="phone", content="Hỏi thủ tục cấp phiếu lý lịch tư pháp số 2 cho người đi "
                           "làm việc ở nước ngoài", actor="lan")
    op = sign_in(world["app"], "lan")
    page = op.get(f"/tickets/{t['code']}").get_data(as_text=True)
    found = re.search(r'<p id="suggestion">Gợi ý: lĩnh vực <strong>Thủ tục hành chính</strong> \(độ tin cậy (\d+) %\)'
                      r', cơ quan <strong>Sở Tư pháp</strong> \(độ tin cậy (\d+) %\)', page)
    assert found, page[page.find("Xử lý"):][:1500]
    assert "Xác nhận gợi ý" in page
    assert "Gợi ý" not in sign_in(world["app"], "xd").get(f"/tickets/{world['mine']}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    refused = op.post(f"/tickets/{t['code']}/suggestion", data={"agency": "department:01"})
    assert refused.status_code == 400                                      # no CSRF token: refused
    done = op.post(f"/tickets/{t['code']}/suggestion", data={"csrf_token": token.group(1),
                                                             "category": "procedures", "agency": "department:01"})
    assert done.status_code == 302
    after = svc.tickets.get(t["code"])
    assert after["agency"] == "department:01" and after["status"] == "assigned"
    [event] = [e for e in after["events"] if e["action"] == CONFIRMED]
    assert event["actor"] == "lan" and event["detail"]["agency_confidence"] * 100 == pytest.approx(
        int(found.group(2)), abs=1)
    shown = op.get(f"/tickets/{t['code']}").get_data(as_text=True)
    assert 'id="suggestion"' not in shown and "Xác nhận gợi ý phân loại" in shown    # in the timeline only


def test_a_voicemail_ticket_is_suggested_once_transcribed(world: dict[str, Any]) -> None:
    svc = world["svc"]
    learnt(world)
    t = svc.tickets.for_voicemail(add_voicemail(world))
    assert t is not None
    op = sign_in(world["app"], "lan")
    assert "Xác nhận gợi ý" not in op.get(f"/tickets/{t['code']}").get_data(as_text=True)     # waiting for text
    svc.tickets.record(t["id"], "worker", "transcribed", {}, content="Tôi muốn đăng ký thẻ bảo hiểm y tế hộ "
                       "gia đình cho cả nhà thì nộp hồ sơ ở đâu")
    page = op.get(f"/tickets/{t['code']}").get_data(as_text=True)
    assert "Xác nhận gợi ý" in page and "Bảo hiểm xã hội tỉnh" in page[page.find('id="suggestion"'):][:400]
