"""SIPp phones for the integration tests: each operator name gets its own UDP port on this stack.

Ports are handed out one after another from FIRST_PHONE_PORT, moved by the stack's offset (pytest-xdist's
worker gw<n>, see stack.shifted_port), so no two phones of one test run, nor of two stacks, share one.
"""
from __future__ import annotations

from dataclasses import dataclass

from .stack import DESK_PORTS, STACK_PORT_STEP, shifted_port

#: The first SIPp phone port of stack 0 (the desks' fixed ports lie below it).
FIRST_PHONE_PORT = 15281
#: How many phones one stack may run: the next stack's ports start STACK_PORT_STEP higher.
PHONE_PORTS = STACK_PORT_STEP - (FIRST_PHONE_PORT - min(DESK_PORTS.values()))


@dataclass(frozen=True)
class Phone:
    """A SIPp phone standing in for an operator's (or a supervisor's) desk phone."""

    name: str
    port: int

    @property
    def contact(self) -> str:
        """The SIP contact `hotline operators add --contact` takes."""
        return f"sip:{self.name}@127.0.0.1:{self.port}"


class Phones:
    """Hands out a port per phone name; asking again for a name gives the same phone."""

    def __init__(self, first: int | None = None) -> None:
        self._first = shifted_port(FIRST_PHONE_PORT) if first is None else first
        self._given: dict[str, Phone] = {}

    def phone(self, name: str) -> Phone:
        """The phone of ``name``, on a port no other name of this run has."""
        if name not in self._given:
            if len(self._given) >= PHONE_PORTS:
                raise AssertionError(f"more than {PHONE_PORTS} SIPp phones in one test run")
            self._given[name] = Phone(name, self._first + len(self._given))
        return self._given[name]

    def port(self, name: str) -> int:
        return self.phone(name).port

    def phones(self, *names: str) -> dict[str, Phone]:
        """The phones of ``names``, by name, in that order."""
        return {name: self.phone(name) for name in names}
