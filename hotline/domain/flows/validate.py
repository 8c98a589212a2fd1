"""Whole-flow checks on parsed nodes: links, reachability, prompts, directory codes.

Each check adds to a :class:`Problems` collector so that one run reports every
mistake, each with the line of the YAML file it comes from.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from hotline.domain.directory import CODE_DIGITS
from hotline.domain.errors import ConfigError
from hotline.domain.flows.model import (
    CallbackNode,
    CodeEntryNode,
    Flow,
    HoursNode,
    MenuNode,
    Node,
    PlayNode,
    QueueNode,
    TicketStatusNode,
    TransferNode,
    VoicemailNode,
)

GENERATED_PROMPTS = frozenset({"department_list", "district_list"})
# Played by the dialplan itself (asterisk_conf/extensions.conf.j2): when the ARI app is down ([fallback];
# system_unavailable when no message can be written either), and to a caller past [capacity] max_calls
# ([hotline-busy]); to an operator dialling a number the hotline never calls ([hotline-outbound]).
DIALPLAN_PROMPTS = frozenset({"fallback_message", "message_saved", "all_lines_busy", "system_unavailable",
                              "message_not_saved", "call_back_later", "outbound_refused"})
"""Prompts built from the transfer directory at set-up; never written under ``prompts:``."""
AGENCY_PROMPT_PREFIX = "agency_"
"""``agency_<kind>_<code>``: each directory entry's name, generated at set-up (a ticket's agency)."""

PLACEHOLDERS = ("province", "hotline", "staffed_hours", "area_code", "ticket_digits")
"""Names a prompt text may use in braces, filled in from the province settings."""

DTMF_KEYS = tuple("0123456789*#")

_TARGET_FIELDS = ("next", "open", "closed", "on_failure", "on_transfer_failure", "on_timeout", "on_message",
                  "on_operator_hangup", "on_list", "on_callback", "on_unavailable")
_PROMPT_FIELDS = ("prompt", "invalid_prompt", "no_input_prompt", "list_prompt",
                  "transfer_prompt", "busy_prompt", "after_prompt", "thanks_prompt",
                  "unknown_prompt", "failure_prompt", "unavailable_prompt",
                  "code_prompt", "code_again_prompt", "failed_prompt", "call_back_prompt", "confirm_prompt",
                  "enter_prompt", "done_prompt")
# Nodes that go on without waiting for the caller or the network: a cycle of them never ends.
_INSTANT = (PlayNode, HoursNode)


class DirectoryLike(Protocol):
    """What the validator needs from the transfer directory (``hotline.domain.directory``)."""

    def find(self, kind: str, code: str) -> Any: ...


@dataclass
class Problems:
    """Errors and warnings found in one file, in the order they were found."""

    file: str
    errors: list[ConfigError] = field(default_factory=list)
    warnings: list[ConfigError] = field(default_factory=list)

    def error(self, line: int | None, message: str, hint: str = "") -> None:
        self.errors.append(ConfigError(self.file, line, message, hint))

    def warn(self, line: int | None, message: str, hint: str = "") -> None:
        self.warnings.append(ConfigError(self.file, line, message, hint))


Link = tuple[str, str | None, str]   # (field, menu key or None, target node)
PromptRef = tuple[str, str]            # (field, prompt name)


@dataclass
class SourceLines:
    """Every node of the file (parsed or not) with its links, prompts and lines."""

    nodes: dict[str, Any] = field(default_factory=dict)          # node name -> its LineDict
    options: dict[str, dict[str, int]] = field(default_factory=dict)  # node -> key -> line
    prompts: dict[str, int] = field(default_factory=dict)        # prompt name -> line
    links: dict[str, list[Link]] = field(default_factory=dict)   # node -> where it leads
    plays: dict[str, list[PromptRef]] = field(default_factory=dict)  # node -> prompts it plays

    def add(self, name: str, raw: Any, node: Node | None, cls: type | None) -> None:
        """Record a node; one with errors (``node`` None) is read from its raw fields."""
        self.nodes[name] = raw
        self.links[name] = links(node) if node else _raw_links(raw, cls)
        self.plays[name] = prompt_refs(node) if node else _raw_prompts(raw, cls)

    def of(self, node: str, field_name: str | None = None, key: str | None = None) -> int:
        if key is not None and key in self.options.get(node, {}):
            return self.options[node][key]
        raw = self.nodes.get(node)
        if raw is None:
            return 0
        return int(raw.line_of(field_name)) if field_name else int(raw.line)


def one_of(wrong: str, choices: Iterable[str], limit: int = 8) -> str:
    """'write one of: a, b, …' with the names closest to ``wrong`` first."""
    names = sorted(set(choices))
    close = difflib.get_close_matches(wrong, names, n=3, cutoff=0.6)
    ordered = close + [n for n in names if n not in close]
    shown = ", ".join(ordered[:limit]) + (", …" if len(ordered) > limit else "")
    return f"write one of: {shown}" if shown else "define it first"


def links(node: Node) -> list[Link]:
    """Every node name ``node`` leads to, as (field, menu key or None, target)."""
    found: list[Link] = []
    if isinstance(node, (MenuNode, PlayNode)):
        found += [("options", key, target) for key, target in node.options.items()]
    for f in fields(node):
        value = getattr(node, f.name)
        if f.name in _TARGET_FIELDS and isinstance(value, str):
            found.append((f.name, None, value))
    return found


def prompt_refs(node: Node) -> list[PromptRef]:
    """Every prompt name ``node`` plays, as (field, prompt)."""
    found: list[PromptRef] = []
    if isinstance(node, PlayNode):
        found += [("prompts", p) for p in node.prompts]
    for f in fields(node):
        value = getattr(node, f.name)
        if f.name in _PROMPT_FIELDS and isinstance(value, str):
            found.append((f.name, value))
    return found


def _raw_fields(raw: Any, cls: type | None, names: tuple[str, ...]) -> list[tuple[str, str]]:
    known = {f.name: f.default for f in dataclasses.fields(cls)} if cls else {}
    values = [(f, raw.get(f, known.get(f))) for f in names if not cls or f in known]
    return [(f, value) for f, value in values if isinstance(value, str)]


def _raw_links(raw: Any, cls: type | None) -> list[Link]:
    options = raw.get("options")
    found: list[Link] = [("options", str(k), t) for k, t in options.items()
                         if isinstance(t, str)] if isinstance(options, dict) else []
    return found + [(f, None, t) for f, t in _raw_fields(raw, cls, _TARGET_FIELDS)]


def _raw_prompts(raw: Any, cls: type | None) -> list[PromptRef]:
    played = raw.get("prompts")
    found = [("prompts", p) for p in played if isinstance(p, str)] if isinstance(played, list) else []
    return found + _raw_fields(raw, cls, _PROMPT_FIELDS)


def _what(field_name: str, key: str | None) -> str:
    return f"option '{key}'" if key is not None else field_name


def check_links(src: SourceLines, problems: Problems) -> None:
    """Every target names a node of the file."""
    for name, node_links in src.links.items():
        for field_name, key, target in node_links:
            if target in src.links:
                continue
            default = "" if field_name in src.nodes[name] or key else " (the default)"
            problems.error(src.of(name, field_name, key),
                           f"node '{name}' {_what(field_name, key)}{default} leads to '{target}', "
                           "which does not exist", one_of(target, src.links))


def reachable(start: str, graph: dict[str, list[Link]]) -> set[str]:
    """Names of the nodes reachable from ``start`` (graph: node -> its links)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or name not in graph:
            continue
        seen.add(name)
        todo += [t for _, _, t in graph[name]]
    return seen


