"""README's "How it is built" matches the tracked tree (``git ls-files``) both ways: a newcomer who reads the map
finds every module of the product there, in its folder's row, and finds every file and folder the map names.

What the map must name: every top-level entry (a row of its own, or in a row's first cell); every Python module
of the product, tooling and tests/support (in the row of its deepest mapped folder, by its path from there, or by
its name beside its subfolder); their folders that hold no Python (the console's templates and static files) and
Alembic's folder as wholes; and each entry of tests/ and bench/."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[2]
#: folders whose every Python module the map names
MODULE_FOLDERS = ("hotline", "ari_app", "agi", "monitor", "operator_console", "public_site", "tooling", "tests/support")
#: folders the map names as a whole (Alembic's own layout: env.py and the versions)
WHOLE = ("hotline/adapters/db/migrations",)
#: folders whose entries (files and folders just below) the map names
ENTRY_FOLDERS = ("tests", "bench")
#: top-level files the map does not name: the README itself and git's
TOP_UNNAMED = {"README.md", ".gitignore"}
#: what the map names that is not tracked, on purpose
UNTRACKED = {"static/vendor/"}      # SIP.js, installed by set-up from operator_console/package.json
#: what a token must look like to be a path (a file with one of these endings, or with a slash)
PATH_ENDINGS = (".py", ".yaml", ".toml", ".json", ".js", ".css", ".lock", ".cfg", ".md", ".j2")


def _tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    return [p for p in out.decode("utf-8").split("\0") if p]


def _rows() -> list[tuple[list[str], str]]:
    """(the folders or files of the first cell, the whole row's text) for every row of the map."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## How it is built\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = re.match(r"^\| (`.+?) \| .+ \|$", line)
        if cells:
            rows.append((re.findall(r"`([^`]+)`", cells.group(1)), line))
    assert rows, "README's How it is built has no table"
    return rows


def _tokens(row: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", row))


def _row_of(path: str, rows: list[tuple[list[str], str]]) -> tuple[str, str]:
    """(folder, row) of the deepest row whose first cell holds a folder ``path`` is in."""
    folders = [(f, row) for heads, row in rows for f in heads if f.endswith("/") and path.startswith(f)]
    assert folders, f"README's map has no row for the folder of {path}"
    return max(folders, key=lambda fr: len(fr[0]))


def _named(path: str, folder: str, row: str, is_dir: bool = False) -> bool:
    """Whether ``row`` names ``path``: by its path from ``folder`` or the root, or by its name with each of its
    subfolders (below ``folder``) named in the same row."""
    rel = path.removeprefix(folder)
    end = "/" if is_dir else ""
    tokens = _tokens(row)
    if any(t == rel + end or t == path + end or (is_dir and t.startswith((rel + "/", path + "/"))) for t in tokens):
        return True
    *parents, name = rel.split("/")
    if not any(t == name + end or (is_dir and t.startswith(name + "/")) for t in tokens):
        return False
    return all(any(f"/{parent}/" in f"/{t}" for t in tokens) for parent in parents)


def _folders(paths: list[str]) -> set[str]:
    return {str(parent) for p in paths for parent in PurePosixPath(p).parents if str(parent) != "."}


def test_every_top_level_entry_has_its_row() -> None:
    heads = [h for hs, _ in _rows() for h in hs]
    entries = {p.split("/", 1)[0] for p in _tracked()} - TOP_UNNAMED
    missing = [e for e in sorted(entries) if not any(h in (e, e + "/") or h.startswith(e + "/") for h in heads)]
    assert not missing, f"README's How it is built has no row for: {', '.join(missing)}"


def test_every_module_of_the_product_is_named_in_its_folder_s_row() -> None:
    rows, tracked = _rows(), _tracked()
    inside = [p for p in tracked if p.startswith(tuple(f + "/" for f in MODULE_FOLDERS))]
    modules = [p for p in inside if p.endswith(".py") and not p.startswith(tuple(w + "/" for w in WHOLE))
               and PurePosixPath(p).name not in ("__init__.py", "__main__.py")]
    with_python = _folders([p for p in inside if p.endswith(".py")])
    data = [d for d in _folders(inside) if d not in with_python and not d.startswith(tuple(w + "/" for w in WHOLE))]
    missing = [p for p in modules if not _named(p, *_row_of(p, rows))]
    missing += [d + "/" for d in [*data, *WHOLE] if not _named(d, *_row_of(d + "/", rows), is_dir=True)]
    assert not missing, f"README's How it is built does not name: {', '.join(sorted(missing))}"


def test_every_entry_of_tests_and_bench_is_named_in_its_row() -> None:
    rows, tracked = _rows(), _tracked()
    missing = []
    for folder in ENTRY_FOLDERS:
        entries = {(p.split("/")[1], p.count("/") > 1) for p in tracked if p.startswith(folder + "/")}
        for name, is_dir in sorted(entries):
            path = f"{folder}/{name}"
            if name in ("__init__.py", "README.md"):
                continue
            if not _named(path, *_row_of(path + ("/" if is_dir else ""), rows), is_dir=is_dir):
                missing.append(path + ("/" if is_dir else ""))
    assert not missing, f"README's How it is built does not name: {', '.join(missing)}"


def test_everything_the_map_names_is_in_the_tree() -> None:
    tracked = _tracked()
    known = set(tracked) | {d + "/" for d in _folders(tracked)}
    missing = []
    for heads, row in _rows():
        folders = [h for h in heads if h.endswith("/")]
        for token in sorted(_tokens(row)):
            if re.search(r"[\s<>()=*:]", token) or token.startswith("/") or \
                    not ("/" in token or token.endswith(PATH_ENDINGS)) or token in UNTRACKED:
                continue
            ways = [token, token + "/"]
            found = any(w in known for w in ways) or any(
                k.startswith(f) and k.endswith("/" + w) for f in folders for k in known for w in ways)
            if not found:
                missing.append(f"{token} (row {heads[0]})")
    assert not missing, f"README's How it is built names what the tree does not hold: {', '.join(missing)}"
