"""Cross-domain reactions, named: what else must happen, in the same transaction, after a write
in one domain. Domains call these instead of importing each other's services."""
from __future__ import annotations

from sqlmodel import Session

from breachdash.obligations.service import recompute_obligations


def after_scope_revision(session: Session, *, incident_id: int, actor_email: str, seq: int) -> None:
    """The scope decides which notification clocks run."""
    recompute_obligations(session, incident_id=incident_id, actor_email=actor_email, cause=f"scope revision {seq}")


def after_population_change(session: Session, *, incident_id: int, actor_email: str, label: str) -> None:
    """A population's jurisdictions or unit decide residence-based duties."""
    recompute_obligations(session, incident_id=incident_id, actor_email=actor_email,
                          cause=f"a change to the population '{label}'")
