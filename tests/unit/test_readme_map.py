"""README's "How it is built" names every module of the folders it maps, in that folder's row: a newcomer
who reads the map finds each file there, and a file added without a line in the map fails here."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: folder → the first cell of its row in the map (a folder may share a row with its parent)
ROWS = {"hotline": "hotline/", "hotline/domain": "hotline/domain/", "hotline/services": "hotline/services/",
        "hotline/adapters": "hotline/adapters/", "hotline/config": "hotline/config/",
        "hotline/worker": "hotline/worker/", "hotline/cli": "hotline/cli/", "tooling/system": "tooling/",
        "tooling/sipp": "tooling/", "ari_app": "ari_app/", "agi": "agi/", "monitor": "monitor/",
        "operator_console": "operator_console/", "tests/support": "tests/`, `bench/"}


def _rows() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## How it is built\n", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| `([^|]+?)` \| (.+) \|$", section, re.MULTILINE)}


def test_the_map_names_every_module_in_its_folder_s_row() -> None:
    rows = _rows()
    missing = []
    for folder, row in ROWS.items():
        assert row in rows, f"README's map has no row for {row}"
        for path in sorted((ROOT / folder).iterdir()):
            named = path.name if path.is_file() else f"{path.name}/"
            if path.is_dir() and path.relative_to(ROOT).as_posix() in ROWS:
                continue        # a folder with its own row
            if path.name.startswith(("_", ".")) or path.name == "node_modules" or \
                    (path.is_file() and path.suffix != ".py") or (path.is_dir() and not any(path.glob("*.py"))):
                continue
            if f"`{named}" not in rows[row] and f"`{path.name}`" not in rows[row]:
                missing.append(f"{folder}/{named}")
    assert not missing, f"README's How it is built does not name: {', '.join(missing)}"
