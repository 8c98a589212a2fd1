"""Reading the province settings: the file, the environment overrides, and where each key is in the text.

``load_settings()`` is called once by each process's composition root; nothing here reads a file at
import time. A mistake in the file raises ``ConfigError`` naming the file, the line of the offending key
(``toml_key_lines``: tomllib gives no line numbers) and what to write instead.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticUndefined

from hotline.config.schema import REPO_ROOT, PathSettings, Settings
from hotline.domain.errors import ConfigError

#: Environment variables that override a key of the file (they win).
ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "HOTLINE_SIP_PORT": ("sip", "port"),
    "HOTLINE_SIP_BIND": ("sip", "bind"),
    "HOTLINE_HTTP_BIND": ("asterisk", "http_bind"),
    "HOTLINE_AMI_BIND": ("asterisk", "ami_bind"),
    "HOTLINE_AMI_PERMIT": ("asterisk", "ami_permit"),
    "HOTLINE_SYSTEM_NAME": ("asterisk", "system_name"),
    "HOTLINE_AGI_BIND": ("agi", "bind"),
    "HOTLINE_ASTERISK_ROOT": ("asterisk", "root"),
    "HOTLINE_HTTP_PORT": ("asterisk", "http_port"),
    "HOTLINE_AMI_PORT": ("asterisk", "ami_port"),
    "HOTLINE_AGI_PORT": ("agi", "port"),
    "HOTLINE_CONSOLE_PORT": ("console", "port"),
    "HOTLINE_PUBLIC_PORT": ("public", "port"),
    "HOTLINE_SIP_WEBSOCKET_URL": ("console", "sip_websocket_url"),
    "HOTLINE_STATE_DIR": ("paths", "state_dir"),
    "HOTLINE_RECORDINGS_ROOT": ("paths", "recordings_root"),
    "HOTLINE_FLOW": ("paths", "flow"),
    "HOTLINE_DIRECTORY": ("paths", "directory"),
    "HOTLINE_DATABASE_URL": ("database", "url"),
    "HOTLINE_REDIS_URL": ("redis", "url"),
    "HOTLINE_REDIS_PORT": ("redis", "port"),
    "HOTLINE_VOSK_MODEL": ("transcription", "model_dir"),
    "HOTLINE_TRANSCRIPTION_ENGINE": ("transcription", "engine"),
    "HOTLINE_SMTP_PORT": ("notifications", "smtp_port"),
    "HOTLINE_NODE": ("cluster", "node"),
    "HOTLINE_CALLBACK_DIAL": ("callback", "dial"),
    "HOTLINE_CALLBACK_ATTEMPTS": ("callback", "attempts"),
    "HOTLINE_CALLBACK_RETRY_MINUTES": ("callback", "retry_minutes"),
    "HOTLINE_REGISTRAR": ("cluster", "registrar"),
    "HOTLINE_CLUSTER_PEERS": ("cluster", "peers"),
}
_REQUIRED_EXAMPLES = {
    "province": 'add a [province] table with name = "Đồng Tháp" and area_code = "0277"',
    "province.name": 'add name = "Đồng Tháp"', "province.area_code": 'add area_code = "0277"',
    "date": "add date = 2027-02-11", "name": 'add name = "Nghỉ Tết Nguyên Đán"',
}
_PLAIN = {"extra_forbidden": "unknown key", "missing": "missing"}


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the province settings; environment overrides win over the file.

    Args:
        path: the settings file; default ``$HOTLINE_SETTINGS``, else ``<repo>/province.toml``.
        env: the environment to read overrides from; default ``os.environ``.
    """
    env = os.environ if env is None else env
    if path is None:
        path = Path(env["HOTLINE_SETTINGS"]) if env.get("HOTLINE_SETTINGS") else REPO_ROOT / "province.toml"
    path = Path(os.path.abspath(Path(path).expanduser()))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read the settings file ({exc.strerror})",
                          "copy the sample province.toml there, or set HOTLINE_SETTINGS to its path") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+)", str(exc))
        message = f"not valid TOML: {str(exc).split(' (at ')[0]}"
        hint = 'check quotes and brackets on that line, e.g. name = "Đồng Tháp"'
        raise ConfigError(path, int(found[1]) if found else None, message, hint) from exc
    from_env = _apply_env(raw, env)
    try:
        settings = Settings.model_validate(raw, context={"base": path.parent})
    except ValidationError as exc:
        raise _config_error(exc, path, text, from_env) from None
    settings._source = path
    settings._repo_root = REPO_ROOT
    return settings


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> dict[tuple[str, str], str]:
    applied: dict[tuple[str, str], str] = {}
    for name, (table, key) in ENV_OVERRIDES.items():
        value = env.get(name)
        if not value:
            continue
        section = raw.setdefault(table, {})
        if isinstance(section, dict):
            is_path = key in PathSettings.model_fields or key == "root"
            section[key] = os.path.abspath(Path(value).expanduser()) if is_path else value
            applied[(table, key)] = name
    return applied


