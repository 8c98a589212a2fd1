"""``bench/ivr_load --cluster``: the same load through Kamailio and two nodes as straight to one node.

`hotline cluster up` runs in a temporary directory with a PostgreSQL database of its own (README: Scaling
out). The same SIPp load (callers who hear the welcome and hang up after ``hold`` seconds) is placed first
straight at node a's Asterisk, then at Kamailio's address, which shares it over both nodes. Side by side:
SIPp's INVITE→200 times (p50, p95), failed calls, and where the calls landed. On 2 cores the point is
correctness and Kamailio's added latency, not more capacity: both nodes share the same cores.
"""
from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.cluster import Cluster, running_cluster
from tooling.sipp.runner import LoadResult, run_load
from tooling.sipp.scenario import CallerScript, Wait
from tooling.system.netns import NodeNet, host_address

from . import report
from .instance import STAFFED

#: PostgreSQL database of the bench's cluster (emptied at start), beside the tests' hotline_cluster_<n>.
DATABASE = "postgresql://postgres@127.0.0.1:5432/hotline_bench_cluster"
SIP_PORT = 5060


@dataclass
class PathResult:
    """One path's run: ``path`` is "one node" or "Kamailio, two nodes"."""

    path: str
    calls: int
    load: LoadResult
    per_node: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return self.calls - int(self.load.stats.successful or 0)

    def row(self) -> list[str]:
        p50, p95 = self.load.percentile(50), self.load.percentile(95)
        nodes = ", ".join(f"{n} {c}" for n, c in sorted(self.per_node.items())) or "-"
        return [self.path, str(self.calls), str(self.failed), report._num(p50, ".1f"), report._num(p95, ".1f"),
                nodes]


def _per_node(cluster: Cluster, callers: list[str]) -> dict[str, int]:
    return dict(Counter(row.asterisk_node or "?" for row in cluster.rows(callers).values()))


def run_cluster(calls: int, rate: float, hold: float, log: Callable[[str], None],
                database: str = DATABASE) -> list[PathResult]:
    """Both paths with ``calls`` calls at ``rate`` per second, each caller staying ``hold`` seconds."""
    base = Path(tempfile.mkdtemp(prefix="hotline-bench-cluster-", dir="/var/tmp"))
    results: list[PathResult] = []
    script = CallerScript([Wait(hold)])
    with running_cluster(base, database, fake_now=STAFFED.isoformat(), console_port=8790) as cluster:
        log(f"cluster up in {base}")
        targets = [("one node", NodeNet("a", 1).address, "0950"), ("Kamailio, two nodes", host_address(), "0951")]
        for path, host, prefix in targets:
            callers = [f"{prefix}{i:06d}" for i in range(calls)]
            load = run_load(host, SIP_PORT, "1022", script, rate_per_s=rate, limit_concurrent=calls,
                            total_calls=calls, callers=callers, timeout=calls / rate + hold + 120,
                            workdir=base / path.split(",")[0].replace(" ", "-"))
            result = PathResult(path, calls, load, _per_node(cluster, callers))
            log(f"  {path}: {result.failed} failed, INVITE->200 p95 {report._num(load.percentile(95), '.1f')} ms")
            results.append(result)
    shutil.rmtree(base, ignore_errors=True)
    return results


def render(results: list[PathResult]) -> str:
    """The side-by-side table and Kamailio's added p95."""
    lines = [report.table([r.row() for r in results],
                          ("path", "calls", "failed", "INVITE->200 p50 ms", "p95 ms", "calls per node"))]
    if len(results) == 2 and results[0].load.percentile(95) is not None and results[1].load.percentile(95) is not None:
        added = float(results[1].load.percentile(95) or 0) - float(results[0].load.percentile(95) or 0)
        lines.append(f"Kamailio's added INVITE->200 p95: {added:+.1f} ms")
    return "\n".join(lines)


def to_json(results: list[PathResult]) -> list[dict[str, Any]]:
    return [{"path": r.path, "calls": r.calls, "failed": r.failed, "p50_ms": r.load.percentile(50),
             "p95_ms": r.load.percentile(95), "per_node": r.per_node} for r in results]
