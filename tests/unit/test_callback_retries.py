"""A call-back's tries ([callback] attempts, retry_minutes) and the worker's sweep that puts a call-back back in the
queue (hotline/services/callback_sweep.py), on SQLite and PostgreSQL: a citizen not answering is tried again
after retry_minutes at the front of the queue, then a ticket that says each try; a due try outside staffed hours is
a ticket; a placeholder Asterisk no longer has is put back, one that it has is left alone, and a call-back is
never taken twice. Asterisk's AMI is a recording stand-in here (its channel list, the Originates asked of it);
tests/integration/test_callback.py runs the same through the real one."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from agi.callbacks import CallbackHandlers
from hotline.adapters.ami import AmiUnavailable
from hotline.adapters.db.repository import CallRepository
from hotline.context import Context, load_context
from hotline.domain.clock import fake_clock_env
from hotline.services.callback_sweep import PLACE_GRACE, CallbackSweep
from hotline.services.callbacks import Callbacks
from tests.support.agi import RecordingAgi

NOW = datetime.fromisoformat("2026-11-25T10:00:00+07:00")       # a Wednesday: staffed
NUMBER = "0912345678"
AGI = RecordingAgi()


class FakeAmi:
    """Asterisk's AMI as the sweep uses it: the live channels' ids, and the Originates it was asked for."""

    def __init__(self, live: list[str] | None = None, down: bool = False) -> None:
        self.live = live or []
        self.down = down
        self.originated: list[dict[str, Any]] = []

    def run(self, work: Callable[[Any], Awaitable[Any]]) -> Any:
        import asyncio
        if self.down:
            raise AmiUnavailable("Asterisk is not answering", vi="Tổng đài không trả lời.")
        return asyncio.run(work(self))

    async def channels(self) -> list[dict[str, str]]:
        return [{"Uniqueid": u, "Channel": f"Local/s@x-{u}"} for u in self.live]

    async def originate(self, channel: str, context: str, **fields: Any) -> None:
        self.originated.append({"channel": channel, "context": context, **fields})


class World:
    def __init__(self, tmp_path: Path, database_url: str) -> None:
        ctx: Context = load_context(env={"HOTLINE_STATE_DIR": str(tmp_path / "state"),
                                         "HOTLINE_DATABASE_URL": database_url,
                                         "HOTLINE_REDIS_URL": "redis://127.0.0.1:1/0", **fake_clock_env(NOW)})
        self.ctx = ctx
        self.sessions = ctx.sessions()
        CallRepository(self.sessions).start_call("c1", channel_id="c1", caller=NUMBER, dialled="1022",
                                                 started_at=NOW, answered_at=NOW)
        self.now = NOW
        self.callbacks = Callbacks(self.sessions, lambda: self.now, attempts=3, retry=timedelta(minutes=10))
        self.tickets = ctx.tickets(self.sessions)
        self.agi = CallbackHandlers(self.callbacks, self.tickets)
        self.ami = FakeAmi()
        self.id = self.callbacks.request("c1", NUMBER, 2)
        self.callbacks.placed(self.id, "c1-cb")

    def sweep(self, dial: str = "PJSIP/{number}@trunk", amis: dict[str, Any] | None = None) -> dict[str, int]:
        return CallbackSweep(self.callbacks, self.tickets, self.ctx.hours, amis or {"node1": self.ami}, dial).run()

    def not_answered(self, status: str = "BUSY") -> str:
        self.agi.callback_taken(AGI, [str(self.id), "op-lan"])
        self.agi.callback_end(AGI, [str(self.id), status, f"out-{self.now:%H%M}"])
        return str(self.callbacks.get(self.id)["status"])


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> World:
    return World(tmp_path, database_url)


def test_a_citizen_not_answering_is_tried_again_at_the_front_then_a_ticket_says_each_try(world: World) -> None:
    assert world.not_answered("BUSY") == "waiting"
    row = world.callbacks.get(world.id)
    assert row["next_try_at"] == NOW + timedelta(minutes=10) and row["place_channel"] is None
    assert world.sweep() == {"callbacks_placed": 0, "callbacks_ticketed": 0}       # not yet due
    world.now = NOW + timedelta(minutes=10)
    assert world.sweep()["callbacks_placed"] == 1
    (placed,) = world.ami.originated
    assert placed["channel"] == "Local/s@hotline-callback-place/n" and placed["context"] == "hotline-callback-connect"
    assert placed["variables"] == {"CALLBACK_ID": str(world.id), "CALLBACK_NUMBER": NUMBER, "CALLBACK_POSITION": "1",
                                   "__CALLBACK_OF": "c1"}
    assert placed["caller_id"] == f'"Gọi lại" <{NUMBER}>'
    row = world.callbacks.get(world.id)
    assert row["place_channel"] == placed["channel_id"] and row["next_try_at"] is None
    assert world.not_answered("NOANSWER") == "waiting"
    world.now = NOW + timedelta(minutes=21)
    assert world.sweep()["callbacks_placed"] == 1
    assert world.not_answered("CHANUNAVAIL") == "no_answer"                       # the third try was the last
    row = world.callbacks.get(world.id)
    assert row["attempts"] == 3 and [t["outcome"] for t in row["tries"]] == ["busy", "noanswer", "chanunavail"]
    content = world.tickets.get(row["ticket_code"])["content"]
    assert "gọi lại 3 lần (10:00 máy bận; 10:10 không nhấc máy; 10:21 không liên lạc được)" in content, content
    assert NUMBER in content
    assert world.sweep() == {"callbacks_placed": 0, "callbacks_ticketed": 0}


def test_the_same_report_twice_counts_one_try(world: World) -> None:
    world.not_answered("BUSY")
    world.agi.callback_end(AGI, [str(world.id), "BUSY", "out-1000"])
    assert len(world.callbacks.get(world.id)["tries"]) == 1


def test_an_answer_or_a_cancelled_call_is_not_tried_again(world: World) -> None:
    assert world.not_answered("ANSWER") == "completed"
    assert world.callbacks.get(world.id)["tries"][0]["outcome"] == "answer"


def test_a_try_due_after_the_staffed_hours_is_a_ticket(world: World) -> None:
    world.not_answered("BUSY")
    world.now = datetime.fromisoformat("2026-11-25T23:05:00+07:00")
    assert world.sweep() == {"callbacks_placed": 0, "callbacks_ticketed": 1}
    row = world.callbacks.get(world.id)
    assert row["status"] == "no_answer" and row["outcome"] == "closed" and not world.ami.originated
    content = world.tickets.get(row["ticket_code"])["content"]
    assert "1 lần (10:00 máy bận)" in content and "hết giờ trực" in content


def test_a_lost_placeholder_is_put_back_and_a_live_one_is_left(world: World) -> None:
    world.ami.live = ["c1-cb", "c1-cb-2"]
    world.now = NOW + PLACE_GRACE + timedelta(seconds=1)
    assert world.sweep()["callbacks_placed"] == 0 and not world.ami.originated       # alive: left alone
    world.ami.live = []                                                                # Asterisk restarted
    assert world.sweep()["callbacks_placed"] == 1
    assert world.ami.originated[0]["variables"]["CALLBACK_POSITION"] == "1"
    world.ami.live = [world.ami.originated[0]["channel_id"]]
    world.now += PLACE_GRACE * 2
    assert world.sweep()["callbacks_placed"] == 0 and len(world.ami.originated) == 1


def test_a_node_that_does_not_answer_judges_nothing(world: World) -> None:
    world.now = NOW + PLACE_GRACE * 2
    assert world.sweep(amis={"node1": FakeAmi(down=True)})["callbacks_placed"] == 0
    assert world.callbacks.get(world.id)["place_channel"] == "c1-cb"


def test_a_lost_placeholder_at_night_or_without_a_route_is_a_ticket(world: World) -> None:
    world.now = NOW + PLACE_GRACE * 2
    assert world.sweep(dial="")["callbacks_ticketed"] == 1
    row = world.callbacks.get(world.id)
    assert (row["status"], row["outcome"]) == ("no_operator", "no_route") and not world.ami.originated


def test_a_node_down_holds_only_its_own_call_backs(world: World) -> None:
    world.now = NOW + PLACE_GRACE * 2
    with world.sessions.begin() as s:                   # the caller's call was on node2, which is down
        s.execute(text("UPDATE calls SET asterisk_node = 'node2'"))
    assert world.sweep(amis={"node1": world.ami, "node2": FakeAmi(down=True)})["callbacks_placed"] == 0
    with world.sessions.begin() as s:                   # on node1, which answers: its lost place is put back
        s.execute(text("UPDATE calls SET asterisk_node = 'node1'"))
    assert world.sweep(amis={"node1": world.ami, "node2": FakeAmi(down=True)})["callbacks_placed"] == 1


def test_a_call_back_is_claimed_once(world: World) -> None:
    assert world.callbacks.claim(world.id, "c1-cb", "cb-a")
    assert not world.callbacks.claim(world.id, "c1-cb", "cb-b")          # a second sweep read the same row
    world.agi.callback_taken(AGI, [str(world.id), "op-lan"])
    assert not world.callbacks.claim(world.id, "cb-a", "cb-c")           # an operator took it meanwhile


def test_the_place_is_the_first_node_that_takes_it(world: World) -> None:
    world.not_answered("BUSY")
    world.now = NOW + timedelta(minutes=10)
    other = FakeAmi()
    assert world.sweep(amis={"node1": FakeAmi(down=True), "node2": other})["callbacks_placed"] == 1
    assert len(other.originated) == 1


def test_a_call_out_gone_without_a_report_is_a_try_unless_its_row_says_answered(world: World) -> None:
    world.agi.callback_taken(AGI, [str(world.id), "op-lan"])           # then Asterisk dies: no callback_end
    world.ami.live = ["c1-cb"]
    world.now = NOW + PLACE_GRACE * 2
    assert world.sweep()["callbacks_ticketed"] == 0 and world.callbacks.get(world.id)["status"] == "calling"
    world.ami.live = []
    world.sweep()
    row = world.callbacks.get(world.id)
    assert (row["status"], row["outcome"], row["tries"][0]["outcome"]) == ("waiting", "lost", "lost")
    # a second call-back of the same caller, whose call out's row says the citizen answered: completed
    second = world.callbacks.request("c1", NUMBER, 0)
    world.callbacks.placed(second, "c1-cb-second")
    world.agi.callback_taken(AGI, [str(second), "op-lan"])
    CallRepository(world.sessions).start_call("c1-cb-second", channel_id="c1-cb-second", caller=NUMBER,
                                              dialled=NUMBER, started_at=world.now, answered_at=world.now)
    world.now += PLACE_GRACE * 2
    world.sweep()
    assert world.callbacks.get(second)["status"] == "completed"


def test_a_call_back_refused_by_the_limit_on_calls_out_is_tried_again(world: World) -> None:
    """[callback] max_out refused the call out before any dial (the dialplan's DIALSTATUS OUTLIMIT): not a ticket
    saying the citizen did not answer, but a try again after retry_minutes."""
    assert world.not_answered("OUTLIMIT") == "waiting"
    assert world.callbacks.get(world.id)["tries"][0]["outcome"] == "outlimit"


def test_a_call_back_asked_yesterday_is_not_called_today_but_a_ticket(world: World) -> None:
    world.not_answered("BUSY")
    world.now = datetime.fromisoformat("2026-11-26T07:30:00+07:00")      # the next morning, staffed again
    assert world.sweep() == {"callbacks_placed": 0, "callbacks_ticketed": 1}
    row = world.callbacks.get(world.id)
    assert (row["status"], row["outcome"]) == ("no_answer", "stale") and not world.ami.originated
    assert "sang ngày khác" in world.tickets.get(row["ticket_code"])["content"]


def test_a_placeholder_lost_again_and_again_becomes_a_ticket(world: World) -> None:
    from hotline.services.callback_sweep import MAX_PLACEMENTS
    for _ in range(MAX_PLACEMENTS):                 # each placeholder put back is lost again (the AGI server away)
        world.now += PLACE_GRACE * 2
        assert world.sweep()["callbacks_placed"] == 1
    world.now += PLACE_GRACE * 2
    assert world.sweep() == {"callbacks_placed": 0, "callbacks_ticketed": 1}
    row = world.callbacks.get(world.id)
    assert (row["status"], row["outcome"], row["placements"]) == ("no_operator", "replaced", MAX_PLACEMENTS)
    assert len(world.ami.originated) == MAX_PLACEMENTS


def test_a_sweep_with_nothing_to_judge_asks_asterisk_nothing(world: World) -> None:
    class Untouchable(FakeAmi):
        def run(self, work: Callable[[Any], Awaitable[Any]]) -> Any:
            raise AssertionError("the sweep asked AMI with nothing to judge")
    world.callbacks.taken(world.id, "op-lan", "c1-cb")
    world.callbacks.ended(world.id, "ANSWER", "out-1", world.tickets)
    assert world.sweep(amis={"node1": Untouchable()}) == {"callbacks_placed": 0, "callbacks_ticketed": 0}