def check_reachable(start: str, src: SourceLines, problems: Problems) -> None:
    """Every node can be reached from ``start``."""
    if start not in src.links:
        return
    # A link to a misspelt name (reported by check_links) counts as a link to the closest node.
    graph = {name: [(f, k, _closest(t, src.links)) for f, k, t in node_links]
             for name, node_links in src.links.items()}
    seen = reachable(start, graph)
    for name in src.links:
        if name not in seen:
            problems.error(src.of(name), f"node '{name}' cannot be reached from start '{start}'",
                           "link it from a menu option or delete it")


def _closest(name: str, names: Iterable[str]) -> str:
    if name in names:
        return name
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.6)
    return close[0] if close else name


def check_instant_loops(flow: Flow, src: SourceLines, problems: Problems) -> None:
    """No cycle made only of play/hours nodes (it would never wait for the caller)."""
    reported: set[str] = set()
    for first in flow.nodes:
        path: list[str] = []
        name: str | None = first
        while name in flow.nodes and isinstance(flow.nodes[name], _INSTANT) and name not in path:
            path.append(name)
            targets = [t for _, _, t in links(flow.nodes[name])]
            name = targets[0] if len(targets) == 1 else None   # hours nodes branch: skip
        if path and name == first and first not in reported:
            reported.update(path)
            problems.error(src.of(first), f"nodes {' -> '.join(path + [first])} loop forever "
                           "without waiting for a key", "send one of them to a menu, queue or hangup node")


