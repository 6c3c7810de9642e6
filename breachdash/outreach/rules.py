"""Delivery statuses and what they count as. Pure: no I/O.

A customer's state per phase and channel is the latest event by event time. At the same event
time, the status with the higher precedence wins: evidence the customer got the notice (opted
out, replied, opened) beats a bounce or failure, which beats a bare delivery receipt, so a
conflict never hides a notice that needs following up. Remaining ties (same status) go to the
greatest vendor reference, so the result never depends on file order.
"""
from __future__ import annotations

from enum import StrEnum

from breachdash.comms.models import Channel


class DeliveryStatus(StrEnum):
    targeted = "targeted"
    sent = "sent"
    delivered = "delivered"
    failed = "failed"
    bounced = "bounced"
    opened = "opened"
    replied = "replied"
    opted_out = "opted_out"


# Same-time tie-break: higher wins (see the module docstring).
STATUS_PRECEDENCE: dict[str, int] = {
    DeliveryStatus.targeted: 0,
    DeliveryStatus.sent: 1,
    DeliveryStatus.delivered: 2,
    DeliveryStatus.failed: 3,
    DeliveryStatus.bounced: 4,
    DeliveryStatus.opened: 5,
    DeliveryStatus.replied: 6,
    DeliveryStatus.opted_out: 7,
}

# Which funnel measures a latest status counts towards (targeted counts every customer).
STATUS_MEASURES: dict[str, tuple[str, ...]] = {
    DeliveryStatus.targeted: ("targeted",),
    DeliveryStatus.sent: ("targeted", "sent"),
    DeliveryStatus.delivered: ("targeted", "sent", "delivered"),
    DeliveryStatus.failed: ("targeted", "failed"),
    DeliveryStatus.bounced: ("targeted", "sent", "bounced"),
    DeliveryStatus.opened: ("targeted", "sent", "delivered", "opened"),
    DeliveryStatus.replied: ("targeted", "sent", "delivered", "replied"),
    DeliveryStatus.opted_out: ("targeted", "sent", "delivered", "opted_out"),
}
REPORT_MEASURES = ("targeted", "sent", "delivered", "bounced", "failed", "opened", "replied", "opted_out")
# Latest states that mean the notice did not reach the customer on that channel.
UNREACHED = (DeliveryStatus.bounced.value, DeliveryStatus.failed.value)

# Channels a per-customer delivery report can carry (press releases and web notices reach the
# public, not one customer).
REPORT_CHANNELS = (Channel.email, Channel.postal_letter, Channel.sms, Channel.phone, Channel.in_app)
OUTREACH_CHANNELS = REPORT_CHANNELS + (Channel.web_notice, Channel.press_release)

# Event times a little ahead of the server clock are vendor clock skew, not the future.
FUTURE_TOLERANCE_MINUTES = 15


def measures_of(status: str) -> tuple[str, ...]:
    return STATUS_MEASURES[DeliveryStatus(status)]


def latest_status(events: list[tuple]) -> tuple | None:
    """The winning (status, event_time, vendor_ref) among one customer's events for one phase
    and channel, by the rule above. The reference implementation the SQL is tested against."""
    if not events:
        return None
    return max(events, key=lambda e: (e[1], STATUS_PRECEDENCE[e[0]], e[2] or ""))


def funnel_problems(counts: dict[str, int]) -> list[tuple[str, str]]:
    """Hand-entered counts that contradict the funnel (sent > targeted, ...)."""
    problems = []
    if counts.get("sent", 0) + counts.get("failed", 0) > counts.get("targeted", 0):
        problems.append(("sent", f"sent + failed ({counts.get('sent', 0) + counts.get('failed', 0):,}) is more "
                                 f"than targeted ({counts.get('targeted', 0):,})"))
    if counts.get("delivered", 0) + counts.get("bounced", 0) > counts.get("sent", 0):
        problems.append(("delivered", f"delivered + bounced ({counts.get('delivered', 0) + counts.get('bounced', 0):,}) "
                                      f"is more than sent ({counts.get('sent', 0):,})"))
    if counts.get("opened", 0) > counts.get("delivered", 0):
        problems.append(("opened", f"{counts.get('opened', 0):,} opened is more than "
                                   f"{counts.get('delivered', 0):,} delivered"))
    if counts.get("replied", 0) > counts.get("delivered", 0):
        problems.append(("replied", f"{counts.get('replied', 0):,} replied is more than "
                                    f"{counts.get('delivered', 0):,} delivered"))
    return problems
