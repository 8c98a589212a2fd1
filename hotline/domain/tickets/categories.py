"""The ticket categories (ticket_categories.yaml): data a province edits, validated on load."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotline.domain.errors import ConfigError, ConfigErrors
from hotline.domain.yamlio import LineDict, LineList, load_yaml

DEADLINES = (8.0, 48.0)


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    deadline_hours: float
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "deadline_hours": self.deadline_hours,
                "description": self.description}


class Categories:
    """The categories in file order; the first is a voicemail's until an operator reads it."""

    def __init__(self, entries: tuple[Category, ...]) -> None:
        self.entries = entries
        self._by_code = {c.code: c for c in entries}

    @property
    def default(self) -> Category:
        return self.entries[0]

    def get(self, code: str) -> Category:
        try:
            return self._by_code[code]
        except KeyError:
            known = ", ".join(self._by_code)
            raise LookupError(f"no ticket category {code!r}; the categories are: {known}") from None

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __len__(self) -> int:
        return len(self.entries)


def load_categories(path: Path) -> Categories:
    """Read ticket_categories.yaml; raises ConfigErrors naming the line of each mistake."""
    data = load_yaml(path)
    items = data.get("categories") if isinstance(data, LineDict) else None
    if not isinstance(items, LineList) or not items:
        raise ConfigErrors([ConfigError(path, getattr(data, "line", None), "no 'categories:' list",
                                        "write categories: followed by entries with code, name, deadline_hours")])
    errors: list[ConfigError] = []
    entries: list[Category] = []
    for index, item in enumerate(items):
        line = items.line_of(index)
        if not isinstance(item, LineDict):
            errors.append(ConfigError(path, line, "an entry is not a mapping", "write code:, name:, deadline_hours:"))
            continue
        code, name, hours = item.get("code"), item.get("name"), item.get("deadline_hours")
        unknown = set(item) - {"code", "name", "description", "deadline_hours"}
        for key in sorted(unknown, key=str):
            errors.append(ConfigError(path, item.line_of(key), f"unknown key {key!r}",
                                      "use code, name, description and deadline_hours"))
        if not isinstance(code, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", code):
            errors.append(ConfigError(path, item.line_of("code"), f"code {code!r} is not a short lower-case name",
                                      'write e.g. code: procedures'))
            continue
        if not isinstance(name, str) or not name.strip():
            errors.append(ConfigError(path, item.line_of("name"), f"category {code} has no name",
                                      'write e.g. name: "Thủ tục hành chính"'))
            continue
        if not isinstance(hours, (int, float)) or isinstance(hours, bool) or float(hours) not in DEADLINES:
            errors.append(ConfigError(path, item.line_of("deadline_hours"),
                                      f"deadline_hours {hours!r} of {code} is neither 8 nor 48",
                                      "write deadline_hours: 8 or deadline_hours: 48"))
            continue
        if any(c.code == code for c in entries):
            errors.append(ConfigError(path, line, f"category {code} appears twice", "keep one entry per code"))
            continue
        entries.append(Category(code, name.strip(), float(hours), str(item.get("description") or "").strip()))
    if errors:
        raise ConfigErrors(errors)
    return Categories(tuple(entries))
