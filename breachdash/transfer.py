"""Incident JSON export and import: one document with everything recorded about an incident.

The format is described in docs/incident-format.md and data/incident.schema.json. Database ids
never appear in it (they differ between databases); records refer to each other by natural keys
(revision seq, phase key, message number) or by document-local refs (E1, F1). Every list is in
recording order, and import writes in document order, so export -> import -> export gives the
same document.
"""
from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Iterator

from jsonschema import Draft202012Validator
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from breachdash.audit.service import record_audit
from breachdash.auth.models import Role
from breachdash.auth.rules import Action, Actor, require
from breachdash.comms.models import ChecklistItem, CommsPhase, MessageVersion, SendRecord, SignOff
from breachdash.comms.service import content_hash
from breachdash.config import DATA_DIR
from breachdash.db import read_session, write_session
from breachdash.errors import InvalidInput
from breachdash.incidents.models import MILESTONE_FIELDS, Incident
from breachdash.obligations.models import Obligation, ObligationFiling
from breachdash.obligations.service import recompute_obligations
from breachdash.outreach.models import OUTREACH_MEASURES, CountSource, OutreachCount
from breachdash.remediation.models import RemediationAction
from breachdash.scope.models import (
    CellCountIn,
    DataTypeCountIn,
    RegionCountIn,
    ScopeCell,
    ScopeDataTypeCount,
    ScopePopulation,
    ScopeRegionCount,
    ScopeRevision,
    ScopeRevisionCreate,
    ScopeSystemCount,
    SystemCountIn,
)
from breachdash.scope.rules import is_valid_scope_region, revision_problems
from breachdash.timeline.models import TimelineEvent

