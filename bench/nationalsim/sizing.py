"""Sizing: each province's trunks, operators and nodes, and the two layouts compared — (a) a pair of
nodes per province, (b) shared regional clusters behind Kamailio routing by dialled area code."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from . import erlang
from .assumptions import HOURLY_SHARE, Assumptions
from .provinces import REGIONS, Country, Province
from .storage import EMPTY, Storage, yearly_storage
from .traffic import Demand, demand, rate_per_1000

#: machines beside the Asterisk nodes at every site (a province in (a), a region in (b)): a Kamailio pair
#: and a PostgreSQL primary with its streaming standby (Redis beside it)
PROXIES_PER_SITE = 2
DATABASES_PER_SITE = 2


@dataclass(frozen=True)
class Staffing:
    """The operators a province needs at its busy hour (Erlang C) and over its mean working day."""

    erlangs: float
    operators: int
    service_level: float
    mean_wait: float
    operator_hours_per_day: float


@dataclass(frozen=True)
class ProvincePlan:
    province: Province
    demand: Demand
    staffing: Staffing
    trunk_erlangs: float          # calls in progress at the busy hour, IVR and desks included
    channels: int                 # trunk channels at the blocking target (Erlang B)
    nodes: int                    # layout (a): the province's own nodes, N+1, at least 2
    storage: Storage


@dataclass(frozen=True)
class RegionPlan:
    """Layout (b): one cluster serving a region's provinces; their busy hours coincide (one time zone)."""

    region: str
    provinces: tuple[ProvincePlan, ...]
    trunk_erlangs: float
    channels: int
    nodes: int
    storage: Storage


@dataclass(frozen=True)
class Plan:
    rate: float
    provinces: tuple[ProvincePlan, ...]
    regions: tuple[RegionPlan, ...]
    national_channels: int        # every province's traffic on one pool (what one site would need)

    def total(self, attribute: str) -> float:
        """The sum over provinces of a ProvincePlan attribute (``"channels"``) or a dotted one
        (``"demand.calls_per_year"``)."""
        return sum(_dotted(plan, attribute) for plan in self.provinces)

    @property
    def storage(self) -> Storage:
        return sum((plan.storage for plan in self.provinces), EMPTY)

    def site_nodes(self, layout: str) -> list[int]:
        """Asterisk nodes of each site of layout ``"a"`` (a province) or ``"b"`` (a region), in order."""
        if layout == "a":
            return [site.nodes for site in self.provinces]
        return [site.nodes for site in self.regions]

    def machines(self, layout: str) -> int:
        """Machines of layout ``"a"`` or ``"b"``: Asterisk nodes plus each site's proxies and databases."""
        return sum(nodes + PROXIES_PER_SITE + DATABASES_PER_SITE for nodes in self.site_nodes(layout))


def nodes_for(channels: int, capacity: int) -> int:
    """Asterisk nodes for ``channels`` calls at once: enough with one node down (N+1), never fewer than 2."""
    if capacity <= 0:
        raise ValueError(f"node capacity must be positive, got {capacity}")
    return max(2, math.ceil(channels / capacity) + 1)


def staffing(calls: Demand, assumptions: Assumptions) -> Staffing:
    """Operators for the queued share of the busy hour's calls, and the hours they work on a mean day."""
    a = assumptions
    traffic = calls.busy_hour_calls * a.queue_share * a.aht_seconds / 3600
    operators = erlang.agents_for_service_level(traffic, a.aht_seconds, a.answer_within, a.service_level)
    hours = sum(erlang.agents_for_service_level(calls.hour_calls(hour) * a.queue_share * a.aht_seconds / 3600,
                                                a.aht_seconds, a.answer_within, a.service_level)
                for hour in HOURLY_SHARE)
    return Staffing(erlangs=traffic, operators=operators,
                    service_level=erlang.service_level(traffic, operators, a.aht_seconds, a.answer_within),
                    mean_wait=erlang.mean_wait(traffic, operators, a.aht_seconds), operator_hours_per_day=hours)


def call_seconds(staff: Staffing, assumptions: Assumptions) -> float:
    """A staffed call's mean time from answer to hangup: IVR, then the queue's wait and the talk (the
    wrap-up holds no trunk) for the queued share, then a desk for the transferred share."""
    a = assumptions
    talk = a.aht_seconds - a.wrapup_seconds
    return a.ivr_seconds + a.queue_share * (staff.mean_wait + talk) + a.desk_share * a.desk_seconds


def plan_province(province: Province, rate: float, assumptions: Assumptions) -> ProvincePlan:
    calls = demand(province, rate, assumptions)
    staff = staffing(calls, assumptions)
    seconds = call_seconds(staff, assumptions)
    trunk = calls.busy_hour_calls * seconds / 3600
    channels = erlang.servers_for_blocking(trunk, assumptions.blocking)
    return ProvincePlan(province=province, demand=calls, staffing=staff, trunk_erlangs=trunk,
                        channels=channels, nodes=nodes_for(channels, assumptions.node_capacity),
                        storage=yearly_storage(calls, seconds, assumptions))


def plan_region(region: str, provinces: tuple[ProvincePlan, ...], assumptions: Assumptions) -> RegionPlan:
    members = tuple(plan for plan in provinces if plan.province.region == region)
    trunk = sum(plan.trunk_erlangs for plan in members)
    channels = erlang.servers_for_blocking(trunk, assumptions.blocking)
    return RegionPlan(region=region, provinces=members, trunk_erlangs=trunk, channels=channels,
                      nodes=nodes_for(channels, assumptions.node_capacity),
                      storage=sum((plan.storage for plan in members), EMPTY))


def plan(country: Country, assumptions: Assumptions) -> Plan:
    """Every province sized, and the regions of layout (b)."""
    rate = rate_per_1000(country, assumptions)
    provinces = tuple(plan_province(province, rate, assumptions) for province in country.provinces)
    regions = tuple(plan_region(region, provinces, assumptions) for region in REGIONS)
    national = erlang.servers_for_blocking(sum(p.trunk_erlangs for p in provinces), assumptions.blocking)
    return Plan(rate=rate, provinces=provinces, regions=regions, national_channels=national)


def headroom(country: Country, assumptions: Assumptions, layout: str) -> float:
    """How many times the plan's rate can grow before layout ``layout`` needs more than two nodes at any of
    its sites (a province in (a), a region in (b)); to within 1 %, at most 1000."""
    base = rate_per_1000(country, assumptions)

    def grows(factor: float) -> bool:
        scaled = replace(assumptions, calls_per_1000_per_year=base * factor)
        return max(plan(country, scaled).site_nodes(layout)) > 2

    low, high = 0.0, 1.0
    while not grows(high) and high < 1000:
        low, high = high, high * 2
    while high - low > 0.01 * high:
        middle = (low + high) / 2
        low, high = (low, middle) if grows(middle) else (middle, high)
    return low


def _dotted(value: object, attribute: str) -> float:
    for part in attribute.split("."):
        value = getattr(value, part)
    return float(value)  # type: ignore[arg-type]
