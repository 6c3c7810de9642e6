"""Formatting for display: times in the viewer's zone, counts, durations. Pure."""
from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd


def local_time(value: datetime | None, zone: str = "UTC", fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    if value is None or pd.isna(value):
        return "—"
    return value.astimezone(ZoneInfo(zone)).strftime(fmt)


def moment(value: datetime | None, precision: str = "exact", zone: str = "UTC") -> str:
    """A time as well as it is known: '2017-07-29 14:05 EDT', '29 Jul 2017', 'December 2018',
    'about 29 Jul 2017'."""
    if value is None or pd.isna(value):
        return "—"
    local = value.astimezone(ZoneInfo(zone))
    if precision == "day":
        return f"{local.day} {local:%b %Y}"
    if precision == "month":
        return f"{local:%B %Y}"
    if precision == "approximate":
        return f"about {local.day} {local:%b %Y}"
    return local.strftime("%Y-%m-%d %H:%M %Z")


def span(value: timedelta | None, approximate: bool = False) -> str:
    """A duration; one with an imprecise end in whole days: 'about 141 days'."""
    if value is None or not approximate:
        return duration(value)
    days = round(value.total_seconds() / 86_400)
    sign = "−" if days < 0 else ""
    return f"about {sign}{abs(days)} day{'s' if abs(days) != 1 else ''}"


def duration_text(item) -> str:
    """A milestone duration (timeline.rules.Duration) as well as its ends are known: '3d 4h',
    'about 141 days', or 'between 0 and 31 days' when an end is known only to the month."""
    if item.value is None or not item.approximate:
        return duration(item.value)
    if item.shortest is not None and item.longest is not None:
        low, high = (max(0, round(v.total_seconds() / 86_400)) if item.value >= timedelta(0)
                     else round(v.total_seconds() / 86_400) for v in (item.shortest, item.longest))
        if high - low > 7:  # an end known only to the month: the span itself is uncertain by weeks
            return f"between {low} and {high} days"
    return span(item.value, True)


def count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def signed(value) -> str:
    """+1,234 / −1,234 / — for a change that does not apply."""
    if value is None or pd.isna(value):
        return "—"
    value = int(value)
    return f"+{value:,}" if value > 0 else (f"−{abs(value):,}" if value < 0 else "0")


def compact(value: int | None) -> str:
    """2,163,848 -> '2.16M'; for headline figures."""
    if value is None:
        return "—"
    for threshold, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if abs(value) >= threshold:
            return f"{value / threshold:.3g}{suffix}"
    return str(value)


def duration(delta: timedelta | None) -> str:
    if delta is None:
        return "—"
    seconds = int(delta.total_seconds())
    sign = "−" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes}m"
    return f"{sign}{minutes}m"


_MARKDOWN_SPECIALS = set("\\`*_{}[]()<>#+-.!|~$:&")
# Explicit bidi embeddings, overrides and isolates: in user text they can reverse what follows.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


# GitHub-flavoured markdown turns bare http://, https:// and www. text into links after escapes are
# resolved; an invisible word joiner after the scheme or "www" keeps them text.
_AUTOLINK = re.compile(r"(?i)(?:https?|ftp)(?=:)|www(?=\.)")


def escape_markdown(text: str) -> str:
    """Make text inert inside Streamlit markdown (no links — also no bare-URL autolinks —, images,
    emphasis, HTML or entity references), shown as typed. Text with bidi controls is wrapped in an
    isolate (FSI … PDI), so an unclosed right-to-left override cannot reverse the app's words after it."""
    text_ = _AUTOLINK.sub(lambda match: match.group(0) + "\u2060", text)
    escaped = "".join("\\" + char if char in _MARKDOWN_SPECIALS else char for char in text_)
    return f"\u2068{escaped}\u2069" if _BIDI_CONTROLS.intersection(text) else escaped


def countdown(due: datetime | None, now: datetime, *, started: datetime | None = None) -> str:
    """'due in 2d 4h' / 'overdue by 3h 10m' / for a clock with no fixed limit, the time elapsed."""
    if due is None or pd.isna(due):
        if started is None or pd.isna(started):
            return "clock not started"
        return f"{duration(now - started)} elapsed (no fixed limit)"
    left = due - now
    return f"due in {duration(left)}" if left >= timedelta(0) else f"overdue by {duration(-left)}"


# Column headers a person reads (issue 16): a frame's code names ("owner_role", "event_time")
# become words ("Owner role", "Event time") wherever a table is shown without its own label.
_COLUMN_WORDS = {"id": "#", "seq": "Revision", "rule_id": "Rule", "recipient_name": "Recipient",
                 "owner_role": "Owner", "due_at": "Due", "filed_at": "Filed", "filed_by": "Filed by",
                 "event_time": "Time", "customer_id": "Customer id", "sha256": "SHA-256"}


def column_label(name: object) -> str:
    """A column's header in words: a known code's label, else underscores as spaces, capitalised."""
    text = str(name)
    if text in _COLUMN_WORDS:
        return _COLUMN_WORDS[text]
    if "_" not in text and not text[:1].islower():
        return text
    words = text.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def revision_name(seq: int | None) -> str:
    """'revision 7' — how a person names a scope revision (never '#7')."""
    return "—" if seq is None else f"revision {seq}"


_REDLINE_STYLE = {"removed": "color:#a50e0e;background:#fce8e6;text-decoration:line-through",
                  "added": "color:#0d652d;background:#e6f4ea;text-decoration:underline"}


def redline_html(runs) -> str:
    """A word-level redline (comms.rules.word_redline runs) as HTML for st.html: every piece of text
    escaped (message text is never markup), removals struck through in red, additions underlined in
    green, line breaks kept (pre-wrap)."""
    parts = []
    for kind, text in runs:
        escaped = html.escape(text, quote=True)
        if kind in _REDLINE_STYLE:
            tag = "del" if kind == "removed" else "ins"
            parts.append(f'<{tag} style="{_REDLINE_STYLE[kind]}">{escaped}</{tag}>')
        else:
            parts.append(escaped)
    return ('<div style="font-family:inherit;line-height:1.6;white-space:pre-wrap;overflow-wrap:anywhere">'
            + "".join(parts) + "</div>")
