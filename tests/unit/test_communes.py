"""The two-tier directory of a merged province: communes with 3-digit codes, the IVR's code entry
for them with `*` to an operator, and the merged-province sample (samples/dong-thap-2025)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hotline.config.settings import REPO_ROOT
from hotline.domain.directory import CODE_DIGITS, load_directory
from hotline.domain.errors import ConfigError, ConfigErrors
from hotline.domain.flows import check_flow, load_flow
from hotline.domain.flows import engine as fe
from hotline.domain.vocabulary import Disposition

SAMPLE = REPO_ROOT / "samples" / "dong-thap-2025"
OFFICES = (REPO_ROOT / "tests" / "unit" / "test_directory.py").read_text(encoding="utf-8") \
    .split('OFFICES = """\\\n', 1)[1].split('"""', 1)[0]


def commune(code: str, name: str, endpoint: str) -> str:
    return f"  - code: {code}\n    kind: commune\n    name: \"{name}\"\n    desk:\n      endpoint: {endpoint}\n"


MY_THO = commune('"001"', "Phường Mỹ Tho", "desk-c001")


def errors_of(path: Path) -> list[ConfigError]:
    with pytest.raises(ConfigErrors) as caught:
        load_directory(path)
    return caught.value.errors


def make_dir(tmp_path: Path, communes: str) -> Path:
    (tmp_path / "communes.yaml").write_text("entries:\n" + communes, encoding="utf-8")
    (tmp_path / "offices.yaml").write_text(OFFICES, encoding="utf-8")
    return tmp_path


def test_each_kind_has_its_code_length() -> None:
    assert CODE_DIGITS == {"department": 2, "district": 2, "commune": 3, "provincial_office": 2,
                           "postal_service": 2}


def test_communes_take_3_digit_codes(tmp_path: Path) -> None:
    d = load_directory(make_dir(tmp_path, commune('"001"', "Phường Mỹ Tho", "desk-c001")
                                + commune('"102"', "Xã Tân Phú Trung", "desk-c102")))
    assert [a.code for a in d.of_kind("commune")] == ["001", "102"]
    assert d.find("commune", "001") is not None and d.find("commune", "01") is None


@pytest.mark.parametrize(("code", "message", "hint"), [
    ('"01"', "code '01' has 2 digits, but a commune code has 3", 'write code: "001"'),
    ('"0001"', "code '0001' has 4 digits, but a commune code has 3", 'write 3 digits in quotes, e.g. code: "001"'),
    ("7", "code 7 is a number: YAML drops the leading zero", 'put the code in quotes: code: "007"'),
    ('"1a2"', "code '1a2' is not 3 digits", 'write 3 digits in quotes, e.g. code: "001"'),
])
def test_a_commune_code_of_another_length_is_reported_with_its_line(
        tmp_path: Path, code: str, message: str, hint: str) -> None:
    path = make_dir(tmp_path, MY_THO + commune(code, "Xã Tân Hương", "desk-c002"))
    [err] = errors_of(path)
    assert (err.file, err.line, err.message, err.hint) == (str(path / "communes.yaml"), 7, message, hint)
    assert str(err).startswith(f"{path / 'communes.yaml'}:7: {message} — ")


def test_a_department_code_of_3_digits_is_refused(tmp_path: Path) -> None:
    text = '  - code: "001"\n    kind: department\n    name: "Sở Tư pháp"\n    desk: {endpoint: desk-d01}\n'
    [err] = errors_of(make_dir(tmp_path, text))
    assert err.line == 2 and err.message == "code '001' has 3 digits, but a department code has 2"


def test_a_duplicate_commune_code_names_both_lines(tmp_path: Path) -> None:
    path = make_dir(tmp_path, MY_THO.replace('"001"', '"005"') + commune('"005"', "Xã Tân Hương", "desk-c006"))
    [err] = errors_of(path)
    assert err.line == 7
    assert "commune code '005' is used twice (also by 'Phường Mỹ Tho' at " in err.message
    assert err.message.endswith("communes.yaml:2)")


def test_same_code_in_two_kinds_is_no_duplicate(tmp_path: Path) -> None:
    text = commune('"001"', "Phường Mỹ Tho", "desk-c001") + \
        '  - code: "01"\n    kind: department\n    name: "Sở Tư pháp"\n    desk: {endpoint: desk-d01}\n'
    d = load_directory(make_dir(tmp_path, text))
    assert d.find("commune", "001") and d.find("department", "01")


def test_every_mistake_is_reported_at_once_with_its_line(tmp_path: Path) -> None:
    path = make_dir(tmp_path, MY_THO.replace('"001"', '"01"') + commune('"002"', "Xa Tan Huong", "desk-c001"))
    errors = errors_of(path)
    assert [(e.line, e.message.split(":")[0]) for e in errors] == [
        (2, "code '01' has 2 digits, but a commune code has 3"),
        (9, "name 'Xa Tan Huong' has no Vietnamese diacritics"),
    ]


# --- the merged-province sample ---------------------------------------------------------------

def test_the_sample_has_the_102_real_communes_and_wards_of_the_new_dong_thap() -> None:
    d = load_directory(SAMPLE / "transfer_directory")
    communes = d.of_kind("commune")
    assert len(communes) == 102 and [a.code for a in communes] == [f"{i:03d}" for i in range(1, 103)]
    assert sum(a.name.startswith("Phường ") for a in communes) == 20
    assert sum(a.name.startswith("Xã ") for a in communes) == 82
    assert {"Phường Mỹ Tho", "Phường Cao Lãnh", "Phường Sa Đéc", "Phường Gò Công"} <= {a.name for a in communes}
    assert len(d.of_kind("department")) == 17 and not d.of_kind("district")
    assert len({a.desk.endpoint for a in d.endpoints()}) == len(d.endpoints()) == 17 + 102 + 2
    source = (SAMPLE / "transfer_directory" / "communes.yaml").read_text(encoding="utf-8")
    assert "General Statistics Office" in source and "vietnam-provinces package 2025.10.1" in source


def test_the_sample_flow_takes_3_digit_commune_codes_and_star_goes_to_an_operator() -> None:
    directory = load_directory(SAMPLE / "transfer_directory")
    flow = load_flow(SAMPLE / "hotline_1022.yaml", directory=directory)
    node = flow.nodes["commune"]
    assert (node.kind, node.digits, node.list_key, node.on_list, node.list_prompt) == (  # type: ignore[union-attr]
        "commune", 3, "*", "commune_by_name", None)
    assert flow.nodes["main"].options["4"] == "commune"  # type: ignore[union-attr]


def start_commune_entry() -> tuple[fe.FlowEngine, fe.CallState]:
    directory = load_directory(SAMPLE / "transfer_directory")
    engine = fe.FlowEngine(load_flow(SAMPLE / "hotline_1022.yaml", directory=directory), directory, lambda: None)
    state, _ = engine.start()
    for event in (fe.PromptsDone(), fe.Digit("4"), fe.PromptsDone()):
        state, _ = engine.handle(state, event)
    assert state.node == "commune" and state.phase == "input"
    return engine, state


def test_a_3_digit_commune_code_transfers_to_that_communes_desk() -> None:
    engine, state = start_commune_entry()
    for key in "002":
        state, actions = engine.handle(state, fe.Digit(key))
    assert state.phase == "announce" and fe.Note("commune", keys="002") in actions
    state, actions = engine.handle(state, fe.PromptsDone())
    [transfer] = [a for a in actions if isinstance(a, fe.Transfer)]
    assert transfer.agency.name == "Phường Mỹ Tho" and transfer.agency.desk.dial == "PJSIP/desk-c002"
    assert fe.Note("commune", fields={"transfer_target": "commune:002"}) in actions


def test_star_during_the_commune_code_goes_to_the_operator_queue() -> None:
    engine, state = start_commune_entry()
    state, actions = engine.handle(state, fe.Digit("*"))
    assert state.node == "commune_by_name" and fe.Note("commune", keys="*") in actions
    assert [a.prompts for a in actions if isinstance(a, fe.Play)] == [("commune_by_name",)]
    state, actions = engine.handle(state, fe.PromptsDone())
    assert state.node == "queue" and state.disposition == Disposition.TO_QUEUE


def test_star_after_a_digit_still_goes_to_the_operator() -> None:
    engine, state = start_commune_entry()
    state, _ = engine.handle(state, fe.Digit("1"))
    state, actions = engine.handle(state, fe.Digit("*"))
    assert state.node == "commune_by_name" and fe.Note("commune", keys="1*") in actions


# --- flow validation of a commune code entry --------------------------------------------------

FLOW = (REPO_ROOT / "tests" / "unit" / "fixtures" / "flows" / "minimal.yaml").read_text(encoding="utf-8")
COMMUNE_NODE = """  department:
    type: code_entry
    kind: commune
    prompt: enter_code
    digits: 3
    list_key: "*"
    on_list: queue
