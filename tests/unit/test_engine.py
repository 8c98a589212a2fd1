"""The flow engine, key by key, on the shipped 1022 flow."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from hotline.domain.flows import engine as fe
from hotline.domain.flows.loader import load_flow
from hotline.domain.flows.model import VoicemailNode
from hotline.domain.vocabulary import Disposition

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Desk:
    dial: str


@dataclass(frozen=True)
class Agency:
    kind: str
    code: str
    name: str
    desk: Desk


class Directory:
    def __init__(self) -> None:
        self.entries = [Agency("department", "01", "Sở Tư pháp", Desk("PJSIP/desk-d01")),
                        Agency("district", "02", "Thành phố Sa Đéc", Desk("PJSIP/desk-h02")),
                        Agency("postal_service", "01", "Bưu điện tỉnh", Desk("PJSIP/desk-bd"))]

    def find(self, kind: str, code: str) -> Agency | None:
        return next((a for a in self.entries if a.kind == kind and a.code == code), None)


def make(closed: str | None = None) -> fe.FlowEngine:
    flow = load_flow(ROOT / "ivr_flows" / "hotline_1022.yaml")
    return fe.FlowEngine(flow, Directory(), lambda: closed)


def run(engine: fe.FlowEngine, *events: fe.Event) -> tuple[fe.CallState, list[fe.Action]]:
    state, actions = engine.start()
    everything = list(actions)
    for event in events:
        state, actions = engine.handle(state, event)
        everything.extend(actions)
    return state, everything


def plays(actions: list[fe.Action]) -> list[tuple[str, ...]]:
    return [a.prompts for a in actions if isinstance(a, fe.Play)]


def test_open_call_reaches_main_menu_after_welcome() -> None:
    state, actions = run(make(), fe.PromptsDone())
    assert plays(actions) == [("welcome", "recording_notice"), ("main_menu",)]
    assert state.node == "main" and state.phase == "prompt"
    assert fe.Note("hours", fields={"hours": "open"}) in actions


def test_closed_hours_reads_hours_then_records_a_message() -> None:
    state, actions = run(make("weekend"), fe.PromptsDone(), fe.PromptsDone(), fe.PromptsDone())
    assert plays(actions)[1:] == [("closed_hours",), ("leave_message",)]
    assert isinstance(actions[-1], fe.RecordVoicemail)
    assert state.disposition == Disposition.CLOSED_HOURS
    state, actions = make("weekend").handle(state, fe.VoicemailDone("pound"))
    assert state.disposition == Disposition.VOICEMAIL and plays(actions) == [("message_saved",)]
    state, actions = make("weekend").handle(state, fe.PromptsDone())
    assert actions == [fe.Hangup()]


def test_message_ended_with_pound_reads_the_ticket_code_back_twice_digit_by_digit() -> None:
    state, _ = run(make("weekend"), fe.PromptsDone(), fe.PromptsDone(), fe.PromptsDone())
    assert state.phase == "voicemail"
    state, actions = make("weekend").handle(state, fe.VoicemailDone("pound", ticket_code="3077345"))
    digits = tuple(f"digit:{d}" for d in "3077345")
    assert plays(actions) == [("ticket_code_is", *digits, "ticket_code_again", *digits, "message_saved")]
    assert state.disposition == Disposition.VOICEMAIL and state.phase == "after"


def test_message_ended_by_hanging_up_plays_nothing() -> None:
    state, _ = run(make("weekend"), fe.PromptsDone(), fe.PromptsDone(), fe.PromptsDone())
    state, actions = make("weekend").handle(state, fe.VoicemailDone("hangup", ticket_code="3077345"))
    assert actions == [fe.Hangup()] and state.disposition == Disposition.VOICEMAIL


def test_no_message_file_keeps_the_closed_hours_disposition() -> None:
    state, _ = run(make("weekend"), fe.PromptsDone(), fe.PromptsDone(), fe.PromptsDone())
    state, actions = make("weekend").handle(state, fe.VoicemailDone("hangup", recorded=False))
    assert actions == [fe.Hangup()]      # never "message saved" when there is none
    assert state.disposition == Disposition.CLOSED_HOURS and state.phase == "done"


@pytest.mark.parametrize("recorded", [False, True])
def test_a_recording_that_failed_is_never_said_to_be_saved(recorded: bool) -> None:
    """Asterisk could not write the message (its disk filled): the caller hears that it may not be kept
    whole and when to call again; what was written, if anything, is still kept as a message."""
    state, _ = run(make("weekend"), fe.PromptsDone(), fe.PromptsDone(), fe.PromptsDone())
    state, actions = make("weekend").handle(state, fe.VoicemailDone("failed", ticket_code="3077345",
                                                                     recorded=recorded))
    assert plays(actions) == [("message_not_saved", "call_back_later")] and state.phase == "after"
    assert state.disposition == (Disposition.VOICEMAIL if recorded else Disposition.CLOSED_HOURS)
    assert make("weekend").handle(state, fe.PromptsDone())[1] == [fe.Hangup()]


def _no_room(closed: str | None) -> fe.FlowEngine:
    flow = load_flow(ROOT / "ivr_flows" / "hotline_1022.yaml")
    return fe.FlowEngine(flow, Directory(), lambda: closed, lambda: "only 12 MB free")


def test_closed_hours_with_no_room_for_a_message_says_so_and_when_to_call_again() -> None:
    engine = _no_room("weekend")
    state, actions = run(engine, fe.PromptsDone(), fe.PromptsDone())
    assert plays(actions)[-1] == ("no_message_now", "call_back_later")
    assert not any(isinstance(a, fe.RecordVoicemail) for a in actions)
    state, actions = engine.handle(state, fe.PromptsDone())
    assert actions == [fe.Hangup()] and state.disposition == Disposition.CLOSED_HOURS


def test_staffed_with_no_room_for_a_message_the_caller_goes_to_an_operator_once() -> None:
    engine = _no_room(None)
    state, actions = engine.handle(in_queue(engine), fe.QueueReturned("MESSAGE"))   # key 1 in the queue
    assert plays(actions) == [("no_message_now", "call_back_later")]    # waited already: not queued again
    assert not any(isinstance(a, (fe.RecordVoicemail, fe.EnterQueue)) for a in actions)
    state = fe.CallState(node="voicemail", disposition=Disposition.ABANDONED_IVR)
    state, actions = engine.enter("voicemail", state)        # e.g. after a desk that did not answer
    assert state.node == "queue" and plays(actions) == [("no_message_now", "to_operator")]


def test_the_disk_filling_while_the_message_prompt_plays_is_caught_before_the_beep() -> None:
    problems: list[str | None] = [None]
    flow = load_flow(ROOT / "ivr_flows" / "hotline_1022.yaml")
    engine = fe.FlowEngine(flow, Directory(), lambda: "weekend", lambda: problems[0])
    state, actions = run(engine, fe.PromptsDone(), fe.PromptsDone())
    assert plays(actions)[-1] == ("leave_message",)
    problems[0] = "not writable"
    state, actions = engine.handle(state, fe.PromptsDone())
    assert plays(actions) == [("no_message_now", "call_back_later")] and state.phase == "after"


def test_no_message_file_after_the_queue_keeps_to_queue() -> None:
    engine = make()
    state, _ = engine.handle(in_queue(engine), fe.QueueReturned("MESSAGE"))
    state, _ = engine.handle(state, fe.PromptsDone())
    assert state.phase == "voicemail"
    state, actions = engine.handle(state, fe.VoicemailDone("hangup", recorded=False))
    assert actions == [fe.Hangup()] and state.disposition == Disposition.TO_QUEUE


def test_a_too_short_message_still_makes_the_call_a_voicemail() -> None:
    state, _ = run(make("weekend"), fe.PromptsDone(), fe.PromptsDone(), fe.PromptsDone())
    state, actions = make("weekend").handle(state, fe.VoicemailDone("hangup"))   # recorded, no ticket
    assert actions == [fe.Hangup()] and state.disposition == Disposition.VOICEMAIL


def test_key_during_menu_prompt_stops_it_and_goes_on() -> None:
    state, actions = run(make(), fe.PromptsDone(), fe.Digit("3"))
    assert fe.StopPlayback() in actions and fe.Note("main", keys="3") in actions
    assert state.node == "department"


def test_department_code_transfers_to_that_desk() -> None:
    engine = make()
    state, actions = run(engine, fe.PromptsDone(), fe.Digit("3"), fe.PromptsDone(), fe.Digit("0"), fe.Digit("1"))
    assert state.phase == "announce" and plays(actions)[-1] == ("transferring",)
    state, actions = engine.handle(state, fe.PromptsDone())
    transfer = [a for a in actions if isinstance(a, fe.Transfer)]
    assert transfer and transfer[0].agency.desk.dial == "PJSIP/desk-d01"
    state, actions = engine.handle(state, fe.TransferResult(True))
    assert state.phase == "bridged" and state.disposition == Disposition.TRANSFERRED


def test_unknown_code_is_refused_and_asked_again() -> None:
    state, actions = run(make(), fe.PromptsDone(), fe.Digit("3"), fe.PromptsDone(), fe.Digit("9"), fe.Digit("9"))
    assert state.node == "department" and state.attempts == 1
    assert plays(actions)[-1] == ("unknown_code", "enter_department_code")


def test_star_lists_the_codes_without_counting_a_failure() -> None:
    state, actions = run(make(), fe.PromptsDone(), fe.Digit("3"), fe.Digit("*"))
    assert plays(actions)[-1] == ("department_list", "enter_department_code")
    assert state.attempts == 0


def test_three_silences_go_to_the_operator() -> None:
    engine = make()
    state, _ = run(engine, fe.PromptsDone())
    for attempt in (1, 2):
        state, _ = engine.handle(state, fe.PromptsDone())
        state, actions = engine.handle(state, fe.InputTimeout())
        assert state.attempts == attempt and plays(actions) == [("no_input", "main_menu")]
    state, _ = engine.handle(state, fe.PromptsDone())
    state, actions = engine.handle(state, fe.InputTimeout())
    assert state.node == "queue" and state.disposition == Disposition.TO_QUEUE


def test_wrong_keys_three_times_go_to_the_operator() -> None:
    state, actions = run(make(), fe.PromptsDone(), fe.Digit("7"), fe.Digit("8"), fe.Digit("#"))
    assert state.node == "queue"
    assert [a.keys for a in actions if isinstance(a, fe.Note) and a.keys] == ["7", "8", "#"]


def test_nine_repeats_the_menu() -> None:
    state, actions = run(make(), fe.PromptsDone(), fe.PromptsDone(), fe.Digit("9"))
    assert state.node == "main" and state.attempts == 0 and plays(actions)[-1] == ("main_menu",)


def test_desk_busy_says_why_and_goes_to_the_queue() -> None:
    engine = make()
    state, _ = run(engine, fe.PromptsDone(), fe.Digit("3"), fe.Digit("0"), fe.Digit("1"), fe.PromptsDone())
    assert state.phase == "transfer"
    state, actions = engine.handle(state, fe.TransferResult(False, "busy"))
    assert state.node == "queue" and plays(actions) == [("desk_unavailable", "to_operator")]
    assert fe.Note("department", fields={"transfer_outcome": "busy"}) in actions


# -- key 6: the post office's desk, or its message (on_unavailable) ----------------------------------

def test_key_six_dials_the_post_office_while_staffed() -> None:
    state, actions = run(make(), fe.PromptsDone(), fe.Digit("6"), fe.PromptsDone())
    assert state.node == "pickup" and state.phase == "transfer"
    [transfer] = [a for a in actions if isinstance(a, fe.Transfer)]
    assert (transfer.agency.kind, transfer.agency.code) == ("postal_service", "01")


@pytest.mark.parametrize("reason", ["busy", "noanswer", "failed"])
def test_post_office_unavailable_takes_a_postal_message_and_reads_its_code(reason: str) -> None:
    engine = make()
    state, _ = run(engine, fe.PromptsDone(), fe.Digit("6"), fe.PromptsDone())
    state, actions = engine.handle(state, fe.TransferResult(False, reason))
    assert (state.node, state.phase, state.disposition) == ("postal_message", "prompt", Disposition.TRANSFER_FAILED)
    assert plays(actions) == [("postal_unavailable", "postal_leave_message")]
    assert fe.Note("pickup", fields={"transfer_outcome": reason}) in actions
    state, actions = engine.handle(state, fe.PromptsDone())
    assert state.phase == "voicemail" and isinstance(actions[-1], fe.RecordVoicemail)
    state, actions = engine.handle(state, fe.VoicemailDone("pound", ticket_code="3077345"))
    digits = tuple(f"digit:{d}" for d in "3077345")
    assert state.disposition == Disposition.VOICEMAIL
    assert plays(actions) == [("ticket_code_is", *digits, "ticket_code_again", *digits, "postal_message_saved")]
    node = engine.flow.node("postal_message")
    assert isinstance(node, VoicemailNode) and (node.category, node.agency) == ("postal", "postal_service:01")


def test_post_office_message_hung_up_during_is_still_a_message_and_plays_nothing() -> None:
    engine = make()
    state, _ = run(engine, fe.PromptsDone(), fe.Digit("6"), fe.PromptsDone(), fe.TransferResult(False, "busy"),
                   fe.PromptsDone())
    state, actions = engine.handle(state, fe.VoicemailDone("hangup"))
    assert state.disposition == Disposition.VOICEMAIL and actions == [fe.Hangup()]


def test_closed_hours_key_six_during_the_hours_message_leaves_a_postal_message_without_dialling() -> None:
    engine = make("night")
    state, actions = run(engine, fe.PromptsDone())
    assert state.node == "closed" and plays(actions)[-1] == ("closed_hours",)
    state, actions = engine.handle(state, fe.Digit("6"))
    assert actions[:2] == [fe.StopPlayback(), fe.Note("closed", keys="6")]
    assert not any(isinstance(a, fe.Transfer) for a in actions)
    assert (state.node, state.disposition) == ("postal_message", Disposition.CLOSED_HOURS)
    assert plays(actions) == [("postal_leave_message",)]


def test_closed_hours_other_keys_are_ignored_and_silence_leads_to_the_hotline_voicemail() -> None:
    engine = make("night")
    state, _ = run(engine, fe.PromptsDone())
    assert engine.handle(state, fe.Digit("1")) == (state, [])
    state, actions = engine.handle(state, fe.PromptsDone())
    assert state.node == "voicemail" and plays(actions) == [("leave_message",)]
    assert engine.handle(state, fe.Digit("6")) == (state, [])      # only while the hours are said


def test_a_transfer_without_on_unavailable_still_dials_when_closed() -> None:
    flow = load_flow(Path(__file__).parent / "fixtures" / "flows" / "minimal.yaml")
    engine = fe.FlowEngine(flow, Directory(), lambda: "night")
    state, actions = engine.enter("pickup", fe.CallState(node="pickup"))
    assert state.phase == "transfer" and any(isinstance(a, fe.Transfer) for a in actions)


def test_queue_timeout_offers_voicemail() -> None:
    engine = make()
    state, _ = run(engine, fe.PromptsDone(), fe.Digit("0"), fe.PromptsDone())
    assert state.phase == "queue"
    state, actions = engine.handle(state, fe.QueueTimeout())
    assert state.node == "operators_busy"


def test_stale_events_are_ignored() -> None:
    engine = make()
    state, _ = run(engine, fe.PromptsDone(), fe.Digit("0"), fe.PromptsDone())
    assert engine.handle(state, fe.Digit("5")) == (state, [])
    assert engine.handle(state, fe.InputTimeout()) == (state, [])


@pytest.mark.parametrize("node", ["main", "department", "nonexistent"])
def test_resume_after_restart(node: str) -> None:
    state, actions = make().resume(node)
    assert state.node == (node if node != "nonexistent" else "welcome")
    assert plays(actions)


def in_queue(engine: fe.FlowEngine) -> fe.CallState:
    state, _ = run(engine, fe.PromptsDone(), fe.Digit("0"), fe.PromptsDone())
    assert state.phase == "queue" and state.disposition == Disposition.TO_QUEUE
    return state


def test_operator_hangs_up_first_the_caller_rates_the_call() -> None:
    engine = make()
    state, actions = engine.handle(in_queue(engine), fe.QueueReturned("CONTINUE", "op-lan"))
    assert state.node == "survey" and state.disposition == Disposition.ANSWERED
    assert fe.Note("queue", fields={"queue_outcome": "answered", "hangup_by": "operator",
                                    "operator": "op-lan"}) in actions
    assert plays(actions) == [("survey_question",)]
    state, actions = engine.handle(state, fe.Digit("1"))
    assert fe.Note("survey", keys="1", fields={"survey_score": 1}) in actions
    assert plays(actions) == [("survey_thanks",)]
    state, actions = engine.handle(state, fe.PromptsDone())
    assert actions == [fe.Hangup()]


def test_survey_without_an_answer_stores_nothing() -> None:
    engine = make()
    state, _ = engine.handle(in_queue(engine), fe.QueueReturned("CONTINUE"))
    notes: list[fe.Action] = []
    for _ in range(2):
        state, actions = engine.handle(state, fe.PromptsDone())
        state, actions = engine.handle(state, fe.InputTimeout())
        notes += [a for a in actions if isinstance(a, fe.Note)]
    assert actions[-1] == fe.Hangup() and notes == []


def test_queue_timeout_or_no_operator_offers_voicemail() -> None:
    engine = make()
    for status, outcome in (("TIMEOUT", "timeout"), ("JOINEMPTY", "empty"), ("LEAVEEMPTY", "empty"),
                            ("FULL", "full")):   # [queue] max_waiting callers already wait
        state, actions = engine.handle(in_queue(engine), fe.QueueReturned(status))
        assert state.node == "operators_busy"
        assert fe.Note("queue", fields={"queue_outcome": outcome}) in actions


def test_key_one_in_the_queue_leaves_a_message() -> None:
    engine = make()
    state, actions = engine.handle(in_queue(engine), fe.QueueReturned("MESSAGE"))
    assert state.node == "voicemail" and plays(actions) == [("leave_message",)]


# -- key 5: ticket status by phone (the AGI server in [hotline-ticket-status]) ----------------

def at_ticket_status(engine: fe.FlowEngine) -> fe.CallState:
    state, actions = run(engine, fe.PromptsDone(), fe.Digit("5"))
    assert state.node == "ticket_status" and state.phase == "ticket_status"
    assert actions[-1] == fe.EnterTicketStatus("ticket_status")
    assert fe.Note("main", keys="5") in actions
    return state


def test_key_five_hands_the_caller_to_the_ticket_lookup_and_ignores_keys_meanwhile() -> None:
    engine = make()
    state = at_ticket_status(engine)
    assert state.disposition == Disposition.ABANDONED_IVR          # hanging up there is hanging up in the IVR
    for event in (fe.Digit("1"), fe.InputTimeout(), fe.PromptsDone(), fe.QueueReturned("TIMEOUT")):
        assert engine.handle(state, event) == (state, [])


def test_ticket_found_returns_to_the_main_menu_with_the_codes_in_the_path() -> None:
    engine = make()
    state, actions = engine.handle(at_ticket_status(engine),
                                   fe.TicketStatusReturned(fe.TICKET_FOUND, ("1234560", "", "3077345")))
    assert state.node == "main" and state.phase == "prompt"
    assert [a for a in actions if isinstance(a, fe.Note)] == [
        fe.Note("ticket_status", keys="1234560", fields={"invalid": True}),
        fe.Note("ticket_status", keys="3077345")]
    assert plays(actions) == [("main_menu",)]


def test_three_failed_tries_go_to_the_operator_queue() -> None:
    engine = make()
    state, actions = engine.handle(at_ticket_status(engine),
                                   fe.TicketStatusReturned(fe.TICKET_FAILED, ("1111111", "2222222", "3333333")))
    assert state.node == "queue" and state.disposition == Disposition.TO_QUEUE
    assert [a.keys for a in actions if isinstance(a, fe.Note)] == ["1111111", "2222222", "3333333"]
    assert all(a.fields == {"invalid": True} for a in actions if isinstance(a, fe.Note))
    assert plays(actions) == [("to_operator",)]          # the AGI server said ticket_too_many_tries


@pytest.mark.parametrize("outcome", [fe.TICKET_ERROR, fe.TICKET_UNKNOWN, ""])
def test_a_lookup_that_did_not_run_says_so_and_goes_to_the_operator(outcome: str) -> None:
    engine = make()
    state, actions = engine.handle(at_ticket_status(engine), fe.TicketStatusReturned(outcome))
    assert state.node == "queue"
    assert plays(actions) == [("ticket_lookup_unavailable", "to_operator")]


def test_ticket_status_return_outside_the_lookup_is_ignored() -> None:
    engine = make()
    state, _ = run(engine, fe.PromptsDone())
    assert engine.handle(state, fe.TicketStatusReturned(fe.TICKET_FOUND)) == (state, [])


def test_ticket_found_without_a_next_node_hangs_up(tmp_path: Path) -> None:
    text = (ROOT / "ivr_flows" / "hotline_1022.yaml").read_text(encoding="utf-8")
    assert text.count("    next: main\n    on_failure: queue\n") == 1
    flow_file = tmp_path / "hotline_1022.yaml"
    flow_file.write_text(text.replace("    next: main\n    on_failure: queue\n", "    on_failure: queue\n"),
                         encoding="utf-8")
    engine = fe.FlowEngine(load_flow(flow_file), Directory(), lambda: None)
    state, actions = engine.handle(at_ticket_status(engine), fe.TicketStatusReturned(fe.TICKET_FOUND, ("3077345",)))
    assert state.phase == "done" and actions[-1] == fe.Hangup()


@pytest.mark.parametrize(("where", "node", "phase", "disposition"), [
    (fe.BRIDGED, "department", "bridged", Disposition.TRANSFERRED),
    (fe.TRANSFERRING, "department", "transfer", Disposition.CLOSED_HOURS),
    (fe.RECORDING, "voicemail", "voicemail", Disposition.CLOSED_HOURS),
    (fe.IN_QUEUE, "", "queue", Disposition.TO_QUEUE),
    (fe.IN_TICKET_STATUS, "", "ticket_status", Disposition.CLOSED_HOURS),
])
def test_adopting_a_caller_where_asterisk_holds_them_takes_no_action(where: str, node: str, phase: str,
                                                                       disposition: str) -> None:
    state, actions = make().adopt(node, Disposition.CLOSED_HOURS, where)
    assert (state.phase, state.disposition, actions) == (phase, disposition, [])
    assert state.node in make().flow.nodes


def test_adopting_at_a_node_enters_it_again_and_an_unknown_place_is_refused() -> None:
    assert make().adopt("main", Disposition.IN_PROGRESS) == make().resume("main", Disposition.ABANDONED_IVR)
    assert make().adopt("main", Disposition.IN_PROGRESS, fe.RECORDING)[0].phase == "prompt"   # not a message node
    assert make().adopt("main", Disposition.IN_PROGRESS, fe.TRANSFERRING)[0].phase == "prompt"  # nor a transfer
    with pytest.raises(ValueError):
        make().adopt("main", Disposition.IN_PROGRESS, "elsewhere")


# -- call-back instead of waiting (key 2 in the queue) -----------------------------------------------------
def asked_callback(engine: fe.FlowEngine, caller: str = "0912345678", position: int = 2) -> tuple[
        fe.CallState, list[fe.Action]]:
    return engine.handle(in_queue(engine), fe.QueueReturned("CALLBACK", caller=caller, position=position))


def digits_of(number: str) -> tuple[str, ...]:
    return tuple(f"digit:{d}" for d in number)


def test_a_waiting_caller_confirms_their_own_number_and_keeps_their_place() -> None:
    engine = make()
    state, actions = asked_callback(engine, "+84 912 345 678", 2)
    assert fe.Note("queue", keys="2", fields={"queue_outcome": "callback"}) in actions
    assert state.node == "callback" and state.callback_number == "0912345678" and state.queue_position == 2
    assert plays(actions) == [("callback_number_is", *digits_of("0912345678"), "callback_confirm")]
    state, actions = engine.handle(state, fe.PromptsDone())
    assert actions == [fe.WaitForInput(6.0)]
    state, actions = engine.handle(state, fe.Digit("1"))
    assert fe.KeepCallback("0912345678", 2) in actions and state.phase == "keeping"
    state, actions = engine.handle(state, fe.CallbackKept(ok=True))
    assert plays(actions) == [("callback_kept",)] and state.disposition == Disposition.CALLBACK
    state, actions = engine.handle(state, fe.PromptsDone())
    assert actions == [fe.Hangup()]


def test_another_number_is_keyed_checked_and_read_back() -> None:
    engine = make()
    state, _ = asked_callback(engine)
    state, actions = engine.handle(state, fe.Digit("2"))         # during the read-back: it stops
    assert actions[0] == fe.StopPlayback() and plays(actions) == [("callback_enter_number",)]
    for key in "0277385123":
        state, actions = engine.handle(state, fe.Digit(key))
    assert state.phase == "number" and actions[-1] == fe.WaitForInput(6.0)
    state, actions = engine.handle(state, fe.Digit("4"))          # 11 digits: a landline, no '#' needed
    assert plays(actions) == [("callback_number_is", *digits_of("02773851234"), "callback_confirm")]
    state, actions = engine.handle(state, fe.Digit("1"))
    assert fe.KeepCallback("02773851234", 2) in actions


def test_a_number_ended_by_hash_or_by_silence_is_taken() -> None:
    engine = make()
    for end in (fe.Digit("#"), fe.InputTimeout()):
        state, _ = asked_callback(engine, caller="")             # a withheld number: asked for one at once
        assert state.phase == "number_prompt"
        for key in "0987654321":
            state, _ = engine.handle(state, fe.Digit(key))
        state, actions = engine.handle(state, end)
        assert state.callback_number == "0987654321" and plays(actions)[0][0] == "callback_number_is"


@pytest.mark.parametrize("keyed", ["0012025550#", "0067712345#", "19001234#", "0412345678#", "12#", "#"])
def test_a_number_that_is_not_vietnamese_is_refused_and_asked_again(keyed: str) -> None:
    """International (00 and a country: 0067712345 is the Solomon Islands), premium-rate, no such prefix, too short
    or nothing at all: none is a number the outbound route calls, so none is kept."""
    engine = make()
    state, _ = asked_callback(engine, caller="anonymous")
    actions: list[fe.Action] = []
    for key in keyed:
        state, actions = engine.handle(state, fe.Digit(key))
    assert not any(isinstance(a, fe.KeepCallback) for a in actions)
    assert plays(actions)[-1] == ("callback_invalid", "callback_enter_number") and state.attempts == 1


def test_three_failures_send_the_caller_back_to_the_queue() -> None:
    engine = make()
    state, _ = asked_callback(engine)
    for _ in range(2):
        state, actions = engine.handle(state, fe.Digit("7"))
        assert plays(actions)[-1][0] == "callback_invalid"
    state, actions = engine.handle(state, fe.Digit("7"))
    assert state.node == "queue" and not any(isinstance(a, fe.KeepCallback) for a in actions)


def test_silence_at_the_confirmation_asks_again_then_gives_up() -> None:
    engine = make()
    state, _ = asked_callback(engine)
    state, _ = engine.handle(state, fe.PromptsDone())
    state, actions = engine.handle(state, fe.InputTimeout())
    assert plays(actions) == [("callback_no_input", "callback_number_is", *digits_of("0912345678"),
                               "callback_confirm")]


def test_a_call_back_that_could_not_be_kept_is_said_and_the_caller_waits_again() -> None:
    engine = make()
    state, _ = asked_callback(engine)
    state, _ = engine.handle(state, fe.Digit("1"))
    state, actions = engine.handle(state, fe.CallbackKept(ok=False))
    assert state.node == "queue" and plays(actions) == [("callback_unavailable", "to_operator")]
    assert state.disposition == Disposition.TO_QUEUE


def test_no_call_back_once_the_staffed_hours_are_over() -> None:
    open_now: list[str | None] = [None]
    engine = fe.FlowEngine(load_flow(ROOT / "ivr_flows" / "hotline_1022.yaml"), Directory(), lambda: open_now[0])
    waiting = in_queue(engine)
    open_now[0] = "after_hours"
    state, actions = engine.handle(waiting, fe.QueueReturned("CALLBACK", caller="0912345678", position=1))
    assert state.node == "voicemail" and plays(actions)[0][:2] == ("callback_unavailable", "leave_message")
    assert not any(isinstance(a, fe.KeepCallback) for a in actions)
