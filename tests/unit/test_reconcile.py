"""ari_app.reconcile.Reconciler after an app restart, on a fake ARI client: a call adopted at each state.

Asterisk keeps no missed ARI events: the restarted app lists the channels still in it and carries each
call on, through the engine, from what the call log says and where Asterisk shows the caller.
"""
from __future__ import annotations

import asyncio
import os
import struct
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ari_app.call import Call
from hotline.domain.flows import engine as fe
from hotline.domain.vocabulary import Context, Disposition
from tests.support.ari_app import OPEN, AppUnderTest, run_app
from tests.support.fake_ari import dialplan_channel, stasis_channel

DESK = "c1-desk1"


def _rec(t: AppUnderTest, call_id: str = "c1") -> Path:
    return t.services.recordings_root / "2026" / "11" / "25" / f"{call_id}.wav"


def _logged(t: AppUnderTest, node: str, disposition: str = Disposition.IN_PROGRESS, call_id: str = "c1") -> None:
    """The call as the app killed mid-call left it in the log."""
    t.repo.start_call(call_id, channel_id=call_id, caller="0912345678", dialled="1022", started_at=OPEN,
                      answered_at=OPEN, recording_file=str(_rec(t, call_id)))
    t.repo.update(call_id, node=node, disposition=disposition)


async def _restart(t: AppUnderTest, *channels: dict[str, Any], bridges: tuple[dict[str, Any], ...] = ()) -> None:
    t.ari.listed_channels, t.ari.listed_bridges = list(channels), list(bridges)
    await t.app.reconcile()
    await asyncio.sleep(0.05)       # the adopted calls' first steps


def _played(t: AppUnderTest) -> list[str]:
    return [" ".join(Path(m.removeprefix("sound:")).name for m in r.args[1]) for r in t.ari.asked("play")]


def _state(t: AppUnderTest) -> fe.CallState:
    state = t.app.calls["c1"].state
    assert state is not None
    return state


def _row(t: AppUnderTest) -> dict[str, Any]:
    row = t.repo.get("c1")
    assert row is not None
    return row


def _in_stasis(t: AppUnderTest) -> dict[str, Any]:
    return stasis_channel("c1", str(_rec(t)))


async def _hung_up(t: AppUnderTest, call: Call) -> dict[str, Any]:
    """The caller hangs up: the call's row once the app has ended ``call`` and written it."""
    t.app.handle({"type": "ChannelDestroyed", "channel": {"id": "c1"}, "cause": 16})
    await asyncio.wait_for(call.done.wait(), 5)
    await t.flush()
    return _row(t)


