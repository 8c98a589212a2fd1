"""The transfer directory: departments, districts, communes and offices callers are put through to.

``transfer_directory/*.yaml`` lists every agency with the code callers key (its
kind's length: ``CODE_DIGITS``), its one-stop desk (a SIP endpoint on this
Asterisk, or any dial string) and its focal points, who receive forwarded
tickets. ``load_directory`` checks everything and reports all mistakes at once,
each with its file and line.

Two tiers: the seeds' structure (17 departments, 12 districts) and, since
1 July 2025, a merged province's departments and its communes, wards and
special zones ("xã, phường, đặc khu": kind ``commune``, 3-digit codes, as a
merged province has 60 to 160 of them).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from hotline.domain.errors import ConfigError, ConfigErrors
from hotline.domain.yamlio import LineDict, LineList, load_yaml

AgencyKind = Literal["department", "district", "commune", "provincial_office", "postal_service"]
KINDS: tuple[str, ...] = get_args(AgencyKind)
SINGLE_KINDS = ("provincial_office", "postal_service")   # exactly one of each
CODE_DIGITS: dict[str, int] = {"department": 2, "district": 2, "commune": 3, "provincial_office": 2,
                               "postal_service": 2}
"""How many digits each kind's codes have: 3 for communes (a merged province has up to ~160), else 2."""

_ENTRY_KEYS = ("code", "kind", "name", "desk", "focal_points")
_DESK_KEYS = ("endpoint", "contact", "dial")
_FOCAL_KEYS = ("name", "email", "phone")
_ENDPOINT_RE = re.compile(r"^[a-z0-9-]+$")
_EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_PHONE_RE = re.compile(r"^\+?[0-9]{3,15}$")

Report = Callable[[int | None, str, str], None]
"""Records one problem: (line, message, hint)."""


@dataclass(frozen=True)
class Desk:
    """How to ring an agency's one-stop desk."""

    endpoint: str | None = None     # a PJSIP endpoint on this Asterisk
    contact: str | None = None      # a fixed SIP contact for that endpoint instead of registering
    dial: str = ""                  # the Asterisk dial string; "PJSIP/<endpoint>" by default

    def __post_init__(self) -> None:
        if not self.dial and self.endpoint:
            object.__setattr__(self, "dial", f"PJSIP/{self.endpoint}")


@dataclass(frozen=True)
class FocalPoint:
    """An agency official who receives forwarded tickets ("cán bộ đầu mối")."""

    name: str
    email: str
    phone: str | None = None


@dataclass(frozen=True)
class Agency:
    """One entry of the directory."""

    code: str
    kind: str
    name: str
    desk: Desk
    focal_points: tuple[FocalPoint, ...] = ()
    line: int = 0
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code, "kind": self.kind, "name": self.name,
            "desk": {"endpoint": self.desk.endpoint, "contact": self.desk.contact, "dial": self.desk.dial},
            "focal_points": [{"name": f.name, "email": f.email, "phone": f.phone} for f in self.focal_points],
        }


class Directory:
    """All agencies, looked up by (kind, code)."""

    def __init__(self, entries: tuple[Agency, ...]) -> None:
        self.entries = entries
        self._by_key = {(a.kind, a.code): a for a in entries}

    def find(self, kind: str, code: str) -> Agency | None:
        return self._by_key.get((kind, code))

    def of_kind(self, kind: str) -> list[Agency]:
        """The agencies of one kind, by code."""
        return sorted((a for a in self.entries if a.kind == kind), key=lambda a: a.code)

    def _single(self, kind: str) -> Agency:
        found = self.of_kind(kind)
        if not found:
            raise LookupError(f"the directory has no {kind}")
        return found[0]

    @property
    def provincial_office(self) -> Agency:
        """The People's Committee Office, which assigns tickets of unclear competence."""
        return self._single("provincial_office")

    @property
    def postal_service(self) -> Agency:
        """The provincial post office (home pickup and return of dossiers)."""
        return self._single("postal_service")

    def search(self, query: str, limit: int = 20) -> list[Agency]:
        """Entries whose name holds every word of ``query`` at a word's start, diacritics and case ignored
        ("my tho" finds "Phường Mỹ Tho"), or whose code or ``kind:code`` it is. First the codes, then the
        names holding the query as written, then as one phrase, then the rest; each by kind and code."""
        wanted, exact = fold(query), " ".join(query.lower().split())
        words = wanted.split()
        if not words:
            return []
        found = []
        for agency in self.entries:
            padded = f" {fold(agency.name)} "
            if wanted in (agency.code, f"{agency.kind}:{agency.code}"):
                rank = 0
            elif all(f" {w}" in padded for w in words):
                rank = 1 if f" {exact}" in f" {agency.name.lower()}" else 2 if f" {wanted}" in padded else 3
            else:
                continue
            found.append((rank, KINDS.index(agency.kind), agency.code, agency))
        return [a for *_key, a in sorted(found, key=lambda f: f[:3])][:limit]

    def endpoints(self) -> list[Agency]:
        """Agencies whose desk is a SIP endpoint on this Asterisk."""
        return [a for a in self.entries if a.desk.endpoint]

    def to_json(self) -> list[dict[str, Any]]:
        return [a.to_json() for a in sorted(self.entries, key=lambda a: (KINDS.index(a.kind), a.code))]

    def __len__(self) -> int:
        return len(self.entries)


