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
    figure.add_trace(go.Scatter(x=data["recorded_at"], y=data["high"], mode="lines", line=dict(width=0),
                                showlegend=False, hoverinfo="skip"))
    figure.add_trace(go.Scatter(x=data["recorded_at"], y=data["low"], mode="lines", line=dict(width=0),
                                fill="tonexty", fillcolor="rgba(29, 78, 216, 0.15)", name="low–high range",
                                hoverinfo="skip"))
    figure.add_trace(go.Scatter(
        x=data["recorded_at"], y=data["best"], mode="lines+markers", name="best estimate",
        line=dict(color="#1d4ed8", shape="hv"), marker=dict(size=8),
        customdata=data[["seq", "recorded_by", "low", "high"]].to_numpy(),
        hovertemplate=("Revision %{customdata[0]}<br>best %{y:,}<br>range %{customdata[2]:,}–%{customdata[3]:,}"
                       "<br>by %{customdata[1]}<extra></extra>"),
    ))
    figure.update_layout(title=f"Affected {unit}: best estimate and range", yaxis_title=unit,
                         legend=dict(orientation="h", y=-0.2), **_LAYOUT)
    figure.update_yaxes(rangemode="tozero", tickformat=",")
    return figure


def exposure_by_type(data_types: pd.DataFrame) -> go.Figure:
    """Horizontal bars per data type, coloured by sensitivity tier, suspected ones hatched."""
    data = data_types.sort_values(["tier_rank", "count"], ascending=[False, True])
    figure = go.Figure()
    for status, pattern in (("confirmed", ""), ("suspected", "/")):
        rows = data[data["status"] == status]
        if rows.empty:
            continue
        figure.add_trace(go.Bar(
            x=rows["count"], y=rows["name"], orientation="h", name=status,
            marker=dict(color=[TIER_COLOURS.get(t, TIER_COLOURS["unknown"]) for t in rows["tier"]],
                        pattern_shape=pattern),
            customdata=rows[["tier_name", "status"]].to_numpy(),
            hovertemplate="%{y}: %{x:,}<br>%{customdata[0]} · %{customdata[1]}<extra></extra>",
        ))
    figure.update_layout(title="Exposed data types (colour: sensitivity tier)", barmode="overlay",
                         **{**_LAYOUT, "height": max(260, 28 * len(data) + 80)})
    figure.update_xaxes(tickformat=",")
    return figure