"""


def commune_flow(tmp_path: Path, node: str = COMMUNE_NODE) -> tuple[Path, str]:
    old = "  department:\n    type: code_entry\n    kind: department\n    prompt: enter_code\n" \
          "    list_prompt: department_list\n"
    assert old in FLOW
    text = FLOW.replace(old, node)
    path = tmp_path / "flow.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text


def flow_errors(path: Path) -> list[ConfigError]:
    with pytest.raises(ConfigErrors) as caught:
        check_flow(path)
    return caught.value.errors


def test_a_3_digit_commune_code_entry_with_star_to_the_queue_is_valid(tmp_path: Path) -> None:
    path, _ = commune_flow(tmp_path)
    flow = check_flow(path).flow
    assert flow.nodes["department"].on_list == "queue"  # type: ignore[union-attr]


def test_a_commune_code_entry_of_2_digits_is_refused_at_its_line(tmp_path: Path) -> None:
    path, text = commune_flow(tmp_path, COMMUNE_NODE.replace("digits: 3", "digits: 2"))
    [err] = flow_errors(path)
    assert err.line == text.splitlines().index("    digits: 2") + 1
    assert "takes 2-digit codes, but commune codes have 3 digits" in err.message and err.hint == "write digits: 3"


def test_a_commune_code_entry_without_digits_says_to_write_3(tmp_path: Path) -> None:
    path, _ = commune_flow(tmp_path, COMMUNE_NODE.replace("    digits: 3\n", ""))
    [err] = flow_errors(path)
    assert err.hint == "write digits: 3"


def test_star_without_a_list_or_a_node_suggests_the_queue_for_communes(tmp_path: Path) -> None:
    path, _ = commune_flow(tmp_path, COMMUNE_NODE.replace("    on_list: queue\n", ""))
    [err] = flow_errors(path)
    assert "has no list_prompt to play" in err.message and "on_list: queue" in err.hint


def test_on_list_must_name_a_node(tmp_path: Path) -> None:
    path, text = commune_flow(tmp_path, COMMUNE_NODE.replace("on_list: queue", "on_list: queu"))
    [err] = flow_errors(path)
    assert err.line == text.splitlines().index("    on_list: queu") + 1 and "'queu'" in err.message


def test_list_prompt_and_on_list_together_are_refused(tmp_path: Path) -> None:
    path, _ = commune_flow(tmp_path, COMMUNE_NODE + "    list_prompt: enter_code\n")
    assert any("both list_prompt and on_list" in e.message for e in flow_errors(path))


# --- hotline check on the sample --------------------------------------------------------------

def test_hotline_check_passes_on_the_merged_sample() -> None:
    env = {**os.environ, "HOTLINE_SETTINGS": str(SAMPLE / "province.toml"), "PYTHONPATH": str(REPO_ROOT)}
    for name in ("HOTLINE_FLOW", "HOTLINE_DIRECTORY"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-c", "from hotline.cli.main import main; main()", "check"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert "✓ directory" in done.stdout, done.stdout + done.stderr
    assert "17 departments, 0 districts, 102 communes, 121 entries" in done.stdout
    assert "dong-thap-2025/hotline_1022.yaml — 15 nodes" in done.stdout
    assert done.returncode in (0, 1), done.stderr     # 1: only when no speech engine can load here
    assert "✗ directory" not in done.stdout and "✗ flow" not in done.stdout
    # the sample offers a call-back (key 2) with no outbound route set: said, with what to do
    assert "! call-back  the flow offers key 2" in done.stdout and "set [callback] dial" in done.stdout
    with_route = subprocess.run([sys.executable, "-c", "from hotline.cli.main import main; main()", "check"],
                                cwd=REPO_ROOT, env={**env, "HOTLINE_CALLBACK_DIAL": "PJSIP/{number}@trunk"},
                                capture_output=True, text=True, timeout=120)
    assert "✓ flow" in with_route.stdout and "! call-back" not in with_route.stdout
