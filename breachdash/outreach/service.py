"""Outreach counts per phase x channel x region x segment."""
from __future__ import annotations

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import BigInteger, cast
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from breachdash.audit.service import record_audit
from breachdash.auth.rules import Action, Actor, require, require_signed_in
from breachdash.comms.models import Channel, CommsPhase
from breachdash.db import read_session, write_session
from breachdash.errors import validate_input, InvalidInput, NotFound
from breachdash.outreach.models import OUTREACH_MEASURES, OutreachCount
from breachdash.reference import is_valid_region
from breachdash.timeline.models import EventKind
from breachdash.timeline.service import log_event
from breachdash.versioning import apply_versioned_update


class OutreachCountsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: Channel
    region: str = Field(default="", max_length=10)
    segment: str = Field(default="", max_length=60)
    targeted: int = Field(default=0, ge=0)
    sent: int = Field(default=0, ge=0)
    delivered: int = Field(default=0, ge=0)
    bounced: int = Field(default=0, ge=0)
    opened: int = Field(default=0, ge=0)
    replied: int = Field(default=0, ge=0)
    opted_out: int = Field(default=0, ge=0)
    substitute_issued: int = Field(default=0, ge=0)


def outreach_problems(counts: OutreachCountsIn) -> list[tuple[str, str]]:
    problems = []
    if counts.sent > counts.targeted:
        problems.append(("sent", f"{counts.sent:,} sent is more than {counts.targeted:,} targeted"))
    if counts.delivered + counts.bounced > counts.sent:
        problems.append(("delivered", f"delivered + bounced ({counts.delivered + counts.bounced:,}) is more than sent ({counts.sent:,})"))
    if counts.opened > counts.delivered:
        problems.append(("opened", f"{counts.opened:,} opened is more than {counts.delivered:,} delivered"))
    if counts.region and not is_valid_region(counts.region):
        problems.append(("region", f"unknown ISO 3166 region code {counts.region!r}"))
    return problems


OUTREACH_MILESTONES = (0.25, 0.5, 0.75, 1.0)


def crossed_milestones(before: float, after: float) -> list[float]:
    """Delivery shares passed by this change, e.g. 0.48 -> 0.52 crosses 0.5."""
    return [m for m in OUTREACH_MILESTONES if before < m <= after]


def _phase_delivered(session, phase_id: int) -> int:
    return int(session.exec(select(cast(func.coalesce(func.sum(OutreachCount.delivered), 0), BigInteger))
                            .where(OutreachCount.phase_id == phase_id)).one())


def _people_to_reach(session, incident_id: int, phase_id: int) -> tuple[int, str]:
    """The basis for delivery milestones: the affected individuals of the latest estimate (a
    stable total while cells are entered one by one), else the total targeted so far."""
    from breachdash.scope.service import latest_revision

    latest = latest_revision(session, incident_id)
    if latest is not None and latest.unit == "individuals" and latest.best > 0:
        return latest.best, "affected customers"
    targeted = int(session.exec(select(cast(func.coalesce(func.sum(OutreachCount.targeted), 0), BigInteger))
                                .where(OutreachCount.phase_id == phase_id)).one())
    return targeted, "targeted"


def record_outreach(
    engine: Engine, *, actor: Actor, phase_id: int, counts_in: OutreachCountsIn | dict,
    expected_version: int | None = None,
) -> OutreachCount:
    """Create or replace the counts of one cell; replacing needs the version that was read."""
    require(actor, Action.record_outreach)
    counts_in = validate_input(OutreachCountsIn, counts_in)
    problems = outreach_problems(counts_in)
    if problems:
        raise InvalidInput(problems)
    values = counts_in.model_dump(include=set(OUTREACH_MEASURES))
    with write_session(engine) as session:
        phase = session.get(CommsPhase, phase_id)
        if phase is None:
            raise NotFound(f"No communication phase with id {phase_id}.")
        region = counts_in.region.upper()
        delivered_before = _phase_delivered(session, phase_id)
        cell = session.exec(select(OutreachCount).where(
            OutreachCount.phase_id == phase_id, OutreachCount.channel == counts_in.channel.value,
            OutreachCount.region == region, OutreachCount.segment == counts_in.segment)).first()
        if cell is None:
            before = None
            cell = OutreachCount(incident_id=phase.incident_id, phase_id=phase_id, channel=counts_in.channel.value,
                                 region=region, segment=counts_in.segment, updated_by=actor.email, **values)
            session.add(cell)
            session.flush()
        else:
            before = {m: getattr(cell, m) for m in OUTREACH_MEASURES}
            cell = apply_versioned_update(
                session, OutreachCount, row_id=cell.id,
                expected_version=cell.version if expected_version is None else expected_version,
                changes=values, actor_email=actor.email)
        delivered = _phase_delivered(session, phase_id)
        basis, basis_name = _people_to_reach(session, phase.incident_id, phase_id)
        if basis:
            for milestone in crossed_milestones(delivered_before / basis, delivered / basis):
                log_event(session, incident_id=phase.incident_id, kind=EventKind.communication,
                          title=f"Outreach milestone: {phase.name} delivered to {milestone:.0%} of "
                                f"{basis_name} ({delivered:,} of {basis:,})",
                          recorded_by=actor.email, origin=("outreach", f"{phase.key}:{milestone:.2f}"))
        record_audit(session, actor=actor.email, action="outreach.recorded", entity_type="outreach_count",
                     entity_id=cell.id, incident_id=phase.incident_id, before=before,
                     after={"phase": phase.key, "channel": cell.channel, "region": cell.region,
                            "segment": cell.segment, **values})
    return cell


def outreach_totals(engine: Engine, *, actor: Actor | None, incident_id: int) -> pd.DataFrame:
    """Totals per phase, summed in SQL."""
    require_signed_in(actor)
    # Cast: PostgreSQL sums BIGINT as NUMERIC, which would reach pandas as Decimal.
    measures = [cast(func.coalesce(func.sum(getattr(OutreachCount, m)), 0), BigInteger).label(m)
                for m in OUTREACH_MEASURES]
    with read_session(engine) as session:
        rows = session.exec(
            select(CommsPhase.key, CommsPhase.name, *measures)
            .join(CommsPhase, CommsPhase.id == OutreachCount.phase_id)
            .where(OutreachCount.incident_id == incident_id)
            .group_by(CommsPhase.key, CommsPhase.name, CommsPhase.position).order_by(CommsPhase.position)
        ).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=["key", "phase", *OUTREACH_MEASURES])
