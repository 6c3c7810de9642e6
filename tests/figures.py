"""Figures a test run reports (payloads tried, fuzz cases, kills survived, ops/s ...).

Tests call `report("name", value)`; the terminal summary of every run prints them under
"breachdash figures", so CI output carries them. Values add up across tests when they are numbers.
"""
from __future__ import annotations

FIGURES: dict[str, object] = {}


def report(name: str, value: object) -> None:
    current = FIGURES.get(name)
    if isinstance(value, (int, float)) and isinstance(current, (int, float)):
        FIGURES[name] = current + value
    else:
        FIGURES[name] = value
