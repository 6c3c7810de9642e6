"""Chart builders: DataFrame in, plotly Figure out. Pure, no I/O."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

TIER_COLOURS = {
    "financial": "#b91c1c", "government_id": "#c2410c", "credentials": "#a16207", "health": "#7e22ce",
    "biometric": "#6d28d9", "identity": "#1d4ed8", "contact": "#0f766e", "unknown": "#6b7280",
}
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), height=300, template="plotly_white",
               font=dict(family="sans-serif", size=12))


def estimate_trend(history: pd.DataFrame, *, unit: str) -> go.Figure:
    """Best estimate over time with its low–high band, for one unit only (individuals and
    records are never drawn on one axis)."""
    data = history[history["unit"] == unit].sort_values("recorded_at")
    figure = go.Figure()
    if data.empty:
        figure.update_layout(title=f"No estimates in {unit} yet", **_LAYOUT)
        return figure
    figure.add_trace(go.Scatter(x=data["recorded_at"], y=data["high"], mode="lines", line=dict(width=0, shape="hv"),
                                showlegend=False, hoverinfo="skip"))
    figure.add_trace(go.Scatter(x=data["recorded_at"], y=data["low"], mode="lines", line=dict(width=0, shape="hv"),
                                fill="tonexty", fillcolor="rgba(29, 78, 216, 0.15)", name="low–high range",
                                hoverinfo="skip"))
    hover = data.assign(
        why=data["reason"].map(_hover_text), how=data["method"].map(_hover_text),
        who=data["recorded_by"].map(_hover_text))
    figure.add_trace(go.Scatter(
        x=data["recorded_at"], y=data["best"], mode="lines+markers", name="best estimate",
        line=dict(color="#1d4ed8", shape="hv"), marker=dict(size=9),
        customdata=hover[["seq", "who", "low", "high", "why", "how"]].to_numpy(),
        hovertemplate=("<b>Revision %{customdata[0]}</b><br>best %{y:,}<br>range %{customdata[2]:,}–%{customdata[3]:,}"
                       "<br>by %{customdata[1]}<br>why: %{customdata[4]}<br>method: %{customdata[5]}<extra></extra>"),
    ))
    figure.update_layout(title=f"Affected {unit}: best estimate and range", yaxis_title=unit,
                         legend=dict(orientation="h", y=-0.2), **_LAYOUT)
    figure.update_yaxes(rangemode="tozero", tickformat=",")
    if len(data) == 1:  # one point: show a day either side rather than a microsecond axis
        moment = data["recorded_at"].iloc[0]
        figure.update_xaxes(range=[moment - pd.Timedelta(days=1), moment + pd.Timedelta(days=1)])
    return figure


def _hover_text(value: object, limit: int = 120) -> str:
    """User text for a hover label: shortened, and with markup characters made inert
    (Plotly renders a subset of HTML in hover text)."""
    text = str(value or "—")
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def exposure_heatmap(cells: pd.DataFrame) -> go.Figure:
    """Customers per data type (rows, most sensitive first) and region (columns, largest first)."""
    if cells.empty:
        figure = go.Figure()
        figure.update_layout(title="No data type × region breakdown in this revision", **_LAYOUT)
        return figure
    order_rows = (cells.drop_duplicates("name").sort_values(["tier_rank", "name"])["name"].tolist())
    order_cols = cells.groupby("region")["count"].sum().sort_values(ascending=False).index.tolist()
    grid = cells.pivot_table(index="name", columns="region", values="count", aggfunc="sum", fill_value=0)
    grid = grid.reindex(index=order_rows, columns=order_cols, fill_value=0)
    figure = go.Figure(go.Heatmap(
        z=grid.to_numpy(), x=grid.columns.tolist(), y=grid.index.tolist(), colorscale="Reds",
        hovertemplate="%{y} in %{x}: %{z:,} customers<extra></extra>", colorbar=dict(title="customers"),
    ))
    figure.update_layout(title="Exposure by data type and region", **{**_LAYOUT, "height": max(300, 34 * len(grid) + 120)})
    figure.update_yaxes(autorange="reversed")
    return figure


def exposure_by_type(data_types: pd.DataFrame) -> go.Figure:
    """Horizontal bars per data type, one colour per sensitivity tier (most sensitive on top);
    suspected exposure is hatched."""
    data = data_types.sort_values(["tier_rank", "count"], ascending=[False, True])
    figure = go.Figure()
    for (rank, tier, tier_name, status), rows in data.groupby(["tier_rank", "tier", "tier_name", "status"], sort=True):
        figure.add_trace(go.Bar(
            x=rows["count"], y=rows["name"], orientation="h", name=f"{tier_name} · {status}",
            legendrank=int(rank) * 2 + (status == "suspected"),
            marker=dict(color=TIER_COLOURS.get(tier, TIER_COLOURS["unknown"]),
                        pattern_shape="/" if status == "suspected" else ""),
            hovertemplate=f"%{{y}}: %{{x:,}} customers<br>{tier_name} · {status}<extra></extra>",
        ))
    figure.update_layout(title="Exposed data types by sensitivity tier", barmode="overlay",
                         yaxis=dict(categoryorder="array", categoryarray=data["name"].tolist()),
                         **{**_LAYOUT, "height": max(280, 30 * len(data) + 100)})
    figure.update_xaxes(tickformat=",")
    return figure


KIND_ORDER = ["intrusion", "detection", "containment", "remediation", "forensic finding", "scope revision",
              "decision", "legal", "regulator", "law enforcement", "communication", "other"]
KIND_COLOURS = {
    "intrusion": "#7f1d1d", "detection": "#b91c1c", "containment": "#c2410c", "remediation": "#15803d",
    "forensic finding": "#7e22ce", "scope revision": "#1d4ed8", "decision": "#0f766e", "legal": "#a16207",
    "regulator": "#92400e", "law enforcement": "#334155", "communication": "#db2777", "other": "#6b7280",
}
SPANS = (
    ("Dwell time", "intrusion_started_at", "detected_at", "#7f1d1d"),
    ("Containing", "detected_at", "contained_at", "#c2410c"),
    ("Until first notice", "contained_at", "first_notice_at", "#db2777"),
)


def incident_timeline(events: pd.DataFrame, milestones: dict, history: pd.DataFrame, *, zone: str = "UTC") -> go.Figure:
    """Lanes by kind (events as points, superseded hollow, retracted crossed), the milestone
    spans as bars on top, and the best estimate as a step line in a panel below; a range slider
    zooms. Hundreds of events stay readable: one lane per kind, small translucent markers."""
    from plotly.subplots import make_subplots

    estimate = history[history["unit"] == "individuals"] if not history.empty else history
    panels = 2 if not estimate.empty else 1
    figure = make_subplots(rows=panels, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                           row_heights=[0.74, 0.26] if panels == 2 else [1.0])
    present = set(events["kind"]) if "kind" in events else set()
    lanes = ["milestone spans"] + [k for k in KIND_ORDER if k in present]
    for label, start, end, colour in SPANS:
        a, b = milestones.get(start), milestones.get(end)
        if a is None or b is None:
            continue
        figure.add_trace(go.Scatter(
            x=[a, b], y=["milestone spans", "milestone spans"], mode="lines", line=dict(color=colour, width=14),
            name=label, legendgroup="spans", hovertemplate=f"{label}: %{{x}}<extra></extra>"), row=1, col=1)
    marker_size = 9 if len(events) <= 100 else 6
    for kind in KIND_ORDER:
        rows = events[events["kind"] == kind] if not events.empty else events
        if rows.empty:
            continue
        symbols = rows["state"].map({"superseded": "circle-open", "retracted": "x"}).fillna("circle")
        local = rows["occurred_at"].map(lambda v: v.tz_convert(zone).strftime("%Y-%m-%d %H:%M %Z"))
        recorded = rows["recorded_at"].map(lambda v: v.tz_convert(zone).strftime("%Y-%m-%d %H:%M %Z"))
        figure.add_trace(go.Scatter(
            x=rows["occurred_at"], y=[kind] * len(rows), mode="markers", name=kind,
            marker=dict(color=KIND_COLOURS[kind], size=marker_size, symbol=symbols.tolist(),
                        opacity=0.85 if len(events) <= 100 else 0.55, line=dict(width=1, color=KIND_COLOURS[kind])),
            customdata=list(zip(rows["title"].map(_hover_text), local, recorded, rows["recorded_by"].map(_hover_text),
                                rows["state"])),
            hovertemplate=("<b>%{customdata[0]}</b><br>happened %{customdata[1]}<br>recorded %{customdata[2]}"
                           " by %{customdata[3]}<br>%{customdata[4]}<extra></extra>"),
        ), row=1, col=1)
    if panels == 2:
        figure.add_trace(go.Scatter(
            x=estimate["recorded_at"], y=estimate["best"], mode="lines+markers", line=dict(shape="hv", color="#1d4ed8"),
            name="best estimate (individuals)", hovertemplate="revision %{customdata}: %{y:,}<extra></extra>",
            customdata=estimate["seq"]), row=2, col=1)
        figure.update_yaxes(title_text="affected", tickformat=",", rangemode="tozero", row=2, col=1)
    figure.update_yaxes(categoryorder="array", categoryarray=list(reversed(lanes)), row=1, col=1)
    figure.update_xaxes(rangeslider=dict(visible=True, thickness=0.06), row=panels, col=1)
    figure.update_xaxes(rangeselector=dict(x=1, xanchor="right", y=1.04, buttons=[
        dict(count=2, label="2 days", step="day", stepmode="backward"),
        dict(count=7, label="week", step="day", stepmode="backward"),
        dict(count=1, label="month", step="month", stepmode="backward"),
        dict(step="all", label="all")]), row=1, col=1)
    figure.update_layout(title="Incident timeline", legend=dict(orientation="h", y=-0.25),
                         **{**_LAYOUT, "height": 260 + 34 * len(lanes)})
    return figure


FUNNEL_LABELS = {"affected": "Affected", "targeted": "Targeted", "sent": "Sent", "delivered": "Delivered",
                 "replied": "Replied", "bounced": "Bounced", "failed": "Failed to send"}


def outreach_funnel(funnel: pd.DataFrame, *, phase: str) -> go.Figure:
    """Affected -> targeted -> sent -> delivered -> replied, with the bounced and failed branches
    noted in red beside the funnel (with their share of the first step)."""
    stages = funnel[funnel["kind"] == "stage"]
    branches = funnel[funnel["kind"] == "branch"]
    figure = go.Figure()
    if stages["customers"].sum() == 0:
        figure.update_layout(title=f"{_hover_text(phase, 80)}: no outreach recorded yet", **_LAYOUT)
        return figure
    top = max(int(stages["customers"].max()), 1)
    figure.add_trace(go.Funnel(
        y=[FUNNEL_LABELS[s] for s in stages["step"]], x=stages["customers"], name="customers",
        texttemplate="%{value:,} (%{percentInitial:.0%})", textposition="auto", marker=dict(color="#1d4ed8"),
        hovertemplate="%{y}: %{x:,} customers (%{percentInitial} of the first step)<extra></extra>"))
    figure.update_layout(title=f"{_hover_text(phase, 80)}: outreach funnel", funnelmode="stack", showlegend=False,
                         **{**_LAYOUT, "height": 340})
    if not branches.empty:
        lines = [f"{FUNNEL_LABELS[r.step]}: {int(r.customers):,} ({r.customers / top:.1%})"
                 for r in branches.itertuples()]
        figure.add_annotation(text="<br>".join(lines), xref="paper", yref="paper", x=1, y=1.08, showarrow=False,
                              align="right", font=dict(color="#b91c1c"), bgcolor="rgba(255,255,255,0.8)")
    return figure


def outreach_over_time(hourly: pd.DataFrame, *, phase: str, target: int = 0) -> go.Figure:
    """Cumulative customers sent, delivered, unreached and replied, hour by hour."""
    figure = go.Figure()
    if hourly.empty:
        figure.update_layout(title=f"{_hover_text(phase, 80)}: no delivery reports imported yet", **_LAYOUT)
        return figure
    styles = {"sent": ("Sent", "#64748b"), "delivered": ("Delivered", "#15803d"),
              "unreached": ("Bounced or failed", "#b91c1c"), "replied": ("Replied", "#a16207")}
    for column, (label, colour) in styles.items():
        figure.add_trace(go.Scatter(x=hourly["hour"], y=hourly[column], mode="lines", name=label,
                                    line=dict(color=colour, shape="hv"),
                                    hovertemplate=f"{label}: %{{y:,}}<extra></extra>"))
    if target:
        figure.add_hline(y=target, line=dict(color="#1d4ed8", dash="dot"),
                         annotation_text=f"to reach: {target:,}", annotation_position="top left")
    figure.update_layout(title=f"{_hover_text(phase, 80)}: customers reached over time (cumulative)",
                         hovermode="x unified",
                         legend=dict(orientation="h", y=-0.2), **_LAYOUT)
    figure.update_yaxes(rangemode="tozero", tickformat=",")
    return figure


def inquiries_vs_capacity(days: pd.DataFrame) -> go.Figure:
    """Calls and mailbox messages per day as stacked bars, the call centre's capacity as a line;
    days over capacity are marked."""
    figure = go.Figure()
    if days.empty:
        figure.update_layout(title="No inquiry volumes recorded yet", **_LAYOUT)
        return figure
    figure.add_trace(go.Bar(x=days["day"], y=days["calls"], name="Calls", marker_color="#1d4ed8",
                            hovertemplate="%{x|%d %b}: %{y:,} calls<extra></extra>"))
    figure.add_trace(go.Bar(x=days["day"], y=days["mailbox"], name="Mailbox", marker_color="#93c5fd",
                            hovertemplate="%{x|%d %b}: %{y:,} messages<extra></extra>"))
    figure.add_trace(go.Scatter(x=days["day"], y=days["call_capacity"], name="Call capacity", mode="lines+markers",
                                line=dict(color="#b91c1c", dash="dash", shape="hvh"),
                                hovertemplate="%{x|%d %b}: capacity %{y:,} calls<extra></extra>"))
    over = days[days["calls"] > days["call_capacity"]]
    if not over.empty:
        figure.add_trace(go.Scatter(x=over["day"], y=over["calls"], mode="markers", name="Calls over capacity",
                                    marker=dict(symbol="triangle-up", size=12, color="#b91c1c"),
                                    hovertemplate="%{x|%d %b}: %{y:,} calls, over capacity<extra></extra>"))
    figure.update_layout(title="Customer inquiries per day against call-centre capacity", barmode="stack",
                         legend=dict(orientation="h", y=-0.2), **_LAYOUT)
    figure.update_yaxes(rangemode="tozero", tickformat=",")
    return figure


_RECIPIENT_LABELS = {
    "regulator": "regulator", "individuals": "individuals", "attorney_general": "attorney general", "media": "media",
    "credit_bureaus": "credit bureaus", "other_authority": "other authority", "internal": "internal",
    "business_partner": "business partner",
}
STATUS_COLOURS = {"late": "#b91c1c", "not due": "#1d4ed8", "in preparation": "#a16207", "filed": "#15803d",
                  "not applicable": "#9ca3af"}


def obligation_deadlines(register: pd.DataFrame, milestones: dict, *, now, zone: str = "UTC") -> go.Figure:
    """Each applicable obligation's clock as a bar from its start to its deadline, coloured by
    status, with detection, awareness and now marked: the deadlines on the incident's timeline."""
    data = register[register["due_at"].notna() & register["applicability"].isin(["applies", "may apply"])]
    figure = go.Figure()
    if data.empty:
        figure.update_layout(title="No deadlines yet", **_LAYOUT)
        return figure
    data = data.sort_values("due_at", ascending=False)
    labels = [f"{r.rule_id} → {_RECIPIENT_LABELS.get(r.recipient, r.recipient)}" for r in data.itertuples()]
    for status, rows in data.assign(label=labels).groupby("status", sort=False):
        starts = rows["clock_started_at"].fillna(rows["due_at"])
        figure.add_trace(go.Bar(
            base=starts, x=(rows["due_at"] - starts).dt.total_seconds() * 1000, y=rows["label"], orientation="h",
            name=status, marker=dict(color=STATUS_COLOURS.get(status, "#6b7280")),
            customdata=rows[["regime", "due_at"]].assign(
                regime=rows["regime"].map(_hover_text),
                due_at=rows["due_at"].dt.tz_convert(zone).dt.strftime("%Y-%m-%d %H:%M")).to_numpy(),
            hovertemplate="%{y}<br>%{customdata[0]}<br>due %{customdata[1]}<extra></extra>"))
    # Labels on staggered rows: detection and awareness are often hours apart.
    for row, (name, moment, colour) in enumerate((("detected", milestones.get("detected_at"), "#7f1d1d"),
                                                  ("Legal aware", milestones.get("legal_aware_at"), "#a16207"),
                                                  ("now", now, "#111827"))):
        if moment is not None:
            figure.add_vline(x=moment, line=dict(color=colour, dash="dot"))
            figure.add_annotation(x=moment, y=1.01 + 0.045 * row, yref="paper", text=name, showarrow=False,
                                  xanchor="left", font=dict(color=colour, size=11))
    figure.update_layout(title="Notification deadlines on the incident timeline", barmode="overlay",
                         legend=dict(orientation="h", y=-0.22, yanchor="top"),
                         **{**_LAYOUT, "height": max(340, 24 * len(data) + 200),
                            "margin": dict(l=10, r=10, t=80, b=70)})
    figure.update_xaxes(type="date")
    return figure
