"""ari_app.call.Call on a fake ARI client: what a call asks of Asterisk, key by key (no Asterisk here)."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ari_app.call import Call
from hotline.domain.vocabulary import Context, Disposition
from tests.support.ari_app import AppUnderTest, run_app
from tests.support.fake_ari import stasis_channel


def _start(t: AppUnderTest, tmp: Path, channel_id: str = "c1") -> Call:
    rec = tmp / "recordings" / "2026" / "11" / "25" / f"{channel_id}.wav"
    t.app.handle({"type": "StasisStart", "channel": stasis_channel(channel_id, str(rec)),
                  "args": [str(rec), "1764900000", "1022"]})
    return t.app.calls[channel_id]


def _played(t: AppUnderTest) -> list[str]:
    """The prompt names of each play request, in order."""
    return [" ".join(Path(m.removeprefix("sound:")).name for m in r.args[1]) for r in t.ari.asked("play")]


async def _prompt_done(t: AppUnderTest, call: Call) -> None:
    """Asterisk says the current prompt ended."""
    playback = await t.settle(lambda: call.playback_id, "a prompt to play")
    t.app.handle({"type": "PlaybackFinished", "playback": {"id": playback, "target_uri": f"channel:{call.channel_id}"}})
    await t.settle(lambda: call.playback_id != playback, "the prompt to end")


async def _at_main_menu(t: AppUnderTest, tmp: Path) -> Call:
    call = _start(t, tmp)
    await _prompt_done(t, call)      # welcome, recording notice; staffed: the main menu
    await t.settle(lambda: call.state is not None and call.state.node == "main", "the main menu")
    return call


async def _hang_up(t: AppUnderTest, call: Call) -> dict:
    t.app.handle({"type": "ChannelDestroyed", "channel": {"id": call.channel_id}, "cause": 16})
    await asyncio.wait_for(call.done.wait(), 5)
    await t.flush()
    row = t.repo.get(call.call_id)
    assert row is not None
    return row


def test_a_new_call_is_logged_and_hears_the_welcome_then_the_menu(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        await _at_main_menu(t, tmp_path)
        assert _played(t) == ["welcome recording_notice", "main_menu"]
        await t.flush()
        row = t.repo.get("c1")
        assert row is not None and row["caller"] == "0912345678" and row["node"] == "main"
        assert row["ended_at"] is None
    run_app(tmp_path, scenario)


def test_the_caller_hanging_up_in_the_menu_closes_the_call_abandoned(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        call = await _at_main_menu(t, tmp_path)
        row = await _hang_up(t, call)
        assert row["ended_at"] is not None and row["disposition"] == Disposition.ABANDONED_IVR
        assert "c1" not in t.app.calls
    run_app(tmp_path, scenario)


def test_key_0_hands_the_caller_to_app_queue_and_the_call_follows_them_there(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        call = await _at_main_menu(t, tmp_path)
        t.app.handle({"type": "ChannelDtmfReceived", "channel": {"id": "c1"}, "digit": "0"})
        await _prompt_done(t, call)      # to_operator
        await t.settle(lambda: t.ari.asked("continue_in_dialplan"), "the caller sent to the queue")
        [sent] = t.ari.asked("continue_in_dialplan")
        assert sent.args == ("c1", Context.QUEUE) and call.in_dialplan
        assert ("channel:c1",) in [r.args for r in t.ari.asked("subscribe")]     # a hangup there is heard
        t.app.handle({"type": "StasisEnd", "channel": {"id": "c1"}})             # left on purpose
        assert not call.done.is_set()
        row = await _hang_up(t, call)
        assert row["disposition"] == Disposition.TO_QUEUE and row["queued_at"] is not None
    run_app(tmp_path, scenario)


def test_key_3_and_a_department_code_dial_the_desk_and_bridge_it_when_it_answers(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        call = await _at_main_menu(t, tmp_path)
        t.app.handle({"type": "ChannelDtmfReceived", "channel": {"id": "c1"}, "digit": "3"})
        await t.settle(lambda: call.state is not None and call.state.node == "department", "the code entry")
        for key in "02":
            t.app.handle({"type": "ChannelDtmfReceived", "channel": {"id": "c1"}, "digit": key})
        await _prompt_done(t, call)      # transferring
        [dial] = await t.settle(lambda: t.ari.asked("originate"), "the desk dialled")
        desk = dial.kwargs["channel_id"]
        assert dial.kwargs["app_args"] == "desk,c1"
        t.app.handle({"type": "StasisStart", "channel": {"id": desk}, "args": ["desk", "c1"]})
        [added] = await t.settle(lambda: t.ari.asked("add_to_bridge"), "the desk bridged")
        assert added.args[1] == ["c1", desk]
        await t.settle(lambda: call.state is not None and call.state.phase == "bridged", "the call bridged")
        row = await _hang_up(t, call)
        assert row["disposition"] == Disposition.TRANSFERRED
        assert ("hangup", (desk,)) in [(r.name, r.args) for r in t.ari.requests]
        assert t.ari.asked("destroy_bridge")
    run_app(tmp_path, scenario)


def test_the_keys_are_in_the_path_before_the_node_they_lead_to(tmp_path: Path) -> None:
    """A restart resumes the call at the node its row names: the keys that led there must already be in the
    row's path (seen in CI: the app killed while Asterisk was slow to stop the menu's prompt, and the path
    lost its "3")."""
    async def scenario(t: AppUnderTest) -> None:
        call = await _at_main_menu(t, tmp_path)
        t.ari.stop_playback_held = asyncio.Event()
        t.app.handle({"type": "ChannelDtmfReceived", "channel": {"id": "c1"}, "digit": "3"})   # over the menu
        await t.settle(lambda: t.ari.asked("stop_playback"), "the menu's prompt stopped")
        await t.flush()
        row = t.repo.get("c1")
        assert row is not None and row["node"] == "department"
        assert [(s["node"], s["keys"]) for s in row["ivr_path"]] == [("main", "3")]
        t.ari.stop_playback_held.set()
        await t.settle(lambda: call.state is not None and call.state.node == "department", "the code entry")
    run_app(tmp_path, scenario)


def test_a_request_on_a_channel_already_gone_is_skipped_and_the_call_still_closes(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        t.ari.gone.add("c1")
        call = _start(t, tmp_path)
        row = await _hang_up(t, call)
        assert row["ended_at"] is not None
    run_app(tmp_path, scenario)


def test_a_message_asterisk_could_not_record_is_noted_for_the_supervisors_alert(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        t.app.handle({"type": "StasisStart", "channel": {"id": "c9", "caller": {"number": "0912345678"}},
                      "args": [str(tmp_path / "recordings" / "c9.wav"), "1764900000", "1022"]})
        await t.settle(lambda: "c9" in t.app.calls, "the call")
        call = t.app.calls["c9"]
        call.recording_name = "c9.voicemail"
        t.app.handle({"type": "RecordingFailed", "recording": {"name": "c9.voicemail", "target_uri": "channel:c9"}})
        lost = t.ctx.settings.paths.state_dir / "alerts" / "lost_messages.jsonl"
        await t.settle(lambda: lost.exists() and "c9" in lost.read_text(), "the lost message noted")
        assert "0912345678" not in lost.read_text()          # the call's id and why, nothing personal
    run_app(tmp_path, scenario)


async def _back_from_the_queue_for_a_call_back(t: AppUnderTest, tmp: Path) -> Call:
    """A caller waiting in the queue presses 2 (third in line): the dialplan sends them back to the app."""
    t.services.settings.callback.dial = "PJSIP/{number}@trunk"       # the outbound route call-backs need
    call = await _at_main_menu(t, tmp)
    t.app.handle({"type": "ChannelDtmfReceived", "channel": {"id": "c1"}, "digit": "0"})
    await _prompt_done(t, call)
    await t.settle(lambda: t.ari.asked("continue_in_dialplan"), "the caller sent to the queue")
    t.app.handle({"type": "StasisStart", "channel": {"id": "c1", "caller": {"number": "0912345678"}},
                  "args": ["queue-return", "CALLBACK", "", str(call.rec_file), "3"]})
    await t.settle(lambda: call.state is not None and call.state.node == "callback", "the callback node")
    return call


def test_a_confirmed_call_back_is_a_row_and_a_placeholder_at_the_caller_s_place(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        call = await _back_from_the_queue_for_a_call_back(t, tmp_path)
        assert _played(t)[-1].split() == ["callback_number_is", *(f"digit:{d}" for d in "0912345678"),
                                          "callback_confirm"]
        t.app.handle({"type": "ChannelDtmfReceived", "channel": {"id": "c1"}, "digit": "1"})
        [placed] = await t.settle(lambda: t.ari.asked("originate_to_dialplan"), "the placeholder")
        assert placed.args == (f"Local/s@{Context.CALLBACK_PLACE}/n",)
        assert placed.kwargs["context"] == Context.CALLBACK_CONNECT and placed.kwargs["channel_id"] == "c1-cb"
        assert placed.kwargs["variables"]["CALLBACK_NUMBER"] == "0912345678"
        assert placed.kwargs["variables"]["CALLBACK_POSITION"] == "3"
        assert placed.kwargs["variables"]["__CALLBACK_OF"] == "c1"
        await _prompt_done(t, call)          # callback_kept; then the app hangs up
        assert _played(t)[-1] == "callback_kept"
        await t.settle(lambda: t.ari.asked("hangup"), "the hangup")
        row = await _hang_up(t, call)
        assert row["disposition"] == Disposition.CALLBACK
        [kept] = t.services.callbacks.of_call("c1")
        assert (kept["number"], kept["position"], kept["status"], kept["place_channel"]) == (
            "0912345678", 3, "waiting", "c1-cb")
    run_app(tmp_path, scenario)


def test_a_call_back_asterisk_refuses_is_said_and_the_caller_waits_again(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        t.ari.refuse_originate = True
        call = await _back_from_the_queue_for_a_call_back(t, tmp_path)
        t.app.handle({"type": "ChannelDtmfReceived", "channel": {"id": "c1"}, "digit": "1"})
        await t.settle(lambda: call.state is not None and call.state.node == "queue", "back to the queue")
        assert _played(t)[-1] == "callback_unavailable to_operator"
        [failed] = t.services.callbacks.of_call("c1")
        assert failed["status"] == "failed" and failed["outcome"] == "not_placed"
        await _hang_up(t, call)
    run_app(tmp_path, scenario)


def test_no_call_back_is_promised_without_an_outbound_route(tmp_path: Path) -> None:
    async def scenario(t: AppUnderTest) -> None:
        call = await _back_from_the_queue_for_a_call_back(t, tmp_path)
        t.services.settings.callback.dial = ""           # [callback] dial not set: nobody could call back
        t.app.handle({"type": "ChannelDtmfReceived", "channel": {"id": "c1"}, "digit": "1"})
        await t.settle(lambda: call.state is not None and call.state.node == "queue", "back to the queue")
        assert not t.ari.asked("originate_to_dialplan") and t.services.callbacks.of_call("c1") == []
        assert _played(t)[-1] == "callback_unavailable to_operator"
        await _hang_up(t, call)
    run_app(tmp_path, scenario)


def test_a_placeholder_whose_row_could_not_be_completed_is_hung_up(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The placeholder is in the queue but its row could not say so: it must not ring an operator for nothing."""
    async def scenario(t: AppUnderTest) -> None:
        def refuse(*_args: object) -> None:
            raise ConnectionError("database away")
        monkeypatch.setattr(t.services.callbacks, "placed", refuse)
        call = await _back_from_the_queue_for_a_call_back(t, tmp_path)
        t.app.handle({"type": "ChannelDtmfReceived", "channel": {"id": "c1"}, "digit": "1"})
        await t.settle(lambda: call.state is not None and call.state.node == "queue", "back to the queue")
        assert ("c1-cb",) in [r.args for r in t.ari.asked("hangup")]
        await _hang_up(t, call)
    run_app(tmp_path, scenario)
