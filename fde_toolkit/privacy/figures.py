"""Figures for the notebook's "Data curation" section, built from pii_report.json (counts only).

    report = eng.artifacts.read("pii_report")
    privacy.figures.entities_by_type(report)

The shared theme (fde_toolkit.viz, template "fde") applies when that module is importable.
"""

from __future__ import annotations

from typing import Any, Callable

import plotly.graph_objects as go

from fde_toolkit import viz  # registers the "fde" template as the default

PALETTE = list(viz.PALETTE)
MUTED = viz.MUTED

ACTION_COLORS = {"dropped": "#B5525C", "restricted": "#E09F3E", "flagged": "#2F5D8C"}


def _hbar(title: str, counts: dict[str, int], axis: str, color: str, empty: str) -> go.Figure:
    if not counts:
        return viz.empty_figure(title, empty)
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[::-1]
    fig = go.Figure(go.Bar(y=[k for k, _ in rows], x=[v for _, v in rows], orientation="h", marker_color=color,
                           text=[f"{v:,}" for _, v in rows], textposition="outside", cliponaxis=False,
                           hovertemplate="%{y}: %{x:,}<extra></extra>"))
    fig.update_layout(title_text=title, showlegend=False, height=max(260, 140 + 34 * len(rows)))
    fig.update_xaxes(title_text=axis, tickformat=",", rangemode="tozero")
    return fig


def entities_by_type(report: dict[str, Any]) -> go.Figure:
    """PII values found, per entity type."""
    return _hbar("PII found by type", report["entities"]["by_type"], "Values found", PALETTE[0], "No PII found")


def entities_by_detector(report: dict[str, Any]) -> go.Figure:
    """PII values found, per detector (regex + validation, JSON keys, NER, custom patterns)."""
    return _hbar("PII found by detector", report["entities"]["by_detector"], "Values found", PALETTE[2],
                 "No PII found")


def entities_by_field(report: dict[str, Any]) -> go.Figure:
    """Where the PII was: one stacked bar per field of the call record, split by entity type."""
    title = "Where the PII was: field and type"
    by_field: dict[str, dict[str, int]] = report["entities"]["by_field"]
    if not by_field:
        return viz.empty_figure(title, "No PII found")
    fields = sorted(by_field, key=lambda f: (sum(by_field[f].values()), f))
    types = list(report["entities"]["by_type"])
    fig = go.Figure()
    for i, t in enumerate(types):
        fig.add_bar(y=fields, x=[by_field[f].get(t, 0) for f in fields], orientation="h", name=t,
                    marker_color=PALETTE[i % len(PALETTE)], hovertemplate=f"%{{y}}: %{{x:,}} {t}<extra></extra>")
    fig.update_layout(title_text=title, barmode="stack", height=max(300, 160 + 34 * len(fields)))
    fig.update_xaxes(title_text="Values found", tickformat=",", rangemode="tozero")
    return fig


def sensitivity_outcomes(report: dict[str, Any]) -> go.Figure:
    """Records per sensitivity rule: matched, and dropped / restricted / flagged because of it."""
    title = "Sensitive records by category"
    rules = report["sensitivity"]["rules"]
    if not rules:
        return viz.empty_figure(title, "No sensitivity rules configured")
    names = [r["name"] for r in rules][::-1]
    fig = go.Figure()
    fig.add_bar(y=names, x=[r["records_matched"] for r in rules][::-1], orientation="h", name="matched",
                marker_color="#B7C7DA", hovertemplate="%{y}: %{x:,} records matched<extra></extra>")
    for action, label in (("drop", "dropped"), ("restrict", "restricted"), ("flag", "flagged")):
        xs = [r["records_actioned"] if r["action"] == action else 0 for r in rules][::-1]
        if any(xs):
            fig.add_bar(y=names, x=xs, orientation="h", name=label, marker_color=ACTION_COLORS[label],
                        hovertemplate=f"%{{y}}: %{{x:,}} records {label}<extra></extra>")
    fig.update_layout(title_text=title, barmode="group", height=max(280, 150 + 50 * len(names)))
    fig.update_xaxes(title_text="Records", tickformat=",", rangemode="tozero")
    return fig


def records_outcome(report: dict[str, Any]) -> go.Figure:
    """What happened to the records read: curated, restricted, dropped (they add up to the total)."""
    r = report["records"]
    title = f"{r['in']:,} calls read: what curation kept"
    if not r["in"]:
        return viz.empty_figure(title, "No calls")
    labels = ["curated", "restricted", "dropped"]
    colors = [PALETTE[2], ACTION_COLORS["restricted"], ACTION_COLORS["dropped"]]
    fig = go.Figure()
    for label, color in zip(labels, colors):
        fig.add_bar(y=["calls"], x=[r[label]], orientation="h", name=label, marker_color=color,
                    hovertemplate=f"{label}: %{{x:,}}<extra></extra>")
    fig.update_layout(title_text=title, barmode="stack", height=220)
    fig.update_xaxes(title_text="Calls", tickformat=",", rangemode="tozero")
    return fig


FIGURES: dict[str, Callable[[dict[str, Any]], go.Figure]] = {
    "pii_by_type": entities_by_type,
    "pii_by_field": entities_by_field,
    "pii_by_detector": entities_by_detector,
    "sensitivity_outcomes": sensitivity_outcomes,
    "curation_outcome": records_outcome,
}
