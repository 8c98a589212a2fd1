"""The IVR flow format: the shipped flow loads, and every mistake is reported with its line."""
from __future__ import annotations

import dataclasses
import logging
import string
from pathlib import Path

import pytest

from hotline.domain.directory import load_directory
from hotline.domain.errors import ConfigError, ConfigErrors
from hotline.domain.flows import (
    GENERATED_PROMPTS,
    NODE_TYPES,
    PLACEHOLDERS,
    CodeEntryNode,
    MenuNode,
    TicketStatusNode,
    check_flow,
    load_flow,
    prompt_refs,
)
from hotline.domain.flows.loader import SPECS

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "ivr_flows" / "hotline_1022.yaml"
FIXTURES = Path(__file__).parent / "fixtures" / "flows"
MINIMAL = (FIXTURES / "minimal.yaml").read_text(encoding="utf-8")


class Directory:
    """Stands in for hotline.domain.directory: find(kind, code) -> agency or None."""

    def __init__(self, *entries: tuple[str, str]) -> None:
        self.entries = set(entries)

    def find(self, kind: str, code: str) -> object | None:
        return (kind, code) if (kind, code) in self.entries else None


def write(tmp_path: Path, text: str, name: str = "flow.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def edit(old: str, new: str, text: str = MINIMAL) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def line_of(text: str, fragment: str) -> int:
    """1-based line of the first line containing ``fragment``."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def errors_of(path: Path, **kwargs: object) -> list[ConfigError]:
    with pytest.raises(ConfigErrors) as caught:
        check_flow(path, **kwargs)  # type: ignore[arg-type]
    return caught.value.errors


def only_error(path: Path, **kwargs: object) -> ConfigError:
    errors = errors_of(path, **kwargs)
    assert len(errors) == 1, "\n".join(map(str, errors))
    return errors[0]


def error_at(tmp_path: Path, text: str, fragment: str, **kwargs: object) -> ConfigError:
    """The one error of the flow ``text``, which must name the line holding ``fragment``."""
    error = only_error(write(tmp_path, text), **kwargs)
    assert error.line == line_of(text, fragment)
    return error


# -- the shipped flow ---------------------------------------------------------------

def test_shipped_flow_loads_without_warnings() -> None:
    report = check_flow(SHIPPED, directory=Directory(("postal_service", "01")))
    flow = report.flow
    assert report.warnings == []
    assert flow.name == "hotline-1022" and flow.start == "welcome"
    main = flow.node("main")
    assert isinstance(main, MenuNode)
    assert sorted(main.options) == sorted("01234569")
    assert main.options["3"] == "department" and main.options["6"] == "pickup"


def test_shipped_flow_prompts_are_vietnamese_and_complete() -> None:
    flow = load_flow(SHIPPED)
    assert not GENERATED_PROMPTS & set(flow.prompts)
    played = {p for node in flow.nodes.values() for _, p in prompt_refs(node)}
    assert played - set(flow.prompts) == GENERATED_PROMPTS
    assert "ghi âm" in flow.prompts["recording_notice"]
    assert "{staffed_hours}" in flow.prompts["closed_hours"]
    assert "phím thăng" in flow.prompts["leave_message"]
    for words in ("thủ tục hành chính", "phản ánh, kiến nghị", "bưu chính công ích", "phím 0"):
        assert words in flow.prompts["main_menu"]
    assert "{ticket_digits}" in flow.prompts["ticket_enter_code"] and "phím thăng" in flow.prompts["ticket_enter_code"]
    assert flow.prompts["ticket_agency"] == "Cơ quan đang xử lý là"
    for name, text in flow.prompts.items():
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
        assert fields <= set(PLACEHOLDERS), name
        assert "1022" not in text, f"{name}: espeak-ng reads 1022 as a quantity"


def test_shipped_flow_code_entries_play_the_generated_lists() -> None:
    flow = load_flow(SHIPPED)
    for name in ("department", "district"):
        node = flow.node(name)
        assert isinstance(node, CodeEntryNode)
        assert (node.kind, node.digits, node.list_key, node.list_prompt) == (name, 2, "*", f"{name}_list")


def test_every_node_type_accepts_exactly_its_dataclass_fields() -> None:
    for type_name, (cls, spec) in SPECS.items():
        assert NODE_TYPES[type_name] is cls
        assert set(spec) == {f.name for f in dataclasses.fields(cls)} - {"name", "line"}, type_name


# -- each kind of mistake ------------------------------------------------------------

def test_unknown_target_names_line_and_closest_node(tmp_path: Path) -> None:
    text = edit('"3": department', '"3": departmnt')
    error = only_error(write(tmp_path, text))
    assert (error.file, error.line) == (str(tmp_path / "flow.yaml"), line_of(text, "departmnt"))
    assert "option '3' leads to 'departmnt', which does not exist" in error.message
    assert error.hint.startswith("write one of: department")
    assert str(error).startswith(f"{tmp_path / 'flow.yaml'}:{error.line}: node 'main'")


def test_default_target_that_does_not_exist_says_so(tmp_path: Path) -> None:
    text = edit("  queue: {type: queue", "  operator: {type: queue")
    text = edit('"0": queue', '"0": operator', text)
    text = edit("    on_failure: queue\n", "", text)
    errors = errors_of(write(tmp_path, text))
    messages = [e.message for e in errors]
    assert any("on_failure (the default) leads to 'queue'" in m for m in messages), messages


def test_unreachable_node(tmp_path: Path) -> None:
    text = MINIMAL + "  spare: {type: hangup}\n"
    error = error_at(tmp_path, text, "spare:")
    assert error.message == "node 'spare' cannot be reached from start 'welcome'"
    assert error.hint == "link it from a menu option or delete it"


def test_missing_prompt(tmp_path: Path) -> None:
    text = edit("prompt: to_operator", "prompt: to_operatr")
    path = write(tmp_path, text)
    errors = errors_of(path)
    assert [e.line for e in errors] == [line_of(text, "to_operatr")]
    assert "'to_operatr' is not defined" in errors[0].message
    assert "prompts/to_operatr.wav" in errors[0].hint and "to_operator" in errors[0].hint


def test_recorded_wav_stands_in_for_a_prompt(tmp_path: Path) -> None:
    text = edit("prompt: to_operator", "prompt: hold_music")
    path = write(tmp_path, text + "\n")
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "hold_music.wav").write_bytes(b"RIFF")
    report = check_flow(path)          # prompts/ beside the flow file by default
    assert [w.message for w in report.warnings] == ["prompt 'to_operator' is defined but no node plays it"]
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert "hold_music" in only_error(path, recorded_prompts_dir=other).message


def test_generated_prompt_may_not_be_written(tmp_path: Path) -> None:
    text = edit("prompts:\n", 'prompts:\n  department_list: "mã 01, Sở Tư pháp"\n')
    error = error_at(tmp_path, text, "department_list:")
    assert "generated from the transfer directory" in error.message


def test_unknown_placeholder(tmp_path: Path) -> None:
    text = edit("{province}", "{provinse}")
    error = error_at(tmp_path, text, "{provinse}")
    assert "{provinse}" in error.message and "did you mean {province}?" in error.hint


def test_unmatched_brace(tmp_path: Path) -> None:
    text = edit("{province}", "{province")
    assert "unmatched" in only_error(write(tmp_path, text)).message


def test_key_written_as_int_and_as_string_is_a_duplicate(tmp_path: Path) -> None:
    text = edit('"0": queue\n', '"0": queue\n      0: voicemail\n')
    error = error_at(tmp_path, text, "0: voicemail")
    assert error.message == "node 'main' has key '0' twice"
    first = line_of(text, '"0": queue')
    assert f"on line {first}" in error.hint


def test_same_key_twice_is_caught_by_the_yaml_loader(tmp_path: Path) -> None:
    text = edit('"0": queue\n', '"0": queue\n      "0": voicemail\n')
    error = error_at(tmp_path, text, '"0": voicemail')
    assert "twice" in error.message


def test_int_key_is_accepted_as_a_string(tmp_path: Path) -> None:
    flow = load_flow(write(tmp_path, edit('"0": queue', "0: queue")))
    node = flow.node("main")
    assert isinstance(node, MenuNode) and node.options["0"] == "queue"


@pytest.mark.parametrize("key", ["10", '"a"', '"**"', "true"])
def test_bad_key(tmp_path: Path, key: str) -> None:
    text = edit('"6": pickup', f"{key}: pickup")
    error = error_at(tmp_path, text, f"{key}: pickup")
    assert "is not a phone key" in error.message and '"*" or "#"' in error.hint


def test_unquoted_star_gets_a_quoting_hint(tmp_path: Path) -> None:
    text = edit('"6": pickup', "*: pickup")
    error = error_at(tmp_path, text, "*: pickup")
    assert "not valid YAML" in error.message and '"*"' in error.hint


def test_hash_key_written_as_a_comment_is_a_warning(tmp_path: Path) -> None:
    text = edit('"6": pickup\n', '"6": pickup\n      #: main\n')
    report = check_flow(write(tmp_path, text))
    assert [(w.line, w.hint) for w in report.warnings] == [
        (line_of(text, "#: main"), 'write the # key in quotes, e.g. "#": main')]


def test_yaml_syntax_error(tmp_path: Path) -> None:
    text = edit("prompts: [welcome], next: main}", "prompts: [welcome, next: main}")
    error = only_error(write(tmp_path, text))
    assert error.file == str(tmp_path / "flow.yaml")
    assert error.line == line_of(text, "[welcome, next")
    assert error.message.startswith("not valid YAML")


def test_unknown_directory_code(tmp_path: Path) -> None:
    text = edit('code: "01"', 'code: "07"')
    path = write(tmp_path, text)
    error = only_error(path, directory=Directory(("postal_service", "01")))
    assert error.line == line_of(text, 'code: "07"')
    assert "postal_service code '07'" in error.message
    assert error.hint == "add a postal_service with code '07' to the transfer directory"
    check_flow(path)                   # without a directory the code is not looked up


def test_shipped_flow_matches_the_shipped_directory(tmp_path: Path) -> None:
    directory = load_directory(ROOT / "transfer_directory")
    check_flow(SHIPPED, directory=directory)
    text = edit('code: "01"', 'code: "07"', SHIPPED.read_text(encoding="utf-8"))
    error = error_at(tmp_path, text, 'code: "07"', directory=directory)
    postal = directory.find("postal_service", "01")
    assert postal is not None and error.hint == f'write one of: "01" ({postal.name})'


def test_code_written_without_quotes(tmp_path: Path) -> None:
    text = edit('code: "01"', "code: 01")
    error = error_at(tmp_path, text, "code: 01")
    assert 'code: "01"' in error.hint


def test_unknown_node_type(tmp_path: Path) -> None:
    text = edit("type: menu", "type: manu")
    error = error_at(tmp_path, text, "type: manu")
    assert error.message == "node 'main' has the unknown type 'manu'"
    assert error.hint.startswith("write one of: menu")
    assert all(t in error.hint for t in NODE_TYPES)


def test_unknown_field(tmp_path: Path) -> None:
    text = edit("    prompt: main_menu", "    promt: main_menu")
    error = error_at(tmp_path, text, "promt")     # not also "missing prompt"
    assert error.message == "node 'main' has the unknown field 'promt'"
    assert error.hint.startswith("write one of: prompt") and "menu node" in error.hint


def test_missing_field(tmp_path: Path) -> None:
    text = edit("    prompt: main_menu\n", "")
    error = error_at(tmp_path, text, "main:")
    assert error.message == "node 'main' (menu) is missing prompt"


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("    on_failure: queue", "    timeout: 0", "above 0"),
    ("    on_failure: queue", "    max_attempts: 0", "1 or more"),
    ("    prompt: enter_code", "    prompt: enter_code\n    digits: 5", "from 1 to 4"),
    ("    prompt: enter_code", '    prompt: enter_code\n    list_key: "1"', "a digit would start a code"),
    ("kind: postal_service", "kind: post_office", "one of department"),
    ("prompts: [welcome]", "prompts: welcome", "a list of prompt names"),
])
def test_bad_field_value(tmp_path: Path, old: str, new: str, expected: str) -> None:
    text = edit(old, new)
    error = error_at(tmp_path, text, new.strip().splitlines()[-1])
    assert expected in error.message


def test_list_prompt_must_match_the_code_kind(tmp_path: Path) -> None:
    text = edit("list_prompt: department_list", "list_prompt: district_list")
    error = error_at(tmp_path, text, "district_list")
    assert error.hint == "write list_prompt: department_list"


def test_missing_start_and_nodes(tmp_path: Path) -> None:
    errors = errors_of(write(tmp_path, 'flow: empty\nprompts:\n  welcome: "Xin chào."\n'))
    messages = [e.message for e in errors]
    assert messages[:2] == ["the flow has no nodes: section (or it is empty)", "the flow has no start:"]
    # The dialplan's own prompts are still asked for: the fallback path needs them.
    assert sorted(m.split("'")[1] for m in messages[2:]) == ["all_lines_busy", "call_back_later", "fallback_message",
                                                             "message_not_saved", "message_saved",
                                                             "outbound_refused", "system_unavailable"]


def test_start_must_be_a_node(tmp_path: Path) -> None:
    text = edit("start: welcome", "start: welcom")
    errors = errors_of(write(tmp_path, text))
    assert errors[0].line == line_of(text, "start: welcom") and "welcome" in errors[0].hint


def test_play_nodes_in_a_loop(tmp_path: Path) -> None:
    text = edit("next: main}", "next: again}") + "  again: {type: play, prompts: [welcome], next: welcome}\n"
    messages = [e.message for e in errors_of(write(tmp_path, text))]
    assert "nodes welcome -> again -> welcome loop forever without waiting for a key" in messages


# -- all at once ---------------------------------------------------------------------

def test_several_errors_are_reported_together_in_line_order() -> None:
    path = FIXTURES / "many_errors.yaml"
    errors = errors_of(path)
    found = [(e.line or 0, e.message) for e in errors]
    assert [line for line, _ in found] == sorted(line for line, _ in found)
    expected = [
        (5, "unknown placeholder {provinse}"),
        (13, "option '0' leads to 'queu'"),
        (14, "option '3' leads to 'departmnt'"),
        (15, "timeout is 0"),
        (17, "prompt 'to_operatr' is not defined"),
        (18, "node 'orphan' cannot be reached"),
        (19, "unknown type 'manu'"),
    ]
    for line, words in expected:
        assert any(n == line and words in m for n, m in found), (line, words, found)
    assert all(e.file == str(path) for e in errors)
    assert str(errors[0]) in str(ConfigErrors(errors))


def test_readme_shows_what_the_validator_prints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    for old, new in [('"3": department ', '"3": departmnt '), ("prompt: to_operator", "prompt: to_operater"),
                     ("{staffed_hours},", "{gio_lam_viec},")]:
        text = edit(old, new, text)
    (tmp_path / "ivr_flows").mkdir()
    write(tmp_path / "ivr_flows", text, "hotline_1022.yaml")
    monkeypatch.chdir(tmp_path)
    printed = [str(e) for e in errors_of(Path("ivr_flows/hotline_1022.yaml"))]
    readme = (ROOT / "ivr_flows" / "README.md").read_text(encoding="utf-8")
    assert printed == [line for line in readme.splitlines() if line.startswith("ivr_flows/hotline_1022.yaml:")]


def test_load_flow_logs_warnings(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    text = edit("prompts:\n", 'prompts:\n  spare: "Xin cảm ơn quý vị."\n')
    with caplog.at_level(logging.WARNING, logger="hotline.domain.flows.loader"):
        load_flow(write(tmp_path, text))
    assert f"flow.yaml:{line_of(text, 'spare:')}: prompt 'spare' is defined but no node plays it" in caplog.text


# -- ticket_status (key 5) --------------------------------------------------------------------

TICKET_PROMPTS = "".join(f'  {name}: "Lời {name}."\n' for name in
                         ("enter_ticket", *TicketStatusNode.READBACK_PROMPTS))
TICKET_NODE = "  tickets: {type: ticket_status, prompt: enter_ticket, next: main}\n"


def with_ticket_status(prompts: str = TICKET_PROMPTS, node: str = TICKET_NODE) -> str:
    text = edit("prompts:\n", "prompts:\n" + prompts)
    text = edit('"6": pickup\n', '"6": pickup\n      "5": tickets\n', text)
    return text + node


def test_shipped_ticket_status_node_asks_three_times_then_the_operator() -> None:
    node = load_flow(SHIPPED).node("ticket_status")
    assert isinstance(node, TicketStatusNode)
    assert (node.prompt, node.max_attempts, node.next, node.on_failure) == ("ticket_enter_code", 3, "main", "queue")
    assert (node.invalid_prompt, node.unknown_prompt, node.failure_prompt) == (
        "ticket_code_invalid", "ticket_code_unknown", "ticket_too_many_tries")


def test_a_ticket_status_node_with_its_readback_prompts_loads(tmp_path: Path) -> None:
    report = check_flow(write(tmp_path, with_ticket_status()))
    assert report.warnings == []      # the readback prompts count as played
    node = report.flow.node("tickets")
    assert isinstance(node, TicketStatusNode) and (node.timeout, node.max_attempts) == (6.0, 3)


def test_a_missing_readback_prompt_is_named_at_the_node(tmp_path: Path) -> None:
    prompts = TICKET_PROMPTS.replace('  ticket_agency: "Lời ticket_agency."\n', "")
    text = with_ticket_status(prompts)
    error = error_at(tmp_path, text, "tickets: {type: ticket_status")
    assert "'ticket_agency', which is not defined" in error.message
    assert error.hint == "add 'ticket_agency: \"…\"' under prompts: or record prompts/ticket_agency.wav"


def test_a_recorded_readback_prompt_stands_in_for_its_text(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "ticket_answer_ready.wav").write_bytes(b"RIFF")
    prompts = TICKET_PROMPTS.replace('  ticket_answer_ready: "Lời ticket_answer_ready."\n', "")
    assert check_flow(write(tmp_path, with_ticket_status(prompts))).warnings == []


def test_ticket_status_prompt_fields_must_be_defined(tmp_path: Path) -> None:
    text = with_ticket_status(node="  tickets: {type: ticket_status, prompt: enter_ticket, next: main,\n"
                                   "            unknown_prompt: ticket_unknwn}\n")
    error = error_at(tmp_path, text, "unknown_prompt: ticket_unknwn")
    assert "node 'tickets' unknown_prompt 'ticket_unknwn' is not defined" in error.message


def test_ticket_status_needs_a_prompt_and_knows_its_fields(tmp_path: Path) -> None:
    text = with_ticket_status(node="  tickets: {type: ticket_status, next: main, max_tries: 3}\n")
    messages = [e.message for e in errors_of(write(tmp_path, text))]
    assert "node 'tickets' has the unknown field 'max_tries'" in messages
    assert "node 'tickets' (ticket_status) is missing prompt" in messages


def test_ticket_status_leading_back_to_itself_is_no_endless_loop(tmp_path: Path) -> None:
    """It waits for the caller's keys, unlike a play node."""
    text = with_ticket_status(node="  tickets: {type: ticket_status, prompt: enter_ticket, next: tickets}\n")
    assert check_flow(write(tmp_path, text)).flow.node("tickets")


def test_agency_name_prompts_are_generated_not_written(tmp_path: Path) -> None:
    text = edit("prompts:\n", 'prompts:\n  agency_department_01: "Sở Tư pháp"\n')
    error = error_at(tmp_path, text, "agency_department_01:")
    assert "generated from the transfer directory" in error.message


def test_a_recorded_agency_name_is_no_unused_recording(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "agency_department_01.wav").write_bytes(b"RIFF")
    assert check_flow(write(tmp_path, MINIMAL)).warnings == []


def test_ticket_digits_placeholder_is_known(tmp_path: Path) -> None:
    assert "ticket_digits" in PLACEHOLDERS
    text = edit('enter_code: "Xin vui lòng nhập mã số gồm hai chữ số."',
                'enter_code: "Xin vui lòng nhập mã số gồm {ticket_digits} chữ số."')
    assert check_flow(write(tmp_path, text)).warnings == []


def test_a_callback_node_is_reached_only_from_a_queue_s_on_callback(tmp_path: Path) -> None:
    shipped = SHIPPED.read_text(encoding="utf-8")
    from_menu = write(tmp_path, edit('"9": main ', '"9": callback ', shipped))
    error = only_error(from_menu)
    assert "node 'main' option '9' leads to callback node 'callback'" in str(error)
    assert error.line == line_of(shipped, '"9": main ')
    not_a_callback = write(tmp_path, edit("on_callback: callback}", "on_callback: operators_busy}", shipped))
    errors = [str(e) for e in errors_of(not_a_callback)]
    assert any("node 'queue' on_callback leads to 'operators_busy', which is not a callback node" in e
               for e in errors), errors


# -- a transfer's on_unavailable (key 6: the post office's message) ---------------------------------

POSTAL = edit('  pickup: {type: transfer, kind: postal_service, code: "01"}\n',
              '  pickup: {type: transfer, kind: postal_service, code: "01", on_unavailable: postal_message}\n'
              '  postal_message: {type: voicemail, prompt: leave_message, category: postal,\n'
              '                   agency: "postal_service:01"}\n')


def test_on_unavailable_with_a_category_and_an_agency_loads(tmp_path: Path) -> None:
    from hotline.domain.flows import TransferNode, VoicemailNode
    flow = check_flow(write(tmp_path, POSTAL), directory=Directory(("postal_service", "01")),
                      categories=["procedures", "postal"]).flow
    pickup, message = flow.node("pickup"), flow.node("postal_message")
    assert isinstance(pickup, TransferNode) and pickup.on_unavailable == "postal_message"
    assert isinstance(message, VoicemailNode) and (message.category, message.agency) == ("postal", "postal_service:01")


def test_on_unavailable_must_lead_to_a_voicemail_node(tmp_path: Path) -> None:
    text = edit("on_unavailable: postal_message", "on_unavailable: queue", POSTAL)
    text = edit('  postal_message: {type: voicemail, prompt: leave_message, category: postal,\n'
                '                   agency: "postal_service:01"}\n', "", text)
    error = error_at(tmp_path, text, "on_unavailable: queue")
    assert "on_unavailable leads to 'queue', which is not a voicemail node" in error.message
    assert "category: postal" in error.hint


def test_on_unavailable_to_a_node_that_does_not_exist(tmp_path: Path) -> None:
    text = edit("on_unavailable: postal_message", "on_unavailable: postal_mesage", POSTAL)
    error = error_at(tmp_path, text, "on_unavailable: postal_mesage")
    assert "on_unavailable leads to 'postal_mesage', which does not exist" in error.message
    assert error.hint.startswith("write one of: postal_message")


def test_on_unavailable_and_on_failure_together_are_refused(tmp_path: Path) -> None:
    text = edit("on_unavailable: postal_message", "on_unavailable: postal_message,\n           on_failure: queue",
                POSTAL)
    error = only_error(write(tmp_path, text))
    assert error.line == line_of(text, "on_unavailable: postal_message,") + 1
    assert error.message == "node 'pickup' has both on_failure and on_unavailable"


def test_a_message_category_not_in_ticket_categories(tmp_path: Path) -> None:
    text = edit("category: postal", "category: postel", POSTAL)
    error = error_at(tmp_path, text, "category: postel", categories=["procedures", "postal"])
    assert "category 'postel' is not in ticket_categories.yaml" in error.message
    assert error.hint.startswith("write one of: postal")
    check_flow(write(tmp_path, text))     # without the categories the code is not looked up


@pytest.mark.parametrize(("old", "new", "expected"), [
    ('agency: "postal_service:01"', "agency: postal_service", "KIND:CODE"),
    ('agency: "postal_service:01"', 'agency: "post_office:01"', "KIND:CODE"),
    ("category: postal", "category: Bưu chính", "a category code"),
])
def test_bad_message_category_or_agency_value(tmp_path: Path, old: str, new: str, expected: str) -> None:
    error = error_at(tmp_path, edit(old, new, POSTAL), new)
    assert expected in error.message


def test_a_message_agency_not_in_the_directory(tmp_path: Path) -> None:
    text = edit('agency: "postal_service:01"', 'agency: "postal_service:02"', POSTAL)
    directory = load_directory(ROOT / "transfer_directory")
    error = error_at(tmp_path, text, 'agency: "postal_service:02"', directory=directory)
    assert "assigns its messages to postal_service:02, which is not in the transfer directory" in error.message
    assert error.hint == 'write one of: "postal_service:01" (Bưu điện tỉnh Đồng Tháp)'


def test_a_play_node_key_must_be_a_phone_key_and_lead_to_a_node(tmp_path: Path) -> None:
    text = edit("  welcome: {type: play, prompts: [welcome], next: main}",
                '  welcome: {type: play, prompts: [welcome], next: main, options: {"6": pikup}}')
    error = error_at(tmp_path, text, "pikup")
    assert "option '6' leads to 'pikup', which does not exist" in error.message
    text = edit("  welcome: {type: play, prompts: [welcome], next: main}",
                '  welcome: {type: play, prompts: [welcome], next: main, options: {"A": pickup}}')
    assert "is not a phone key" in error_at(tmp_path, text, '"A": pickup').message


def test_shipped_flow_key_six_leaves_a_postal_message_when_the_desk_cannot_answer() -> None:
    from hotline.domain.flows import PlayNode, TransferNode, VoicemailNode
    from hotline.domain.tickets.categories import load_categories
    categories = [c.code for c in load_categories(ROOT / "ticket_categories.yaml").entries]
    flow = check_flow(SHIPPED, directory=load_directory(ROOT / "transfer_directory"), categories=categories).flow
    pickup, message, closed = flow.node("pickup"), flow.node("postal_message"), flow.node("closed")
    assert isinstance(pickup, TransferNode) and pickup.on_unavailable == "postal_message"
    assert isinstance(message, VoicemailNode) and (message.category, message.agency) == ("postal", "postal_service:01")
    assert message.code_prompt == "ticket_code_is"
    assert isinstance(closed, PlayNode) and closed.options == {"6": "pickup"}
    assert "phím 6" in flow.prompts["closed_hours"]
    assert "họ tên, địa chỉ" in flow.prompts["postal_leave_message"]