def check_callbacks(flow: Flow, src: SourceLines, problems: Problems) -> None:
    """A queue's on_callback names a callback node, and a callback node is reached only that way: it needs the
    caller's place in the queue, which only the queue's key 2 gives."""
    for node in flow.nodes.values():
        if isinstance(node, QueueNode) and node.on_callback in flow.nodes \
                and not isinstance(flow.nodes[node.on_callback], CallbackNode):
            problems.error(src.of(node.name, "on_callback"), f"node '{node.name}' on_callback leads to "
                           f"'{node.on_callback}', which is not a callback node",
                           "name a node of type: callback (key 2 in the queue asks for the number to call back)")
        for field_name, key, target in links(node):
            if isinstance(flow.nodes.get(target), CallbackNode) and not (
                    isinstance(node, QueueNode) and field_name == "on_callback"):
                problems.error(src.of(node.name, field_name, key),
                               f"node '{node.name}' {_what(field_name, key)} leads to callback node '{target}'",
                               "a callback node is reached only from a queue's on_callback (it keeps the caller's "
                               "place in the queue)")


def check_prompts(flow: Flow, src: SourceLines, problems: Problems, recorded: set[str]) -> None:
    """Every prompt a node plays is written, generated or recorded; texts use known placeholders."""
    available = set(flow.prompts) | GENERATED_PROMPTS | recorded
    used: set[str] = set(DIALPLAN_PROMPTS) | {p for p in recorded if p.startswith(AGENCY_PROMPT_PREFIX)}
    _check_readback(flow, src, problems, available, used)
    for prompt in sorted(DIALPLAN_PROMPTS - available if flow.prompts else set()):
        problems.error(min(src.prompts.values(), default=None),
                       f"prompt '{prompt}' is missing: the dialplan plays it itself (the call "
                       "application down, no room for messages, or every line busy)",
                       f"add '{prompt}: \"…\"' under prompts: or record prompts/{prompt}.wav")
    for name, plays in src.plays.items():
        for field_name, prompt in plays:
            used.add(prompt)
            if prompt not in available:
                problems.error(
                    src.of(name, field_name), f"node '{name}' {field_name} '{prompt}' is not defined",
                    f"add '{prompt}: \"…\"' under prompts:, record prompts/{prompt}.wav, or "
                    + one_of(prompt, available),
                )
    for name, text in flow.prompts.items():
        _check_placeholders(name, text, src.prompts.get(name), problems)
        if name not in used:
            problems.warn(src.prompts.get(name), f"prompt '{name}' is defined but no node plays it",
                          "use it in a node or delete it")
    for name in sorted(recorded - used):
        problems.warn(None, f"recording prompts/{name}.wav is not played by any node",
                      "use the prompt name in a node or delete the file")


def _check_readback(flow: Flow, src: SourceLines, problems: Problems, available: set[str],
                    used: set[str]) -> None:
    """A ticket_status node reads a ticket back with fixed prompt names (the AGI server plays them)."""
    node = next((n for n in flow.nodes.values() if isinstance(n, TicketStatusNode)), None)
    if node is None:
        return
    used.update(TicketStatusNode.READBACK_PROMPTS)
    for prompt in TicketStatusNode.READBACK_PROMPTS:
        if prompt not in available:
            problems.error(src.of(node.name), f"node '{node.name}' reads a ticket back with the prompt "
                           f"'{prompt}', which is not defined",
                           f"add '{prompt}: \"…\"' under prompts: or record prompts/{prompt}.wav")


def is_generated(name: str) -> bool:
    """A prompt set-up makes from the transfer directory (never written under ``prompts:``)."""
    return name in GENERATED_PROMPTS or name.startswith(AGENCY_PROMPT_PREFIX)


def _check_placeholders(name: str, text: str, line: int | None, problems: Problems) -> None:
    allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError:
        problems.error(line, f"prompt '{name}' has an unmatched {{ or }}",
                       f"placeholders look like {{province}}; the valid ones are {allowed}")
        return
    for _, placeholder, spec, conversion in parts:
        if placeholder is None:
            continue
        if placeholder not in PLACEHOLDERS or spec or conversion:
            close = difflib.get_close_matches(placeholder, PLACEHOLDERS, n=1)
            guess = f"did you mean {{{close[0]}}}? " if close else ""
            problems.error(line, f"prompt '{name}' uses the unknown placeholder "
                           f"{{{placeholder}{'!' + conversion if conversion else ''}"
                           f"{':' + spec if spec else ''}}}", f"{guess}write one of: {allowed}")


