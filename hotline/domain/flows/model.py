"""The IVR flow as validated data: what ivr_flows/*.yaml becomes after loading.

Every node names the node(s) it leads to; the loader (``hotline.domain.flows.loader``)
checks that all names resolve, every node is reachable and every prompt exists.
The engine (``hotline.domain.flows.engine``) walks these nodes; nothing here speaks ARI.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hotline.domain.vocabulary import TicketStatus

AgencyKind = Literal["department", "district", "commune", "provincial_office", "postal_service"]


@dataclass(frozen=True)
class PlayNode:
    """Play prompts in order, then go on. A key of ``options`` pressed while they play stops them and goes
    to its node (e.g. key 6 during the closed-hours message); any other key is ignored."""

    name: str
    prompts: tuple[str, ...]
    next: str
    line: int = 0
    options: dict[str, str] = field(default_factory=dict)   # DTMF key -> node name


@dataclass(frozen=True)
class HoursNode:
    """The hours gate: staffed now (working day, within staffed hours) or not."""

    name: str
    open: str
    closed: str
    line: int = 0


@dataclass(frozen=True)
class MenuNode:
    """One key chooses the next node. No input or a wrong key: prompt again; after
    ``max_attempts`` failures go to ``on_failure``."""

    name: str
    prompt: str
    options: dict[str, str]           # DTMF key ("0"-"9", "*", "#") -> node name
    timeout: float = 5.0              # seconds to wait for a key after the prompt ends
    max_attempts: int = 3
    invalid_prompt: str | None = None     # said after a wrong key
    no_input_prompt: str | None = None    # said after silence
    on_failure: str = "queue"
    line: int = 0


@dataclass(frozen=True)
class CodeEntryNode:
    """The caller keys a ``digits``-long directory code of ``kind``; a known code
    transfers to that agency's one-stop desk. ``list_key`` plays the generated list
    of codes (prompt name ``list_prompt``), or, for a list too long to read out (a
    merged province's communes), goes to ``on_list`` (the operator queue, where the
    operator finds the desk by name). Unknown code: ``invalid_prompt`` and ask again;
    after ``max_attempts`` failures go to ``on_failure``."""

    name: str
    kind: AgencyKind
    prompt: str
    digits: int = 2
    timeout: float = 5.0
    max_attempts: int = 3
    list_key: str | None = "*"
    list_prompt: str | None = None
    invalid_prompt: str | None = None
    no_input_prompt: str | None = None
    on_failure: str = "queue"
    on_transfer_failure: str = "queue"   # desk busy / no answer
    line: int = 0
    transfer_prompt: str | None = None   # said after a known code, before dialling
    busy_prompt: str | None = None       # said when the desk is busy, before on_transfer_failure
    on_list: str | None = None           # list_key goes here instead of playing list_prompt


@dataclass(frozen=True)
class TransferNode:
    """Transfer to a fixed directory entry (e.g. key 6: the provincial post office).

    ``on_unavailable`` (a voicemail node: the desk's message instead of the desk) takes the caller when the
    desk is busy, does not answer or cannot be reached, and, outside staffed hours, at once: the desk is not
    dialled. Without it a failed transfer goes to ``on_failure``."""

    name: str
    kind: AgencyKind
    code: str
    prompt: str | None = None          # said before dialling
    on_failure: str = "queue"          # desk busy / no answer
    line: int = 0
    busy_prompt: str | None = None     # said when the desk is busy, before on_failure
    on_unavailable: str | None = None  # a voicemail node, instead of on_failure and of dialling a closed desk


@dataclass(frozen=True)
class QueueNode:
    """Hand the caller to the operator queue (implemented by the queue issue)."""

    name: str
    prompt: str | None = None
    max_wait: float | None = None          # seconds; default: province.toml [queue] max_wait
    on_timeout: str | None = None          # no operator in time, or none logged in: e.g. voicemail
    on_message: str | None = None          # the caller pressed 1 to leave a message (default: on_timeout)
    on_operator_hangup: str | None = None  # the operator hung up first: e.g. the survey
    line: int = 0
    on_callback: str | None = None         # the caller pressed 2 to be called back (a callback node)


@dataclass(frozen=True)
class CallbackNode:
    """A waiting caller asked to be called back instead of waiting (key 2 in the queue), keeping their place.

    The number they call from is read back (``prompt``, its digits, ``confirm_prompt``): 1 confirms it, 2 keys
    another (``enter_prompt``; the number, then '#'), which must be a Vietnamese number (``invalid_prompt``, and
    again). Confirmed: the call-back is kept (a row, and a place in the queue where the caller was), the caller
    hears ``done_prompt`` and the call ends. Wrong keys or silence ``max_attempts`` times, a caller outside staffed
    hours, or a call-back that could not be kept: ``on_failure`` (after ``unavailable_prompt`` for the last two)."""

    name: str
    prompt: str                            # "we will call you back at"
    confirm_prompt: str                    # "press 1 to confirm, press 2 to key another number"
    enter_prompt: str                      # "key the number to call you back at, then the hash key"
    done_prompt: str | None = None         # "you keep your place; we will call you back; you may hang up"
    invalid_prompt: str | None = None      # a wrong key, or no Vietnamese number
    no_input_prompt: str | None = None
    unavailable_prompt: str | None = None  # no call-back now (closed, or it could not be kept)
    timeout: float = 6.0
    max_attempts: int = 3
    on_failure: str = "queue"
    line: int = 0


@dataclass(frozen=True)
class VoicemailNode:
    """Leave a message after the beep: up to ``max_seconds`` (settings default), ends on '#' or hangup.
    The message is a ticket of ``category`` (default: the first category), assigned to ``agency`` if given
    (key 6's message: category postal, the postal service)."""

    name: str
    prompt: str | None = None
    max_seconds: float | None = None
    after_prompt: str | None = None    # said after '#', before hanging up
    code_prompt: str | None = None     # after '#': "your code is", then the ticket code digit by digit
    code_again_prompt: str | None = None   # "once again", then the code a second time
    unavailable_prompt: str | None = None  # no message can be taken now (disk full, not writable)
    failed_prompt: str | None = None       # the recording failed: the message may not be kept whole
    call_back_prompt: str | None = None    # after either: when to call again
    line: int = 0
    category: str | None = None        # the ticket's category (ticket_categories.yaml); None: the default
    agency: str | None = None          # "kind:code" in the transfer directory: the ticket is assigned to it


@dataclass(frozen=True)
class TicketStatusNode:
    """Ticket status by phone: the AGI server ([hotline-ticket-status]) asks for a ticket code
    (``prompt``), checks its check digit, then reads back the status, the agency and whether the
    answer is ready (the ``READBACK_PROMPTS``, no personal data), and the caller goes to ``next``
    (None: hang up). A mistyped code says ``invalid_prompt``, a code no ticket has
    ``unknown_prompt``, silence ``no_input_prompt``; after ``max_attempts`` failed tries
    ``failure_prompt`` and ``on_failure``. The lookup not running at all: ``unavailable_prompt``,
    then ``on_failure``."""

    name: str
    prompt: str
    next: str | None = None
    timeout: float = 6.0                  # seconds for the first key after the prompt, and between keys
    max_attempts: int = 3
    invalid_prompt: str | None = None     # the check digit is wrong (or too few digits)
    unknown_prompt: str | None = None     # a well-formed code that no ticket has
    no_input_prompt: str | None = None
    failure_prompt: str | None = None     # said after the last failed try, before on_failure
    unavailable_prompt: str | None = None   # the lookup could not run (AGI server or database down)
    on_failure: str = "queue"
    line: int = 0

    # Said by the AGI server for a ticket found: "ticket_status_<status>", then "ticket_agency" and
    # the agency's generated name prompt, then whether the answer is ready.
    STATUSES = TicketStatus.ALL
    FINAL_WITHOUT_ANSWER = (TicketStatus.OUT_OF_SCOPE, TicketStatus.DUPLICATE)   # no "answer ready / not yet" for these
    READBACK_PROMPTS = (*(f"ticket_status_{s}" for s in STATUSES), "ticket_agency", "ticket_answer_ready",
                        "ticket_answer_not_ready")


@dataclass(frozen=True)
class SurveyNode:
    """After an operator hung up first: 1 satisfied, 2 normal, 3 not satisfied. No answer stores nothing."""

    name: str
    prompt: str
    thanks_prompt: str | None = None
    timeout: float = 6.0
    max_attempts: int = 2
    invalid_prompt: str | None = None
    line: int = 0

    SCORES = {"1": 1, "2": 2, "3": 3}


@dataclass(frozen=True)
class HangupNode:
    """Say goodbye (optional) and hang up."""

    name: str
    prompt: str | None = None
    line: int = 0


Node = (PlayNode | HoursNode | MenuNode | CodeEntryNode | TransferNode | QueueNode | CallbackNode
        | VoicemailNode | TicketStatusNode | SurveyNode | HangupNode)


@dataclass(frozen=True)
class Flow:
    """A validated IVR flow."""

    name: str
    start: str
    nodes: dict[str, Node]
    prompts: dict[str, str] = field(default_factory=dict)   # prompt name -> Vietnamese text (templated)
    source: str = ""                                         # file it came from

    def node(self, name: str) -> Node:
        return self.nodes[name]
