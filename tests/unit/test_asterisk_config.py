"""asterisk_conf/ rendered from the settings and the directory: nothing configured by hand."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from hotline.adapters.asterisk_config import render
from hotline.context import load_context

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def rendered(tmp_path: Path) -> tuple[Path, object]:
    env = {"HOTLINE_STATE_DIR": str(tmp_path / "state"), "HOTLINE_RECORDINGS_ROOT": str(tmp_path / "rec")}
    ctx = load_context(env=env)
    conf = render(ctx.settings, ctx.secrets, ctx.directory, tmp_path / "conf", clock_offset=3600.4)
    return conf.parent, ctx


def sections(text: str) -> list[tuple[str, list[str]]]:
    """(section name, the comment lines right above it) for each [section]."""
    out, comments = [], []
    for line in text.splitlines():
        if line.startswith(";"):
            comments.append(line)
        elif m := re.match(r"^\[([^\]]+)\]", line):
            out.append((m.group(1), comments))
            comments = []
        elif line.strip():
            comments = []
    return out


def test_every_dialplan_context_says_why_and_what_it_lets_in(rendered: tuple[Path, object]) -> None:
    text = (rendered[0] / "extensions.conf").read_text()
    contexts = [(n, c) for n, c in sections(text) if n not in ("general", "globals")]
    assert {n for n, _ in contexts} >= {"from-citizens", "from-desks", "hotline", "fallback", "hotline-queue",
                                        "hotline-queue-keys", "hotline-ticket-status"}
    for name, comments in contexts:
        joined = " ".join(comments)
        assert "Why:" in joined and "Lets in:" in joined, name


def test_ticket_status_runs_the_agi_and_returns_to_the_app(rendered: tuple[Path, object]) -> None:
    conf_dir, ctx = rendered
    text = (conf_dir / "extensions.conf").read_text()
    block = text.split("[hotline-ticket-status]")[1].split("\n[")[0]
    assert "AGI(${AGI_URL}/ticket_status,${CALL_ID},${TICKET_NODE})" in block
    app = ctx.settings.asterisk.ari_app   # type: ignore[attr-defined]
    assert f"Stasis({app},ticket-status-return,${{TICKET_OUTCOME}},${{TICKET_KEYS}}," in block
    assert "?error:" in block                           # the AGI server did not answer
    assert "fallback,s,1" in block                      # the app is down when the caller comes back


def test_every_return_into_the_app_falls_back_to_a_message_when_the_app_is_down(rendered: tuple[Path, object]) -> None:
    """Stasis() fails when no app is connected: each place a caller comes back into the app goes on to the
    fallback (apology and a message), never to a hangup."""
    text = (rendered[0] / "extensions.conf").read_text()
    lines = text.splitlines()
    stasis = [n for n, line in enumerate(lines) if "Stasis(" in line and not line.lstrip().startswith(";")]
    assert len(stasis) >= 4         # the first entry, back from the queue, its key 1, back from the ticket lookup
    for n in stasis:
        assert lines[n + 1].strip() == 'same => n,GotoIf($["${STASISSTATUS}" = "FAILED"]?fallback,s,1)', lines[n]
    assert "queue-return,${QUEUESTATUS},${MEMBERNAME},${REC_FILE})" in text      # an adopting app needs the file


def test_a_message_the_fallback_could_not_record_gets_the_apology_and_reaches_the_alert(
        rendered: tuple[Path, object]) -> None:
    """Record() failing in the fallback: the caller hears why and when to call back, and the hangup's AGI
    gets Record()'s status (agi/handlers.py notes a failure for ``hotline watch``)."""
    block = (rendered[0] / "extensions.conf").read_text().split("[fallback]")[1].split("\n[")[0]
    assert 'GotoIf($["${RECORD_STATUS}" = "ERROR"]?failed)' in block
    assert "n(failed),Playback(${PROMPTS}/message_not_saved&${PROMPTS}/call_back_later)" in block
    assert "exten => h,1,AGI(${AGI_URL}/fallback_end,${CALL_ID},${RECORDED_FILE},${RECORD_STATUS})" in block


