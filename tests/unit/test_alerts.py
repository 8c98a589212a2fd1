"""The supervisors' alerts: the pure state machine (down -> one alert after N s -> one resolved), and the watch
with a real SMTP server (aiosmtpd) and its state file: no e-mail twice, not after a restart of the watch, an
e-mail the server refused sent again, a lost message alerted at once, the wallboard's banner in Vietnamese."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hotline.adapters.mail import Mailer
from hotline.config.settings import NotificationSettings
from hotline.domain.alerts import AlertBook, Notice
from hotline.services.alerts import LOST_WINDOW, AlertStore, AlertWatch, banner, note_lost_message
from hotline.services.health import Check, Report
from tests.support.smtp import SmtpSink, smtp_sink

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC).timestamp()      # 10:00 in Đồng Tháp


# -- the state machine ------------------------------------------------------------------------------

def test_a_part_down_is_alerted_once_after_n_seconds_and_resolved_once() -> None:
    book = AlertBook(after_seconds=60)
    down = {"agi": "nothing accepts on 127.0.0.1:4573"}
    assert book.observe(T0, down) == []
    assert book.observe(T0 + 59, down) == []
    due = book.observe(T0 + 60, down)
    assert due == [Notice("alert", "agi", T0, "nothing accepts on 127.0.0.1:4573")]
    book.sent(due, T0 + 60)
    assert book.observe(T0 + 61, down) == [] and book.observe(T0 + 600, down) == []     # never twice
    assert [a.key for a in book.alerted()] == ["agi"]
    back = book.observe(T0 + 700, {})
    assert back == [Notice("resolved", "agi", T0, "nothing accepts on 127.0.0.1:4573")]
    book.sent(back, T0 + 700)
    assert book.observe(T0 + 701, {}) == [] and book.alerted() == [] and book.open == {}


def test_a_part_back_before_its_alert_is_forgotten_without_a_word() -> None:
    book = AlertBook(after_seconds=60)
    assert book.observe(T0, {"monitor": "stale"}) == []
    assert book.observe(T0 + 30, {}) == [] and book.open == {}
    assert book.observe(T0 + 40, {"monitor": "stale"}) == []        # a new outage counts from its own start
    assert book.observe(T0 + 99, {"monitor": "stale"}) == []
    assert [n.kind for n in book.observe(T0 + 100, {"monitor": "stale"})] == ["alert"]


def test_an_unsent_notice_stays_due_and_immediate_parts_are_alerted_at_once() -> None:
    book = AlertBook(after_seconds=60, immediate=("disk",))
    assert [n.key for n in book.observe(T0, {"disk": "only 100 MB free"})] == ["disk"]
    assert [n.key for n in book.observe(T0 + 5, {"disk": "only 90 MB free"})] == ["disk"]   # not sent: due again
    assert book.open["disk"].problem == "only 90 MB free"
    book.sent(book.due(T0 + 5, {"disk": "x"}), T0 + 5)
    assert book.observe(T0 + 10, {"disk": "x"}) == []
    resolved = book.observe(T0 + 20, {})
    assert [n.kind for n in resolved] == ["resolved"]
    # down again before the resolved notice could be sent: still one open alert, no new one, no resolved
    assert book.observe(T0 + 30, {"disk": "x"}) == [] and len(book.alerted()) == 1


def test_the_state_is_plain_data() -> None:
    book = AlertBook(60)
    book.sent(book.observe(T0, {"redis": "refused"}) or [Notice("alert", "redis", T0, "")], T0)
    again = AlertBook.from_json(json.loads(json.dumps(book.to_json())), 60)
    assert again.open == book.open and again.observe(T0 + 1, {"redis": "refused"}) == []


# -- the watch, with a real SMTP server and its file ----------------------------------------------------

class FakeProbe:
    """The health checks, answering what the test sets."""

    def __init__(self) -> None:
        self.down: dict[str, str] = {}

    def run(self) -> Report:
        checks = {name: Check(name, name not in self.down, {}, (self.down[name],) if name in self.down else ())
                  for name in ("asterisk", "agi", "disk")}
        return Report(checks, datetime.now(UTC))


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


@pytest.fixture()
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as found:
        yield found


def watch(tmp_path: Path, sink: SmtpSink, probe: FakeProbe, clock: Clock) -> AlertWatch:
    mailer = Mailer(NotificationSettings(smtp_host="127.0.0.1", smtp_port=sink.port, sender="tongdai@localhost"))
    return AlertWatch(probe, mailer, ("giamsat@example.vn", "truongca@example.vn"), AlertStore(tmp_path / "alerts"),
                      after_seconds=3, tz=TZ, system="hotline1", clock=clock)


def test_one_alert_and_one_resolved_e_mail_even_across_a_restart_of_the_watch(tmp_path: Path, sink: SmtpSink) -> None:
    probe, clock = FakeProbe(), Clock()
    probe.down = {"agi": "nothing accepts on 127.0.0.1:4573 (Connection refused)"}
    first = watch(tmp_path, sink, probe, clock)
    assert first.tick() == [] and sink.messages == []
    clock.t += 3
    assert [n.kind for n in first.tick()] == ["alert"]
    clock.t += 1
    again = watch(tmp_path, sink, probe, clock)          # the watch restarted: the file remembers
    assert again.tick() == [] and first.tick() == []
    assert len(sink.messages) == 1
    mail = sink.messages[0]
    assert mail["Subject"] == "[1022] CẢNH BÁO (hotline1): Máy chủ AGI (tra cứu phản ánh qua điện thoại)"
    body = mail.get_content()
    assert "có sự cố từ 10:00:00 ngày 25/11/2026" in body and "Connection refused" in body
    assert sink.recipients[0] == ["giamsat@example.vn", "truongca@example.vn"]
    shown = banner(AlertStore(tmp_path / "alerts").read(), TZ)
    assert shown == [{"key": "agi", "text": "Máy chủ AGI (tra cứu phản ánh qua điện thoại) không hoạt động "
                                            "từ 10:00 ngày 25/11."}]
    probe.down = {}
    clock.t += 10
    assert [n.kind for n in again.tick()] == ["resolved"]
    assert first.tick() == [] and again.tick() == []
    assert sink.subjects()[1] == "[1022] ĐÃ KHẮC PHỤC (hotline1): Máy chủ AGI (tra cứu phản ánh qua điện thoại)"
    assert "sau 14 giây gián đoạn" in sink.messages[1].get_content()
    assert len(sink.messages) == 2 and banner(AlertStore(tmp_path / "alerts").read(), TZ) == []


def test_an_e_mail_the_server_refuses_is_sent_at_the_next_tick_once(tmp_path: Path, sink: SmtpSink) -> None:
    probe, clock = FakeProbe(), Clock()
    probe.down = {"asterisk": "AMI refused", "agi": "refused"}
    w = watch(tmp_path, sink, probe, clock)
    w.tick()
    clock.t += 5
    sink.refusing = True
    assert w.tick() == [] and sink.messages == []
    sink.refusing = False
    clock.t += 5
    assert sorted(n.key for n in w.tick()) == ["agi", "asterisk"]     # both in one e-mail
    assert len(sink.messages) == 1 and "Tổng đài (Asterisk)" in sink.subjects()[0]
    assert w.tick() == [] and len(sink.messages) == 1


def test_low_disk_and_a_lost_message_are_alerted_at_once(tmp_path: Path, sink: SmtpSink) -> None:
    probe, clock = FakeProbe(), Clock()
    probe.down = {"disk": "only 120 MB free under /srv/recordings; [recordings] min_free_mb is 500"}
    w = watch(tmp_path, sink, probe, clock)
    assert [n.key for n in w.tick()] == ["disk"]
    note_lost_message(tmp_path, "hotline1-1795445926.7", "Asterisk could not write the file", at=clock.t)
    note_lost_message(tmp_path, "hotline1-1795445926.9", "Asterisk could not write the file", at=clock.t)
    assert [n.key for n in w.tick()] == ["lost_messages"]
    assert "Lời nhắn không lưu được" in sink.subjects()[1]
    assert "2 message(s) could not be saved" in sink.messages[1].get_content()
    lines = [b["text"] for b in banner(AlertStore(tmp_path / "alerts").read(), TZ)]
    assert lines == ["Dung lượng ổ đĩa lưu ghi âm dưới mức tối thiểu từ 10:00 ngày 25/11: tổng đài tạm không "
                     "nhận lời nhắn.",
                     "2 lời nhắn của người dân không lưu được (từ 10:00 ngày 25/11): kiểm tra ngay ổ đĩa và tổng đài."]
    note_lost_message(tmp_path, "hotline1-1795445926.11", "disk full", at=clock.t)
    assert w.tick() == [] and len(sink.messages) == 2                  # the open alert counts it, no new e-mail
    assert "3 lời nhắn" in banner(AlertStore(tmp_path / "alerts").read(), TZ)[1]["text"]
    probe.down = {}
    clock.t += LOST_WINDOW + 1        # an hour after the last lost message
    assert sorted(n.key for n in w.tick()) == ["disk", "lost_messages"]
    assert AlertStore(tmp_path / "alerts").read()["lost"]["count"] == 0
