"""Erlang B (lost calls: trunk channels) and Erlang C (calls wait: operators), by the numerically
stable recursion on the number of servers, never by factorials or powers of the traffic.

Traffic ``a`` is in erlangs (arrival rate × mean holding time); ``n`` is the number of servers.
"""
from __future__ import annotations

import math

MAX_SERVERS = 100_000   # a search that needs more is a mistake in its inputs


def erlang_b(a: float, n: int) -> float:
    """Probability that a call finds all ``n`` servers busy and is lost (Erlang B).

    B(a, 0) = 1; B(a, k) = a·B(a, k−1) / (k + a·B(a, k−1)).
    """
    _check(a, n)
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(a: float, n: int) -> float:
    """Probability that a call has to wait for one of ``n`` servers (Erlang C); 1 when ``n`` <= ``a``,
    where the queue grows without end.

    C = n·B / (n − a·(1 − B)), with B the Erlang B of the same ``a`` and ``n``.
    """
    _check(a, n)
    if n <= a:
        return 1.0
    b = erlang_b(a, n)
    return n * b / (n - a * (1.0 - b))


def service_level(a: float, n: int, aht: float, within: float) -> float:
    """Share of calls answered within ``within`` seconds by ``n`` operators whose mean handling time is
    ``aht`` seconds (Erlang C: 1 − C·e^(−(n − a)·within/aht)); 0 when ``n`` <= ``a``."""
    if aht <= 0:
        raise ValueError(f"aht must be positive seconds, got {aht}")
    if n <= a:
        return 0.0
    return 1.0 - erlang_c(a, n) * math.exp(-(n - a) * within / aht)


def mean_wait(a: float, n: int, aht: float) -> float:
    """Mean wait in seconds over all calls (waiting or not) with ``n`` operators (Erlang C:
    C·aht / (n − a)); infinite when ``n`` <= ``a``."""
    if n <= a:
        return math.inf
    return erlang_c(a, n) * aht / (n - a)


def servers_for_blocking(a: float, target: float) -> int:
    """Fewest servers (trunk channels) that lose at most ``target`` of the calls (Erlang B)."""
    if not 0 < target < 1:
        raise ValueError(f"target blocking must be between 0 and 1, got {target}")
    _check(a, 0)
    b, n = 1.0, 0
    while b > target:
        n += 1
        b = a * b / (n + a * b)
        if n > MAX_SERVERS:
            raise ValueError(f"more than {MAX_SERVERS} servers for {a} erlangs")
    return n


def agents_for_service_level(a: float, aht: float, within: float, level: float) -> int:
    """Fewest operators (at least 1) answering ``level`` of the calls within ``within`` seconds
    (Erlang C); ``a`` = 0 still needs one operator on duty."""
    if not 0 < level < 1:
        raise ValueError(f"service level must be between 0 and 1, got {level}")
    n = max(1, math.floor(a) + 1)
    while service_level(a, n, aht, within) < level:
        n += 1
        if n > MAX_SERVERS:
            raise ValueError(f"more than {MAX_SERVERS} operators for {a} erlangs")
    return n


def _check(a: float, n: int) -> None:
    if a < 0 or math.isnan(a):
        raise ValueError(f"traffic must be 0 or more erlangs, got {a}")
    if n < 0:
        raise ValueError(f"servers must be 0 or more, got {n}")
