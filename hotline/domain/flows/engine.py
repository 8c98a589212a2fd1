"""The IVR flow engine: pure (state, event) -> (state, actions).

No I/O and no Asterisk here: the ARI app turns ARI events into the events
below, performs the actions, and logs every transition. The same engine can be
unit-tested key by key.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from hotline.domain.flows.model import (
    CallbackNode,
    CodeEntryNode,
    Flow,
    HangupNode,
    HoursNode,
    MenuNode,
    Node,
    PlayNode,
    QueueNode,
    SurveyNode,
    TicketStatusNode,
    TransferNode,
    VoicemailNode,
)
from hotline.domain.numbers import NumberRefused, outbound_number
from hotline.domain.vocabulary import Disposition

# ----------------------------------------------------------------- ticket status outcomes
TICKET_FOUND = "found"           # a ticket was read back to the caller
TICKET_UNKNOWN = "unknown"       # the last code keyed is no ticket's (set by the AGI after such a try)
TICKET_FAILED = "failed"         # every try failed; the AGI server said the failure prompt
TICKET_ERROR = "error"           # the lookup did not run (set by the dialplan: AGI server unreachable)
TICKET_KEYS_SEPARATOR = "-"      # between the codes of each try, in TICKET_KEYS and the Stasis return

# ----------------------------------------------------------------- where an adopted call is
AT_NODE = "node"                 # in the app, between steps of its node: the node starts again
BRIDGED = "bridged"              # in the app, bridged to a desk
TRANSFERRING = "transferring"    # in the app, its desk's leg ringing or answered but not yet bridged
RECORDING = "recording"          # in the app, a message being recorded
IN_QUEUE = "queue"               # in app_queue (the dialplan)
IN_TICKET_STATUS = "ticket_status"   # in the ticket lookup (the dialplan and the AGI server)
ADOPTION_PLACES = (AT_NODE, BRIDGED, TRANSFERRING, RECORDING, IN_QUEUE, IN_TICKET_STATUS)


# ----------------------------------------------------------------- events
@dataclass(frozen=True)
class PromptsDone:
    """Every prompt of the last Play action has finished (or was stopped)."""


@dataclass(frozen=True)
class Digit:
    key: str


@dataclass(frozen=True)
class InputTimeout:
    """No key within the node's timeout after the prompt ended."""


@dataclass(frozen=True)
class TransferResult:
    answered: bool
    reason: str = ""          # "busy", "noanswer", "failed"


@dataclass(frozen=True)
class BridgeEnded:
    """The desk (or operator) hung up while bridged with the caller."""


@dataclass(frozen=True)
class VoicemailDone:
    ended_by: str             # "pound", "max_duration", "hangup", "failed"
    ticket_code: str = ""     # the message's ticket, when it was saved while the caller is still on
    recorded: bool = True     # False: no message file at all (the caller left during the beep)


@dataclass(frozen=True)
class QueueTimeout:
    """The caller waited the queue's maximum without an operator."""


@dataclass(frozen=True)
class QueueReturned:
    """The caller came back from app_queue: QUEUESTATUS (CONTINUE after an operator hung up first,
    TIMEOUT, JOINEMPTY, LEAVEEMPTY, FULL, …, MESSAGE for the leave-a-message key, CALLBACK for the call-back
    key: then ``caller``, the number they call from, and ``position``, their place when they left)."""

    status: str
    operator: str = ""
    caller: str = ""
    position: int = 0


@dataclass(frozen=True)
class CallbackKept:
    """The app kept the call-back asked for (a row, and a place in the queue), or could not (``ok`` False)."""

    ok: bool


@dataclass(frozen=True)
class TicketStatusReturned:
    """The caller came back from [hotline-ticket-status]: the outcome (found, failed, …) and
    the codes keyed, one per try (a silent try keys nothing)."""

    outcome: str
    keys: tuple[str, ...] = ()


Event = (PromptsDone | Digit | InputTimeout | TransferResult | BridgeEnded | VoicemailDone | QueueTimeout
         | QueueReturned | TicketStatusReturned | CallbackKept)


# ----------------------------------------------------------------- actions
@dataclass(frozen=True)
class Play:
    prompts: tuple[str, ...]
    interruptible: bool = False   # a key stops the playback and is delivered as Digit


@dataclass(frozen=True)
class StopPlayback:
    pass