def _config_error(exc: ValidationError, path: Path, text: str, from_env: Mapping[Any, str]) -> ConfigError:
    """The first validation error as a ConfigError (the others are added as notes)."""
    lines = toml_key_lines(text)
    errors: list[ConfigError] = []
    for err in exc.errors():
        ctx = err.get("ctx") or {}
        loc = tuple(err["loc"]) + tuple(ctx.get("at", ()))
        dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "settings"
        hint = ctx["hint"] if err["type"] == "hotline" else _generic_hint(err["type"], loc)
        plain = ctx["message"] if err["type"] == "hotline" else _PLAIN.get(err["type"], err["msg"])
        message = f"{dotted}: {plain}"
        env_name = from_env.get(loc[:2])
        if env_name:
            errors.append(ConfigError(f"environment variable {env_name}", None, message, hint))
            continue
        line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
        errors.append(ConfigError(path, line, message, hint))
    first = errors[0]
    for other in errors[1:]:
        first.add_note(str(other))
    return first


def _generic_hint(error_type: str, loc: tuple[Any, ...]) -> str:
    keys = [p for p in loc if isinstance(p, str)]
    if error_type == "extra_forbidden":
        model = _model_at(loc[:-1])
        valid = ", ".join(model.model_fields) if model else ""
        where = f"[{'.'.join(keys[:-1])}]" if len(keys) > 1 else "the file"
        return f"valid keys in {where}: {valid}"
    if error_type == "missing":
        fallback = _REQUIRED_EXAMPLES.get(keys[-1], f"add {keys[-1]} = ...")
        return _REQUIRED_EXAMPLES.get(".".join(keys), fallback)
    if error_type.startswith(("date_", "datetime_")):
        return "write a date as YYYY-MM-DD without quotes, e.g. 2027-02-11"
    if error_type in ("model_type", "dict_type"):
        return f"write a [{'.'.join(keys)}] table of keys"
    model = _model_at(loc[:-1])
    field = model.model_fields.get(str(loc[-1])) if model else None
    if field is not None and field.default is not PydanticUndefined:
        return f"e.g. {keys[-1]} = {_toml_repr(field.default)}"
    return "see the sample province.toml"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        inner = getattr(annotation, "__args__", (annotation,))[0]
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return None
        model = inner
    return model


def _toml_repr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dt.time):
        return f'"{value:%H:%M}"'
    return json.dumps(str(value), ensure_ascii=False)


# --- where a key is in the TOML text (tomllib gives no line numbers) ---------

_KEY = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED = rf"{_KEY}(?:[ \t]*\.[ \t]*{_KEY})*"
_HEADER_RE = re.compile(rf"(\[\[?)[ \t]*({_DOTTED})[ \t]*\]")
_ASSIGN_RE = re.compile(rf"({_DOTTED})[ \t]*=[ \t]*")
_STRING_RE = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'')
_GAP_RE = re.compile(r"(?:\s|#[^\n]*)*")


def toml_key_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """Map each key path (array items as int indexes) of a valid TOML text to its line number."""
    found: dict[tuple[str | int, ...], int] = {}
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]

    def line_at(pos: int) -> int:
        return sum(1 for n in newlines if n < pos) + 1

    def value(pos: int, path: tuple[str | int, ...]) -> int:
        """Scan one value starting at pos; record nested keys and items; return the end."""
        if text.startswith(("[", "{"), pos):
            closing, index = "]" if text[pos] == "[" else "}", 0
            pos = _GAP_RE.match(text, pos + 1).end()  # type: ignore[union-attr]
            while pos < len(text) and text[pos] != closing:
                if closing == "}" and (m := _ASSIGN_RE.match(text, pos)):
                    key = path + _split_key(m[1])
                    found.setdefault(key, line_at(pos))
                    pos = value(m.end(), key)
                else:
                    found.setdefault(path + (index,), line_at(pos))
                    pos = value(pos, path + (index,))
                    index += 1
                pos = _GAP_RE.match(text, pos).end()  # type: ignore[union-attr]
                if text.startswith(",", pos):
                    pos = _GAP_RE.match(text, pos + 1).end()  # type: ignore[union-attr]
            return pos + 1
        if m := _STRING_RE.match(text, pos):
            return m.end()
        return re.compile(r"[^,\]\}\n#]*").match(text, pos).end() or pos + 1  # type: ignore[union-attr]

    table: tuple[str | int, ...] = ()
    counts: dict[tuple[str | int, ...], int] = {}
    pos = _GAP_RE.match(text, 0).end()  # type: ignore[union-attr]
    while pos < len(text):
        if m := _HEADER_RE.match(text, pos):
            table = _split_key(m[2])
            if m[1] == "[[":
                found.setdefault(table, line_at(pos))
                counts[table] = counts.get(table, -1) + 1
                table = table + (counts[table],)
            found.setdefault(table, line_at(pos))
            pos = text.find("\n", m.end()) if "\n" in text[m.end():] else len(text)
        elif m := _ASSIGN_RE.match(text, pos):
            key = table + _split_key(m[1])
            found.setdefault(key, line_at(pos))
            pos = value(m.end(), key)
        else:
            pos = text.find("\n", pos) if "\n" in text[pos:] else len(text)
        pos = _GAP_RE.match(text, pos).end()  # type: ignore[union-attr]
    return found


def _split_key(dotted: str) -> tuple[str, ...]:
    return tuple(part.strip("\"'") for part in re.findall(_KEY, dotted))
