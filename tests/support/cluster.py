"""The two-node cluster as `hotline cluster up` runs it, for the tests and the benchmarks: its own state
directory, recordings root, PostgreSQL database and Redis, and the nodes' network (10.22.0.0/24)."""
from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select

from hotline.adapters.db.models import Call
from hotline.adapters.kamailio_db import kamailio_database_url
from hotline.context import load_context
from tests.support.db import fresh_postgres
from tests.support.running import Running, clean_env, running
from tests.support.stack import ROOT, _free_tcp_port, wait_for


class Cluster(Running):
    """`hotline cluster up` of a test or a bench, with what they look at."""

    @property
    def console(self) -> str:
        """The cluster's console, as an operator's browser opens it."""
        return f"http://127.0.0.1:{self.env['HOTLINE_CONSOLE_PORT']}"

    def rows(self, callers: list[str]) -> dict[str, Call]:
        """The latest call row of each caller (by caller), as the shared database has it now."""
        ctx = load_context(env=self.env)
        with ctx.sessions()() as s:
            found = s.scalars(select(Call).where(Call.caller.in_(callers)).order_by(Call.id)).all()
            s.expunge_all()
        return {row.caller: row for row in found}

    def asterisk_pids(self, node: str) -> list[int]:
        """Node ``node``'s running Asterisk processes (none while it is down)."""
        conf = self.state / "nodes" / node / "asterisk" / "asterisk.conf"
        found = subprocess.run(["pgrep", "-f", "--", f"-f -n -C {conf}"], capture_output=True, text=True)
        return [int(p) for p in found.stdout.split()]

    def asterisk_pid(self, node: str) -> int:
        pids = self.asterisk_pids(node)
        assert pids, f"no Asterisk of node {node}"
        return pids[0]

    def node_rx(self, node: str, command: str) -> str:
        """A command on node ``node``'s Asterisk console (``asterisk -rx``)."""
        return self.rx(self.state / "nodes" / node / "asterisk" / "asterisk.conf", command)

    def end_calls(self, timeout: float = 30) -> None:
        """Hang up every call on both nodes and wait until the database has no call open.

        A SIPp caller stopped by a signal sends no BYE: its call, silent, goes on through the menu and reaches
        the operators minutes later, in another test (seen in CI: the pool test's longest-idle operator was
        taken by an earlier test's caller). They are hung up by hand on the nodes (the hotline itself does not
        end a silent line: README, Known limits)."""
        from sqlalchemy import func
        for node in ("a", "b"):
            self.node_rx(node, "channel request hangup all")
        ctx = load_context(env=self.env)

        def open_calls() -> int:
            with ctx.sessions()() as s:
                return s.scalar(select(func.count()).select_from(Call).where(Call.ended_at.is_(None))) or 0
        wait_for(lambda: open_calls() == 0, timeout, "every call of the test to be closed")

    def dispatcher(self) -> dict[str, str]:
        """Kamailio's view of each node: its address -> the dispatcher's flags (AP active, IP inactive...)."""
        out = subprocess.run(["kamcmd", "-s", f"unix:{self.state / 'kamailio' / 'ctl.sock'}", "dispatcher.list"],
                             capture_output=True, text=True, timeout=10).stdout
        return dict(re.findall(r"URI: sip:([\d.]+):\d+\s+FLAGS: (\w+)", out))



@contextmanager
def running_cluster(base: Path, database_url: str, *, fake_now: str, operators: Sequence[str] = (),
                    web_operators: Sequence[str] = (), websocket_port: int = 0, settings_extra: str = "",
                    console_port: int = 8590,
                    artifacts: Path | None = None) -> Iterator[Cluster]:
    """`hotline cluster up --fake-now` on the shipped settings (plus ``settings_extra`` TOML, and
    ``[cluster]`` beats every 2 s, dead after 10 s), its database emptied first, ``operators`` (desk phones) and
    ``web_operators`` (the console's softphone, registering with Kamailio's WebSocket on ``websocket_port``)
    added before the start; yields once both nodes take calls; stops
    it and copies its logs to ``artifacts``."""
    base.chmod(0o755)       # Asterisk, as its own user, reaches the state directory
    settings = base / "province.toml"
    shipped = (ROOT / "province.toml").read_text(encoding="utf-8")
    shipped = re.sub(r'^(flow|directory|prompts_dir) = "', rf'\1 = "{ROOT}/', shipped, flags=re.M)
    settings.write_text(shipped.replace("[cluster]\n", "[cluster]\nbeat_seconds = 2\ndead_after = 10\n"
                                        f"websocket_port = {websocket_port}\n", 1)
                        + settings_extra, encoding="utf-8")
    url = fresh_postgres(database_url)
    fresh_postgres(kamailio_database_url(url))      # no registration left from an earlier run
    env = clean_env(base, {
        "HOTLINE_SETTINGS": str(settings), "HOTLINE_DATABASE_URL": url, "HOTLINE_REDIS_PORT": str(_free_tcp_port()),
        "HOTLINE_CONSOLE_PORT": str(console_port), "HOTLINE_PUBLIC_PORT": str(_free_tcp_port()),
        # a port no test stack's Asterisk has on loopback: `hotline operators add` below must not log in to another
        # stack's AMI (seen in CI: refused, the add failed); the nodes bind it on their own address
        "HOTLINE_AMI_PORT": str(_free_tcp_port())})
    phones = [(name, ()) for name in operators] + [(name, ("--web",)) for name in web_operators]
    for name, kind in phones:       # before the start: the cluster gives every phone its account then
        added = subprocess.run([sys.executable, "-m", "hotline.cli.main", "operators", "add", name, "--name",
                                f"Tổng đài viên {name}", *kind], cwd=ROOT, env=env, capture_output=True, text=True)
        assert added.returncode == 0, added.stderr[-2000:]
    nodes = {f"state/nodes/{node}/log": f"node-{node}" for node in ("a", "b")}        # each Asterisk's own log
    with running(base, env, ["cluster", "up", "--fake-now", fake_now], log="cluster.log",
                 ready="đang trả lời qua Kamailio", timeout=300, stop_timeout=90, artifacts=artifacts,
                 copied={"state/log": "log", **nodes}) as up:
        found = Cluster(up.env, up.base, up.process, up.log)
        wait_for(lambda: set(found.dispatcher().values()) == {"AP"} and len(found.dispatcher()) == 2, 30,
                 "Kamailio to see both nodes answer")
        yield found
