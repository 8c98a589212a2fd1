"""Load an IVR flow file (ivr_flows/*.yaml) into :class:`~hotline.domain.flows.model.Flow`.

Every mistake in the file is collected and reported at once as
:class:`~hotline.domain.errors.ConfigErrors`, each naming the line and what to write instead.
"""
from __future__ import annotations

import dataclasses
import difflib
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import yaml

from hotline.domain.errors import ConfigError, ConfigErrors
from hotline.domain.flows import model as m
from hotline.domain.flows import validate as v
from hotline.domain.yamlio import LineDict, load_yaml

log = logging.getLogger(__name__)

Conv = Callable[[Any], Any]
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_PROMPT_NAME = re.compile(r"^[a-z0-9_]+$")
_TOP_KEYS = ("flow", "start", "prompts", "nodes")
_KINDS: tuple[str, ...] = get_args(m.AgencyKind)


@dataclass(frozen=True)
class FlowReport:
    """A flow that passed every check, and the warnings found on the way."""

    flow: m.Flow
    warnings: list[ConfigError] = field(default_factory=list)


class _Bad(Exception):
    """A field value of the wrong shape: what was expected and an example to write."""

    def __init__(self, expected: str, example: str) -> None:
        super().__init__(expected)
        self.expected, self.example = expected, example


def _rule(ok: Callable[[Any], bool], expected: str, example: str, convert: Conv = lambda x: x) -> Conv:
    """A field check: ``convert(value)`` when ``ok(value)``, else _Bad(expected, example)."""
    def check(value: Any) -> Any:
        if ok(value):
            return convert(value)
        raise _Bad(expected, example)
    return check


