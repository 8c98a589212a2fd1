"""The operator queue's Vietnamese sounds: app_queue's announcements and the digits it reads.

app_queue plays its sounds by name (queue-thereare, digits/5...) in the caller's language;
the dialplan sets it to ``vi``, and Asterisk's data dir links ``sounds/vi`` to
``<state_dir>/sounds/vi`` (hotline.adapters.asterisk_config). The texts are data:
``ivr_flows/queue_sounds.yaml``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from hotline.adapters.asterisk_config import sounds_dir
from hotline.adapters.programs import Progress
from hotline.adapters.prompts import render_texts
from hotline.config.settings import REPO_ROOT
from hotline.domain.errors import ConfigError
from hotline.domain.yamlio import load_yaml

SOUNDS_FILE = REPO_ROOT / "ivr_flows" / "queue_sounds.yaml"
#: What app_queue plays (Asterisk 22 app_queue.c say_position, periodic announcements).
REQUIRED = ("queue-thereare", "queue-callswaiting", "queue-youarenext", "queue-holdtime", "queue-minute",
            "queue-minutes", "queue-seconds", "queue-thankyou", "queue-periodic-announce")
#: What Asterisk's Vietnamese number rules (say.c ast_say_number_full_vi) play for 0..999.
REQUIRED_DIGITS = tuple(str(n) for n in range(20)) + tuple(str(n) for n in range(20, 100, 10)) + (
    "1a", "4a", "5a", "hundred", "odd")


def load_queue_sounds(path: Path = SOUNDS_FILE) -> tuple[dict[str, str], dict[str, str]]:
    """(sounds, digits): name -> Vietnamese text; ConfigError naming the line on a mistake."""
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(path, None, "expected a mapping with 'sounds' and 'digits'",
                          'write sounds: {queue-thereare: "Quý vị đang ở vị trí số", ...} and digits: {...}')
    parts: list[dict[str, str]] = []
    for section, required in (("sounds", REQUIRED), ("digits", REQUIRED_DIGITS)):
        table = data.get(section)
        if not isinstance(table, dict):
            raise ConfigError(path, getattr(data, "line_of", lambda _k: None)(section),
                              f"'{section}' is missing or not a mapping", f"write {section}: followed by name: text")
        texts = {str(k): str(v).strip() for k, v in table.items()}
        missing = [name for name in required if not texts.get(name)]
        if missing:
            raise ConfigError(path, getattr(table, "line", None), f"{section} lacks {', '.join(missing)}",
                              f'add e.g. {missing[0]}: "…" (the Vietnamese text to speak)')
        parts.append(texts)
    return parts[0], parts[1]


def render_queue_sounds(settings: Any, progress: Progress, path: Path = SOUNDS_FILE) -> dict[str, Path]:
    """Render every queue sound into ``<state_dir>/sounds/vi`` (unchanged ones are skipped)."""
    sounds, digits = load_queue_sounds(path)
    out = sounds_dir(settings)
    recorded = Path(settings.paths.prompts_dir) / "queue"
    rendered = render_texts(sounds, recorded, out, progress)
    rendered.update({f"digits/{name}": p
                     for name, p in render_texts(digits, recorded / "digits", out / "digits", progress).items()})
    return rendered
