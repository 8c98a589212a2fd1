"""Ticket status by phone (key 5): what [hotline-ticket-status] asks the AGI server.

The caller keys a ticket code; its check digit is checked before the database is asked; a
ticket found is read back as its status, the agency handling it and whether the answer is
ready. Nothing personal is ever read out (no name, no content, no answer text). A mistyped
code, a code no ticket has, or silence: the caller is told so and asked again, up to the
node's ``max_attempts``.

For the ARI app the handler sets, on the caller's channel, ``TICKET_OUTCOME`` (``found``;
``unknown`` after a failed try; ``failed`` after the last one; ``error`` when the lookup could
not be made) and ``TICKET_KEYS`` (the codes keyed, one per try, joined by ``-``). One log line
per lookup, with the call id and never the caller's number.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

from asterisk.agi import AGIError

from hotline.adapters.prompts import agency_prompt
from hotline.domain.flows.engine import TICKET_ERROR, TICKET_FAILED, TICKET_FOUND, TICKET_KEYS_SEPARATOR, TICKET_UNKNOWN
from hotline.domain.flows.model import Flow, TicketStatusNode
from hotline.domain.tickets import codes

from .server import Handler

log = logging.getLogger("agi.ticket_status")

OUTCOME_VAR = "TICKET_OUTCOME"
KEYS_VAR = "TICKET_KEYS"


class TicketLookup(Protocol):
    """What the handler needs from the ticket service (``hotline.services.tickets.TicketService``)."""

    def phone_status(self, code: str) -> dict[str, Any] | None: ...


class TicketStatusHandlers:
    """The ``ticket_status`` route: up to ``max_attempts`` tries, then the outcome for the ARI app."""

    def __init__(self, tickets: TicketLookup, flow: Flow, prompts_dir: Path, code_digits: int) -> None:
        self.tickets = tickets
        self.flow = flow
        self.prompts = prompts_dir
        self.digits = code_digits

    def routes(self) -> dict[str, Handler]:
        return {"ticket_status": self.ticket_status}

    def ticket_status(self, agi: Any, args: list[str]) -> None:
        """Args: call id, the flow's ticket_status node (its prompts, timeout and tries)."""
        call_id = args[0] if args and args[0] else agi.env.get("agi_uniqueid", "?")
        node = self._node(args[1] if len(args) > 1 else "")
        keys: list[str] = []
        try:
            self._tries(agi, call_id, node, keys)
        except AGIError as exc:     # the caller hung up (Asterisk answers 511 or HANGUP)
            log.info("call=%s ticket_status: the caller hung up (codes keyed: %d; %s)", call_id,
                     len([k for k in keys if k]), type(exc).__name__)

    def _tries(self, agi: Any, call_id: str, node: TicketStatusNode, keys: list[str]) -> None:
        reason: str | None = None
        for attempt in range(1, node.max_attempts + 1):
            code = self._ask(agi, node, reason)
            keys.append(code)
            agi.set_variable(KEYS_VAR, TICKET_KEYS_SEPARATOR.join(keys))
            outcome, ticket = self._look_up(call_id, code)
            log.info("call=%s ticket_status try %d/%d: %s%s", call_id, attempt, node.max_attempts, outcome,
                     f" code={code} status={ticket['status']}" if ticket else "")
            if outcome == TICKET_ERROR:
                agi.set_variable(OUTCOME_VAR, TICKET_ERROR)
                return
            if ticket is not None:
                agi.set_variable(OUTCOME_VAR, TICKET_FOUND)
                self._read_back(agi, call_id, ticket)
                return
            agi.set_variable(OUTCOME_VAR, TICKET_UNKNOWN)
            reason = {"none": node.no_input_prompt, "invalid": node.invalid_prompt}.get(outcome,
                                                                                       node.unknown_prompt)
        self._say(agi, reason)
        self._say(agi, node.failure_prompt)
        agi.set_variable(OUTCOME_VAR, TICKET_FAILED)
        log.info("call=%s ticket_status: %d tries failed", call_id, node.max_attempts)

    def _ask(self, agi: Any, node: TicketStatusNode, reason: str | None) -> str:
        """Say why the last try failed (if it did), then ask for the code; '#' ends it early."""
        self._say(agi, reason)
        keyed = agi.get_data(str(self.prompts / node.prompt), int(node.timeout * 1000), self.digits)
        return str(keyed or "").strip()

    def _look_up(self, call_id: str, code: str) -> tuple[str, dict[str, Any] | None]:
        """("none" | "invalid" | "unknown" | "found" | "error", the ticket as the phone may say it)."""
        if not code:
            return "none", None
        if not codes.is_valid(code, self.digits):     # a mistyped code never reaches the database
            return "invalid", None
        try:
            ticket = self.tickets.phone_status(code)
        except Exception:
            log.exception("call=%s ticket_status: the lookup failed", call_id)
            return TICKET_ERROR, None
        return (TICKET_FOUND, ticket) if ticket else (TICKET_UNKNOWN, None)

    def _read_back(self, agi: Any, call_id: str, ticket: dict[str, Any]) -> None:
        """The status, the agency handling it, whether the answer is ready: nothing personal."""
        status = str(ticket["status"])
        self._say(agi, f"ticket_status_{status}")
        agency = ticket.get("agency")
        if agency:
            name = agency_prompt(agency["kind"], agency["code"])
            if (self.prompts / f"{name}.wav").is_file():
                self._say(agi, "ticket_agency")
                self._say(agi, name)
            else:
                log.warning("call=%s no prompt %s.wav for the ticket's agency; run the set-up again", call_id, name)
        if status not in TicketStatusNode.FINAL_WITHOUT_ANSWER:
            self._say(agi, "ticket_answer_ready" if ticket.get("answer_ready") else "ticket_answer_not_ready")

    def _say(self, agi: Any, prompt: str | None) -> None:
        if prompt:
            agi.stream_file(str(self.prompts / prompt))

    def _node(self, name: str) -> TicketStatusNode:
        node = self.flow.nodes.get(name)
        if isinstance(node, TicketStatusNode):
            return node
        found = next((n for n in self.flow.nodes.values() if isinstance(n, TicketStatusNode)), None)
        if found is None:
            raise LookupError(f"the flow {self.flow.source} has no ticket_status node")
        if name:
            log.warning("ticket_status: no ticket_status node %r in the flow; using %r", name, found.name)
        return found