def test_citizens_reach_only_the_hotline_numbers(rendered: tuple[Path, object]) -> None:
    text = (rendered[0] / "extensions.conf").read_text()
    block = text.split("[from-citizens]")[1].split("\n[")[0]
    targets = re.findall(r"Goto\(([^)]*)\)", block)
    assert targets == ["hotline,start,1", "hotline,start,1"]
    assert re.findall(r"^exten => (\d+),1,", block, re.M) == ["1022", "02771022"]
    assert "Hangup(1)" in block                        # anything else is refused


def test_management_interfaces_are_loopback_only_with_generated_secrets(rendered: tuple[Path, object]) -> None:
    conf_dir, ctx = rendered
    http = (conf_dir / "http.conf").read_text()
    assert "bindaddr = 127.0.0.1" in http
    manager = (conf_dir / "manager.conf").read_text()
    assert "bindaddr = 127.0.0.1" in manager and "permit = 127.0.0.1/255.255.255.255" in manager
    assert f"secret = {ctx.secrets.ami_password_of('monitor')}" in manager   # type: ignore[attr-defined]
    assert f"password = {ctx.secrets.ari_password}" in (conf_dir / "ari.conf").read_text()  # type: ignore[attr-defined]
    assert len(ctx.secrets.ari_password) >= 20   # type: ignore[attr-defined]


def test_every_desk_is_an_endpoint_and_the_clock_offset_reaches_the_dialplan(rendered: tuple[Path, object]) -> None:
    conf_dir, ctx = rendered
    pjsip = (conf_dir / "pjsip.conf").read_text()
    for agency in ctx.directory.entries:     # type: ignore[attr-defined]
        assert f"[{agency.desk.endpoint}](endpoint-common)" in pjsip
        assert f"password = {ctx.secrets.endpoint_password(agency.desk.endpoint)}" in pjsip  # type: ignore[attr-defined]
    assert "bind = 127.0.0.1:5060" in pjsip
    assert "CLOCK_OFFSET = 3600" in (conf_dir / "extensions.conf").read_text()
    asterisk = (conf_dir / "asterisk.conf").read_text()
    assert "[directories]\n" in asterisk and f"astetcdir => {conf_dir}" in asterisk


def test_rendering_twice_rewrites_nothing(tmp_path: Path, rendered: tuple[Path, object]) -> None:
    conf_dir, ctx = rendered
    before = {p.name: p.stat().st_mtime_ns for p in conf_dir.iterdir()}
    render(ctx.settings, ctx.secrets, ctx.directory, conf_dir, clock_offset=3600.4)  # type: ignore[attr-defined]
    assert before == {p.name: p.stat().st_mtime_ns for p in conf_dir.iterdir()}
    link = Path(ctx.settings.paths.state_dir) / "spool" / "recording"   # type: ignore[attr-defined]
    assert link.resolve() == Path(ctx.settings.paths.recordings_root)   # type: ignore[attr-defined]


def test_the_monitors_wake_key_is_no_exit_key_of_the_queue(rendered: tuple[Path, object]) -> None:
    """The monitor "presses" WAKE_DIGIT on waiting callers: app_queue must ignore it and look again."""
    from monitor.waker import WAKE_DIGIT

    conf_dir, _ctx = rendered
    queues = (conf_dir / "queues.conf").read_text()
    [context] = re.findall(r"^context = (\S+)", queues, re.M)
    block = (conf_dir / "extensions.conf").read_text().split(f"[{context}]")[1].split("\n[")[0]
    keys = re.findall(r"^exten => ([^,]+),", block, re.M)
    # a message; a call-back only with an outbound route ([callback] dial)
    assert keys == (["1", "2"] if _ctx.settings.callback.dial else ["1"])
    assert not any(re.fullmatch(k.lstrip("_").replace("X", "[0-9]").replace(".", ".+"), WAKE_DIGIT)
                   for k in keys), keys


