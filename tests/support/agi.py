"""What the AGI server's handlers use of pyst2's AGI, for unit tests: the channel's environment and the variables
a handler sets (read back by the test as the dialplan would)."""
from __future__ import annotations

from typing import Any


class RecordingAgi:
    def __init__(self, **env: Any) -> None:
        self.env = dict(env)
        self.variables: dict[str, str] = {}

    def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value