def fold(text: str) -> str:
    """Lower case without diacritics, one space between words: "Phường  Mỹ Tho" -> "phuong my tho"."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(plain.split())


def load_directory(path: Path) -> Directory:
    """Load a directory of ``*.yaml`` files (in name order) or one YAML file.

    Raises ConfigErrors listing every problem found, each with its file and line.
    """
    if path.is_dir():
        files = sorted(path.glob("*.yaml"))
        if not files:
            raise ConfigErrors([ConfigError(path, None, "no *.yaml files in the transfer directory",
                                            "add departments.yaml, districts.yaml and offices.yaml "
                                            "(see transfer_directory/README.md)")])
    else:
        files = [path]
    errors: list[ConfigError] = []
    entries: list[Agency] = []
    singles: list[tuple[str, str, int, str]] = []   # (kind, file, line, name) of single kinds, even if faulty
    for file in files:
        try:
            data = load_yaml(file)
        except ConfigError as exc:
            errors.append(exc)
            continue
        entries += _parse_file(file, data, errors, singles)
    _check_unique(entries, errors)
    _check_singles(path, singles, errors)
    if errors:
        raise ConfigErrors(errors)
    return Directory(tuple(entries))


def _parse_file(file: Path, data: Any, errors: list[ConfigError],
                singles: list[tuple[str, str, int, str]]) -> list[Agency]:
    def error(line: int | None, message: str, hint: str) -> None:
        errors.append(ConfigError(file, line, message, hint))

    if not isinstance(data, LineDict) or not isinstance(data.get("entries"), LineList):
        error(getattr(data, "line", None) or 1, "the file must hold 'entries:' with a list of agencies",
              "start the file with 'entries:' and one '- code: ...' block per agency")
        return []
    for key in data:
        if key != "entries":
            error(data.line_of(key), f"unknown key {key!r}", "valid keys at the top: entries")
    agencies = []
    for index, item in enumerate(data["entries"]):
        line = data["entries"].line_of(index)
        if not isinstance(item, LineDict):
            error(line, "an entry must be a block of keys", "write '- code: \"01\"' then kind, name, desk")
            continue
        if item.get("kind") in SINGLE_KINDS:
            singles.append((item["kind"], str(file), item.line, str(item.get("name"))))
        agency = _parse_entry(file, item, error)
        if agency is not None:
            agencies.append(agency)
    return agencies


def _unknown_keys(block: LineDict, valid: tuple[str, ...], where: str, error: Report) -> None:
    for key in block:
        if key not in valid:
            error(block.line_of(key), f"unknown key {key!r} in {where}", f"valid keys: {', '.join(valid)}")


def _parse_entry(file: Path, item: LineDict, error: Report) -> Agency | None:
    problems: list[str] = []

    def fail(line: int | None, message: str, hint: str) -> None:
        problems.append(message)
        error(line, message, hint)

    _unknown_keys(item, _ENTRY_KEYS, "an entry", fail)
    kind = item.get("kind")
    if kind not in KINDS:
        fail(item.line_of("kind"), f"unknown kind {kind!r}", f"write one of: {', '.join(KINDS)}")
    code = item.get("code")
    _check_code(item, code, CODE_DIGITS.get(kind, 2) if isinstance(kind, str) else 2,
                kind if kind in KINDS else None, fail)
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        fail(item.line_of("name"), "the entry has no name", 'write its name in Vietnamese, e.g. name: "Sở Tư pháp"')
    elif name.isascii():
        fail(item.line_of("name"), f"name {name!r} has no Vietnamese diacritics",
             'write the name as callers hear it, with diacritics, e.g. "Sở Tư pháp"')
    desk = _parse_desk(item, fail)
    focal_points = _parse_focal_points(item, fail)
    if problems or desk is None:
        return None
    return Agency(str(code), str(kind), str(name).strip(), desk, focal_points, item.line, str(file))


def _check_code(item: LineDict, code: Any, digits: int, kind: str | None, fail: Report) -> None:
    """The code is a string of exactly its kind's number of digits."""
    whose = f"a {kind} code" if kind else "a code"
    example = "1".zfill(digits)
    if isinstance(code, int) and not isinstance(code, bool):
        fail(item.line_of("code"), f"code {code} is a number: YAML drops the leading zero",
             f'put the code in quotes: code: "{code:0{digits}d}"')
    elif not isinstance(code, str) or not code.isascii() or not code.isdigit():
        fail(item.line_of("code"), f"code {code!r} is not {digits} digits",
             f'write {digits} digits in quotes, e.g. code: "{example}"')
    elif len(code) != digits:
        fail(item.line_of("code"), f"code {code!r} has {len(code)} digits, but {whose} has {digits}",
             f'write code: "{code.zfill(digits)[-digits:]}"' if len(code) < digits
             else f'write {digits} digits in quotes, e.g. code: "{example}"')