@dataclass(frozen=True)
class WaitForInput:
    timeout: float


@dataclass(frozen=True)
class Transfer:
    agency: Any                   # hotline.domain.directory.Agency


@dataclass(frozen=True)
class EnterQueue:
    max_wait: float | None       # None: the province's default


@dataclass(frozen=True)
class EnterTicketStatus:
    """Hand the caller to the ticket-status lookup (the AGI server, in the dialplan)."""

    node: str


@dataclass(frozen=True)
class RecordVoicemail:
    max_seconds: float | None


@dataclass(frozen=True)
class KeepCallback:
    """Keep the caller's call-back: a row (the number to call, when asked) and a place in the queue at
    ``position`` (0: the end), which an operator answers to call the citizen back; answer with CallbackKept."""

    number: str
    position: int


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class Note:
    """Something for the call log: a key pressed at a node, the hours gate, a transfer."""

    node: str
    keys: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)


Action = (Play | StopPlayback | WaitForInput | Transfer | EnterQueue | EnterTicketStatus | RecordVoicemail | Hangup
          | Note | KeepCallback)


# ----------------------------------------------------------------- state
@dataclass(frozen=True)
class CallState:
    node: str
    phase: str = "prompt"   # prompt | input | announce | transfer | bridged | queue | ticket_status | voicemail
    #                         | number_prompt | number | keeping (a callback node) | after | done
    attempts: int = 0
    digits: str = ""
    disposition: str = Disposition.ABANDONED_IVR
    callback_number: str = ""     # a callback node: the number to call back (read back, confirmed)
    queue_position: int = 0       # ... and the caller's place in the queue when they left it

    @property
    def label(self) -> str:
        return f"{self.node}:{self.phase}"


Step = tuple[CallState, list[Action]]


