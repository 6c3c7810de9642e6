"""The demo incident: a fictional retailer's breach, replayed day by day through the services.

Deterministic: the same seed and anchor give the same figures. Every record is written by the
real services, as the demo user of the right role, under a simulated clock, so the audit trail
and timeline of the demo look exactly like a real incident's.
"""
from __future__ import annotations

import random
from datetime import datetime, time, timedelta, timezone

from sqlalchemy.engine import Engine

from breachdash.auth.models import Role
from breachdash.auth.rules import Actor, system_actor
from breachdash.auth.service import add_user, demo_mode
from breachdash.comms import service as comms
from breachdash.common import simulated_clock
from breachdash.incidents.models import Incident
from breachdash.incidents.service import create_incident, set_milestone
from breachdash.obligations.service import file_obligation, find_obligation
from breachdash.outreach.service import record_outreach
from breachdash.remediation.service import add_action, set_action_status
from breachdash.scope.service import record_revision
from breachdash.timeline.service import add_event

DEMO_SEED = 20_261_127
DEMO_SLUG = "kestrel-loyalty-breach"
DEMO_DOMAIN = "demo.example"

# (role, email, display name, password) — shown on the sign-in page in demo mode only.
DEMO_USERS = [
    (Role.executive, f"ceo@{DEMO_DOMAIN}", "Dana Whitfield (CEO)", "demo-executive"),
    (Role.pr, f"pr@{DEMO_DOMAIN}", "Sam Okafor (Communications)", "demo-pr-lead"),
    (Role.legal, f"legal@{DEMO_DOMAIN}", "Priya Raman (General Counsel)", "demo-legal-counsel"),
    (Role.architect, f"architect@{DEMO_DOMAIN}", "Lena Fischer (Security Architect)", "demo-architect"),
    (Role.admin, f"admin@{DEMO_DOMAIN}", "Tom Baker (IT Admin)", "demo-admin-user"),
]

LOYALTY_DB = "Loyalty platform customer database (loyalty-db-02)"
VPN = "Vendor remote-access VPN"
PAYMENTS = "Card tokenisation gateway (pay-tok-01)"

# Share of affected customers per region: US states and EU countries, plus the UK.
REGION_WEIGHTS = {
    "US-CA": 0.21, "US-TX": 0.14, "US-NY": 0.11, "US-FL": 0.09, "US-WA": 0.05, "US-IL": 0.06,
    "US-MA": 0.04, "DE": 0.08, "FR": 0.06, "IE": 0.03, "NL": 0.04, "ES": 0.03, "GB": 0.06,
}


def default_anchor() -> datetime:
    """Detection happened nine days before today (00:00 UTC), so the demo's clocks are live."""
    today = datetime.now(timezone.utc).date()
    return datetime.combine(today - timedelta(days=9), time(0, 0), tzinfo=timezone.utc)


def demo_actors() -> dict[Role, Actor]:
    return {role: Actor(email=email, roles=frozenset({role}), display_name=name)
            for role, email, name, _ in DEMO_USERS}