def test_callers_past_max_calls_hear_all_lines_busy_and_are_logged(rendered: tuple[Path, object]) -> None:
    conf_dir, ctx = rendered
    settings = ctx.settings   # type: ignore[attr-defined]
    text = (conf_dir / "extensions.conf").read_text()
    assert re.search(rf"^MAX_CALLS = {settings.capacity.max_calls}\b", text, re.M)
    start = text.split("\n[hotline]")[1].split("\n[")[0]
    lines = [line for line in start.splitlines() if line.startswith(("exten", " same"))]
    # Counted first, checked next: nothing (no Answer, no recording) before the check.
    assert "Set(GROUP(hotline)=citizens)" in lines[1]
    assert "GROUP_COUNT(citizens@hotline)} > ${MAX_CALLS}]?hotline-busy,s,1" in lines[2]
    busy = text.split("\n[hotline-busy]")[1].split("\n[")[0]
    assert "Set(GROUP(hotline)=)" in busy                                 # no longer counted
    assert "Answer" not in busy and "Progress()" in busy                  # early media: nothing to pay
    assert "Playback(${PROMPTS}/all_lines_busy,noanswer)" in busy and "Hangup(17)" in busy
    assert "h,1,AGI(${AGI_URL}/turned_away,${CALL_ID},${CALL_EPOCH},${DIALLED})" in busy
    options = (conf_dir / "asterisk.conf").read_text()
    assert re.search(rf"^maxcalls = {settings.capacity.asterisk_max_calls}$", options, re.M)
    assert re.search(r"^maxload = 0$", options, re.M)
    queues = (conf_dir / "queues.conf").read_text()
    assert re.search(rf"^maxlen = {settings.queue.max_waiting}$", queues, re.M)


def test_no_admission_limit_renders_no_check(tmp_path: Path) -> None:
    env = {"HOTLINE_STATE_DIR": str(tmp_path / "state"), "HOTLINE_RECORDINGS_ROOT": str(tmp_path / "rec")}
    ctx = load_context(env=env)
    ctx.settings.capacity.max_calls = ctx.settings.capacity.asterisk_max_calls = 0
    ctx.settings.queue.max_waiting = 0
    conf_dir = render(ctx.settings, ctx.secrets, ctx.directory, tmp_path / "conf").parent
    assert "GROUP_COUNT" not in (conf_dir / "extensions.conf").read_text()
    assert not re.search(r"^maxcalls", (conf_dir / "asterisk.conf").read_text(), re.M)
    assert re.search(r"^maxlen = 0$", (conf_dir / "queues.conf").read_text(), re.M)


def test_the_sip_edge_refuses_anonymous_transfers_and_logs_security_events(rendered: tuple[Path, object]) -> None:
    conf = rendered[0]
    pjsip = (conf / "pjsip.conf").read_text()
    anonymous = pjsip.split("[anonymous](endpoint-common)")[1].split("\n[")[0]
    assert "allow_transfer = no" in anonymous
    assert "\n;[trunk-telco]\n;type = identify" in pjsip and "\n[trunk-telco" not in pjsip   # documented, off
    assert re.search(r"^security\.log => security$", (conf / "logger.conf").read_text(), re.M)


