"""The AMI adapter's reading of events and answers, and the actions it builds (no connection)."""
from __future__ import annotations

from panoramisk.message import Message

from hotline.adapters import ami
from hotline.adapters.ami.messages import startup_epoch_function, uptime_seconds
from hotline.domain.vocabulary import DeviceState


def message(text: str) -> Message:
    parsed = Message.from_line(text.strip().replace("\n", "\r\n"))
    assert parsed is not None
    return parsed


def test_device_states_are_decoded_once_into_words() -> None:
    assert [ami.device_state(code) for code in range(9)] == [
        "unknown", "not_in_use", "in_use", "busy", "invalid", "unavailable", "ringing", "ring_in_use", "on_hold"]
    assert ami.device_state("6") == DeviceState.RINGING
    assert ami.device_state(42) == ami.device_state("x") == DeviceState.UNKNOWN
    assert DeviceState.ON_CALL | DeviceState.OFFLINE | DeviceState.IDLE | {DeviceState.RINGING} == {
        ami.device_state(code) for code in range(9)}


def test_headers_are_read_case_insensitively_and_numbers_default_to_zero() -> None:
    event = {"event": "QueueMemberStatus", "Status": ["1", "2"], "Wait": "12.7", "Position": "?"}
    assert ami.field(event, "Event") == "QueueMemberStatus"
    assert ami.field(event, "Status") == "2"          # a repeated header: the last one
    assert ami.field(event, "Missing", "-") == "-"
    assert ami.number(event, "Wait") == 12 and ami.number(event, "Position") == 0
    assert ami.number(event, "Missing", 7) == 7


def test_a_queue_member_from_queue_status() -> None:
    member = ami.QueueMember.from_event(message(
        "Event: QueueMember\nQueue: hotline\nName: op-lan\nLocation: PJSIP/op-lan\nStateInterface: PJSIP/op-lan\n"
        "Membership: dynamic\nPenalty: 0\nCallsTaken: 3\nLastCall: 1795445000\nLastPause: 0\nInCall: 1\n"
        "Status: 2\nPaused: 1\nPausedReason: break\nWrapuptime: 10"))
    assert member == ami.QueueMember("op-lan", "PJSIP/op-lan", "PJSIP/op-lan", DeviceState.IN_USE, True, "break", True,
                                 3, 1795445000, 0, 10)


def test_channel_lists_find_the_caller_and_the_operator() -> None:
    rows = [{"Channel": "PJSIP/anonymous-00000001", "Uniqueid": "c1", "Linkedid": "c1", "BridgeId": "b1"},
            {"Channel": "PJSIP/op-lanh-00000002", "Uniqueid": "c2", "Linkedid": "c1", "BridgeId": "b1"},
            {"Channel": "PJSIP/op-lan-00000003", "Uniqueid": "c3", "Linkedid": "c1", "BridgeID": "b1"}]
    caller = ami.channel_with_id(rows, "c1")
    assert caller is not None and ami.bridge_id(caller) == "b1" and ami.channel_with_id(rows, "c9") is None
    assert ami.endpoint_channel(rows, "op-lan", bridge="b1") == "PJSIP/op-lan-00000003"    # never op-lanh's
    assert ami.endpoint_channel(rows, "op-lan", linkedid="c1") == "PJSIP/op-lan-00000003"
    assert ami.endpoint_channel(rows, "op-lan", bridge="b2") is None
    assert ami.endpoint_channel(rows, "op-hoa", linkedid="c1") is None


def test_play_dtmf_presses_a_key_as_the_caller() -> None:
    assert ami.play_dtmf("PJSIP/anonymous-00000001", "D", 100) == {
        "Action": "PlayDTMF", "Channel": "PJSIP/anonymous-00000001", "Digit": "D", "Duration": "100",
        "Receive": "yes", "Async": "false"}


def test_asterisks_start_goes_back_to_asterisk_as_a_strptime_in_its_own_zone() -> None:
    status = message("Response: Success\nCoreStartupDate: 2026-12-07\nCoreStartupTime: 11:36:40\n"
                     "CoreReloadDate: 2026-12-07\nCoreReloadTime: 11:40:02\nCoreCurrentCalls: 0")
    assert startup_epoch_function(status) == "STRPTIME(2026-12-07 11:36:40,,%Y-%m-%d %H:%M:%S)"
    assert startup_epoch_function(message("Response: Success\nCoreStartupTime: 11:36:40")) is None   # no date
    assert startup_epoch_function({"CoreStartupDate": "2026-12-07", "CoreStartupTime": "1:2:3),SHELL(x"}) is None
    assert uptime_seconds("1796618200", "1796623200 ") == 5000
    assert uptime_seconds("", "1796623200") is None and uptime_seconds("1796623200", "1796618200") is None


def test_queue_penalty_sets_a_members_penalty() -> None:
    assert ami.queue_penalty("hotline", "PJSIP/op-a", 2) == {
        "Action": "QueuePenalty", "Interface": "PJSIP/op-a", "Penalty": "2", "Queue": "hotline"}
