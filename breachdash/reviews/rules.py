"""What changed between two status snapshots, in an executive's words. Pure."""
from __future__ import annotations

from dataclasses import dataclass

TIER_CALLOUTS = ("financial", "government_id", "credentials", "health")


@dataclass(frozen=True)
class Change:
    kind: str   # estimate, data types, phase, sign-off, outreach, obligation, timeline
    text: str


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def populations_in(snapshot: dict) -> dict:
    """Population key -> {label, figure}; snapshots from before populations held one estimate."""
    if "populations" in snapshot:
        return snapshot["populations"]
    if snapshot.get("best") is None:
        return {}
    return {"all": {"label": "All affected", "figure": f"{snapshot['best']:,} {snapshot.get('unit') or ''}".strip()}}


def describe_changes(before: dict, after: dict, *, revisions: list[dict], events: list[dict]) -> list[Change]:
    """`before`/`after` are status snapshots (reviews.service.status_snapshot); `revisions` are the
    scope revisions recorded since `before` (seq, best, unit, reason, recorded_by) and `events`
    the timeline entries recorded since (title, kind)."""
    changes: list[Change] = []
    previous = {key: item["figure"] for key, item in populations_in(before).items()}
    for revision in revisions:
        was = previous.get(revision["population"])
        if was == revision["figure"]:
            change = f"unchanged at {revision['figure']}"
        else:
            change = f"{was} → {revision['figure']}" if was is not None else f"first estimate {revision['figure']}"
        why = f": {revision['reason']}" if revision.get("reason") else ""
        changes.append(Change("estimate", f"{revision['label']} revised (revision {revision['seq']}, "
                                          f"{revision['recorded_by']}): {change}{why}"))
        previous[revision["population"]] = revision["figure"]
    old_types, new_types = before.get("data_types", {}), after.get("data_types", {})
    for code, item in sorted(new_types.items(), key=lambda kv: (kv[1]["tier"] not in TIER_CALLOUTS, kv[0])):
        flag = " ⚠" if item["tier"] in TIER_CALLOUTS else ""
        if code not in old_types:
            changes.append(Change("data types", f"New exposed data type: {item['name']} ({item['status']}){flag}"))
        elif old_types[code]["status"] != item["status"]:
            changes.append(Change("data types", f"{item['name']} now {item['status']} (was "
                                                f"{old_types[code]['status']}){flag}"))
    for code in sorted(set(old_types) - set(new_types)):
        changes.append(Change("data types", f"No longer listed as exposed: {old_types[code]['name']}"))
    old_phases, new_phases = before.get("phases", {}), after.get("phases", {})
    for key, phase in new_phases.items():
        was = old_phases.get(key, {}).get("status")
        if was is not None and was != phase["status"]:
            changes.append(Change("phase", f"{phase['name']}: {was} → {phase['status']}"))
    old_signs, new_signs = before.get("sign_offs", {}), after.get("sign_offs", {})
    for key, standing in new_signs.items():
        label = key.replace("|", " · ")
        if key not in old_signs:
            changes.append(Change("sign-off", f"Sign-off given: {label} ({standing})"))
        elif standing.startswith("stale") and not old_signs[key].startswith("stale"):
            changes.append(Change("sign-off", f"Sign-off gone stale: {label} — {standing}"))
    old_out, new_out = before.get("outreach", {}), after.get("outreach", {})
    for key, now in new_out.items():
        was = old_out.get(key, {"delivered": 0, "targeted": 0})
        if now["delivered"] != was["delivered"] or now["targeted"] != was["targeted"]:
            changes.append(Change("outreach", f"Outreach, {now['name']}: delivered {_count(was['delivered'])} → "
                                              f"{_count(now['delivered'])} of {_count(now['targeted'])} targeted"))
    old_obl, new_obl = before.get("obligations", {}), after.get("obligations", {})
    for rule_id, item in sorted(new_obl.items()):
        was = old_obl.get(rule_id)
        if was is None:
            changes.append(Change("obligation", f"New obligation: notify {item['recipient']} ({item['regime']})"
                                                + (f", due {item['due']}" if item.get("due") else "")))
        elif was["status"] != item["status"] and item["status"] in ("filed", "late"):
            changes.append(Change("obligation", f"Notice to {item['recipient']} {item['status']} ({item['regime']})"))
    for rule_id in sorted(set(old_obl) - set(new_obl)):
        gone = old_obl[rule_id]
        changes.append(Change("obligation", f"No longer applies: notice to {gone.get('recipient', rule_id)} "
                                            f"({gone['regime']})"))
    if events:
        titles = "; ".join(e["title"] for e in events[:5]) + (" …" if len(events) > 5 else "")
        changes.append(Change("timeline", f"{len(events)} new timeline entr{'y' if len(events) == 1 else 'ies'}: "
                                          f"{titles}"))
    return changes