FORMAT = "breachdash.incident"
FORMAT_VERSION = 2
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024
MAX_REPORTED_PROBLEMS = 200


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    schema = json.loads((DATA_DIR / "incident.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def _ts(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat() if value is not None else None


def _parse_ts(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


# ---------------------------------------------------------------- export

def export_incident(engine: Engine, *, actor: Actor, incident_id: int) -> dict:
    require(actor, Action.export_incident)
    with read_session(engine) as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise InvalidInput.single("incident", f"no incident with id {incident_id}")
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "incident": _export_incident_row(incident),
            "populations": _export_populations(session, incident_id),
            "scope_revisions": _export_revisions(session, incident_id),
            "timeline_events": _export_events(session, incident_id),
            "phases": _export_phases(session, incident_id),
            "obligations": _export_obligations(session, incident_id),
            "actions": _export_actions(session, incident_id),
        }


def _export_incident_row(incident: Incident) -> dict:
    row = incident.model_dump(exclude={"id"})
    for key, value in row.items():
        if isinstance(value, datetime):
            row[key] = _ts(value)
    return row


def _export_populations(session: Session, incident_id: int) -> list[dict]:
    rows = session.exec(select(ScopePopulation).where(ScopePopulation.incident_id == incident_id)
                        .order_by(col(ScopePopulation.position), col(ScopePopulation.id))).all()
    return [{"key": p.key, "label": p.label, "jurisdictions": list(p.jurisdictions or []), "unit": p.unit,
             "disjoint": p.disjoint, "created_at": _ts(p.created_at), "created_by": p.created_by,
             "updated_at": _ts(p.updated_at), "updated_by": p.updated_by, "version": p.version} for p in rows]


def _export_revisions(session: Session, incident_id: int) -> list[dict]:
    revisions = session.exec(select(ScopeRevision, ScopePopulation.key)
                             .join(ScopePopulation, ScopePopulation.id == ScopeRevision.population_id)
                             .where(ScopeRevision.incident_id == incident_id)
                             .order_by(col(ScopeRevision.seq))).all()
    out = []
    for r, population_key in revisions:
        types = session.exec(select(ScopeDataTypeCount).where(ScopeDataTypeCount.revision_id == r.id)
                             .order_by(col(ScopeDataTypeCount.id))).all()
        regions = session.exec(select(ScopeRegionCount).where(ScopeRegionCount.revision_id == r.id)
                               .order_by(col(ScopeRegionCount.id))).all()
        systems = session.exec(select(ScopeSystemCount).where(ScopeSystemCount.revision_id == r.id)
                               .order_by(col(ScopeSystemCount.id))).all()
        cells = session.exec(select(ScopeCell).where(ScopeCell.revision_id == r.id)
                             .order_by(col(ScopeCell.id))).all()
        out.append({
            "seq": r.seq, "population": population_key, "figure_kind": r.figure_kind, "low": r.low, "best": r.best,
            "high": r.high, "wording": r.wording, "sources": list(r.sources or []), "unit": r.unit,
            "confidence": r.confidence, "method": r.method, "reason": r.reason,
            "corrects_seq": r.corrects_seq, "source": r.source, "source_file_sha256": r.source_file_sha256,
            "recorded_at": _ts(r.recorded_at), "recorded_by": r.recorded_by,
            "data_types": [{"data_type": t.data_type, "count": t.count, "count_kind": t.count_kind,
                            "status": t.status, "protection": t.protection} for t in types],
            "regions": [{"region": g.region, "count": g.count, "count_kind": g.count_kind} for g in regions],
            "systems": [{"system": s.system, "count": s.count} for s in systems],
            "cells": [{"data_type": c.data_type, "region": c.region, "count": c.count} for c in cells],
        })
    return out


def _export_events(session: Session, incident_id: int) -> list[dict]:
    events = session.exec(select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
                          .order_by(col(TimelineEvent.id))).all()
    refs = {e.id: f"E{index}" for index, e in enumerate(events, start=1)}
    return [{
        "ref": refs[e.id], "occurred_at": _ts(e.occurred_at), "occurred_precision": e.occurred_precision,
        "recorded_at": _ts(e.recorded_at), "kind": e.kind, "title": e.title, "detail": e.detail,
        "systems": list(e.systems), "source_ref": e.source_ref, "recorded_by": e.recorded_by,
        "supersedes": refs.get(e.supersedes_id), "retracted_at": _ts(e.retracted_at),
        "retracted_by": e.retracted_by, "retraction_reason": e.retraction_reason,
        "origin_type": e.origin_type, "origin_ref": e.origin_ref,
    } for e in events]


def _export_phases(session: Session, incident_id: int) -> list[dict]:
    phases = session.exec(select(CommsPhase).where(CommsPhase.incident_id == incident_id)
                          .order_by(col(CommsPhase.id))).all()
    out = []
    for p in phases:
        items = session.exec(select(ChecklistItem).where(ChecklistItem.phase_id == p.id)
                             .order_by(col(ChecklistItem.id))).all()
        versions = session.exec(select(MessageVersion).where(MessageVersion.phase_id == p.id)
                                .order_by(col(MessageVersion.id))).all()
        numbers = {v.id: v.number for v in versions}
        messages = []
        for v in versions:
            sign_offs = session.exec(select(SignOff).where(SignOff.message_version_id == v.id)
                                     .order_by(col(SignOff.id))).all()
            messages.append({
                "audience": v.audience, "number": v.number, "subject": v.subject, "body": v.body,
                "content_sha256": v.content_sha256, "checks": v.checks, "facts_revision_seq": v.facts_revision_seq,
                "created_at": _ts(v.created_at), "created_by": v.created_by,
                "sign_offs": [{"signer": s.signer, "role": s.role, "decision": s.decision, "comment": s.comment,
                               "content_sha256": s.content_sha256, "facts_revision_seq": s.facts_revision_seq,
                               "signed_at": _ts(s.signed_at)} for s in sign_offs],
            })
        sends = session.exec(select(SendRecord).where(SendRecord.phase_id == p.id)
                             .order_by(col(SendRecord.id))).all()
        # Hand-entered counts only: report counts derive from per-customer data, which stays out of exports.
        cells = session.exec(select(OutreachCount).where(OutreachCount.phase_id == p.id,
                                                         OutreachCount.source == CountSource.entered)
                             .order_by(col(OutreachCount.id))).all()
        out.append({
            "key": p.key, "name": p.name, "position": p.position, "audience": p.audience,
            "channels": list(p.channels), "target_at": _ts(p.target_at), "status": p.status,
            "required_roles": list(p.required_roles), "updated_at": _ts(p.updated_at), "updated_by": p.updated_by,
            "version": p.version,
            "checklist": [{"position": i.position, "text": i.text, "owner_role": i.owner_role,
                           "due_at": _ts(i.due_at), "done_at": _ts(i.done_at), "done_by": i.done_by,
                           "updated_at": _ts(i.updated_at), "updated_by": i.updated_by, "version": i.version}
                          for i in items],
            "messages": messages,
            "sends": [{"message_number": numbers[s.message_version_id], "audience": s.audience,
                       "channel": s.channel, "sent_at": _ts(s.sent_at), "sent_by": s.sent_by,
                       "open_warnings": list(s.open_warnings)} for s in sends],
            "outreach": [{"channel": c.channel, "region": c.region, "segment": c.segment,
                          **{m: getattr(c, m) for m in OUTREACH_MEASURES},
                          "updated_at": _ts(c.updated_at), "updated_by": c.updated_by, "version": c.version}
                         for c in cells],
        })
    return out


def _export_obligations(session: Session, incident_id: int) -> list[dict]:
    obligations = session.exec(select(Obligation).where(Obligation.incident_id == incident_id)
                               .order_by(col(Obligation.id))).all()
    out = []
    counter = 0
    for o in obligations:
        filings = session.exec(select(ObligationFiling).where(ObligationFiling.obligation_id == o.id)
                               .order_by(col(ObligationFiling.id))).all()
        refs = {}
        for f in filings:
            counter += 1
            refs[f.id] = f"F{counter}"
        out.append({
            "rule_id": o.rule_id, "jurisdiction": o.jurisdiction, "regime": o.regime, "recipient": o.recipient,
            "applicability": o.applicability, "reason": o.reason, "clock_started_at": _ts(o.clock_started_at),
            "due_at": _ts(o.due_at), "status": o.status, "updated_at": _ts(o.updated_at),
            "updated_by": o.updated_by, "version": o.version,
            "filings": [{"ref": refs[f.id], "filed_at": _ts(f.filed_at), "filed_by": f.filed_by,
                         "reference": f.reference, "note": f.note, "corrects": refs.get(f.corrects_id),
                         "recorded_at": _ts(f.recorded_at)} for f in filings],
        })
    return out


def _export_actions(session: Session, incident_id: int) -> list[dict]:
    rows = session.exec(select(RemediationAction).where(RemediationAction.incident_id == incident_id)
                        .order_by(col(RemediationAction.id))).all()
    return [{"action": a.action, "category": a.category, "owner_role": a.owner_role, "status": a.status,
             "due_at": _ts(a.due_at), "done_at": _ts(a.done_at), "done_by": a.done_by,
             "created_at": _ts(a.created_at), "created_by": a.created_by, "updated_at": _ts(a.updated_at),
             "updated_by": a.updated_by, "version": a.version} for a in rows]


def dumps(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


# ---------------------------------------------------------------- import

def parse_document(raw: bytes) -> Any:
    """Bytes -> JSON value, with a clear error for size, encoding and syntax."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise InvalidInput.single("$", f"the document is {len(raw):,} bytes; the limit is {MAX_DOCUMENT_BYTES:,}")
    if not raw.strip():
        raise InvalidInput.single("$", "the document is empty")
    from breachdash.importers.common import wide_encoding

    encoding = wide_encoding(raw[:4096])
    if encoding:
        raise InvalidInput.single("$", f"this file is {encoding}; save it as UTF-8 and import it again")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput.single("$", f"not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except _NumberOutOfRange as exc:
        raise InvalidInput.single("$", f"the number {exc.args[0][:40]} is out of range (a JSON number must be "
                                       "finite)") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput.single("$", f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise InvalidInput.single("$", f"not valid JSON: {str(exc)[:200]}") from None
    except RecursionError:
        raise InvalidInput.single("$", "the JSON is nested too deeply") from None


def _reject_constant(name: str):
    raise json.JSONDecodeError(f"{name} is not allowed", name, 0)


class _NumberOutOfRange(ValueError):
    pass


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses as infinity, which no JSON document may hold
        raise _NumberOutOfRange(text)
    return value


def _value_problems(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Values no database column can hold, whatever the schema allows: infinite or NaN numbers
    (a document built in Python rather than parsed), and NUL characters (PostgreSQL text)."""
    if isinstance(value, float) and not math.isfinite(value):
        yield path, "is not a finite number"
    elif isinstance(value, str) and "\x00" in value:
        yield path, "contains a NUL character (\\u0000), which cannot be stored"
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                yield path, f"has a key containing a NUL character (\\u0000): {key[:40]!r}"
            yield from _value_problems(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _value_problems(item, f"{path}[{index}]")


def upgrade_document(document: Any) -> Any:
    """A format-1 document in format 2 (a new dict; anything malformed is left for validation to
    name). Version 1 had one population, named by each revision's scope label, every figure a
    range or exact, every breakdown count exact and plain, and only the intrusion's precision."""
    if not (isinstance(document, dict) and document.get("format_version") == 1):
        return document
    doc = dict(document, format_version=2)
    incident = doc.get("incident")
    if isinstance(incident, dict):
        incident = dict(incident)
        precision = incident.pop("intrusion_start_precision", "exact")
        incident.setdefault("public_announced_at", None)
        incident.setdefault("regulator_first_notified_at", None)
        incident["milestone_precisions"] = {} if precision == "exact" else {"intrusion_started_at": precision}
        doc["incident"] = incident
    revisions = doc.get("scope_revisions")
    if isinstance(revisions, list):
        upgraded, label = [], None
        for revision in revisions:
            if not isinstance(revision, dict):
                upgraded.append(revision)
                continue
            revision = dict(revision)
            scope_label = revision.pop("scope_label", "all")
            label = label or (scope_label if isinstance(scope_label, str) and scope_label not in ("", "all")
                              else "All affected")
            numbers = (revision.get("low"), revision.get("best"), revision.get("high"))
            revision.update(population="all", wording="", sources=[],
                            figure_kind="exact" if len(set(numbers)) == 1 else "range")
            revision["data_types"] = [dict(t, count_kind="exact", protection="plain") if isinstance(t, dict) else t
                                      for t in revision.get("data_types", [])] \
                if isinstance(revision.get("data_types"), list) else revision.get("data_types")
            revision["regions"] = [dict(g, count_kind="exact") if isinstance(g, dict) else g
                                   for g in revision.get("regions", [])] \
                if isinstance(revision.get("regions"), list) else revision.get("regions")
            upgraded.append(revision)
        doc["scope_revisions"] = upgraded
        first = next((r for r in upgraded if isinstance(r, dict)), None)
        doc["populations"] = [] if first is None else [{
            "key": "all", "label": label[:100], "jurisdictions": [],
            "unit": next((r.get("unit") for r in reversed(upgraded) if isinstance(r, dict)), "individuals"),
            "disjoint": False, "created_at": first.get("recorded_at"), "created_by": first.get("recorded_by"),
            "updated_at": first.get("recorded_at"), "updated_by": first.get("recorded_by"), "version": 1}]
    else:
        doc["populations"] = []
    return doc


def document_problems(engine: Engine, document: Any) -> list[tuple[str, str]]:
    """Every problem in the document, each with its JSON path; empty when it may be imported."""
    document = upgrade_document(document)
    # Messages are shaped by InvalidInput: a long value is cut, never the reason after it.
    problems = [(error.json_path, error.message) for error in _validator().iter_errors(document)]
    if problems:
        return sorted(problems)[:MAX_REPORTED_PROBLEMS]
    try:
        problems.extend(_value_problems(document, "$"))
    except RecursionError:
        return [("$", "the JSON is nested too deeply")]
    problems.extend(_semantic_problems(document))
    slug = document["incident"]["slug"]
    with read_session(engine) as session:
        if session.exec(select(Incident.id).where(Incident.slug == slug)).first() is not None:
            problems.append(("$.incident.slug", f"an incident with the slug {slug!r} already exists here"))
    return problems[:MAX_REPORTED_PROBLEMS]


def _semantic_problems(doc: dict) -> Iterator[tuple[str, str]]:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(doc["incident"]["display_timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        yield "$.incident.display_timezone", f"unknown IANA time zone {doc['incident']['display_timezone']!r}"
    for path, value in _timestamps(doc, "$"):
        try:
            _parse_ts(value)
        except (ValueError, OverflowError) as exc:  # OverflowError: beyond year 1 or 9999 once in UTC
            yield path, f"not a valid date-time: {exc}"

    seqs = [r["seq"] for r in doc["scope_revisions"]]
    if seqs != list(range(1, len(seqs) + 1)):
        yield "$.scope_revisions", "revision seq numbers must run 1, 2, 3, … in order"
    population_keys = [p["key"] for p in doc["populations"]]
    if len(set(population_keys)) != len(population_keys):
        yield "$.populations", "population keys must be unique"
    for p_index, population in enumerate(doc["populations"]):
        for j_index, code in enumerate(population["jurisdictions"]):
            if not is_valid_scope_region(code.strip().upper()):
                yield f"$.populations[{p_index}].jurisdictions[{j_index}]", f"unknown region code {code!r}"
    for index, revision in enumerate(doc["scope_revisions"]):
        if revision["population"] not in population_keys:
            yield f"$.scope_revisions[{index}].population", f"no population with the key {revision['population']!r}"
        model = ScopeRevisionCreate(
            figure_kind=revision["figure_kind"], low=revision["low"], best=revision["best"], high=revision["high"],
            unit=revision["unit"], data_types=[DataTypeCountIn(**t) for t in revision["data_types"]],
            regions=[RegionCountIn(**g) for g in revision["regions"]],
            systems=[SystemCountIn(**s) for s in revision["systems"]],
            cells=[CellCountIn(**c) for c in revision["cells"]],
        )
        for location, message in revision_problems(model):
            yield f"$.scope_revisions[{index}].{location}", message
        if revision["corrects_seq"] is not None and revision["corrects_seq"] >= revision["seq"]:
            yield f"$.scope_revisions[{index}].corrects_seq", "can only correct an earlier revision"
        elif revision["corrects_seq"] is not None and doc["scope_revisions"][revision["corrects_seq"] - 1].get(
                "population") != revision["population"]:
            yield f"$.scope_revisions[{index}].corrects_seq", "can only correct a revision of the same population"

    refs = [e["ref"] for e in doc["timeline_events"]]
    if refs != [f"E{n}" for n in range(1, len(refs) + 1)]:
        yield "$.timeline_events", "event refs must run E1, E2, E3, … in order"
    known = set(refs)
    for index, event in enumerate(doc["timeline_events"]):
        if event["supersedes"] is not None and event["supersedes"] not in known:
            yield f"$.timeline_events[{index}].supersedes", f"no event with ref {event['supersedes']!r}"

    keys = [p["key"] for p in doc["phases"]]
    if len(set(keys)) != len(keys):
        yield "$.phases", "phase keys must be unique"
    for p_index, phase in enumerate(doc["phases"]):
        where = f"$.phases[{p_index}]"
        numbers = set()
        for m_index, message in enumerate(phase["messages"]):
            m_where = f"{where}.messages[{m_index}]"
            number_key = (message["audience"], message["number"])
            if number_key in numbers:
                yield f"{m_where}.number", f"version {message['number']} appears twice"
            numbers.add(number_key)
            if content_hash(message["subject"], message["body"]) != message["content_sha256"]:
                yield f"{m_where}.content_sha256", "does not match the subject and body (the text was altered)"
            seen_signers = set()
            for s_index, sign_off in enumerate(message["sign_offs"]):
                # Once per role and facts revision: a re-confirmation after the facts changed is a new sign-off.
                signer_key = (sign_off["signer"], sign_off["role"], sign_off["facts_revision_seq"])
                if signer_key in seen_signers:
                    yield (f"{m_where}.sign_offs[{s_index}]",
                           "the same person signed twice for the same role against the same facts")
                seen_signers.add(signer_key)
        for s_index, send in enumerate(phase["sends"]):
            if (send["audience"], send["message_number"]) not in numbers:
                yield f"{where}.sends[{s_index}].message_number", f"no message version {send['message_number']}"
        cells = set()
        for c_index, cell in enumerate(phase["outreach"]):
            cell_key = (cell["channel"], cell["region"], cell["segment"])
            if cell_key in cells:
                yield f"{where}.outreach[{c_index}]", "the same channel/region/segment appears twice"
            cells.add(cell_key)
    rule_ids = [o["rule_id"] for o in doc["obligations"]]
    if len(set(rule_ids)) != len(rule_ids):
        yield "$.obligations", "rule ids must be unique"
    filing_order = [f["ref"] for o in doc["obligations"] for f in o["filings"]]
    if filing_order != [f"F{n}" for n in range(1, len(filing_order) + 1)]:
        yield "$.obligations", "filing refs must run F1, F2, F3, … in order through the document"
    filing_refs = set(filing_order)
    for o_index, obligation in enumerate(doc["obligations"]):
        for f_index, filing in enumerate(obligation["filings"]):
            if filing["corrects"] is not None and filing["corrects"] not in filing_refs:
                yield f"$.obligations[{o_index}].filings[{f_index}].corrects", f"no filing {filing['corrects']!r}"


def _timestamps(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "milestone_precisions":
                continue  # keyed by milestone names; its values are precisions, not times
            if isinstance(item, str) and (key.endswith("_at")):
                yield f"{path}.{key}", item
            else:
                yield from _timestamps(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _timestamps(item, f"{path}[{index}]")


def import_incident(engine: Engine, *, actor: Actor, document: Any) -> Incident:
    """Validate the whole document, then write it in one transaction (all or nothing)."""
    require(actor, Action.import_incident)
    document = upgrade_document(document)
    problems = document_problems(engine, document)
    if problems:
        raise InvalidInput(problems)
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode("utf-8")).hexdigest()
    with write_session(engine) as session:
        incident = _write_document(session, document)
        recompute_obligations(session, incident_id=incident.id, actor_email=actor.email, cause="the import",
                              timeline_on_change=True)
        record_audit(session, actor=actor.email, action="incident.imported", entity_type="incident",
                     entity_id=incident.id, incident_id=incident.id,
                     after={"slug": incident.slug, "document_sha256": digest,
                            "counts": {k: len(document[k]) for k in
                                       ("scope_revisions", "timeline_events", "phases", "obligations",
                                        "actions")}})
    return incident


def _write_document(session: Session, doc: dict) -> Incident:
    fields = dict(doc["incident"])
    for key in (*MILESTONE_FIELDS, "created_at", "updated_at"):
        fields[key] = _parse_ts(fields.get(key))  # documents older than a milestone lack it
    incident = Incident(**fields)
    session.add(incident)
    session.flush()
    population_ids = {}
    for position, p in enumerate(doc["populations"]):
        population = ScopePopulation(
            incident_id=incident.id, key=p["key"], label=p["label"],
            jurisdictions=[code.strip().upper() for code in p["jurisdictions"]], unit=p["unit"],
            disjoint=p["disjoint"], position=position, created_at=_parse_ts(p["created_at"]),
            created_by=p["created_by"], updated_at=_parse_ts(p["updated_at"]), updated_by=p["updated_by"],
            version=p["version"])
        session.add(population)
        session.flush()
        population_ids[p["key"]] = population.id
    for r in doc["scope_revisions"]:
        revision = ScopeRevision(
            incident_id=incident.id, population_id=population_ids[r["population"]],
            **{k: r[k] for k in ("seq", "figure_kind", "low", "best", "high", "wording", "sources", "unit",
                                 "confidence", "method", "reason", "corrects_seq", "source", "source_file_sha256",
                                 "recorded_by")},
            recorded_at=_parse_ts(r["recorded_at"]))
        session.add(revision)
        session.flush()
        session.add_all([ScopeDataTypeCount(revision_id=revision.id, **t) for t in r["data_types"]])
        session.add_all([ScopeRegionCount(revision_id=revision.id, **{**g, "region": g["region"].strip().upper()})
                         for g in r["regions"]])
        session.add_all([ScopeSystemCount(revision_id=revision.id, **s) for s in r["systems"]])
        session.add_all([ScopeCell(revision_id=revision.id, **c) for c in r["cells"]])
    ids: dict[str, int] = {}
    pending_supersedes: list[tuple[TimelineEvent, str]] = []
    for e in doc["timeline_events"]:
        event = TimelineEvent(
            incident_id=incident.id, occurred_at=_parse_ts(e["occurred_at"]),
            occurred_precision=e["occurred_precision"], recorded_at=_parse_ts(e["recorded_at"]), kind=e["kind"],
            title=e["title"], detail=e["detail"], systems=e["systems"], source_ref=e["source_ref"],
            recorded_by=e["recorded_by"], retracted_at=_parse_ts(e["retracted_at"]),
            retracted_by=e["retracted_by"], retraction_reason=e["retraction_reason"],
            origin_type=e["origin_type"], origin_ref=e["origin_ref"])
        session.add(event)
        session.flush()
        ids[e["ref"]] = event.id
        if e["supersedes"]:
            pending_supersedes.append((event, e["supersedes"]))
    for event, ref in pending_supersedes:
        event.supersedes_id = ids[ref]
        session.add(event)
    for p in doc["phases"]:
        phase = CommsPhase(
            incident_id=incident.id, key=p["key"], name=p["name"], position=p["position"], audience=p["audience"],
            channels=p["channels"], target_at=_parse_ts(p["target_at"]), status=p["status"],
            required_roles=p["required_roles"], updated_at=_parse_ts(p["updated_at"]), updated_by=p["updated_by"],
            version=p["version"])
        session.add(phase)
        session.flush()
        for i in p["checklist"]:
            session.add(ChecklistItem(
                phase_id=phase.id, position=i["position"], text=i["text"], owner_role=i["owner_role"],
                due_at=_parse_ts(i["due_at"]), done_at=_parse_ts(i["done_at"]), done_by=i["done_by"],
                updated_at=_parse_ts(i["updated_at"]), updated_by=i["updated_by"], version=i["version"]))
        version_ids = {}
        for m in p["messages"]:
            version = MessageVersion(
                phase_id=phase.id, audience=m["audience"], number=m["number"], subject=m["subject"], body=m["body"],
                content_sha256=m["content_sha256"], checks=m["checks"], facts_revision_seq=m["facts_revision_seq"],
                created_at=_parse_ts(m["created_at"]), created_by=m["created_by"])
            session.add(version)
            session.flush()
            version_ids[(m["audience"], m["number"])] = version.id
            session.add_all([SignOff(
                message_version_id=version.id, signer=s["signer"], role=Role(s["role"]).value,
                decision=s["decision"], comment=s["comment"], content_sha256=s["content_sha256"],
                facts_revision_seq=s["facts_revision_seq"], signed_at=_parse_ts(s["signed_at"]))
                for s in m["sign_offs"]])
        session.add_all([SendRecord(
            phase_id=phase.id, message_version_id=version_ids[(s["audience"], s["message_number"])],
            audience=s["audience"], channel=s["channel"], sent_at=_parse_ts(s["sent_at"]), sent_by=s["sent_by"],
            open_warnings=s["open_warnings"]) for s in p["sends"]])
        session.add_all([OutreachCount(
            incident_id=incident.id, phase_id=phase.id, channel=c["channel"], region=c["region"],
            segment=c["segment"], **{m: c.get(m, 0) for m in OUTREACH_MEASURES}, updated_at=_parse_ts(c["updated_at"]),
            updated_by=c["updated_by"], version=c["version"]) for c in p["outreach"]])
    for o in doc["obligations"]:
        obligation = Obligation(
            incident_id=incident.id, **{k: o[k] for k in ("rule_id", "jurisdiction", "regime", "recipient",
                                                          "applicability", "reason", "status", "updated_by",
                                                          "version")},
            clock_started_at=_parse_ts(o["clock_started_at"]), due_at=_parse_ts(o["due_at"]),
            updated_at=_parse_ts(o["updated_at"]))
        session.add(obligation)
        session.flush()
        filing_ids: dict[str, int] = {}
        for f in o["filings"]:
            filing = ObligationFiling(
                obligation_id=obligation.id, filed_at=_parse_ts(f["filed_at"]), filed_by=f["filed_by"],
                reference=f["reference"], note=f["note"], recorded_at=_parse_ts(f["recorded_at"]),
                corrects_id=filing_ids.get(f["corrects"]) if f["corrects"] else None)
            session.add(filing)
            session.flush()
            filing_ids[f["ref"]] = filing.id
    session.add_all([RemediationAction(
        incident_id=incident.id, action=a["action"], category=a["category"], owner_role=a["owner_role"],
        status=a["status"], due_at=_parse_ts(a["due_at"]), done_at=_parse_ts(a["done_at"]), done_by=a["done_by"],
        created_at=_parse_ts(a["created_at"]), created_by=a["created_by"], updated_at=_parse_ts(a["updated_at"]),
        updated_by=a["updated_by"], version=a["version"]) for a in doc["actions"]])
    session.flush()
    return incident
