"""The 34 provinces and the seeds' call volumes, read from provinces.yaml and checked on load."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).with_name("provinces.yaml")
REGIONS = ("north", "centre", "south")
REGION_NAMES = {"north": "Bắc (North)", "centre": "Trung (Centre)", "south": "Nam (South)"}


@dataclass(frozen=True)
class Province:
    name: str
    region: str
    population: int
    area_codes: tuple[str, ...]


@dataclass(frozen=True)
class Seed:
    """A call volume a real 1022 hotline reported, and the population it served."""

    province: str
    count: int
    months: float
    what: str
    population: int

    @property
    def per_1000_per_year(self) -> float:
        return self.count * 12 / self.months / self.population * 1000


@dataclass(frozen=True)
class Country:
    provinces: tuple[Province, ...]
    high: Seed
    low: Seed
    source: str
    year: int

    def province(self, name: str) -> Province:
        """The province called ``name`` (case and surrounding spaces ignored)."""
        wanted = name.strip().casefold()
        for province in self.provinces:
            if province.name.casefold() == wanted:
                return province
        raise ValueError(f"no province {name!r}; one of: {', '.join(p.name for p in self.provinces)}")


def load(path: Path = DATA) -> Country:
    """The provinces and seeds of ``path``; a mistake raises ValueError naming the entry."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    provinces = tuple(_province(entry, path) for entry in data["provinces"])
    codes = [code for province in provinces for code in province.area_codes]
    if len(set(codes)) != len(codes):
        raise ValueError(f"{path}: an area code belongs to two provinces")
    seeds = data["seeds"]
    return Country(provinces, Seed(**seeds["high"]), Seed(**seeds["low"]), data["source"], int(data["year"]))


def _province(entry: dict[str, Any], path: Path) -> Province:
    name = entry.get("name", "?")
    if entry.get("region") not in REGIONS:
        raise ValueError(f"{path}: {name}: region must be one of {', '.join(REGIONS)}")
    if not isinstance(entry.get("population"), int) or entry["population"] <= 0:
        raise ValueError(f"{path}: {name}: population must be a whole number of people")
    codes = tuple(entry.get("area_codes") or ())
    if not codes or not all(str(code).isdigit() and str(code).startswith("0") for code in codes):
        raise ValueError(f"{path}: {name}: area_codes must be digits with the leading 0, e.g. \"0251\"")
    return Province(name, entry["region"], entry["population"], codes)