def test_each_process_has_its_own_ami_account_with_only_what_it_uses(rendered: tuple[Path, object]) -> None:
    import configparser
    conf_dir, ctx = rendered
    manager = configparser.ConfigParser(inline_comment_prefixes=(";",), interpolation=None, strict=False)
    manager.read_string((conf_dir / "manager.conf").read_text())
    accounts = {name: manager[name] for name in manager.sections() if name != "general"}
    assert set(accounts) == {"hotline-monitor", "hotline-console", "hotline-watch", "hotline-cli", "hotline-worker"}
    classes = {name: set(a["write"].split(",")) | set(a["read"].split(",")) for name, a in accounts.items()}
    assert all(not c & {"system", "config", "all"} for c in classes.values()), classes
    assert accounts["hotline-monitor"]["read"] == "agent" and accounts["hotline-monitor"]["write"] == "call,agent"
    assert "originate" in classes["hotline-console"] and "originate" not in classes["hotline-cli"]
    assert classes["hotline-watch"] == {"reporting", "none"}
    assert classes["hotline-worker"] == {"reporting", "originate", "none"}    # call-backs: channel list, Originate
    # `command` runs any CLI command (`core stop now`): only the command line's account, for PJSIP's reload
    assert [name for name, c in classes.items() if "command" in c] == ["hotline-cli"], classes
    secrets = {a["secret"] for a in accounts.values()}
    assert len(secrets) == 5 and all(len(s) >= 30 for s in secrets)
    assert ctx.secrets.for_ami("watch").own_ami_password == accounts["hotline-watch"]["secret"]  # type: ignore[attr-defined]


def test_calls_out_are_limited_per_operator_and_per_node_and_one_more_is_refused_as_busy(tmp_path: Path) -> None:
    """Toll fraud with a stolen softphone password: one call out at once per operator ([callback]
    max_out_per_operator), ten per node (max_out), counted first and checked next, before any row or Dial."""
    env = {"HOTLINE_STATE_DIR": str(tmp_path / "state"), "HOTLINE_RECORDINGS_ROOT": str(tmp_path / "rec"),
           "HOTLINE_CALLBACK_DIAL": "PJSIP/{number}@trunk-telco"}
    ctx = load_context(env=env)
    assert (ctx.settings.callback.max_out_per_operator, ctx.settings.callback.max_out) == (1, 10)
    text = (render(ctx.settings, ctx.secrets, ctx.directory, tmp_path / "conf").parent / "extensions.conf").read_text()
    assert re.search(r"^MAX_OUT_BY = 1\b", text, re.M) and re.search(r"^MAX_OUT = 10\b", text, re.M)
    call = text.split("\n[hotline-outbound-call]")[1].split("\n[")[0]
    lines = [line for line in call.splitlines() if line.startswith(("exten", " same"))]
    operator = "${FILTER(0-9a-zA-Z_.-,${OUT_OPERATOR})}"
    at = next(i for i, line in enumerate(lines) if "GROUP(out_by)" in line)
    assert lines[at].endswith(f"Set(GROUP(out_by)={operator})")
    assert lines[at + 1].endswith(f"GotoIf($[${{MAX_OUT_BY}} > 0 & ${{GROUP_COUNT({operator}@out_by)}} > "
                                  "${MAX_OUT_BY}]?busy,1)")
    assert lines[at + 2].endswith("Set(GROUP(out)=all)")
    assert lines[at + 3].endswith("GotoIf($[${MAX_OUT} > 0 & ${GROUP_COUNT(all@out)} > ${MAX_OUT}]?busy,1)")
    assert not any("outbound_start" in line or "Dial(" in line for line in lines[:at + 4])   # nothing before
    busy = "\n".join(lines[next(i for i, line in enumerate(lines) if line.startswith("exten => busy,1,")):])
    busy = busy.removeprefix("exten => busy,1,")
    assert busy.startswith("Set(GROUP(out_by)=)") and "Set(GROUP(out)=)" in busy          # no longer counted
    assert "AGI(${AGI_URL}/outbound_refused,${CALL_ID},${CALL_EPOCH},${OUT_NUMBER},${OUT_OPERATOR},busy)" in busy
    assert "Answer" not in busy and "Progress()" in busy
    assert "Playback(${PROMPTS}/all_lines_busy,noanswer)" in busy and busy.rstrip().endswith("Hangup(17)")
    ctx.settings.callback.max_out_per_operator, ctx.settings.callback.max_out = 2, 0
    text = (render(ctx.settings, ctx.secrets, ctx.directory, tmp_path / "conf2").parent / "extensions.conf").read_text()
    assert re.search(r"^MAX_OUT_BY = 2\b", text, re.M) and re.search(r"^MAX_OUT = 0\b", text, re.M)   # 0: no limit
