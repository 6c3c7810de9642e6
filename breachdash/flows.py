"""Cross-domain reactions, named: what else must happen, in the same transaction, after a write
in one domain. Domains call these instead of importing each other's services."""
from __future__ import annotations

from sqlmodel import Session

from breachdash.auth.rules import Actor
from breachdash.incidents.models import Incident
from breachdash.obligations.service import recompute_obligations


def after_incident_created(session: Session, *, incident: Incident, actor: Actor) -> None:
    """Every incident starts with the default communication plan, and its obligations decided."""
    # Imported here to break a cycle: comms.service imports scope.service, which imports this module.
    from breachdash.comms.service import create_default_plan

    create_default_plan(session, incident=incident, actor=actor)
    recompute_obligations(session, incident_id=incident.id, actor_email=actor.email, cause="the incident's creation")


def after_scope_revision(session: Session, *, incident_id: int, actor_email: str, seq: int) -> None:
    """The scope decides which notification clocks run."""
    recompute_obligations(session, incident_id=incident_id, actor_email=actor_email, cause=f"scope revision {seq}")


def after_population_change(session: Session, *, incident_id: int, actor_email: str, label: str) -> None:
    """A population's jurisdictions or unit decide residence-based duties."""
    recompute_obligations(session, incident_id=incident_id, actor_email=actor_email,
                          cause=f"a change to the population '{label}'")


def after_sector_flags_change(session: Session, *, incident_id: int, actor_email: str) -> None:
    """Sector flags (health, financial, …) decide which sector regimes apply."""
    recompute_obligations(session, incident_id=incident_id, actor_email=actor_email,
                          cause="a change of the company's sector flags")


def after_milestone(session: Session, *, incident_id: int, actor_email: str, label: str) -> None:
    """Milestones start the notification clocks (awareness, determination, containment …)."""
    recompute_obligations(session, incident_id=incident_id, actor_email=actor_email, cause=f"the milestone '{label}'")
