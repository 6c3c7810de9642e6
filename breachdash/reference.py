"""Reference data from `data/`: the data-type catalogue, sensitivity tiers and region codes."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache

import pycountry

from breachdash.config import DATA_DIR

# Tiers leadership asks about first; the overview calls them out by name.
CALLED_OUT_TIERS = ("financial", "government_id", "credentials", "health")


@dataclass(frozen=True)
class DataType:
    code: str
    display_name: str
    tier: str
    plain_description: str
    keywords: str = ""  # ';'-separated phrases that mean this data type in a message

    @property
    def phrases(self) -> list[str]:
        return [k.strip().lower() for k in self.keywords.split(";") if k.strip()]


@dataclass(frozen=True)
class Tier:
    code: str
    display_name: str
    rank: int
    description: str


@lru_cache(maxsize=1)
def data_types() -> dict[str, DataType]:
    with (DATA_DIR / "data_types.csv").open(newline="", encoding="utf-8") as handle:
        return {row["code"]: DataType(**row) for row in csv.DictReader(handle)}


@lru_cache(maxsize=1)
def tiers() -> dict[str, Tier]:
    with (DATA_DIR / "sensitivity_tiers.csv").open(newline="", encoding="utf-8") as handle:
        return {
            row["code"]: Tier(row["code"], row["display_name"], int(row["rank"]), row["description"])
            for row in csv.DictReader(handle)
        }


def tier_rank(data_type_code: str) -> int:
    data_type = data_types().get(data_type_code)
    return tiers()[data_type.tier].rank if data_type else 99


@lru_cache(maxsize=4096)
def region_name(code: str) -> str | None:
    """Name of an ISO 3166-1 alpha-2 country or ISO 3166-2 subdivision code; None if unknown."""
    code = code.strip().upper()
    if "-" in code:
        subdivision = pycountry.subdivisions.get(code=code)
        return subdivision.name if subdivision else None
    country = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
    return country.name if country else None


def is_valid_region(code: str) -> bool:
    return region_name(code) is not None


def region_country(code: str) -> str:
    return code.strip().upper().split("-")[0]
