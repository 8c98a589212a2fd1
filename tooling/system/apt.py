"""Debian packages: what is installed, what apt could install, and the machine's own mirror.

The mirror is always read from the machine's apt sources at run time, never written
into the project: each site uses its own (or its proxy).
"""
from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from tooling.system.shell import Progress, SetupError, run

SOURCES_DIR = Path("/etc/apt/sources.list.d")
SOURCES_LIST = Path("/etc/apt/sources.list")
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
_SIDE_SUITES = ("-security", "-updates", "-backports", "-proposed-updates")


def parse_deb822(text: str) -> list[str]:
    """The archive URIs of the enabled ``deb`` stanzas of a deb822 ``.sources`` file, main archive first."""
    found: list[tuple[int, str]] = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in stanza.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0] in " \t" and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
            continue
        rank = _rank(fields.get("suites", "").split())
        found.extend((rank, uri) for uri in fields.get("uris", "").split())
    return [uri for _, uri in sorted(found, key=lambda item: item[0])]


def parse_one_line(text: str) -> list[str]:
    """The archive URIs of the ``deb`` lines of a one-line-style ``sources.list``, main archive first."""
    found: list[tuple[int, str]] = []
    for line in text.splitlines():
        words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
        if len(words) >= 3 and words[0] == "deb":
            found.append((_rank([words[2]]), words[1]))
    return [uri for _, uri in sorted(found, key=lambda item: item[0])]


def _rank(suites: Sequence[str]) -> int:
    """0 for a main archive (a plain suite such as bookworm), 1 for security/updates/backports only."""
    return 0 if any(not suite.endswith(_SIDE_SUITES) and "/" not in suite for suite in suites) else 1


def mirror_uri(sources_dir: Path = SOURCES_DIR, sources_list: Path = SOURCES_LIST) -> str:
    """The Debian archive this machine's apt uses (first main-archive URI in its sources)."""
    candidates: list[str] = []
    for path in sorted(sources_dir.glob("*.sources")) if sources_dir.is_dir() else []:
        candidates += parse_deb822(path.read_text(encoding="utf-8", errors="replace"))
    lists = [sources_list] + (sorted(sources_dir.glob("*.list")) if sources_dir.is_dir() else [])
    for path in lists:
        if path.is_file():
            candidates += parse_one_line(path.read_text(encoding="utf-8", errors="replace"))
    main = [uri for uri in candidates if not uri.rstrip("/").endswith("-security")]
    if not main:
        raise SetupError(f"No Debian archive found in the apt sources ({sources_dir}/*.sources, {sources_list}). "
                         "Add the machine's Debian mirror to apt's sources, run `apt-get update`, then try again.")
    return main[0]


def is_installed(package: str) -> bool:
    """True when dpkg has the package fully installed."""
    done = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", package],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return done.returncode == 0 and done.stdout.strip() == "installed"


def parse_candidate(policy_output: str) -> str | None:
    """The ``Candidate:`` version from ``apt-cache policy`` output, or None."""
    found = re.search(r"^\s*Candidate:\s*(\S+)", policy_output, re.MULTILINE)
    return None if not found or found[1] == "(none)" else found[1]


def candidate(package: str) -> str | None:
    """The version apt would install for the package, or None when no source carries it."""
    done = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env={**os.environ, **APT_ENV, "LC_ALL": "C"})
    return parse_candidate(done.stdout) if done.returncode == 0 else None


def upstream_major(version: str) -> int | None:
    """The upstream major number of a Debian version ("1:22.10.1+dfsg-1" -> 22)."""
    found = re.match(r"(?:\d+:)?(\d+)", version)
    return int(found[1]) if found else None


def install(packages: Iterable[str], progress: Progress) -> None:
    """Install the packages that are missing (``apt-get update`` first, only when something is missing)."""
    missing = [p for p in packages if not is_installed(p)]
    if not missing:
        return
    progress(f"[setup] Installing Debian packages: {' '.join(missing)}")
    hint = "Check that this machine reaches its Debian mirror (see /etc/apt/sources.list.d), then try again."
    run(["apt-get", "update", "-qq"], "update the list of Debian packages", hint, env=APT_ENV, timeout=600)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        f"install {' '.join(missing)}", hint, env=APT_ENV, timeout=1800)
