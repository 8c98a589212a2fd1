"""``bench/ivr_load``: the IVR under load, through the ARI app and through plain dialplan; the operator queue."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from tests.support.calls import menu_starts

from . import report
from .callers import KEY, caller_script
from .instance import BASELINE_NUMBER, PORTS, STAFFED, BenchInstance
from .observer import Observer
from .overload import OverloadSpec, overload_targets, render_overload, run_overload
from .queue_run import QueueResult, QueueSpec, run_queue
from .runs import RunResult, RunSpec, run

EXIT_PASS, EXIT_TARGET_FAILED, EXIT_CANNOT_RUN, EXIT_INTERRUPTED = 0, 1, 2, 130


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/ivr_load", description=__doc__)
    p.add_argument("--quick", action="store_true", help="a smoke check: 20 calls at 2/s, no ramp")
    p.add_argument("--calls", type=int, help="calls in the main run (default 120; --quick 20)")
    p.add_argument("--rate", type=float, help="new calls per second in the main run (default 5; --quick 2)")
    p.add_argument("--hold", type=float, default=20.0, help="seconds each caller stays after the answer")
    p.add_argument("--rates", default="2,5,8,10,15,20", help="rates of the ramp that finds the sustainable rate")
    p.add_argument("--ramp-seconds", type=float, default=10.0,
                   help="seconds of new calls in each ramp run (calls = rate x this, at most --limit)")
    p.add_argument("--limit", type=int, default=120, help="most calls at once (SIPp -l)")
    p.add_argument("--queue", action="store_true",
                   help="the queue scenario only (with --quick: 10 callers, 3 operators)")
    p.add_argument("--no-queue", action="store_true", help="the IVR runs only (the full run ends with the queue)")
    p.add_argument("--queue-callers", type=int, help="callers pressing 0 (default 50; --quick 10)")
    p.add_argument("--queue-operators", type=int, help="SIPp operator phones (default 10; --quick 3)")
    p.add_argument("--queue-rate", type=float, default=5.0, help="new callers per second in the queue scenario")
    p.add_argument("--queue-talk", type=float, default=10.0, help="seconds an operator talks, then hangs up")
    p.add_argument("--overload", action="store_true",
                   help="the overload run only: twice the sustainable rate ([capacity] max_calls / --hold) for "
                        "--overload-seconds, then a probe caller a second")
    p.add_argument("--overload-seconds", type=float, default=60.0, help="seconds of new calls in the overload run")
    p.add_argument("--overload-factor", type=float, default=2.0, help="the overload run's rate / the sustainable")
    p.add_argument("--cluster", action="store_true",
                   help="the cluster run only: `hotline cluster up`, then the same calls (--calls, --rate, --hold) "
                        "straight to one node and through Kamailio to both, side by side (needs PostgreSQL)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, SIPp files)")
    args = p.parse_args(argv)
    args.cluster_calls = args.calls or (20 if args.quick else 60)
    args.calls = args.calls or (20 if args.quick else 120)
    args.rate = args.rate or (2.0 if args.quick else 5.0)
    args.ramp = [] if args.quick else [float(x) for x in args.rates.split(",") if x.strip()]
    if args.queue and args.no_queue:
        p.error("--queue and --no-queue exclude each other")
    if args.cluster and (args.queue or args.overload):
        p.error("--cluster runs alone (no --queue, no --overload)")
    if args.overload and (args.queue or args.quick):
        p.error("--overload runs alone (no --queue, no --quick)")
    args.ivr = not (args.queue or args.overload)
    args.with_queue = not args.overload and (args.queue or not (args.quick or args.no_queue))
    args.queue_spec = QueueSpec(callers=args.queue_callers or (10 if args.quick else 50),
                                operators=args.queue_operators or (3 if args.quick else 10),
                                rate=args.queue_rate, talk=args.queue_talk)
    return args


def plan(args: argparse.Namespace) -> list[RunSpec]:
    """Each rate in increasing order, the app then the baseline; the main run is one of them."""
    specs = []
    for rate in sorted({*args.ramp, args.rate}):
        calls = args.calls if rate == args.rate else min(args.limit, max(1, round(rate * args.ramp_seconds)))
        specs += [RunSpec(path, rate, calls, args.hold, args.limit) for path in ("app", "baseline")]
    return specs


def execute(instance: BenchInstance, observer: Observer, specs: list[RunSpec], args: argparse.Namespace,
            log: Any) -> tuple[list[RunResult], list[str]]:
    script = caller_script(instance.base / "callers", key_at=menu_starts(instance.stack), hold=args.hold)
    results: list[RunResult] = []
    skipped: list[str] = []
    for spec in specs:
        failed_before = any(r.spec.path == spec.path and not r.passed for r in results)
        if failed_before and spec.rate != args.rate:
            skipped.append(spec.name)
            continue
        result = run(instance, observer, spec, script, log)
        log(f"  {spec.name}: {result.failed} failed, peak {result.peak_channels}, answer->prompt p95 "
            f"{report._num(result.answer_prompt_ms.get('p95'), '.0f')} ms, {'pass' if result.passed else 'FAIL'}")
        results.append(result)
    return results, skipped


def meta(instance: BenchInstance, args: argparse.Namespace, started: float, skipped: list[str],
         load_before: tuple[float, float, float]) -> dict[str, Any]:
    version = instance.stack.asterisk.rx("core show version").split()[1] if instance.stack.asterisk else "?"
    return {"date": datetime.now().astimezone().isoformat(timespec="seconds"), "machine": machine(),
            "asterisk": version, "hold": args.hold, "key": KEY, "key_at": menu_starts(instance.stack),
            "limit": args.limit, "elapsed_s": time.monotonic() - started, "skipped": skipped,
            "main_run": {"rate": args.rate, "calls": args.calls} if args.ivr else None,
            "queue_run": vars(args.queue_spec) if args.with_queue else None,
            "ports": {".".join(k): v for k, v in PORTS.items()},
            "baseline_number": BASELINE_NUMBER, "hotline_clock": STAFFED.isoformat(),
            "loadavg_before": load_before, "loadavg_after": os.getloadavg(), "others_running": others_running()}


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "?")
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 2**20
    return f"{os.cpu_count()} cores ({model}), {mem:.0f} GB RAM, {os.uname().release}"


def others_running() -> dict[str, int]:
    """Other Asterisk and SIPp processes on the machine (another load skews the figures)."""
    found = {"asterisk": 0, "sipp": 0}
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            name = comm.read_text().strip()
        except OSError:
            continue
        if name in found:
            found[name] += 1
    return found


def _overload(instance: BenchInstance, observer: Observer, args: argparse.Namespace, started: float,
              load_before: tuple[float, float, float]) -> int:
    """The overload run, its figures and targets; the exit status."""
    max_calls = instance.stack.ctx.settings.capacity.max_calls
    if not max_calls:
        raise SystemExit("[capacity] max_calls is 0 (no admission limit): nothing to overload")
    spec = OverloadSpec(max_calls, args.hold, args.overload_factor, args.overload_seconds)
    result = run_overload(instance, observer, spec, menu_starts(instance.stack), log)
    info = meta(instance, args, started, [], load_before) | {"overload_run": result.spec.name}
    goals = overload_targets(result)
    if args.json:
        print(json.dumps({"meta": info, "overload": result.to_json(), "targets": goals}, indent=2, default=str))
    else:
        print("\n".join([f"bench/ivr_load --overload  {info['date']}  {info['machine']}",
                         f"Asterisk {info['asterisk']}; total {info['elapsed_s']:.0f} s", "",
                         *render_overload(result), "",
                         report.table([[g["target"], g["figure"], g["result"]] for g in goals],
                                      ("target", "figure", "result"))]))
    return EXIT_TARGET_FAILED if any(g["result"] == "FAIL" for g in goals) else EXIT_PASS


def _cluster(args: argparse.Namespace, started: float) -> int:
    """The cluster run: the same load straight to one node and through Kamailio; zero failed calls passes."""
    from .cluster_run import render, run_cluster, to_json
    calls = args.cluster_calls
    results = run_cluster(calls, args.rate, args.hold, log)
    if args.json:
        print(json.dumps({"machine": machine(), "calls": calls, "rate": args.rate, "hold": args.hold,
                          "paths": to_json(results), "elapsed_s": time.monotonic() - started}, indent=2))
    else:
        print(f"bench/ivr_load --cluster  {datetime.now().astimezone().isoformat(timespec='seconds')}  {machine()}")
        print(f"{calls} calls at {args.rate:g}/s, each {args.hold:g} s; total {time.monotonic() - started:.0f} s\n")
        print(render(results))
    return EXIT_TARGET_FAILED if any(r.failed for r in results) else EXIT_PASS


def preflight() -> None:
    if os.geteuid() != 0:
        raise SystemExit("bench/ivr_load runs Asterisk in its chroot with bind mounts: run it as root")
    if shutil.which(os.environ.get("HOTLINE_SIPP", "sipp")) is None:
        raise SystemExit("SIPp is missing: install Debian's sip-tester (scripts/bootstrap does)")


def _interrupt(signum: int, _frame: Any) -> NoReturn:
    raise KeyboardInterrupt(f"signal {signum}")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    args = parse(argv)
    preflight()
    started, load_before = time.monotonic(), os.getloadavg()
    if args.cluster:
        return _cluster(args, started)
    if others_running()["asterisk"]:
        log("note: another Asterisk runs on this machine; it shares the 2 cores and skews the figures")
    signal.signal(signal.SIGINT, signal.default_int_handler)   # also when started in the background
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    instance = BenchInstance.create(guard_seconds=args.hold + 15)
    observer: Observer | None = None
    try:
        log(f"starting the stack in {instance.base} (SIP {PORTS[('sip', 'port')]}, "
            f"HTTP {PORTS[('asterisk', 'http_port')]})")
        instance.start()
        s = instance.stack.ctx
        observer = Observer(f"http://{s.settings.asterisk.http_bind}:{s.settings.asterisk.http_port}",
                            s.settings.asterisk.ari_user, s.secrets.ari_password)
        observer.start()
        results, skipped = execute(instance, observer, plan(args), args, log) if args.ivr else ([], [])
        if args.overload:
            return _overload(instance, observer, args, started, load_before)
        queue: QueueResult | None = None
        if args.with_queue:
            queue = run_queue(instance, observer, args.queue_spec, menu_starts(instance.stack), log)
            log(f"  {queue.spec.name}: {len(queue.lost)} lost, free->ring p95 "
                f"{report._num(queue.free_ring_ms.get('p95'), '.0f')} ms, {'pass' if queue.passed else 'FAIL'}")
        info = meta(instance, args, started, skipped, load_before)
        goals = report.targets(results, args.rate, args.calls) if args.ivr else []
        if queue is not None:
            goals += report.queue_targets(queue)
        if args.json:
            print(json.dumps(report.render_json(info, results, goals, queue), indent=2, default=str))
        else:
            print(report.render_text(info, results, goals, queue))
        return EXIT_TARGET_FAILED if any(g["result"] == "FAIL" for g in goals) else EXIT_PASS
    except KeyboardInterrupt:
        log("interrupted: stopping the stack")
        return EXIT_INTERRUPTED
    except Exception:   # noqa: BLE001 - reported, then the stack is stopped all the same
        traceback.print_exc()
        log(f"the bench could not finish; logs in {instance.logs_hint()}")
        return EXIT_CANNOT_RUN
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)   # let the clean-up finish
        if observer is not None:
            observer.stop()
        instance.close(keep=args.keep)
        log(f"stack stopped; {'kept ' + str(instance.base) if args.keep else 'temporary files deleted'}")
