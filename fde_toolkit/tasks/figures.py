"""Figures for the notebook's "Task discovery" section, built from tasks.json (curated text only).

    tasks = eng.artifacts.tasks()
    task_map(tasks); cost_treemap(tasks); criterion_curve(tasks); candidate_table(tasks)

Every builder takes the tasks dict and returns a plotly Figure in the project's theme.
"""

from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go
import polars as pl

from fde_toolkit import viz

PALETTE = list(viz.PALETTE)
MUTED = viz.MUTED
GOOD, MID, POOR = "#4F9D8E", "#E09F3E", "#B5525C"


def _label(t: dict[str, Any], width: int = 38) -> str:
    name = t["name"] if len(t["name"]) <= width else t["name"][:width - 1] + "…"
    return f"{t['id']} {name}"


def _color_of(tasks: dict[str, Any]) -> dict[str, str]:
    return {t["id"]: PALETTE[i % len(PALETTE)] for i, t in enumerate(tasks["tasks"])}


def task_map(tasks: dict[str, Any], max_legend: int = 20) -> go.Figure:
    """Requests on a 2-D map (t-SNE of their embeddings), coloured by task."""
    title = "Where the calls fall: requests on a 2-D map, coloured by task"
    points = tasks.get("map") or []
    if not points:
        return viz.empty_figure(title, "Too few calls to draw a map")
    df = pl.DataFrame(points)
    colors = _color_of(tasks)
    fig = go.Figure()
    for i, t in enumerate(tasks["tasks"]):
        part = df.filter(pl.col("task_id") == t["id"])
        if part.height == 0:
            continue
        fig.add_trace(go.Scattergl(
            x=part["x"].to_list(), y=part["y"].to_list(), mode="markers", name=_label(t, 30),
            marker=dict(size=6, color=colors[t["id"]], opacity=0.75, line=dict(width=0)),
            text=[html.escape(r) for r in part["request"].to_list()],
            hovertemplate=f"<b>{html.escape(_label(t))}</b><br>%{{text}}<extra></extra>",
            showlegend=i < max_legend))
    fig.update_layout(title_text=title, height=560, xaxis=dict(visible=False), yaxis=dict(visible=False),
                      legend=dict(orientation="v", x=1.02, y=1, yanchor="top", xanchor="left"),
                      margin=dict(r=260))
    return fig


def cost_treemap(tasks: dict[str, Any]) -> go.Figure:
    """Cost by workflow step and task (calls when cost is unknown), coloured by SLM readiness."""
    priced = any((t.get("cost_usd") or 0) > 0 for t in tasks["tasks"])
    what = "cost (USD)" if priced else "calls (cost unknown)"
    title = f"Where the money goes: {what} by step and task, coloured by SLM readiness"
    ids, labels, parents, values, colors, hover = [], [], [], [], [], []
    steps = {s["id"]: s for s in tasks["steps"]}
    for sid, s in steps.items():
        members = [t for t in tasks["tasks"] if t["steps"][0] == sid]
        if not members:
            continue
        value = sum((t.get("cost_usd") or 0) if priced else t["calls"] for t in members)
        ids.append(sid)
        labels.append(f"step {sid} ({s['output_kind'].replace('_', ' ')})")
        parents.append("")
        values.append(value)
        colors.append(None)
        hover.append(f"{s['calls']:,} calls")
        for t in members:
            ids.append(t["id"])
            labels.append(_label(t, 30))
            parents.append(sid)
            values.append((t.get("cost_usd") or 0) if priced else t["calls"])
            colors.append(t["readiness"]["score"])
            share = "n/a" if t.get("cost_share") is None else f"{t['cost_share']:.1%}"
            hover.append(f"{t['calls']:,} calls ({t['volume_share']:.1%}), cost share {share}, "
                         f"readiness {t['readiness']['score']:.2f}")
    if not ids:
        return viz.empty_figure(title, "No tasks")
    fig = go.Figure(go.Treemap(
        ids=ids, labels=labels, parents=parents, values=values, branchvalues="total",
        marker=dict(colors=[c if c is not None else 0.5 for c in colors], colorscale=[[0, POOR], [0.5, MID], [1, GOOD]],
                    cmin=0, cmax=1, colorbar=dict(title="readiness", thickness=12)),
        customdata=hover, hovertemplate="<b>%{label}</b><br>%{customdata}<extra></extra>",
        textinfo="label+percent root"))
    fig.update_layout(title_text=title, height=520, margin=dict(l=10, r=10, t=80, b=10))
    return fig