def _revision_plan(rng: random.Random) -> list[dict]:
    """Seven revisions converging on the true count, the first one in records, not people."""
    true_count = 2_160_000 + rng.randrange(0, 9_000)
    plan = [
        # (day offset hours, unit, spread fraction, bias, confidence, method, reason, card status, bank status)
        (7, "records", 0.45, 1.55, "low", "Row count of the loyalty tables touched by the attacker's queries",
         "First count from database access logs; rows, not people", "suspected", "suspected"),
        (30, "individuals", 0.40, 0.90, "low", "Records mapped to loyalty member ids",
         "Rows collapsed to distinct members", "suspected", "suspected"),
        (54, "individuals", 0.25, 0.97, "medium", "Forensic analysis of DB access logs (outside firm)",
         "Attacker's export jobs reconstructed", "suspected", "suspected"),
        (80, "individuals", 0.14, 1.03, "medium", "Export files recovered from staging server",
         "Card-token table confirmed in exports", "confirmed", "suspected"),
        (126, "individuals", 0.07, 0.99, "high", "De-duplication against the member master",
         "Duplicate member profiles removed; count comes down", "confirmed", "suspected"),
        (170, "individuals", 0.04, 1.0, "high", "Full replay of exported batches",
         "Remaining batches reconciled", "confirmed", "not found"),
        (200, "individuals", 0.015, 1.0, "high", "Final reconciliation with payment processor",
         "Processor confirmed the card range; bank data not in scope", "confirmed", "not found"),
    ]
    revisions = []
    for hours, unit, spread, bias, confidence, method, reason, card, bank in plan:
        best = int(true_count * bias * (1 + rng.uniform(-0.01, 0.01)))
        low, high = int(best * (1 - spread)), int(best * (1 + spread))
        people = best if unit == "individuals" else int(best / bias)
        shares = {"name": 1.0, "email": 0.97, "phone": 0.71, "postal_address": 0.88, "date_of_birth": 0.41,
                  "credentials": 0.62, "payment_card": 0.137}
        data_types = [{"data_type": code, "count": min(high, int(people * share * rng.uniform(0.98, 1.0))),
                       "status": card if code == "payment_card" else "confirmed"}
                      for code, share in shares.items()]
        if bank != "not found":
            data_types.append({"data_type": "bank_account", "count": int(people * 0.018), "status": bank})
        regions = [{"region": code, "count": int(min(best, high) * weight)} for code, weight in REGION_WEIGHTS.items()]
        # Demo cross-tab: each region's share of each data type, a little uneven by region.
        region_counts = {item["region"]: item["count"] for item in regions}
        type_shares = {item["data_type"]: min(1.0, item["count"] / people) for item in data_types}
        cells = [{"data_type": code, "region": region,
                  "count": min(count, int(count * share * rng.uniform(0.9, 1.0)))}
                 for code, share in type_shares.items() for region, count in region_counts.items()]
        revisions.append({
            "hours": hours,
            "revision": {
                "low": low, "best": best, "high": high, "unit": unit,
                "confidence": confidence, "method": method, "reason": reason,
                "data_types": data_types, "regions": regions, "cells": cells,
                "systems": [{"system": LOYALTY_DB, "count": best}] + (
                    [{"system": PAYMENTS, "count": int(people * 0.137)}] if card == "confirmed" else []),
            },
        })
    return revisions


