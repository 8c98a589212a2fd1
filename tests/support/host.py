"""A host's /etc of the test's own: groupadd and useradd write to its passwd and group files as the real
ones would, so the set-up's system users are created without touching this machine's."""
from __future__ import annotations

from pathlib import Path

from tooling.system.asterisk_user import Tables, ids_of


class FakeHost:
    """The passwd and group files under ``etc``, and a ``run`` that stands in for groupadd and useradd.

    An id the command does not give is ``new_uid`` or ``new_gid``; a ``--gid`` by name is the group's id.
    """

    def __init__(self, etc: Path, passwd: str, group: str, new_uid: int = 999, new_gid: int = 999) -> None:
        etc.mkdir(parents=True)
        (etc / "passwd").write_text(passwd)
        (etc / "group").write_text(group)
        self.tables = Tables.of(etc)
        self.commands: list[list[str]] = []
        self._new_ids = new_uid, new_gid

    def add_user(self, name: str, uid: int, gid: int, home: str = "/nonexistent") -> None:
        """A user and its group already on the host."""
        with self.tables.passwd.open("a") as f:
            f.write(f"{name}:x:{uid}:{gid}::{home}:/usr/sbin/nologin\n")
        with self.tables.group.open("a") as f:
            f.write(f"{name}:x:{gid}:\n")

    def run(self, argv: list[str]) -> None:
        self.commands.append(argv)
        value = {a: b for a, b in zip(argv, argv[1:], strict=False)}
        if argv[0] == "groupadd":
            with self.tables.group.open("a") as f:
                f.write(f"{argv[-1]}:x:{value.get('--gid', self._new_ids[1])}:\n")
        elif argv[0] == "useradd":
            gid = value["--gid"] if value["--gid"].isdigit() else ids_of(self.tables.group, value["--gid"])
            assert gid is not None, f"useradd: group {value['--gid']} does not exist"
            with self.tables.passwd.open("a") as f:
                f.write(f"{argv[-1]}:x:{value.get('--uid', self._new_ids[0])}:{gid}::"
                        f"{value['--home-dir']}:{value['--shell']}\n")