def _parse_desk(item: LineDict, fail: Report) -> Desk | None:
    block = item.get("desk")
    hint = "write desk: with endpoint: desk-d01 (a SIP endpoint here) or dial: \"PJSIP/...\" (any dial string)"
    if not isinstance(block, LineDict):
        fail(item.line_of("desk"), "the entry has no desk block", hint)
        return None
    _unknown_keys(block, _DESK_KEYS, "desk", fail)
    endpoint, contact, dial = (block.get(k) for k in _DESK_KEYS)
    if (endpoint is None) == (dial is None):
        fail(item.line_of("desk"), "the desk needs exactly one of endpoint or dial", hint)
        return None
    if endpoint is not None and not (isinstance(endpoint, str) and _ENDPOINT_RE.match(endpoint)):
        fail(block.line_of("endpoint"), f"endpoint {endpoint!r} is not a valid name",
             "use lower-case letters, digits and '-', e.g. desk-d01")
        return None
    if dial is not None and not (isinstance(dial, str) and re.fullmatch(r"[A-Za-z0-9]+/\S+", dial)):
        fail(block.line_of("dial"), f"dial {dial!r} is not an Asterisk dial string",
             'write TECH/resource, e.g. dial: "PJSIP/02773851234@provincial-pbx"')
        return None
    if contact is not None and (endpoint is None or not (isinstance(contact, str) and contact.startswith("sip:"))):
        fail(block.line_of("contact"), "contact needs an endpoint and a sip: address",
             "write contact: sip:127.0.0.1:5071 next to endpoint:, or leave contact out to let the desk register")
        return None
    return Desk(endpoint=endpoint, contact=contact, dial=dial or "")


def _parse_focal_points(item: LineDict, fail: Report) -> tuple[FocalPoint, ...]:
    block = item.get("focal_points", LineList())
    if not isinstance(block, LineList):
        fail(item.line_of("focal_points"), "focal_points must be a list", "write one '- name: ...' block per person")
        return ()
    result = []
    for index, person in enumerate(block):
        line = block.line_of(index)
        if not isinstance(person, LineDict):
            fail(line, "a focal point must be a block of keys", "write - name: ..., email: ..., phone: ...")
            continue
        _unknown_keys(person, _FOCAL_KEYS, "a focal point", fail)
        name, email, phone = (person.get(k) for k in _FOCAL_KEYS)
        if not isinstance(name, str) or not name.strip():
            fail(person.line_of("name"), "the focal point has no name", 'write name: "Nguyễn Văn A"')
        if not isinstance(email, str) or not _EMAIL_RE.match(email):
            fail(person.line_of("email"), f"email {email!r} is not an e-mail address",
                 "write e.g. email: tuphap-1022@example.gov.vn")
        if phone is not None and not (isinstance(phone, str) and _PHONE_RE.match(phone)):
            fail(person.line_of("phone"), f"phone {phone!r} is not a phone number in quotes",
                 'write the digits in quotes, e.g. phone: "02773851234"')
        if isinstance(name, str) and isinstance(email, str):
            result.append(FocalPoint(name.strip(), email, phone if isinstance(phone, str) else None))
    return tuple(result)


def _check_unique(entries: list[Agency], errors: list[ConfigError]) -> None:
    codes: dict[tuple[str, str], Agency] = {}
    endpoints: dict[str, Agency] = {}
    for agency in entries:
        first = codes.setdefault((agency.kind, agency.code), agency)
        if first is not agency:
            errors.append(_twice(agency, first, f"{agency.kind} code {agency.code!r}",
                                 "give each agency of a kind its own code"))
        if agency.desk.endpoint:
            first = endpoints.setdefault(agency.desk.endpoint, agency)
            if first is not agency:
                errors.append(_twice(agency, first, f"endpoint {agency.desk.endpoint!r}",
                                     "give each desk its own endpoint name"))


def _twice(agency: Agency, first: Agency, what: str, hint: str) -> ConfigError:
    return ConfigError(agency.source, agency.line,
                       f"{what} is used twice (also by {first.name!r} at {first.source}:{first.line})", hint)


def _check_singles(path: Path, singles: list[tuple[str, str, int, str]], errors: list[ConfigError]) -> None:
    for kind in SINGLE_KINDS:
        found = [s for s in singles if s[0] == kind]
        if not found:
            errors.append(ConfigError(path, None, f"the directory has no {kind}",
                                      f"add one entry with kind: {kind} (see transfer_directory/README.md)"))
        for _, file, line, _name in found[1:]:
            _, first_file, first_line, first_name = found[0]
            errors.append(ConfigError(file, line, f"a second {kind} (the first is {first_name!r} at "
                                      f"{first_file}:{first_line})", f"keep exactly one {kind}"))