def seed_demo(engine: Engine, *, anchor: datetime | None = None, seed: int = DEMO_SEED) -> Incident:
    """Create the demo users and incident. Refuses to run twice on one database."""
    if demo_mode(engine):
        raise RuntimeError("The demo incident is already loaded in this database.")
    anchor = anchor or default_anchor()
    rng = random.Random(seed)
    detect = anchor + timedelta(hours=9, minutes=14)

    def at(hours: float) -> datetime:
        return detect + timedelta(hours=hours)

    actors = demo_actors()
    exec_, pr, legal, arch = actors[Role.executive], actors[Role.pr], actors[Role.legal], actors[Role.architect]

    with simulated_clock(detect - timedelta(days=1)):
        for role, email, name, password in DEMO_USERS:
            add_user(engine, actor=system_actor(),
                     user_in={"email": email, "display_name": name, "password": password,
                              "roles": [role], "is_demo": True})

    with simulated_clock(at(0.75)):
        incident = create_incident(engine, actor=exec_, incident_in={
            "slug": DEMO_SLUG,
            "title": "Loyalty database breach",
            "company": "Kestrel Home & Garden, Inc. (fictional)",
            "summary": ("An attacker used a vendor's stolen VPN credentials to reach the loyalty platform "
                        "and exported member records, including tokenised card data. Demo data: fictional."),
            "sector_flags": ["sec_registrant"],
            "display_timezone": "America/New_York",
            "is_demo": True,
        })
    incident_id = incident.id
    version = incident.version

    def milestone(hours: float, name: str, moment: datetime, actor: Actor, precision: str = "exact") -> None:
        nonlocal version
        with simulated_clock(at(hours)):
            updated = set_milestone(engine, actor=actor, incident_id=incident_id, milestone=name, at=moment,
                                    expected_version=version, precision=precision)
        version = updated.version

    def event(hours_recorded: float, hours_happened: float, kind: str, title: str, detail: str = "",
              systems: list[str] | None = None, actor: Actor = arch, source: str = "") -> None:
        with simulated_clock(at(hours_recorded)):
            add_event(engine, actor=actor, incident_id=incident_id, event_in={
                "occurred_at": at(hours_happened), "kind": kind, "title": title, "detail": detail,
                "systems": systems or [], "source_ref": source})

    milestone(1, "detected_at", at(0), arch)
    event(1.5, -0.2, "detection", "IDS alert: unusual outbound transfer from loyalty-db-02",
          "Sustained 40 MB/s egress to an unknown host outside business hours.", [LOYALTY_DB], source="IDS-4471")
    event(2, 1.8, "decision", "Incident response team activated",
          "Severity 1 declared; bridge opened with security, IT and Legal.", actor=legal)
    milestone(5.75, "legal_aware_at", at(5.75), legal)
    event(6, 5.5, "legal", "Outside counsel retained", "Breach counsel engaged under privilege.", actor=legal)

    revisions = _revision_plan(rng)
    def revise(index: int) -> None:
        plan = revisions[index]
        with simulated_clock(at(plan["hours"])):
            record_revision(engine, actor=arch, incident_id=incident_id, revision_in=plan["revision"])

    tracked: dict[str, object] = {}

    def track(hours: float, key: str, text: str, category: str, owner: str, due_hours: float) -> None:
        with simulated_clock(at(hours)):
            tracked[key] = add_action(engine, actor=arch, incident_id=incident_id, action_in={
                "action": text, "category": category, "owner_role": owner, "due_at": at(due_hours)})

    def complete(hours: float, key: str) -> None:
        with simulated_clock(at(hours)):
            set_action_status(engine, actor=arch, action_id=tracked[key].id, status="done",
                              expected_version=tracked[key].version)

    revise(0)
    event(10, 8, "forensic finding", "Attacker used a vendor's VPN account",
          "Logins from the vendor account came from an unfamiliar ASN since early October.", [VPN])
    milestone(12, "intrusion_started_at", at(-24 * 41), arch, precision="day")
    track(14, "vpn", "Disable the vendor's VPN account and isolate loyalty-db-02", "containment", "architect", 18)
    complete(18, "vpn")
    milestone(26, "contained_at", at(25), arch)
    revise(1)
    track(31, "reset", "Force a password reset for every loyalty account", "remediation", "architect", 84)
    track(31, "mfa", "Roll out multi-factor authentication for all vendor remote access", "remediation",
          "architect", 96)
    track(31, "segment", "Segment the loyalty platform from the corporate network", "remediation", "architect", 192)
    track(31, "controls", "Security-controls review: intrusion detection, firewalls, multi-factor authentication",
          "post-incident", "architect", 24 * 14)
    track(31, "pentest", "Independent penetration test of the loyalty platform", "post-incident", "architect", 24 * 30)
    track(31, "review", "Post-incident review with the executive team", "post-incident", "executive", 24 * 21)
    event(34, 32, "law enforcement", "FBI field office notified", "Case number recorded with Legal.", actor=legal,
          source="FBI-IC3 ref on file")
    event(40, 38, "forensic finding", "Export jobs reconstructed from query logs",
          "Eleven export batches between day -12 and day 0.", [LOYALTY_DB])
    event(46, 45, "decision", "Board briefed; holding statement approved for press enquiries", actor=legal)

    # Internal alignment: Legal and PR agree one factual message before any customer contact.
    phases = {row.key: row for row in comms.phase_progress(engine, actor=legal, incident_id=incident_id).itertuples()}
    with simulated_clock(at(48)):
        alignment = comms.save_message(engine, actor=pr, phase_id=phases["internal_alignment"].phase_id,
                                       subject="Agreed facts and holding statement", body=_ALIGNMENT_TEXT,
                                       base_number=None)
    _complete_checklist(engine, actors, phases["internal_alignment"].phase_id, at(50))
    for hours, role in ((51, Role.legal), (52, Role.pr)):
        with simulated_clock(at(hours)):
            comms.sign_off(engine, actor=actors[role], message_version_id=alignment.id, role=role,
                           decision="approve", comment="Agreed as the single factual message.")
    _move(engine, pr, phases["internal_alignment"].phase_id, ["in review", "approved"], at(53))
    revise(2)

    # Initial notice: first a draft that Legal sends back, then the approved text.
    with simulated_clock(at(56)):
        draft1 = comms.save_message(engine, actor=pr, phase_id=phases["initial_notice"].phase_id,
                                    subject="Important notice about your Kestrel Rewards account",
                                    body=_NOTICE_TEXT.replace("{extra}", " Our SOC detected exfiltration via lateral movement."),
                                    base_number=None)
    with simulated_clock(at(58)):
        comms.sign_off(engine, actor=legal, message_version_id=draft1.id, role=Role.legal,
                       decision="request changes", comment="Remove technical jargon; keep it brief.")
    event(60, 59, "regulator", "Informal call with the Irish Data Protection Commission", actor=legal)
    with simulated_clock(at(62)):
        notice = comms.save_message(engine, actor=pr, phase_id=phases["initial_notice"].phase_id,
                                    subject="Important notice about your Kestrel Rewards account",
                                    body=_NOTICE_TEXT.replace("{extra}", ""), base_number=draft1.number)
    for hours, role in ((63, Role.legal), (64, Role.pr), (65, Role.executive)):
        with simulated_clock(at(hours)):
            comms.sign_off(engine, actor=actors[role], message_version_id=notice.id, role=role, decision="approve")
    _complete_checklist(engine, actors, phases["initial_notice"].phase_id, at(66))
    _move(engine, pr, phases["initial_notice"].phase_id, ["in review", "approved"], at(67))
    with simulated_clock(at(70)):
        phase_version = _phase_version(engine, legal, incident_id, "initial_notice")
        comms.mark_sent(engine, actor=pr, phase_id=phases["initial_notice"].phase_id,
                        channels=["email", "web notice"], expected_version=phase_version)

    with simulated_clock(at(71)):
        # The obligations themselves come from the rules engine (recomputed with every revision).
        for rule_id, filed, reference in (
                ("EU-GDPR-33-SA", 70.5, "DPC breach notification form, ref BN-2291 (fictional)"),
                ("UK-GDPR-33-ICO", 70.5, "ICO personal data breach report, ref IC-58812 (fictional)"),
                ("US-CA-IND", 70, "Initial customer notice emailed (Communications: initial notice sent)")):
            file_obligation(engine, actor=legal, obligation_id=find_obligation(engine, incident_id, rule_id).id,
                            filed_at=at(filed), reference=reference)

    revise(3)
    complete(82, "reset")
    complete(95, "mfa")
    _record_outreach(engine, pr, phases["initial_notice"].phase_id, revisions[3]["revision"], rng, at(100))
    revise(4)
    event(130, 128, "forensic finding", "Duplicate member profiles explained the early over-count", systems=[LOYALTY_DB])
    event(150, 149, "decision", "Two years of free credit monitoring offered to affected customers", actor=legal)

    with simulated_clock(at(160)):
        follow_up = comms.save_message(engine, actor=pr, phase_id=phases["detailed_follow_up"].phase_id,
                                       subject="What we have learned about the Kestrel Rewards incident",
                                       body=_FOLLOW_UP_TEXT, base_number=None)
    with simulated_clock(at(164)):
        comms.sign_off(engine, actor=pr, message_version_id=follow_up.id, role=Role.pr, decision="approve")
    _move(engine, pr, phases["detailed_follow_up"].phase_id, ["in review"], at(165))
    revise(5)
    _record_outreach(engine, pr, phases["initial_notice"].phase_id, revisions[5]["revision"], rng, at(180))
    complete(188, "segment")
    revise(6)
    event(206, 204, "forensic finding", "Processor confirms card range; no bank account data exported",
          systems=[PAYMENTS])
    return _final(engine, incident_id)