def criterion_curve(tasks: dict[str, Any]) -> go.Figure:
    """How the number of kinds of request was chosen in each step that splits: silhouette by k."""
    title = "Choosing the number of tasks: silhouette by k (higher is better separated)"
    split = [s for s in tasks["steps"] if s["curve"]]
    if not split:
        return viz.empty_figure(title, "No step needed splitting: every step is one task")
    fig = go.Figure()
    for i, s in enumerate(split):
        ks = [c["k"] for c in s["curve"]]
        ys = [c["silhouette"] for c in s["curve"]]
        color = PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Scatter(x=ks, y=ys, mode="lines+markers", name=f"step {s['id']}",
                                 line=dict(color=color), hovertemplate="k=%{x}<br>silhouette %{y:.3f}<extra></extra>"))
        if s["k"] in ks:
            fig.add_trace(go.Scatter(x=[s["k"]], y=[ys[ks.index(s["k"])]], mode="markers", showlegend=False,
                                     marker=dict(size=14, color=color, symbol="star"),
                                     hovertemplate=f"chosen k={s['k']}<br>{html.escape(s['why'])}<extra></extra>"))
    fig.update_layout(title_text=title, xaxis=dict(title="k (kinds of request)", type="log"),
                      yaxis=dict(title="mean silhouette (cosine)"))
    return fig


def _value(v: float | None, basis: str | None) -> str:
    """A candidate's value; '*' marks a share of calls standing in for an unknown cost."""
    return "" if v is None else f"{v:.3f}" + ("*" if basis == "volume_share" else "")


def candidates_frame(tasks: dict[str, Any]) -> pl.DataFrame:
    """Every task, SLM candidates first by rank: the ranked candidate table as a frame. `cost_share` is the
    task's share of the bill (known cost), `value` that share x readiness (ranking.py)."""
    rows = []
    for t in tasks["tasks"]:
        good = [r[2:] for r in t["readiness"]["reasons"] if r.startswith("+")]
        bad = [r[2:] for r in t["readiness"]["reasons"] if r.startswith("-")]
        rows.append({"rank": t.get("rank"), "id": t["id"], "name": t["name"], "calls": t["calls"],
                     "volume_share": t["volume_share"], "cost_share": t.get("cost_share"),
                     "output": t["output_kind"], "readiness": t["readiness"]["score"], "candidate": t["candidate"],
                     "value": t.get("priority"), "value_basis": t.get("priority_basis"),
                     "why": "; ".join(good[:2]), "against": "; ".join(bad[:2])})
    df = pl.DataFrame(rows, schema={"rank": pl.Int64, "id": pl.String, "name": pl.String, "calls": pl.Int64,
                                    "volume_share": pl.Float64, "cost_share": pl.Float64, "output": pl.String,
                                    "readiness": pl.Float64, "candidate": pl.Boolean, "value": pl.Float64,
                                    "value_basis": pl.String, "why": pl.String,
                                    "against": pl.String})
    return df.sort(["candidate", "rank", "calls"], descending=[True, False, True], nulls_last=True)


def candidate_table(tasks: dict[str, Any], limit: int = 25) -> go.Figure:
    """The ranked candidate table: what an SLM should take first (the most LLM spend to avoid), with the reasons."""
    df = candidates_frame(tasks).head(limit)
    title = "SLM candidates, ranked by the LLM spend they could avoid"
    if df.height == 0:
        return viz.empty_figure(title, "No tasks")
    cum_v = df.filter(pl.col("candidate"))["volume_share"].sum()
    cum_c = df.filter(pl.col("candidate"))["cost_share"].drop_nulls().sum()
    fill = [["#EEF5F2" if c else "white" for c in df["candidate"]]] * 10
    fig = go.Figure(go.Table(
        columnwidth=[30, 34, 190, 60, 50, 56, 60, 44, 48, 240],
        header=dict(values=["rank", "id", "task", "calls", "% calls", "% of bill", "output", "ready", "value",
                            "why / against"],
                    fill_color="#23303D", font=dict(color="white", size=12), align="left"),
        cells=dict(values=[
            [str(r) if r is not None else "" for r in df["rank"]], df["id"].to_list(),
            [html.escape(n) for n in df["name"]], [f"{c:,}" for c in df["calls"]],
            [f"{v:.1%}" for v in df["volume_share"]],
            ["n/a" if c is None else f"{c:.1%}" for c in df["cost_share"]], df["output"].to_list(),
            [f"{s:.2f}" for s in df["readiness"]],
            [_value(v, b) if c else "" for v, b, c in zip(df["value"], df["value_basis"], df["candidate"])],
            [html.escape(w if c else (a or w)) for w, a, c in zip(df["why"], df["against"], df["candidate"])]],
            fill_color=fill, align="left", font=dict(size=12), height=26)))
    star = ("; * no known cost: share of calls stands in" if (df.filter(pl.col("candidate"))["value_basis"]
                                                              == "volume_share").any() else "")
    fig.update_layout(title_text=f"{title}<br><sup>candidates cover {cum_v:.0%} of calls and {cum_c:.0%} of the "
                                 f"bill; value = share of the bill x readiness{star}</sup>",
                      height=min(900, 140 + 28 * df.height), margin=dict(l=10, r=10, t=80, b=10))
    return fig