class FlowEngine:
    """Walks a validated Flow. ``closed_reason()`` answers the hours gate (None when staffed)."""

    def __init__(self, flow: Flow, directory: Any, closed_reason: Callable[[], str | None],
                 message_problem: Callable[[], str | None] = lambda: None) -> None:
        self.flow = flow
        self.directory = directory
        self.closed_reason = closed_reason
        self.message_problem = message_problem      # why no message can be written now (None: it can)

    def start(self) -> Step:
        return self.enter(self.flow.start, CallState(node=self.flow.start))

    def resume(self, node: str, disposition: str = Disposition.ABANDONED_IVR) -> Step:
        """Re-enter ``node`` after an app restart (unknown names restart the flow)."""
        target = node if node in self.flow.nodes else self.flow.start
        return self.enter(target, CallState(node=target, disposition=disposition))

    def adopt(self, node: str, disposition: str, where: str = AT_NODE) -> Step:
        """Carry on a call another process ran (an app restart), from where Asterisk shows the caller.

        ``where`` is one of ADOPTION_PLACES. At a node (AT_NODE) the node is entered again (its prompt
        played again); a caller still bridged to a desk, whose desk is being dialled (TRANSFERRING, at a
        transfer or code-entry node), recording a message, waiting in app_queue or keying a code in the
        ticket lookup is left where they are: the state says so and no action is taken (the call hears of
        the desk's answer, the bridge's end, the message's end or the return as any other call).
        """
        if where not in ADOPTION_PLACES:
            raise ValueError(f"unknown place of an adopted call: {where!r}")
        if disposition == Disposition.IN_PROGRESS:
            disposition = Disposition.ABANDONED_IVR
        nodes = self.flow.nodes
        if where == BRIDGED:
            known = node if node in nodes else self.flow.start
            return CallState(node=known, phase="bridged", disposition=Disposition.TRANSFERRED), []
        if where == TRANSFERRING and isinstance(nodes.get(node), (TransferNode, CodeEntryNode)):
            return CallState(node=node, phase="transfer", disposition=disposition), []
        if where == RECORDING and isinstance(nodes.get(node), VoicemailNode):
            return CallState(node=node, phase="voicemail", disposition=disposition), []
        if where == IN_QUEUE:
            return CallState(node=self._node_of(node, QueueNode), phase="queue", disposition=Disposition.TO_QUEUE), []
        if where == IN_TICKET_STATUS:
            return CallState(node=self._node_of(node, TicketStatusNode), phase="ticket_status",
                             disposition=disposition), []
        return self.resume(node, disposition)

    def _node_of(self, name: str, kind: type[Node]) -> str:
        """``name`` if it is a node of ``kind``, else the flow's first such node (else its start)."""
        if isinstance(self.flow.nodes.get(name), kind):
            return name
        return next((n for n, v in self.flow.nodes.items() if isinstance(v, kind)), self.flow.start)

    # -- entering a node ------------------------------------------------------
    def enter(self, name: str, state: CallState) -> Step:
        node = self.flow.node(name)
        state = replace(state, node=name, phase="prompt", attempts=0, digits="")
        handler = getattr(self, f"_enter_{type(node).__name__}")
        return handler(node, state)  # type: ignore[no-any-return,unused-ignore]

    def _enter_PlayNode(self, node: PlayNode, state: CallState) -> Step:
        return state, [Play(node.prompts, interruptible=bool(node.options))]

    def _enter_HoursNode(self, node: HoursNode, state: CallState) -> Step:
        reason = self.closed_reason()
        note = Note(node.name, fields={"hours": reason or "open"})
        if reason is None:
            nxt, actions = self.enter(node.open, state)
        else:
            nxt, actions = self.enter(node.closed, replace(state, disposition=Disposition.CLOSED_HOURS))
        return nxt, [note, *actions]

    def _enter_MenuNode(self, node: MenuNode, state: CallState) -> Step:
        return state, [Play((node.prompt,), interruptible=True)]

    def _enter_CodeEntryNode(self, node: CodeEntryNode, state: CallState) -> Step:
        return state, [Play((node.prompt,), interruptible=True)]

    def _enter_TransferNode(self, node: TransferNode, state: CallState) -> Step:
        if node.on_unavailable and self.closed_reason() is not None:    # a closed desk is not dialled
            return self.enter(node.on_unavailable, state)
        if node.prompt:
            return state, [Play((node.prompt,))]
        return self._dial(node, self.directory.find(node.kind, node.code), state)

    def _enter_QueueNode(self, node: QueueNode, state: CallState) -> Step:
        state = replace(state, disposition=Disposition.TO_QUEUE)
        if node.prompt:
            return state, [Play((node.prompt,))]
        return replace(state, phase="queue"), [EnterQueue(node.max_wait)]

    def _enter_VoicemailNode(self, node: VoicemailNode, state: CallState) -> Step:
        if self.message_problem() is not None:
            return self._no_message(node, state)
        if node.prompt:
            return state, [Play((node.prompt,))]
        return replace(state, phase="voicemail"), [RecordVoicemail(node.max_seconds)]

    def _no_message(self, node: VoicemailNode, state: CallState) -> Step:
        """No message can be written now: the caller is told so, never that a message was saved. While
        staffed, a caller who has not waited for an operator yet goes to the queue; anyone else hears
        when to call again and the call ends."""
        queue = self._node_of("", QueueNode)
        if (self.closed_reason() is None and state.disposition != Disposition.TO_QUEUE
                and isinstance(self.flow.nodes.get(queue), QueueNode)):
            nxt, actions = self.enter(queue, state)
            return nxt, _prefix_prompt(actions, node.unavailable_prompt)
        prompts = tuple(p for p in (node.unavailable_prompt, node.call_back_prompt) if p)
        if not prompts:
            return replace(state, phase="done"), [Hangup()]
        return replace(state, phase="after"), [Play(prompts)]

    def _enter_CallbackNode(self, node: CallbackNode, state: CallState) -> Step:
        if state.callback_number:        # "we will call you back at 0 9 1 2 …; 1 to confirm, 2 for another"
            return state, [Play(_confirmation(node, state.callback_number), interruptible=True)]
        return replace(state, phase="number_prompt"), [Play((node.enter_prompt,), interruptible=True)]

    def _enter_TicketStatusNode(self, node: TicketStatusNode, state: CallState) -> Step:
        return replace(state, phase="ticket_status"), [EnterTicketStatus(node.name)]

    def _enter_SurveyNode(self, node: SurveyNode, state: CallState) -> Step:
        return state, [Play((node.prompt,), interruptible=True)]

    def _enter_HangupNode(self, node: HangupNode, state: CallState) -> Step:
        if node.prompt:
            return state, [Play((node.prompt,))]
        return replace(state, phase="done"), [Hangup()]

    # -- events ---------------------------------------------------------------
    def handle(self, state: CallState, event: Event) -> Step:
        """The next state and the actions to perform for ``event``."""
        node = self.flow.node(state.node)
        if isinstance(event, PromptsDone):
            return self._after_prompts(node, state)
        if isinstance(event, Digit):
            return self._digit(node, state, event.key)
        if isinstance(event, InputTimeout):
            return self._timeout(node, state)
        if isinstance(event, TransferResult):
            return self._transfer_result(node, state, event)
        if isinstance(event, BridgeEnded):
            return replace(state, phase="done"), [Hangup()]
        if isinstance(event, VoicemailDone):
            return self._voicemail_done(node, state, event)
        if isinstance(event, QueueTimeout) and isinstance(node, QueueNode) and node.on_timeout:
            return self.enter(node.on_timeout, state)
        if isinstance(event, QueueTimeout):
            return replace(state, phase="done"), [Hangup()]
        if isinstance(event, QueueReturned):
            return self._queue_returned(node, state, event)
        if isinstance(event, TicketStatusReturned):
            return self._ticket_status_returned(node, state, event)
        if isinstance(event, CallbackKept):
            return self._callback_kept(node, state, event)
        return state, []

    def _ticket_status_returned(self, node: Node, state: CallState, event: TicketStatusReturned) -> Step:
        if not isinstance(node, TicketStatusNode) or state.phase != "ticket_status":
            return state, []
        found = event.outcome == TICKET_FOUND
        notes: list[Action] = [Note(node.name, keys=keys, fields={} if found and n == len(event.keys) - 1
                                    else {"invalid": True}) for n, keys in enumerate(event.keys) if keys]
        if found and node.next is None:
            return replace(state, phase="done"), [*notes, Hangup()]
        if found and node.next is not None:
            nxt, actions = self.enter(node.next, state)
            return nxt, [*notes, *actions]
        nxt, actions = self.enter(node.on_failure, state)
        if event.outcome != TICKET_FAILED:      # the lookup never ran: nobody has told the caller why
            actions = _prefix_prompt(actions, node.unavailable_prompt)
        return nxt, [*notes, *actions]

    def _queue_returned(self, node: Node, state: CallState, event: QueueReturned) -> Step:
        if not isinstance(node, QueueNode) or state.phase != "queue":
            return state, []
        status = event.status.upper()
        if status == "CONTINUE":          # answered, then the operator hung up first
            fields = {"queue_outcome": "answered", "hangup_by": "operator"}
            if event.operator:
                fields["operator"] = event.operator
            note, state = Note(node.name, fields=fields), replace(state, disposition=Disposition.ANSWERED)
            target = node.on_operator_hangup
        elif status == "MESSAGE":
            note, target = Note(node.name, keys="1", fields={"queue_outcome": "message"}), \
                node.on_message or node.on_timeout
        elif status == "CALLBACK":
            return self._callback_asked(node, state, event)
        else:
            outcome = {"TIMEOUT": "timeout", "FULL": "full"}.get(status, "empty")   # FULL: [queue] max_waiting
            note, target = Note(node.name, fields={"queue_outcome": outcome}), node.on_timeout
        if target is None:
            return replace(state, phase="done"), [note, Hangup()]
        nxt, actions = self.enter(target, state)
        return nxt, [note, *actions]

    # -- call-back (key 2 while waiting) ----------------------------------------
    def _callback_asked(self, node: QueueNode, state: CallState, event: QueueReturned) -> Step:
        note = Note(node.name, keys="2", fields={"queue_outcome": "callback"})
        target = node.on_callback
        if target is None or not isinstance(self.flow.nodes.get(target), CallbackNode):
            # no call-back in this flow (a key the dialplan has for every flow): back to waiting
            return replace(state, phase="queue"), [note, EnterQueue(node.max_wait)]
        callback = self.flow.nodes[target]
        assert isinstance(callback, CallbackNode)
        if self.closed_reason() is not None:     # the staffed hours ended while they waited: no call-back
            nxt, actions = self.enter(node.on_message or node.on_timeout or callback.on_failure, state)
            return nxt, [note, *_prefix_prompt(actions, callback.unavailable_prompt)]
        state = replace(state, callback_number=_callable(event.caller),
                        queue_position=max(event.position, 0))
        nxt, actions = self.enter(target, state)
        return nxt, [note, *actions]

    def _callback_digit(self, node: CallbackNode, state: CallState, key: str) -> Step:
        stop: list[Action] = [StopPlayback()] if state.phase in ("prompt", "number_prompt") else []
        if state.phase in ("prompt", "input"):
            if key == "1" and state.callback_number:
                return (replace(state, phase="keeping"),
                        [*stop, Note(node.name, keys="1"), KeepCallback(state.callback_number, state.queue_position)])
            if key == "2":
                return (replace(state, phase="number_prompt", digits=""),
                        [*stop, Note(node.name, keys="2"), Play((node.enter_prompt,), interruptible=True)])
            return self._callback_failed(node, state, node.invalid_prompt, stop, key)
        if state.phase not in ("number_prompt", "number"):
            return state, []
        if key == "#":
            return self._callback_number(node, state, stop)
        if not key.isdigit():
            return self._callback_failed(node, state, node.invalid_prompt, stop, state.digits + key)
        digits = state.digits + key
        if len(digits) >= 11:            # the longest Vietnamese number: no '#' needed
            return self._callback_number(node, replace(state, digits=digits), stop)
        return replace(state, phase="number", digits=digits), [*stop, WaitForInput(node.timeout)]

    def _callback_number(self, node: CallbackNode, state: CallState, stop: list[Action]) -> Step:
        number = _callable(state.digits)
        if not number:
            return self._callback_failed(node, state, node.invalid_prompt, stop, state.digits or "#")
        state = replace(state, phase="prompt", digits="", callback_number=number)
        return state, [*stop, Note(node.name, keys=number),
                       Play(_confirmation(node, number), interruptible=True)]

    def _callback_failed(self, node: CallbackNode, state: CallState, say: str | None, stop: list[Action],
                         keys: str | None) -> Step:
        attempts = state.attempts + 1
        note = [Note(node.name, keys=keys, fields={"invalid": True})] if keys else []
        if attempts >= node.max_attempts:
            nxt, actions = self.enter(node.on_failure, state)
            return nxt, [*stop, *note, *actions]
        again = state.phase in ("number_prompt", "number") or not state.callback_number
        prompts = (node.enter_prompt,) if again else _confirmation(node, state.callback_number)
        phase = "number_prompt" if again else "prompt"
        return (replace(state, phase=phase, attempts=attempts, digits=""),
                [*stop, *note, Play(tuple(p for p in (say, *prompts) if p), interruptible=True)])

    def _callback_kept(self, node: Node, state: CallState, event: CallbackKept) -> Step:
        if not isinstance(node, CallbackNode) or state.phase != "keeping":
            return state, []
        if not event.ok:                 # nothing kept: the caller is told, and goes on (e.g. waits again)
            nxt, actions = self.enter(node.on_failure, state)
            return nxt, _prefix_prompt(actions, node.unavailable_prompt)
        state = replace(state, disposition=Disposition.CALLBACK)
        if node.done_prompt:
            return replace(state, phase="after"), [Play((node.done_prompt,))]
        return replace(state, phase="done"), [Hangup()]

    def _after_prompts(self, node: Node, state: CallState) -> Step:
        if state.phase == "after" or state.phase == "done":
            return replace(state, phase="done"), [Hangup()]
        if isinstance(node, CallbackNode) and state.phase in ("prompt", "number_prompt"):
            return (replace(state, phase="input" if state.phase == "prompt" else "number"),
                    [WaitForInput(node.timeout)])
        if state.phase == "announce" and isinstance(node, CodeEntryNode):
            return self._dial(node, self.directory.find(node.kind, state.digits), state)
        if state.phase != "prompt":
            return state, []
        if isinstance(node, PlayNode):
            return self.enter(node.next, state)
        if isinstance(node, (MenuNode, CodeEntryNode, SurveyNode)):
            return replace(state, phase="input"), [WaitForInput(node.timeout)]
        if isinstance(node, TransferNode):
            return self._dial(node, self.directory.find(node.kind, node.code), state)
        if isinstance(node, QueueNode):
            return replace(state, phase="queue"), [EnterQueue(node.max_wait)]
        if isinstance(node, VoicemailNode):
            if self.message_problem() is not None:      # the disk filled while the prompt played
                return self._no_message(node, state)
            return replace(state, phase="voicemail"), [RecordVoicemail(node.max_seconds)]
        return replace(state, phase="done"), [Hangup()]

    def _digit(self, node: Node, state: CallState, key: str) -> Step:
        if isinstance(node, CallbackNode):
            return self._callback_digit(node, state, key)
        if state.phase not in ("prompt", "input"):
            return state, []
        if isinstance(node, MenuNode):
            return self._menu_digit(node, state, key)
        if isinstance(node, PlayNode) and state.phase == "prompt" and key in node.options:
            nxt, actions = self.enter(node.options[key], state)
            return nxt, [StopPlayback(), Note(node.name, keys=key), *actions]
        if isinstance(node, SurveyNode):
            return self._survey_digit(node, state, key)
        if isinstance(node, CodeEntryNode):
            return self._code_digit(node, state, key)
        return state, []

    def _menu_digit(self, node: MenuNode, state: CallState, key: str) -> Step:
        stop: list[Action] = [StopPlayback()] if state.phase == "prompt" else []
        target = node.options.get(key)
        if target is None:
            return self._failed(node, state, node.invalid_prompt, stop, key)
        nxt, actions = self.enter(target, state)
        return nxt, [*stop, Note(node.name, keys=key), *actions]

    def _survey_digit(self, node: SurveyNode, state: CallState, key: str) -> Step:
        stop: list[Action] = [StopPlayback()] if state.phase == "prompt" else []
        score = node.SCORES.get(key)
        if score is None:
            return self._failed(node, state, node.invalid_prompt, stop, key)
        note = Note(node.name, keys=key, fields={"survey_score": score})
        if node.thanks_prompt:
            return replace(state, phase="after"), [*stop, note, Play((node.thanks_prompt,))]
        return replace(state, phase="done"), [*stop, note, Hangup()]

    def _code_digit(self, node: CodeEntryNode, state: CallState, key: str) -> Step:
        stop: list[Action] = [StopPlayback()] if state.phase == "prompt" else []
        if key == node.list_key and node.on_list:      # a list too long to read: an operator finds it by name
            nxt, actions = self.enter(node.on_list, state)
            return nxt, [*stop, Note(node.name, keys=state.digits + key), *actions]
        if key == node.list_key and not state.digits and node.list_prompt:
            return replace(state, phase="prompt"), [*stop, Note(node.name, keys=key),
                                                    Play((node.list_prompt, node.prompt), interruptible=True)]
        if not key.isdigit():
            return self._failed(node, state, node.invalid_prompt, stop, state.digits + key)
        digits = state.digits + key
        if len(digits) < node.digits:
            return replace(state, phase="input", digits=digits), [*stop, WaitForInput(node.timeout)]
        agency = self.directory.find(node.kind, digits)
        if agency is None:
            return self._failed(node, state, node.invalid_prompt, stop, digits)
        if node.transfer_prompt:   # "please hold, transferring…", then dial
            return (replace(state, phase="announce", digits=digits),
                    [*stop, Note(node.name, keys=digits), Play((node.transfer_prompt,))])
        nxt, actions = self._dial(node, agency, replace(state, digits=digits))
        return nxt, [*stop, Note(node.name, keys=digits), *actions]

    def _timeout(self, node: Node, state: CallState) -> Step:
        if isinstance(node, CallbackNode) and state.phase == "number" and state.digits:   # no '#': the number ends
            return self._callback_number(node, state, [])
        if isinstance(node, CallbackNode) and state.phase in ("input", "number"):
            return self._callback_failed(node, state, node.no_input_prompt, [], None)
        if state.phase != "input" or not isinstance(node, (MenuNode, CodeEntryNode, SurveyNode)):
            return state, []
        if isinstance(node, SurveyNode):
            return self._failed(node, state, None, [], None)
        if state.digits:   # a code half keyed counts as a wrong code
            return self._failed(node, state, node.invalid_prompt, [], state.digits)
        return self._failed(node, state, node.no_input_prompt, [], None)

    def _failed(self, node: MenuNode | CodeEntryNode | SurveyNode, state: CallState, say: str | None,
                stop: list[Action], keys: str | None) -> Step:
        attempts = state.attempts + 1
        note = [Note(node.name, keys=keys, fields={"invalid": True})] if keys else []
        if isinstance(node, SurveyNode) and attempts >= node.max_attempts:   # no answer: nothing stored
            return replace(state, phase="done"), [*stop, *note, Hangup()]
        if isinstance(node, SurveyNode):
            prompts = tuple(p for p in (say, node.prompt) if p)
            return (replace(state, phase="prompt", attempts=attempts),
                    [*stop, *note, Play(prompts, interruptible=True)])
        if attempts >= node.max_attempts:
            nxt, actions = self.enter(node.on_failure, state)
            return nxt, [*stop, *note, *actions]
        prompts = tuple(p for p in (say, node.prompt) if p)
        return (replace(state, phase="prompt", attempts=attempts, digits=""),
                [*stop, *note, Play(prompts, interruptible=True)])

    def _dial(self, node: TransferNode | CodeEntryNode, agency: Any, state: CallState) -> Step:
        target = f"{agency.kind}:{agency.code}"
        return (replace(state, phase="transfer"),
                [Note(node.name, fields={"transfer_target": target}), Transfer(agency)])

    def _transfer_result(self, node: Node, state: CallState, event: TransferResult) -> Step:
        if state.phase != "transfer":
            return state, []
        if event.answered:
            return (replace(state, phase="bridged", disposition=Disposition.TRANSFERRED),
                    [Note(node.name, fields={"transfer_outcome": "answered"})])
        fallback = (getattr(node, "on_unavailable", None) or getattr(node, "on_transfer_failure", None)
                    or getattr(node, "on_failure", None))
        note = Note(node.name, fields={"transfer_outcome": event.reason or "failed"})
        if not fallback:
            return replace(state, phase="done"), [note, Hangup()]
        busy = getattr(node, "busy_prompt", None) or self._optional_prompt("desk_unavailable")
        nxt, actions = self.enter(fallback, replace(state, disposition=Disposition.TRANSFER_FAILED))
        return nxt, [note, *_prefix_prompt(actions, busy)]

    def _voicemail_done(self, node: Node, state: CallState, event: VoicemailDone) -> Step:
        if state.phase != "voicemail":
            return state, []
        if event.ended_by == "failed":     # Asterisk could not write it (disk full…): never say "saved"
            if event.recorded:
                state = replace(state, disposition=Disposition.VOICEMAIL)
            sorry = tuple(p for p in (getattr(node, "failed_prompt", None), getattr(node, "call_back_prompt", None))
                          if p)
            return (replace(state, phase="after"), [Play(sorry)]) if sorry else \
                (replace(state, phase="done"), [Hangup()])
        if not event.recorded:    # no message: the disposition stays (closed_hours, to_queue…)
            return replace(state, phase="done"), [Hangup()]
        state = replace(state, disposition=Disposition.VOICEMAIL)
        prompts = [*_code_readback(node, event.ticket_code)] if isinstance(node, VoicemailNode) else []
        after = getattr(node, "after_prompt", None)
        if after:
            prompts.append(after)
        if event.ended_by == "hangup" or not prompts:
            return replace(state, phase="done"), [Hangup()]
        return replace(state, phase="after"), [Play(tuple(prompts))]

    def _optional_prompt(self, name: str) -> str | None:
        return name if name in self.flow.prompts else None


def _code_readback(node: VoicemailNode, code: str) -> list[str]:
    """The ticket code read back twice, digit by digit ("digit:N" is the spoken digit N)."""
    if not code or not node.code_prompt:
        return []
    digits = [f"digit:{d}" for d in code if d.isdigit()]
    again = [node.code_again_prompt] if node.code_again_prompt else [node.code_prompt]
    return [node.code_prompt, *digits, *again, *digits]


def _callable(text: str) -> str:
    """``text`` as the outbound route dials it, or "" for a number it never calls (international, premium…)."""
    try:
        return outbound_number(text).number
    except NumberRefused:
        return ""


def _confirmation(node: CallbackNode, number: str) -> tuple[str, ...]:
    """"We will call you back at", the number digit by digit, "1 to confirm, 2 for another"."""
    return (node.prompt, *(f"digit:{d}" for d in number), node.confirm_prompt)


def _prefix_prompt(actions: list[Action], prompt: str | None) -> list[Action]:
    """Say ``prompt`` first when the next node starts by playing something."""
    if prompt and actions and isinstance(actions[0], Play):
        first = actions[0]
        return [Play((prompt, *first.prompts), first.interruptible), *actions[1:]]
    return actions