def _final(engine: Engine, incident_id: int) -> Incident:
    from breachdash.incidents.service import get_incident

    return get_incident(engine, actor=system_actor(), incident_id=incident_id)


def _phase_version(engine: Engine, actor: Actor, incident_id: int, key: str) -> int:
    progress = comms.phase_progress(engine, actor=actor, incident_id=incident_id)
    return int(progress.loc[progress["key"] == key, "version"].iloc[0])


def _move(engine: Engine, actor: Actor, phase_id: int, statuses: list[str], moment: datetime) -> None:
    for status in statuses:
        with simulated_clock(moment):
            progress = comms.phase_progress(engine, actor=actor, incident_id=_incident_of(engine, phase_id))
            version = int(progress.loc[progress["phase_id"] == phase_id, "version"].iloc[0])
            comms.transition_phase(engine, actor=actor, phase_id=phase_id, to_status=status,
                                   expected_version=version)


def _incident_of(engine: Engine, phase_id: int) -> int:
    from breachdash.comms.models import CommsPhase
    from breachdash.db import read_session

    with read_session(engine) as session:
        return session.get(CommsPhase, phase_id).incident_id


def _complete_checklist(engine: Engine, actors: dict[Role, Actor], phase_id: int, moment: datetime) -> None:
    from breachdash.comms.models import ChecklistItem
    from breachdash.db import read_session
    from sqlmodel import select

    with read_session(engine) as session:
        items = session.exec(select(ChecklistItem).where(ChecklistItem.phase_id == phase_id)).all()
    for item in items:
        with simulated_clock(moment):
            comms.set_checklist_item(engine, actor=actors[Role(item.owner_role)], item_id=item.id, done=True,
                                     expected_version=item.version)


