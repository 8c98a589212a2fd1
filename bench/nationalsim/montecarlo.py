"""A discrete-event check of Erlang C: Poisson arrivals, exponential handling times, ``n`` operators
taking callers first come first served, over many busy hours; the share answered within the target
next to the formula's.

Callers are infinitely patient, as Erlang C assumes (no abandonment). With first-come-first-served
and identical operators, each caller starts with whichever operator is free first: the wait is
``max(0, earliest free time − arrival)``, exact for this queue without an event list.
"""
from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass

from . import erlang

BATCH_HOURS = 10


@dataclass(frozen=True)
class Check:
    """The simulated figures of one operator count beside Erlang C's."""

    operators: int
    calls: int
    simulated_level: float
    interval: float               # half-width of the 95 % confidence interval of simulated_level
    formula_level: float
    simulated_wait_share: float   # share of callers who waited at all
    formula_wait_share: float

    @property
    def agrees(self) -> bool:
        """The formula's level lies within the simulation's 95 % interval (or 0.5 percentage point)."""
        return abs(self.simulated_level - self.formula_level) <= max(self.interval, 0.005)


def simulate(calls_per_hour: float, aht: float, operators: int, within: float, hours: int,
             seed: int) -> Check:
    """``hours`` busy hours back to back at ``calls_per_hour``; the first hour warms up and is not
    counted; each ``BATCH_HOURS`` later hours make one batch for the confidence interval (long enough
    that a queue carried from one batch into the next changes little)."""
    if calls_per_hour <= 0 or aht <= 0 or operators < 1 or hours < 1 + 2 * BATCH_HOURS:
        raise ValueError(f"needs calls, a handling time, an operator and at least {1 + 2 * BATCH_HOURS} hours")
    rng = random.Random(seed)
    free = [0.0] * operators          # when each operator is next free, a heap
    batches: list[tuple[int, int]] = []   # (answered within the target, calls) of each batch
    waited, clock = 0, 0.0
    for hour in range(hours):
        clock, in_time, total, waits = _hour(rng, free, clock, (hour + 1) * 3600.0, calls_per_hour, aht, within)
        if hour == 0:
            continue
        if (hour - 1) % BATCH_HOURS == 0:
            batches.append((0, 0))
        batches[-1] = (batches[-1][0] + in_time, batches[-1][1] + total)
        waited += waits
    traffic = calls_per_hour * aht / 3600
    calls = sum(total for _, total in batches)
    level, interval = ratio_estimate(batches)
    return Check(operators=operators, calls=calls, simulated_level=level, interval=interval,
                 formula_level=erlang.service_level(traffic, operators, aht, within),
                 simulated_wait_share=waited / calls if calls else math.nan,
                 formula_wait_share=erlang.erlang_c(traffic, operators))


def _hour(rng: random.Random, free: list[float], clock: float, end: float, calls_per_hour: float, aht: float,
          within: float) -> tuple[float, int, int, int]:
    """Callers arriving from ``clock`` to ``end``, each taken by the operator free first (``free`` is
    updated); returns (``end``, answered within the target, calls, calls that waited)."""
    in_time = total = waited = 0
    while True:
        clock += rng.expovariate(calls_per_hour / 3600)
        if clock >= end:
            return end, in_time, total, waited   # memoryless: the next arrival is drawn afresh from the end
        start = max(clock, heapq.heappop(free))
        heapq.heappush(free, start + rng.expovariate(1 / aht))
        total += 1
        in_time += start - clock <= within
        waited += start > clock


def ratio_estimate(batches: list[tuple[int, int]]) -> tuple[float, float]:
    """Σ hits / Σ calls over the batches, and the half-width of its 95 % confidence interval (the
    ratio estimator's variance: batches hold different numbers of calls)."""
    batches = [(hits, calls) for hits, calls in batches if calls]
    k = len(batches)
    total = sum(calls for _, calls in batches)
    if k < 2 or not total:
        return (sum(hits for hits, _ in batches) / total if total else math.nan), math.inf
    ratio = sum(hits for hits, _ in batches) / total
    mean_calls = total / k
    spread = sum((hits - ratio * calls) ** 2 for hits, calls in batches) / (k - 1)
    return ratio, 1.96 * math.sqrt(spread / k) / mean_calls


def around(calls_per_hour: float, aht: float, operators: int, within: float, hours: int,
           seed: int) -> list[Check]:
    """The check at ``operators`` − 1 (where the queue stays finite), ``operators`` and + 1."""
    traffic = calls_per_hour * aht / 3600
    counts = [n for n in (operators - 1, operators, operators + 1) if n >= 1 and n > traffic]
    return [simulate(calls_per_hour, aht, n, within, hours, seed + n) for n in counts]