def _optional(check: Conv) -> Conv:
    return lambda value: None if value is None else check(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and bool(_NAME.match(value))


_name = _rule(_is_name, "a name (letters, digits, _ or -)", "main")
_prompt_list = _rule(lambda x: isinstance(x, list) and bool(x) and all(map(_is_name, x)),
                     "a list of prompt names", "[welcome, recording_notice]", tuple)
_seconds = _rule(lambda x: (_is_int(x) or isinstance(x, float)) and x > 0,
                 "a number of seconds above 0", "5", float)
_attempts = _rule(lambda x: _is_int(x) and x >= 1, "a whole number, 1 or more", "3")
_digits = _rule(lambda x: _is_int(x) and 1 <= x <= 4, "a whole number of digits from 1 to 4", "2")
_list_key = _rule(lambda x: x is None or x in ("*", "#"),
                  '"*" or "#" in quotes (a digit would start a code), or null', '"*"')
_kind = _rule(lambda x: x in _KINDS, "one of " + ", ".join(_KINDS), "department")
_code = _rule(lambda x: isinstance(x, str) and x.isdigit() and len(x) <= 4,
              "a code of 1 to 4 digits in quotes", '"01"')
_category = _rule(lambda x: isinstance(x, str) and bool(_PROMPT_NAME.match(x)),
                  "a category code of ticket_categories.yaml", "postal")
_agency = _rule(lambda x: isinstance(x, str) and x.partition(":")[0] in _KINDS and x.partition(":")[2].isdigit(),
                "KIND:CODE of the transfer directory in quotes", '"postal_service:01"')
_opt_name, _opt_seconds = _optional(_name), _optional(_seconds)
_OPTIONS = object()   # parsed by _options: it needs the line of each key
_PROMPT: dict[str, Conv] = {"prompt": _opt_name}
_MENU_LIKE: dict[str, Conv] = {
    "prompt": _name, "timeout": _seconds, "max_attempts": _attempts,
    "invalid_prompt": _opt_name, "no_input_prompt": _opt_name, "on_failure": _name,
}
SPECS: dict[str, tuple[type, dict[str, Any]]] = {
    "play": (m.PlayNode, {"prompts": _prompt_list, "next": _name, "options": _OPTIONS}),
    "hours": (m.HoursNode, {"open": _name, "closed": _name}),
    "menu": (m.MenuNode, {**_MENU_LIKE, "options": _OPTIONS}),
    "code_entry": (m.CodeEntryNode, {
        **_MENU_LIKE, "kind": _kind, "digits": _digits, "list_key": _list_key,
        "list_prompt": _opt_name, "transfer_prompt": _opt_name, "busy_prompt": _opt_name,
        "on_transfer_failure": _name, "on_list": _opt_name}),
    "transfer": (m.TransferNode, {**_PROMPT, "kind": _kind, "code": _code, "busy_prompt": _opt_name,
                                  "on_failure": _name, "on_unavailable": _opt_name}),
    "queue": (m.QueueNode, {**_PROMPT, "max_wait": _opt_seconds, "on_timeout": _opt_name, "on_message": _opt_name,
                            "on_operator_hangup": _opt_name, "on_callback": _opt_name}),
    "callback": (m.CallbackNode, {**_MENU_LIKE, "confirm_prompt": _name, "enter_prompt": _name,
                                  "done_prompt": _opt_name, "unavailable_prompt": _opt_name}),
    "survey": (m.SurveyNode, {"prompt": _name, "thanks_prompt": _opt_name, "timeout": _seconds,
                              "max_attempts": _attempts, "invalid_prompt": _opt_name}),
    "voicemail": (m.VoicemailNode, {**_PROMPT, "max_seconds": _opt_seconds, "after_prompt": _opt_name,
                                    "code_prompt": _opt_name, "code_again_prompt": _opt_name,
                                    "unavailable_prompt": _opt_name, "failed_prompt": _opt_name,
                                    "call_back_prompt": _opt_name, "category": _optional(_category),
                                    "agency": _optional(_agency)}),
    "ticket_status": (m.TicketStatusNode, {
        **_MENU_LIKE, "next": _opt_name, "unknown_prompt": _opt_name, "failure_prompt": _opt_name,
        "unavailable_prompt": _opt_name}),
    "hangup": (m.HangupNode, dict(_PROMPT)),
}
"""Node type (as written after ``type:``) -> (dataclass, field -> value check)."""


def check_flow(path: Path, *, directory: v.DirectoryLike | None = None,
               recorded_prompts_dir: Path | None = None, categories: Iterable[str] | None = None) -> FlowReport:
    """Check a flow file; raise ConfigErrors listing every mistake, else return the flow and warnings.

    Args:
        path: the flow file.
        directory: the transfer directory; when given, fixed transfer codes and messages' agencies are
            looked up in it.
        categories: the codes of ticket_categories.yaml; when given, messages' categories are checked.
        recorded_prompts_dir: where ``<prompt>.wav`` recordings live; default ``prompts/`` beside the file.
    """
    problems = v.Problems(str(path))
    try:
        doc = load_yaml(path)
    except ConfigError as exc:
        raise ConfigErrors([_yaml_hint(exc)]) from exc
    v.check_comment_keys(path.read_text(encoding="utf-8"), problems)
    flow, src = _parse(doc, path, problems)
    if flow is not None:
        recorded = _recordings(recorded_prompts_dir or path.parent / "prompts")
        v.check_links(src, problems)
        v.check_reachable(flow.start, src, problems)
        v.check_instant_loops(flow, src, problems)
        v.check_callbacks(flow, src, problems)
        v.check_prompts(flow, src, problems, recorded)
        v.check_unavailable(flow, src, problems)
        if directory is not None:
            v.check_directory(flow, src, problems, directory)
        if categories is not None:
            v.check_categories(flow, src, problems, categories)
    if problems.errors:
        raise ConfigErrors(sorted(problems.errors, key=lambda e: e.line or 0))
    assert flow is not None
    return FlowReport(flow, sorted(problems.warnings, key=lambda e: e.line or 0))


def load_flow(path: Path, *, directory: v.DirectoryLike | None = None,
              recorded_prompts_dir: Path | None = None, categories: Iterable[str] | None = None) -> m.Flow:
    """Load a flow that passes :func:`check_flow`; its warnings are logged."""
    report = check_flow(path, directory=directory, recorded_prompts_dir=recorded_prompts_dir,
                        categories=categories)
    for warning in report.warnings:
        log.warning("%s", warning)
    return report.flow


def _parse(doc: Any, path: Path, problems: v.Problems) -> tuple[m.Flow | None, v.SourceLines]:
    src = v.SourceLines()
    if not isinstance(doc, LineDict):
        problems.error(1, "a flow file must be a mapping with flow:, start:, prompts: and nodes:",
                       "see ivr_flows/README.md")
        return None, src
    for key in doc:
        if key not in _TOP_KEYS:
            problems.error(doc.line_of(key), f"unknown section '{key}'", v.one_of(str(key), _TOP_KEYS))
    name = doc.get("flow", path.stem)
    if not isinstance(name, str) or not name:
        problems.error(doc.line_of("flow"), "flow: must be the flow's name", "write e.g. flow: hotline-1022")
    prompts = _prompts(doc.get("prompts"), doc, src, problems)
    nodes: dict[str, m.Node] = {}
    raw_nodes = doc.get("nodes")
    if not isinstance(raw_nodes, LineDict) or not raw_nodes:
        problems.error(doc.line_of("nodes"), "the flow has no nodes: section (or it is empty)",
                       "add nodes: with one entry per step of the call; see ivr_flows/README.md")
    else:
        for node_name, raw in raw_nodes.items():
            if not isinstance(node_name, str) or not _NAME.match(node_name):
                problems.error(raw_nodes.line_of(node_name), f"node name {node_name!r} is not a plain name",
                               "use letters, digits, _ or -, e.g. main or department")
                continue
            node = _node(node_name, raw, raw_nodes.line_of(node_name), src, problems)
            if node is not None:
                nodes[node_name] = node
    start = doc.get("start")
    if "start" not in doc:
        problems.error(doc.line, "the flow has no start:",
                       "add start: with the first node, e.g. start: welcome")
    elif not isinstance(start, str) or start not in src.links:
        problems.error(doc.line_of("start"), f"start: {start!r} is not a node",
                       v.one_of(str(start), src.links))
    flow = m.Flow(name=str(name), start=str(start), nodes=nodes, prompts=prompts, source=str(path))
    return flow, src


def _prompts(raw: Any, doc: Any, src: v.SourceLines, problems: v.Problems) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, LineDict):
        problems.error(doc.line_of("prompts"), "prompts: must map prompt names to Vietnamese texts",
                       'write e.g. welcome: "Tổng đài một không hai hai xin kính chào quý vị."')
        return {}
    prompts: dict[str, str] = {}
    for name, text in raw.items():
        line = raw.line_of(name)
        src.prompts[str(name)] = line
        if not isinstance(name, str) or not _PROMPT_NAME.match(name):
            problems.error(line, f"prompt name {name!r} is not a plain name",
                           "use lower-case letters, digits and _ (it is also the .wav file name)")
        elif v.is_generated(name):
            problems.error(line, f"prompt '{name}' is generated from the transfer directory at set-up",
                           f"delete '{name}:' here; to record it yourself use prompts/{name}.wav")
        elif not isinstance(text, str) or not text.strip():
            problems.error(line, f"prompt '{name}' has no text",
                           f'write the Vietnamese text in quotes, e.g. {name}: "Xin cảm ơn quý vị."')
        else:
            prompts[name] = text
    return prompts