def _record_outreach(engine: Engine, pr: Actor, phase_id: int, revision: dict, rng: random.Random,
                     moment: datetime) -> None:
    """Email outreach per region, partly done: some regions further along than others."""
    with simulated_clock(moment):
        for item in revision["regions"]:
            targeted = int(item["count"] * 0.96)
            sent = int(targeted * rng.uniform(0.55, 0.98))
            bounced = int(sent * rng.uniform(0.03, 0.07))
            delivered = int((sent - bounced) * rng.uniform(0.9, 0.99))
            record_outreach(engine, actor=pr, phase_id=phase_id, counts_in={
                "channel": "email", "region": item["region"], "targeted": targeted, "sent": sent,
                "delivered": delivered, "bounced": bounced, "opened": int(delivered * rng.uniform(0.3, 0.5)),
                "replied": int(delivered * rng.uniform(0.008, 0.015)),
                "opted_out": int(delivered * 0.002), "substitute_issued": int(bounced * rng.uniform(0.1, 0.6))})


_ALIGNMENT_TEXT = """Agreed facts (internal):
- An unauthorised party accessed our loyalty programme database using a vendor's stolen credentials.
- We detected it, cut off the access and brought in outside forensic experts.
- Names, email and postal addresses, phone numbers and some payment card details may be involved.
- No customer contact until this message is approved by Legal and PR.

Holding statement for press: "We are investigating a security incident affecting our loyalty programme.
We have stopped the unauthorised access and are working with outside experts and law enforcement."
"""

_NOTICE_TEXT = """Dear customer,

We are writing to tell you about a security incident that may involve your Kestrel Rewards account.
We recently found that someone without permission accessed a database that holds information about
members of our loyalty programme. We stopped the access as soon as we found it and are working with
outside experts and law enforcement.{extra}

The information involved may include your name, email address, postal address and phone number, and for
some members payment card details.

What you can do: watch your card statements, and be careful with emails that ask for personal details.
We have reset your Kestrel Rewards password; you will be asked to choose a new one when you next sign in.

If you have questions, call us on 0800 000 0000 (fictional) or visit kestrel.example/notice.
"""

_FOLLOW_UP_TEXT = """Dear customer,

Last week we told you about a security incident involving our loyalty programme. Our investigation is now
nearly complete, and we want to share what we have learned.

What happened: between early October and our discovery, an unauthorised party used a supplier's stolen
sign-in details to access the loyalty programme database.

What information was involved: names, email and postal addresses, phone numbers, dates of birth for some
members, account passwords (stored in scrambled form) and, for about one in seven members, payment card
numbers. Bank account details were not involved.

What we are doing: we closed the access, reset all loyalty passwords, required two-step sign-in for all
supplier access and separated the loyalty systems from the rest of our network. We are offering two years of
free credit monitoring.

What you can do: enrol in credit monitoring using the code in this letter, review card statements and
report anything unusual to your bank.

Contact us: 0800 000 0000 (fictional), 8am–8pm every day, or kestrel.example/notice.
"""
