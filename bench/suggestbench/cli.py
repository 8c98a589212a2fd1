"""bench/suggest: train the ticket suggestions on a seeded split of tests/fixtures/suggest/requests.yaml (with
the seeds the province's files give), then on the held-out requests: top-1 category accuracy, top-1 and top-3
agency accuracy, the training time and the prediction latency per request. Also the seeds alone (a new
hotline, nothing answered yet) and the share of held-out requests that get a suggestion at the threshold."""
from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from hotline.domain.directory import load_directory
from hotline.domain.suggest import Example, SuggestModel, seed_examples, train
from hotline.domain.tickets.categories import load_categories

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = ROOT / "tests" / "fixtures" / "suggest" / "requests.yaml"


def held_out(share: float, seed: int) -> tuple[list[Example], list[Example]]:
    """(training, held out) of the labelled requests, shuffled with ``seed`` (as tests/unit/test_suggest.py)."""
    rows = yaml.safe_load(REQUESTS.read_text(encoding="utf-8"))["requests"]
    examples = [Example(r["text"], r["category"], r["agency"]) for r in rows]
    random.Random(seed).shuffle(examples)
    cut = int(len(examples) * (1 - share))
    return examples[:cut], examples[cut:]


def measure(model: SuggestModel, tests: list[Example], min_confidence: float) -> dict[str, Any]:
    cat1 = ag1 = ag3 = shown = 0
    latencies = []
    for e in tests:
        started = time.perf_counter()
        category = model.category.rank(e.text, 1)
        agencies = [g.label for g in model.agency.rank(e.text, 3)]
        shown += model.suggest(e.text, min_confidence) is not None
        latencies.append(time.perf_counter() - started)
        cat1 += bool(category) and category[0].label == e.category
        ag1 += agencies[:1] == [e.agency]
        ag3 += e.agency in agencies
    n = len(tests)
    return {"category_top1": cat1 / n, "agency_top1": ag1 / n, "agency_top3": ag3 / n, "suggested": shown / n,
            "latency_ms_median": 1000 * statistics.median(latencies),
            "latency_ms_p95": 1000 * sorted(latencies)[int(0.95 * (n - 1))]}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/suggest", description=__doc__)
    parser.add_argument("--seed", type=int, default=1022, help="the split's seed (default 1022)")
    parser.add_argument("--share", type=float, default=0.3, help="the held-out share (default 0.3)")
    parser.add_argument("--min-confidence", type=float, default=0.3, help="[suggest] min_confidence")
    parser.add_argument("--json", action="store_true", help="the figures as JSON")
    args = parser.parse_args(argv)
    seeds = seed_examples(load_categories(ROOT / "ticket_categories.yaml"), load_directory(ROOT / "transfer_directory"))
    training, tests = held_out(args.share, args.seed)
    out: dict[str, Any] = {"requests": len(training) + len(tests), "training": len(training), "held_out": len(tests),
                           "seeds": len(seeds), "seed": args.seed}
    for name, examples in (("learnt", seeds + training), ("seeds_only", seeds)):
        started = time.perf_counter()
        model = train(examples, datetime.now(UTC))
        out[name] = {"training_seconds": time.perf_counter() - started,
                     **measure(model, tests, args.min_confidence)}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{out['requests']} labelled requests: {out['training']} to train on (+ {out['seeds']} seeds from the "
          f"files), {out['held_out']} held out (seed {args.seed})")
    for name, label in (("learnt", "seeds + training split"), ("seeds_only", "seeds only (a new hotline)")):
        r = out[name]
        print(f"{label}: category top-1 {r['category_top1']:.1%}, agency top-1 {r['agency_top1']:.1%}, "
              f"agency top-3 {r['agency_top3']:.1%}; suggested at {args.min_confidence:g}: {r['suggested']:.1%}; "
              f"training {r['training_seconds']:.2f} s; prediction {r['latency_ms_median']:.1f} ms median, "
              f"{r['latency_ms_p95']:.1f} ms p95 per request")
    return 0
