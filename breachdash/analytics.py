"""Read side: what the pages show, shaped as plain data and DataFrames."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy.engine import Engine

from breachdash.auth.rules import Actor, require_signed_in
from breachdash.comms.service import phase_progress
from breachdash.common import utcnow
from breachdash.incidents.models import Incident
from breachdash.incidents.service import get_incident
from breachdash.obligations.service import upcoming_obligations
from breachdash.outreach.service import outreach_totals
from breachdash.scope.rules import PROTECTION_WORDS
from breachdash.scope.service import ScopeState, revision_history, scope_state


@dataclass(frozen=True)
class FinancialExposure:
    """The first thing leadership asks: is financial data involved, for how many, and was it
    readable? One plain line per data type and population, in the strongest state found."""

    state: str  # "confirmed", "suspected" or "not found"
    lines: list[str]  # "Payment card numbers: up to 8,600,000 individuals — encrypted; … (US consumers)"
    data_types: list[str]  # display names
    all_protected: bool = False  # every line is encrypted with the key safe, hashed, partial or expired


@dataclass(frozen=True)
class Overview:
    incident: Incident
    scope: ScopeState | None
    history: pd.DataFrame
    financial: FinancialExposure
    phases: pd.DataFrame
    outreach: pd.DataFrame
    obligations: pd.DataFrame
    read_at: datetime


PROTECTED = ("encrypted, key not taken", "hashed", "partial or truncated", "expired")


def financial_exposure(scope: ScopeState | None) -> FinancialExposure:
    if scope is None:
        return FinancialExposure("not found", [], [])
    types = scope.data_types
    financial = types[types["tier"] == "financial"]
    several = len(scope.populations) > 1
    for state in ("confirmed", "suspected"):
        rows = financial[financial["status"] == state]
        if len(rows):
            lines = [f"{r.name}: {r.figure.describe(r.unit)} — {PROTECTION_WORDS.get(r.protection, r.protection)}"
                     + (f" ({r.population})" if several else "") for r in rows.itertuples()]
            return FinancialExposure(state, lines, list(dict.fromkeys(rows["name"])),
                                     all_protected=bool(rows["protection"].isin(PROTECTED).all()))
    return FinancialExposure("not found", [], [])


def headline_text(scope: ScopeState | None) -> str:
    """The scope in one line: the total where it means something, else each population's figure."""
    if scope is None:
        return "no estimate yet"
    if scope.total is not None:
        return scope.total.describe(scope.total_unit, short=True)
    return "; ".join(f"{p.label}: {p.figure.describe(p.unit, short=True)}" for p in scope.populations)


def overview(engine: Engine, *, actor: Actor | None, incident_id: int) -> Overview:
    require_signed_in(actor)
    scope = scope_state(engine, actor=actor, incident_id=incident_id)
    return Overview(
        incident=get_incident(engine, actor=actor, incident_id=incident_id),
        scope=scope,
        history=revision_history(engine, actor=actor, incident_id=incident_id),
        financial=financial_exposure(scope),
        phases=phase_progress(engine, actor=actor, incident_id=incident_id),
        outreach=outreach_totals(engine, actor=actor, incident_id=incident_id),
        obligations=upcoming_obligations(engine, actor=actor, incident_id=incident_id),
        read_at=utcnow(),
    )


def portfolio(engine: Engine, *, actor: Actor | None) -> pd.DataFrame:
    """Every open incident's headline figures and its worst deadline (late first, else soonest);
    empty when only one is open."""
    from breachdash.incidents.service import list_incidents

    require_signed_in(actor)
    incidents = list_incidents(engine, actor=actor)
    open_ = incidents[incidents["status"] == "open"]
    rows = []
    # One open incident is the page itself: no need to compute its figures twice.
    for item in (open_.itertuples() if len(open_) > 1 else ()):
        data = overview(engine, actor=actor, incident_id=item.id)
        obligations = data.obligations
        late = obligations[obligations["status"].isin(["late", "filed late"])]
        due = obligations[obligations["due_at"].notna() & (obligations["status"] != "filed late")]
        worst = late.iloc[0] if len(late) else (due.iloc[0] if len(due) else None)
        rows.append({
            "incident_id": item.id, "incident": item.title, "company": item.company,
            "affected": headline_text(data.scope), "unit": data.scope.total_unit or "" if data.scope else "",
            "financial": data.financial.state, "contained": data.incident.contained_at is not None,
            "phases_sent": int(data.phases["status"].isin(["sent", "done"]).sum()), "phases": len(data.phases),
            "late": len(late), "worst_deadline": None if worst is None else worst["due_at"],
            "worst_rule": "" if worst is None else f"{worst['rule_id']} ({worst['status']})",
        })
    return pd.DataFrame(rows, columns=["incident_id", "incident", "company", "affected", "unit", "financial",
                                       "contained", "phases_sent", "phases", "late", "worst_deadline", "worst_rule"])