def test_a_call_in_the_menu_is_adopted_and_hears_the_menu_again(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _logged(t, "main")
        await _restart(t, _in_stasis(t))
        assert "c1" in t.app.calls and _played(t) == ["main_menu"]
        t.app.handle({"type": "ChannelDtmfReceived", "channel": {"id": "c1"}, "digit": "3"})
        await t.settle(lambda: _state(t).node == "department", "key 3 to reach the code entry")
    run_app(tmp_path, scenario)


def test_a_call_in_code_entry_is_asked_for_the_code_again(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _logged(t, "department")
        await _restart(t, _in_stasis(t))
        assert _played(t) == ["enter_department_code"]
        assert _state(t).digits == ""      # keys pressed while the app was away are lost
    run_app(tmp_path, scenario)


def _message_file(t: AppUnderTest, seconds: float, closed: bool) -> Path:
    """The call's message as Asterisk leaves it: 8 kHz 16-bit mono; while it records, the header's
    sizes are still those of an empty file (Asterisk writes them when it closes the file)."""
    path = t.services.voicemail_path(t.services.voicemail_name(_rec(t)))
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"\x00\x01" * int(8000 * seconds)
    size = len(data) if closed else 0
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
    header = b"RIFF" + struct.pack("<I", 36 + size) + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", size)
    path.write_bytes(header + data)
    return path


@pytest.mark.parametrize(("node", "disposition", "phase", "bridged"), [
    pytest.param("department", Disposition.TRANSFERRED, "bridged", True, id="bridged_to_a_desk"),
    pytest.param("voicemail", Disposition.VOICEMAIL, "voicemail", False, id="recording_a_message"),
])
def test_an_adopted_call_carries_on_where_it_was_without_a_new_prompt(tmp_path: Path, node: str, disposition: str,
                                                                     phase: str, bridged: bool) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _logged(t, node, disposition)
        if phase == "voicemail":
            _message_file(t, 4.0, closed=False)     # still being written
        await _restart(t, _in_stasis(t), bridges=({"id": "bridge-c1", "channels": ["c1", DESK]},) if bridged else ())
        call = t.app.calls["c1"]
        assert _state(t).phase == phase and call.desk_channel == (DESK if bridged else None)
        assert bool(call.recording_name) == (phase == "voicemail")
        assert not {"play", "record", "originate"} & set(t.ari.names())
    run_app(tmp_path, scenario)


def test_a_message_recorded_across_the_restart_is_kept_once_and_its_code_read_back(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _logged(t, "voicemail", Disposition.CLOSED_HOURS)
        path = _message_file(t, 4.0, closed=False)
        await _restart(t, _in_stasis(t))
        _message_file(t, 9.0, closed=True)          # the caller pressed '#': Asterisk closed the file
        name = t.services.voicemail_name(_rec(t))
        t.app.handle({"type": "ChannelDtmfReceived", "channel": {"id": "c1"}, "digit": "#"})
        t.app.handle({"type": "RecordingFinished", "recording": {"name": name, "target_uri": "channel:c1",
                                                                 "duration": 9}})
        await t.settle(lambda: _state(t).phase == "after", "the code read back")
        assert "record" not in t.ari.names() and _played(t)[-1].startswith("ticket_code_is")
        await t.flush()
        assert len(_row(t)["voicemails"]) == 1 and path.exists()
    run_app(tmp_path, scenario)


def test_a_message_that_ended_while_the_app_was_away_is_kept_and_its_code_read_back(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _logged(t, "voicemail", Disposition.CLOSED_HOURS)
        _message_file(t, 6.0, closed=True)
        await _restart(t, _in_stasis(t))
        await t.settle(lambda: _state(t).phase == "after", "the code read back")
        assert _state(t).disposition == Disposition.VOICEMAIL and "record" not in t.ari.names()
        await t.flush()
        [vm] = _row(t)["voicemails"]
        assert abs(vm["duration"] - 6.0) < 0.1 and vm["ticket"] and _played(t)[-1].startswith("ticket_code_is")
    run_app(tmp_path, scenario)


def test_a_call_at_the_message_node_with_nothing_recorded_yet_is_asked_again(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _logged(t, "voicemail", Disposition.CLOSED_HOURS)
        await _restart(t, _in_stasis(t))
        assert _played(t) == ["leave_message"] and _state(t).phase == "prompt"
    run_app(tmp_path, scenario)


@pytest.mark.parametrize("answer_logged", [True, False], ids=["answer_logged", "killed_before_the_answer_was_logged"])
def test_a_bridged_call_ends_transferred_when_the_caller_hangs_up(tmp_path: Path, answer_logged: bool) -> None:
    """Bridged when the app died, its desk attempt answered: as logged, or (the process killed between the
    bridge and its answer's write, CI) at the bridge's creation, which Asterisk keeps."""
    async def scenario(t: AppUnderTest) -> None:
        _logged(t, "department", Disposition.IN_PROGRESS if not answer_logged else Disposition.TRANSFERRED)
        t.repo.start_transfer("c1", kind="ivr", target="department:01", started_at=OPEN, key="k1")
        if answer_logged:
            t.repo.finish_transfer("k1", outcome="answered", answered_at=OPEN)
        bridged = datetime.now(UTC) - timedelta(seconds=7)
        await _restart(t, _in_stasis(t), bridges=({"id": "bridge-c1", "channels": ["c1", DESK],
                                                   "creationtime": bridged.strftime("%Y-%m-%dT%H:%M:%S.%f%z")},))
        call = t.app.calls["c1"]
        row = await _hung_up(t, call)
        assert row["ended_at"] is not None and row["disposition"] == Disposition.TRANSFERRED
        assert row["transfer_outcome"] == "answered"
        [transfer] = row["transfers"]           # the desk attempt started before the restart, closed after it
        assert transfer["outcome"] == "answered" and transfer["ended_at"] is not None
        answered = t.services.from_real(bridged.timestamp()) if not answer_logged else OPEN
        assert abs((datetime.fromisoformat(transfer["answered_at"]) - answered).total_seconds()) < 1
    run_app(tmp_path, scenario)


def _desk_leg(state: str) -> dict[str, Any]:
    """The desk's leg the first process originated (app_args desk,<caller>), as ARI lists it: ringing
    (not yet in Stasis) or answered (in Stasis, not yet bridged)."""
    if state == "Up":
        return {"id": DESK, "state": "Up", "dialplan": {"context": "default", "exten": "s", "app_name": "Stasis",
                                                         "app_data": "hotline,desk,c1"}}
    return {"id": DESK, "state": "Ringing", "dialplan": {"context": "default", "exten": "s", "app_name": "",
                                                          "app_data": ""}}


def test_killed_while_the_desk_rings_the_caller_waits_for_it_and_is_bridged_when_it_answers(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _logged(t, "department")
        t.repo.start_transfer("c1", kind="ivr", target="department:01", started_at=OPEN, key="k1")
        await _restart(t, _in_stasis(t), _desk_leg("Ringing"))
        call = t.app.calls["c1"]
        assert _state(t).phase == "transfer" and call.desk_channel == DESK
        assert not {"play", "originate", "create_bridge"} & set(t.ari.names())     # not asked again, not redialled
        t.app.handle({"type": "StasisStart", "channel": {"id": DESK}, "args": ["desk", "c1"]})
        await t.settle(lambda: _state(t).phase == "bridged", "the caller bridged to the desk")
        assert [r.args[1] for r in t.ari.asked("add_to_bridge")] == [["c1", DESK]]
        row = await _hung_up(t, call)
        assert row["disposition"] == Disposition.TRANSFERRED
        assert [(x["outcome"], x["ended_at"] is not None) for x in row["transfers"]] == [("answered", True)]
    run_app(tmp_path, scenario)


def test_killed_between_the_desks_answer_and_the_bridge_the_caller_is_bridged_at_once(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _logged(t, "department")
        t.repo.start_transfer("c1", kind="ivr", target="department:01", started_at=OPEN, key="k1")
        await _restart(t, _in_stasis(t), _desk_leg("Up"))
        await t.settle(lambda: _state(t).phase == "bridged", "the caller bridged to the desk")
        assert [r.args[1] for r in t.ari.asked("add_to_bridge")] == [["c1", DESK]]
        assert not {"play", "originate"} & set(t.ari.names())
    run_app(tmp_path, scenario)


def test_a_desk_ringing_for_a_call_no_longer_at_a_transfer_is_hung_up(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _logged(t, "main")
        await _restart(t, _in_stasis(t), _desk_leg("Ringing"))
        await t.settle(lambda: (DESK,) in [r.args for r in t.ari.asked("hangup")], "the stray desk leg hung up")
        assert _played(t) == ["main_menu"]
    run_app(tmp_path, scenario)


def test_a_caller_in_the_queue_is_followed(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _logged(t, "queue", Disposition.TO_QUEUE)
        await _restart(t, dialplan_channel("c1", Context.QUEUE))
        await t.settle(lambda: ("channel:c1",) in [r.args for r in t.ari.asked("subscribe")], "the subscription")
        call = t.app.calls["c1"]
        assert call.in_dialplan and _state(t).phase == "queue" and not t.ari.asked("play")
        t.app.handle({"type": "StasisEnd", "channel": {"id": "c1"}})            # not a hangup: still in the queue
        await asyncio.sleep(0.05)
        assert not call.done.is_set()
        row = await _hung_up(t, call)
        assert row["ended_at"] is not None and row["disposition"] == Disposition.TO_QUEUE
    run_app(tmp_path, scenario)


def test_a_caller_back_from_the_queue_after_the_restart_is_adopted_for_the_survey(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _logged(t, "queue", Disposition.TO_QUEUE)
        await _restart(t, dialplan_channel("c1", Context.QUEUE))
        t.app.handle({"type": "StasisStart", "channel": {"id": "c1", "caller": {"number": "0912345678"}},
                      "args": ["queue-return", "CONTINUE", "op-lan"]})
        await t.settle(lambda: _state(t).node == "survey", "the survey")
        assert _played(t)[-1] == "survey_question"
    run_app(tmp_path, scenario)


def test_a_caller_in_the_ticket_lookup_is_followed_and_carried_on_when_back(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _logged(t, "ticket_status")
        await _restart(t, dialplan_channel("c1", Context.TICKET_STATUS))
        assert ("channel:c1",) in [r.args for r in t.ari.asked("subscribe")]
        call = t.app.calls["c1"]
        assert call.in_dialplan and _state(t).phase == "ticket_status"
        t.app.handle({"type": "StasisStart", "channel": {"id": "c1"},
                      "args": ["ticket-status-return", "found", "", "ticket_status", str(_rec(t))]})
        await t.settle(lambda: _state(t).node == "main", "the main menu after the lookup")
    run_app(tmp_path, scenario)


def test_a_call_in_the_survey_hears_the_question_again_and_its_key_is_kept(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _logged(t, "survey", Disposition.ANSWERED)
        await _restart(t, _in_stasis(t))
        assert _played(t) == ["survey_question"]
        call = t.app.calls["c1"]
        t.app.handle({"type": "ChannelDtmfReceived", "channel": {"id": "c1"}, "digit": "1"})
        await t.settle(lambda: _state(t).node == "survey" and _state(t).phase != "prompt", "the key heard")
        row = await _hung_up(t, call)
        assert row["disposition"] == Disposition.ANSWERED and row["survey_score"] == 1
    run_app(tmp_path, scenario)


def test_a_call_whose_channel_is_gone_is_closed(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _logged(t, "main")
        await _restart(t)
        await t.flush()
        row = _row(t)
        assert row["ended_at"] is not None and row["disposition"] == Disposition.ABANDONED_IVR
    run_app(tmp_path, scenario)


def test_a_call_out_whose_end_the_agi_server_missed_is_closed_as_a_call_out(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        for call_id, answered in (("out-a", True), ("out-b", False)):
            t.repo.start_outbound(call_id, channel_id=call_id, number="0912345678", operator="op-lan", started_at=OPEN,
                                  recording_file=None)
            if answered:
                t.repo.update(call_id, answered_at=OPEN)
        await _restart(t)
        await t.flush()
        rows = [t.repo.get(c) for c in ("out-a", "out-b")]
        assert [(r or {}).get("disposition") for r in rows] == [Disposition.OUT_ANSWERED, Disposition.OUT_FAILED]
    run_app(tmp_path, scenario)


def test_a_held_call_whose_hangup_was_missed_ends_at_the_next_check(tmp_path: Path) -> None:
    """The WebSocket was down while the caller hung up: the reconnection's check ends the call."""
    async def scenario(t: AppUnderTest) -> None:
        t.app.handle({"type": "StasisStart", "channel": {"id": "c1", "caller": {"number": "0912345678"}},
                      "args": [str(_rec(t)), "1764900000", "1022"]})
        await t.settle(lambda: "c1" in t.app.calls and _played(t), "the call started")
        call = t.app.calls["c1"]
        await _restart(t)               # Asterisk lists no channel any more
        await asyncio.wait_for(call.done.wait(), 5)
        await t.flush()
        assert _row(t)["ended_at"] is not None and _row(t)["disposition"] == Disposition.ABANDONED_IVR
    run_app(tmp_path, scenario)


def test_a_call_that_starts_during_the_check_is_left_alone(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        listed = asyncio.Event()
        real_channels = t.ari.channels

        async def channels_then_a_new_call() -> list[dict[str, Any]]:
            answer = await real_channels()
            t.app.handle({"type": "StasisStart", "channel": {"id": "c2", "caller": {"number": "0912000000"}},
                          "args": [str(_rec(t, "c2")), "1764900000", "1022"]})
            listed.set()
            return answer
        t.ari.channels = channels_then_a_new_call       # type: ignore[method-assign]
        await t.app.reconciler.run(t.app, periodic=True)
        await asyncio.sleep(0.05)
        assert listed.is_set() and "c2" in t.app.calls and not t.app.calls["c2"].done.is_set()
    run_app(tmp_path, scenario)


def test_the_periodic_check_closes_an_unheld_open_row_only_when_seen_twice(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _logged(t, "main")
        await t.app.reconciler.run(t.app, periodic=True)
        assert _row(t)["ended_at"] is None          # may be a call whose own closing write is on the way
        await t.app.reconciler.run(t.app, periodic=True)
        assert _row(t)["ended_at"] is not None and _row(t)["disposition"] == Disposition.ABANDONED_IVR
    run_app(tmp_path, scenario)


def test_a_caller_back_from_the_queue_that_nobody_followed_keeps_their_recording(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _logged(t, "queue", Disposition.TO_QUEUE)
        t.app.handle({"type": "StasisStart", "channel": {"id": "c1", "caller": {"number": "0912345678"}},
                      "args": ["queue-return", "TIMEOUT", "", str(_rec(t))]})
        await t.settle(lambda: _played(t), "what follows a queue timeout")
        assert t.app.calls["c1"].rec_file == _rec(t) and _state(t).node != "queue"
    run_app(tmp_path, scenario)


def _ended(t: AppUnderTest, call_id: str) -> None:
    _logged(t, "voicemail", Disposition.CLOSED_HOURS, call_id=call_id)
    t.repo.end_call(call_id, ended_at=OPEN, disposition=Disposition.CLOSED_HOURS)


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_the_sweep_repairs_a_message_asterisk_never_closed_and_makes_it_a_ticket_once(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _ended(t, "c1")
        path = _message_file(t, 20.0, closed=False)      # Asterisk killed mid-message: header says 0 s
        _age(path, 120)
        await t.app.reconciler.sweep_files()
        await t.flush()
        [vm] = _row(t)["voicemails"]
        assert abs(vm["duration"] - 20.0) < 0.01 and vm["ticket"] and vm["status"] == "pending"
        await t.app.reconciler.sweep_files()           # idempotent: a second pass adds nothing
        await t.flush()
        assert len(_row(t)["voicemails"]) == 1
    run_app(tmp_path, scenario)


def test_the_sweep_leaves_alone_a_message_still_being_written_or_of_a_live_call(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _ended(t, "c1")
        path = _message_file(t, 5.0, closed=False)       # written a moment ago: a recording in progress
        await t.app.reconciler.sweep_files()
        _age(path, 120)
        await t.app.reconciler.sweep_files(busy=frozenset({"c1"}))    # its channel is still up
        await t.flush()
        assert _row(t)["voicemails"] == [] and struct.unpack("<I", path.read_bytes()[40:44])[0] == 0
    run_app(tmp_path, scenario)


def test_a_closed_message_with_no_row_becomes_a_ticket(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _ended(t, "c1")
        _message_file(t, 7.0, closed=True)               # e.g. the AGI server restarted before logging it
        await t.app.reconciler.sweep_files()
        await t.flush()
        [vm] = _row(t)["voicemails"]
        assert abs(vm["duration"] - 7.0) < 0.01 and vm["ticket"]
    run_app(tmp_path, scenario)


def test_a_message_with_neither_a_call_row_nor_a_call_recording_becomes_a_call_and_a_ticket(tmp_path: Path) -> None:
    """Every *.voicemail.wav on disk is kept, even when the call's own recording is missing too (MixMonitor
    could not write it): the call is logged from the message file, with no recording row."""
    async def scenario(t: AppUnderTest) -> None:
        _message_file(t, 6.0, closed=True)              # no row for c1, no c1.wav beside it
        assert not _rec(t).exists()
        await t.app.reconciler.sweep_files()
        await t.flush()
        row = _row(t)
        assert row["disposition"] == Disposition.APP_FALLBACK and row["ended_at"] is not None
        assert row["recording"] is None
        [vm] = row["voicemails"]
        assert abs(vm["duration"] - 6.0) < 0.01 and vm["ticket"]
        await t.app.reconciler.sweep_files()            # idempotent
        await t.flush()
        assert len(_row(t)["voicemails"]) == 1
    run_app(tmp_path, scenario)


def test_stopping_the_app_leaves_its_callers_on_the_line_for_the_next_start(tmp_path: Path) -> None:
    """SIGTERM (a restart, an upgrade): the event loop cancels the calls' tasks. No caller is hung up and no
    row is closed; the next start adopts them (the tests above)."""
    from tests.support.ari_app import build_app

    async def main() -> None:
        t = build_app(tmp_path)
        _logged(t, "main")
        await _restart(t, _in_stasis(t))
        assert "c1" in t.app.calls
        for task in list(t.app.tasks):
            task.cancel()           # what asyncio.run does to the tasks left when the app's main returns
        await asyncio.gather(*t.app.tasks, return_exceptions=True)
        await t.flush()
        assert t.ari.asked("hangup") == []
        assert _row(t)["ended_at"] is None
    asyncio.run(main())


# -- key 6's message (the flow's postal_message node): a postal ticket assigned to the post office ---------

def _postal_ticket(t: AppUnderTest, code: str) -> None:
    ticket = t.services.tickets.get(code)
    assert ticket is not None
    assert (ticket["category"], ticket["agency"], ticket["status"]) == ("postal", "postal_service:01", "assigned")


def test_a_postal_message_that_ended_while_the_app_was_away_is_a_postal_ticket(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _logged(t, "postal_message", Disposition.TRANSFER_FAILED)
        _message_file(t, 6.0, closed=True)
        await _restart(t, _in_stasis(t))
        await t.settle(lambda: _state(t).phase == "after", "the code read back")
        assert _played(t)[-1].startswith("ticket_code_is") and _played(t)[-1].endswith("postal_message_saved")
        await t.flush()
        [vm] = _row(t)["voicemails"]
        _postal_ticket(t, vm["ticket"])
    run_app(tmp_path, scenario)


def test_a_postal_message_of_a_call_closed_while_the_app_was_away_is_a_postal_ticket(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _logged(t, "postal_message", Disposition.TRANSFER_FAILED)
        _message_file(t, 8.0, closed=True)
        await _restart(t)                                # the caller hung up meanwhile: no channel
        await t.flush()
        row = _row(t)
        [vm] = row["voicemails"]
        assert row["disposition"] == Disposition.VOICEMAIL and vm["ended_by"] == "hangup"
        _postal_ticket(t, vm["ticket"])
    run_app(tmp_path, scenario)


def test_the_sweep_makes_a_postal_message_with_no_row_a_postal_ticket(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        _logged(t, "postal_message", Disposition.TRANSFER_FAILED)
        t.repo.end_call("c1", ended_at=OPEN, disposition=Disposition.TRANSFER_FAILED)
        _message_file(t, 7.0, closed=True)
        await t.app.reconciler.sweep_files()
        await t.flush()
        [vm] = _row(t)["voicemails"]
        _postal_ticket(t, vm["ticket"])
    run_app(tmp_path, scenario)