def check_directory(flow: Flow, src: SourceLines, problems: Problems, directory: DirectoryLike) -> None:
    """Every fixed transfer, and every message's agency, names a code the transfer directory knows."""
    for node in flow.nodes.values():
        if isinstance(node, VoicemailNode) and node.agency:
            agency_kind, _, agency_code = node.agency.partition(":")
            if directory.find(agency_kind, agency_code) is None:
                listed_agencies: list[Any] = getattr(directory, "of_kind", lambda _kind: [])(agency_kind)
                problems.error(src.of(node.name, "agency"),
                               f"node '{node.name}' assigns its messages to {node.agency}, which is not in the "
                               "transfer directory",
                               "write one of: " + ", ".join(f'"{agency_kind}:{a.code}" ({a.name})'
                                                            for a in listed_agencies[:6])
                               if listed_agencies else
                               f"add a {agency_kind} with code '{agency_code}' to the transfer directory")
        code = getattr(node, "code", None)
        kind = getattr(node, "kind", None)
        if isinstance(code, str) and kind and directory.find(kind, code) is None:
            listed: list[Any] = getattr(directory, "of_kind", lambda _kind: [])(kind)
            known = ", ".join(f'"{a.code}" ({a.name})' for a in listed[:6]) + (", …" if len(listed) > 6 else "")
            problems.error(src.of(node.name, "code"),
                           f"node '{node.name}' transfers to {kind} code '{code}', "
                           "which is not in the transfer directory",
                           f"write one of: {known}" if known else
                           f"add a {kind} with code '{code}' to the transfer directory")


def check_code_entry(node: CodeEntryNode, raw: Any, problems: Problems) -> None:
    """The code length is the kind's; list_key leads to a list or a node; a generated list matches the kind."""
    digits = CODE_DIGITS.get(node.kind)
    if digits is not None and node.digits != digits:
        problems.error(raw.line_of("digits") if "digits" in raw else raw.line,
                       f"node '{node.name}' takes {node.digits}-digit codes, but {node.kind} codes have {digits} "
                       "digits in the transfer directory", f"write digits: {digits}")
    if node.list_prompt and node.on_list:
        problems.error(raw.line_of("on_list"), f"node '{node.name}' has both list_prompt and on_list",
                       "keep one: list_prompt reads the list, on_list (e.g. on_list: queue) puts the caller "
                       "through to where the desk is found by name")
    if node.list_key and not (node.list_prompt or node.on_list):
        default = "" if "list_key" in raw else " (the default)"
        hint = (f"add list_prompt: {node.kind}_list, or write list_key: null" if f"{node.kind}_list" in
                GENERATED_PROMPTS else "add on_list: queue (an operator finds it by name), or write list_key: null")
        problems.error(raw.line_of("list_key"),
                       f"node '{node.name}' list_key '{node.list_key}'{default} has no list_prompt to play", hint)
    if (node.list_prompt or node.on_list) and not node.list_key:
        field_name = "list_prompt" if node.list_prompt else "on_list"
        problems.error(raw.line_of(field_name), f"node '{node.name}' {field_name} is never used",
                       f'add list_key: "*", or delete {field_name}')
    if node.list_prompt in GENERATED_PROMPTS and node.list_prompt != f"{node.kind}_list":
        problems.error(raw.line_of("list_prompt"),
                       f"node '{node.name}' takes {node.kind} codes but plays the list '{node.list_prompt}'",
                       f"write list_prompt: {node.kind}_list" if f"{node.kind}_list" in GENERATED_PROMPTS
                       else "write on_list: queue (the list is too long to read out), or a prompt under prompts:")


def check_comment_keys(text: str, problems: Problems) -> None:
    """Warn about '#: node' lines: YAML reads them as comments, not as the # key."""
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(r"^\s*#\s*:\s*\S", line):
            problems.warn(number, "this line is a comment, so key # is not set",
                          'write the # key in quotes, e.g. "#": main')


def check_categories(flow: Flow, src: SourceLines, problems: Problems, categories: Iterable[str]) -> None:
    """Every message's category is one of ticket_categories.yaml."""
    known = set(categories)
    for node in flow.nodes.values():
        if isinstance(node, VoicemailNode) and node.category and node.category not in known:
            problems.error(src.of(node.name, "category"),
                           f"node '{node.name}' category '{node.category}' is not in ticket_categories.yaml",
                           one_of(node.category, known))


def check_unavailable(flow: Flow, src: SourceLines, problems: Problems) -> None:
    """A transfer's on_unavailable leads to a voicemail node (the desk's message), and replaces on_failure."""
    for node in flow.nodes.values():
        if not isinstance(node, TransferNode) or not node.on_unavailable:
            continue
        raw = src.nodes.get(node.name)
        if raw is not None and "on_failure" in raw:
            problems.error(raw.line_of("on_failure"), f"node '{node.name}' has both on_failure and on_unavailable",
                           "delete on_failure: a desk that is busy, does not answer or is closed sends the caller "
                           "to on_unavailable")
        target = flow.nodes.get(node.on_unavailable)
        if target is not None and not isinstance(target, VoicemailNode):
            problems.error(src.of(node.name, "on_unavailable"),
                           f"node '{node.name}' on_unavailable leads to '{node.on_unavailable}', which is not a "
                           "voicemail node: it must be one (the message that replaces the desk)",
                           "write e.g. on_unavailable: postal_message, with postal_message: {type: voicemail, "
                           "prompt: …, category: postal, agency: \"postal_service:01\"}; or use on_failure")