def _node(name: str, raw: Any, line: int, src: v.SourceLines, problems: v.Problems) -> m.Node | None:
    if not isinstance(raw, LineDict):
        problems.error(line, f"node '{name}' must be a mapping of fields",
                       "write e.g. {type: play, prompts: [welcome], next: main}")
        src.add(name, _empty_at(line), None, None)
        return None
    raw.line = line   # messages about the whole node (or a field left out) point at "name:"
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in SPECS:
        problems.error(raw.line_of("type"), f"node '{name}' has " +
                       (f"the unknown type {kind!r}" if "type" in raw else "no type:"),
                       v.one_of(str(kind), SPECS, limit=12))
        src.add(name, raw, None, None)
        return None
    cls, spec = SPECS[kind]
    values: dict[str, Any] = {}
    ok = _fields_known(name, kind, raw, spec, problems)
    for key, check in spec.items():
        if key not in raw:
            continue
        if check is _OPTIONS:
            values[key] = _options(name, raw[key], raw.line_of(key), src, problems)
            ok = ok and values[key] is not None
            continue
        try:
            values[key] = check(raw[key])
        except _Bad as bad:
            ok = False
            problems.error(raw.line_of(key), f"node '{name}' {key} is {raw[key]!r}, expected {bad.expected}",
                           f"write e.g. {key}: {bad.example}")
    if not ok:
        src.add(name, raw, None, cls)
        return None
    node: m.Node = cls(name=name, line=raw.line, **values)
    src.add(name, raw, node, cls)
    if isinstance(node, m.CodeEntryNode):
        v.check_code_entry(node, raw, problems)
    return node


