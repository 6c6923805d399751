"""The routing figures: how much the specialist keeps at what quality, what it costs, why calls escalate.

    scores = eng.artifacts.read("routing_scores", "t01")        # per call: signals, correct, LLM cost
    coverage_figure(scores, report["tasks"]["t01"])              # offload vs kept agreement, target, chosen point
    cost_figure(scores, report["tasks"]["t01"])                  # cost per 1,000 calls vs offload
    reasons_figure(report["tasks"]["t01"])                       # escalation reasons on the test split
    policy_at(scores, "top_probability", 0.93, slm_cost=2e-5)    # the policy at any threshold (the slider)

Everything is read from the artifacts `fde route` wrote; nothing is recomputed by a model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
import polars as pl

from fde_toolkit import viz
from fde_toolkit.routing.calibrate import coverage_curve, evaluate_policy, kept_calls


def _split(scores: pl.DataFrame, split: str, signal: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = scores.filter(pl.col("split") == split)
    return (s[signal].cast(pl.Float64).to_numpy(), s["correct"].to_numpy().astype(bool),
            (s["problems"].fill_null("") != "").to_numpy())


def policy_at(scores: pl.DataFrame, signal: str, threshold: float, slm_cost: float | None = None,
              split: str = "test") -> dict[str, Any]:
    """The policy at `threshold` on `split` (calibrate.evaluate_policy: offload, kept agreement with its 95%
    interval, system quality) and the cost per 1,000 calls routed (escalated calls pay the specialist's
    attempt and the LLM)."""
    s, ok, forced = _split(scores, split, signal)
    out = evaluate_policy(s, ok, threshold, forced)
    llm = scores.filter(pl.col("split") == split)["llm_cost_usd"].cast(pl.Float64).to_numpy()
    priced = ~np.isnan(llm)
    before = 1000 * float(llm[priced].mean()) if priced.any() else None
    after = None
    if slm_cost is not None and priced.any():
        escalated = np.where(kept_calls(s, threshold, forced), 0.0, llm)
        after = 1000 * (slm_cost + float(escalated[priced].mean()))
    out["cost_per_1000_calls"] = {"before": before, "after": after}
    return out


def coverage_figure(scores: pl.DataFrame, task: dict[str, Any]) -> go.Figure:
    """Offload share vs the kept calls' agreement with the LLM, on validation and test, with the target and
    the chosen threshold; the test curve carries its 95% Clopper-Pearson band."""
    signal = task.get("signal")
    if not signal or signal not in scores.columns:
        return viz.empty_figure("Coverage vs quality", "No routing scores for this task: run `fde route`.")
    fig = go.Figure()
    for i, split in enumerate(("val", "test")):
        s, ok, forced = _split(scores, split, signal)
        rows = [r for r in coverage_curve(s, ok, forced, points=60) if r.get("kept_quality") is not None]
        if not rows:
            continue
        x = [r["offload_share"] for r in rows]
        color = viz.PALETTE[i]
        if split == "test":
            fig.add_trace(go.Scatter(x=x + x[::-1], y=[r["high"] for r in rows] + [r["low"] for r in rows][::-1],
                                     fill="toself", line=dict(width=0), fillcolor="rgba(224,159,62,0.18)",
                                     hoverinfo="skip", name="test, 95% interval"))
        fig.add_trace(go.Scatter(x=x, y=[r["kept_quality"] for r in rows], mode="lines", name=split,
                                 line=dict(color=color, width=2),
                                 customdata=[[r["threshold"]] for r in rows],
                                 hovertemplate="keeps %{x:.1%}<br>agreement %{y:.3f}<br>"
                                               f"{signal} ≥ %{{customdata[0]:.4g}}<extra>{split}</extra>"))
    fig.add_hline(y=task["target"], line=dict(color=viz.MUTED, dash="dash"),
                  annotation_text=f"target {task['target']:g}", annotation_position="bottom left")
    kq = task.get("kept_quality") or {}
    if task.get("feasible") and kq.get("value") is not None:
        fig.add_trace(go.Scatter(x=[task["offload_share"]], y=[kq["value"]], mode="markers", name="chosen (test)",
                                 marker=dict(size=12, color=viz.PALETTE[3], symbol="diamond"),
                                 error_y=dict(type="data", symmetric=False, array=[kq["high"] - kq["value"]],
                                              arrayminus=[kq["value"] - kq["low"]])))
    fig.update_layout(title=f"{task['task']}: share the specialist keeps vs their agreement with the LLM",
                      xaxis=dict(title="share of calls the specialist keeps", tickformat=".0%", range=[0, 1.02]),
                      yaxis=dict(title="agreement of the kept calls"))
    return fig


def cost_figure(scores: pl.DataFrame, task: dict[str, Any], points: int = 40) -> go.Figure:
    """Cost per 1,000 calls on the test split as the threshold moves: all-LLM, and routed."""
    signal, slm_cost = task.get("signal"), task.get("slm_cost_per_call_usd")
    if not signal or signal not in scores.columns or slm_cost is None:
        return viz.empty_figure("Cost per 1,000 calls", "No routing scores or specialist cost for this task.")
    s = scores.filter(pl.col("split") == "test")[signal].drop_nulls().drop_nans()
    grid = np.unique(np.quantile(s.to_numpy(), np.linspace(0, 1, points))) if s.len() else np.array([])
    rows = [policy_at(scores, signal, float(t), slm_cost) for t in grid]
    rows.append(policy_at(scores, signal, np.inf, slm_cost))
    rows.sort(key=lambda r: r["offload_share"])
    fig = go.Figure(go.Scatter(x=[r["offload_share"] for r in rows],
                               y=[r["cost_per_1000_calls"]["after"] for r in rows], mode="lines+markers",
                               name="routed", line=dict(color=viz.PALETTE[0])))
    before = rows[0]["cost_per_1000_calls"]["before"]
    if before is not None:
        fig.add_hline(y=before, line=dict(color=viz.PALETTE[1], dash="dash"), annotation_text="all on the LLM",
                      annotation_position="top left")
    if task.get("feasible"):
        fig.add_vline(x=task["offload_share"], line=dict(color=viz.PALETTE[3], dash="dot"),
                      annotation_text="chosen", annotation_position="top right")
    fig.update_layout(title=f"{task['task']}: cost per 1,000 calls (test split)",
                      xaxis=dict(title="share of calls the specialist keeps", tickformat=".0%"),
                      yaxis=dict(title="USD per 1,000 calls", rangemode="tozero"))
    return fig


def reasons_figure(task: dict[str, Any]) -> go.Figure:
    """Why test calls went to the LLM."""
    reasons = task.get("escalation_reasons") or {}
    if not reasons:
        return viz.empty_figure("Escalation reasons", "No test call was escalated.")
    items = sorted(reasons.items(), key=lambda kv: kv[1])
    fig = go.Figure(go.Bar(x=[v for _, v in items], y=[k.replace("_", " ") for k, _ in items], orientation="h",
                           marker_color=viz.PALETTE[1], text=[v for _, v in items], textposition="outside"))
    fig.update_layout(title=f"{task['task']}: why calls escalate to the LLM (test split, {task['n']} calls)",
                      xaxis=dict(title="calls"), height=max(240, 90 + 40 * len(items)))
    return fig