def _fields_known(name: str, kind: str, raw: Any, spec: dict[str, Any], problems: v.Problems) -> bool:
    cls = SPECS[kind][0]
    missing = [f.name for f in dataclasses.fields(cls) if f.name != "name" and f.name not in raw
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    unknown = [key for key in raw if key != "type" and key not in spec]
    for key in unknown:
        meant = difflib.get_close_matches(str(key), missing, n=1)
        missing = [f for f in missing if f not in meant]      # 'promt' for a missing 'prompt': one error
        problems.error(raw.line_of(key), f"node '{name}' has the unknown field {key!r}",
                       f"{v.one_of(str(key), spec, limit=12)} (the fields of a {kind} node)")
    if missing:
        problems.error(raw.line, f"node '{name}' ({kind}) is missing " + ", ".join(missing),
                       f"add {missing[0]}: …; see ivr_flows/README.md for the fields of a {kind} node")
    return not unknown and not missing


def _options(name: str, raw: Any, line: int, src: v.SourceLines,
             problems: v.Problems) -> dict[str, str] | None:
    if not isinstance(raw, LineDict) or not raw:
        problems.error(line, f"node '{name}' options must map keys to nodes",
                       'write e.g. options: {"1": queue}')
        return None
    options: dict[str, str] = {}
    lines: dict[str, int] = {}
    ok = True
    for raw_key, target in raw.items():
        key_line = raw.line_of(raw_key)
        key = str(raw_key) if isinstance(raw_key, (int, str)) and not isinstance(raw_key, bool) else ""
        if key not in v.DTMF_KEYS:
            ok = False
            problems.error(key_line, f"node '{name}' option {raw_key!r} is not a phone key",
                           'use one key: 0-9, "*" or "#" (write * and # in quotes)')
        elif key in options:
            ok = False
            problems.error(key_line, f"node '{name}' has key '{key}' twice",
                           f"keep one; the other is on line {lines[key]} (1 and \"1\" are the same key)")
        elif not isinstance(target, str) or not _NAME.match(target):
            ok = False
            problems.error(key_line, f"node '{name}' option '{key}' must name a node, not {target!r}",
                           f'write e.g. "{key}": queue')
        else:
            options[key], lines[key] = target, key_line
    src.options[name] = lines
    return options if ok else None


def _empty_at(line: int) -> LineDict:
    empty = LineDict()
    empty.line, empty.key_lines = line, {}
    return empty


def _recordings(folder: Path) -> set[str]:
    if not folder.is_dir():
        return set()
    return {p.stem for p in folder.iterdir() if p.suffix.lower() == ".wav"}


def _yaml_hint(exc: ConfigError) -> ConfigError:
    cause = exc.__cause__
    if isinstance(cause, yaml.MarkedYAMLError) and cause.context == "while scanning an alias":
        return ConfigError(exc.file, exc.line, exc.message,
                           'write the * key in quotes, e.g. "*": department (a bare * starts a YAML alias)')
    return exc
