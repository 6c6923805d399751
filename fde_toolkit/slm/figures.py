"""Figures and tables for the prototyping notebook: training curves, the comparison, error analysis.

    training_curves(json.load(open(".../models/t03/curves.json")))      # go.Figure
    comparison_rows(report)  /  comparison_table(report)                 # rows / viz.table Html
    confusion_matrix(predictions, "fine_tuned")                          # go.Figure (label tasks)
    worst_examples(predictions, "fine_tuned", kind, n=10)                # rows (curated text only)
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

import plotly.graph_objects as go

from fde_toolkit import viz
from fde_toolkit.slm.confidence import error_bars, metric_text
from fde_toolkit.slm.metrics import chrf, field_f1, parse_json
from fde_toolkit import formatting as num

VARIANT_NAMES = {"base": "base, zero-shot", "few_shot": "base, few-shot", "fine_tuned": "fine-tuned"}


def training_curves(curves: dict[str, list[dict[str, Any]]], smooth: int = 10) -> go.Figure:
    """Training loss (raw and moving average) and validation loss against examples seen."""
    train, val = curves.get("train", []), curves.get("val", [])
    fig = go.Figure()
    if not train and not val:
        return viz.empty_figure("Training curves", "No training steps recorded.")
    x = [c["examples_seen"] for c in train]
    y = [c["loss"] for c in train]
    avg = [sum(y[max(0, i - smooth + 1):i + 1]) / len(y[max(0, i - smooth + 1):i + 1]) for i in range(len(y))]
    fig.add_scatter(x=x, y=y, mode="lines", name="train loss", line=dict(width=1, color=viz.PALETTE[0]), opacity=0.35)
    fig.add_scatter(x=x, y=avg, mode="lines", name=f"train loss ({smooth}-step mean)",
                    line=dict(width=2, color=viz.PALETTE[0]))
    if val:
        fig.add_scatter(x=[c["examples_seen"] for c in val], y=[c["val_loss"] for c in val], mode="lines+markers",
                        name="validation loss", line=dict(width=2, color=viz.PALETTE[1]))
    fig.update_layout(title_text="Training curves: loss per answer token", xaxis_title="examples seen",
                      yaxis_title="cross-entropy (nats)")
    return fig


def comparison_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per variant plus the LLM: metrics (95% interval in brackets), latency, throughput, cost per
    successful task."""
    rows = []
    for v, r in report["variants"].items():
        row = {"variant": VARIANT_NAMES.get(v, v)}
        for m in report["metric_names"]:
            row[m] = metric_text(r["metrics"], m)  # with its 95% interval when the report has one
        row["latency"] = num.duration_ms(r["latency_ms"]["p50"])
        row["throughput"] = f"{r['examples_per_s']:.2f}/s" if r.get("examples_per_s") else "–"
        row["cost"] = num.money(r["cost"]["per_successful_task_usd"])
        rows.append(row)
    llm = report.get("llm", {})
    rows.append({"variant": "LLM (logged)", **{m: "reference" for m in report["metric_names"]},
                 "latency": num.duration_ms(llm.get("latency_ms_p50")), "throughput": "–",
                 "cost": num.money(llm.get("cost_per_task_usd"))})
    return rows


def comparison_table(report: dict[str, Any]):
    cols = {"variant": "variant", **{m: m.replace("_", " ") for m in report["metric_names"]},
            "latency": "latency p50", "throughput": "throughput", "cost": "cost / successful task"}
    return viz.table(comparison_rows(report), cols, numeric=set(cols) - {"variant"})


def confusion_matrix(predictions: Sequence[dict[str, Any]], variant: str = "fine_tuned", limit: int = 20) -> go.Figure:
    """Counts of (LLM label, SLM label) for the most frequent labels; the rest grouped as 'other'."""
    if not predictions:
        return viz.empty_figure("Confusion matrix", "No predictions.")
    freq = Counter(p["target"] for p in predictions)
    keep = [lab for lab, _ in freq.most_common(limit)]
    known = set(keep)
    name = lambda s: s if s in known else "other"  # noqa: E731
    labels = keep + (["other"] if len(freq) > limit or any(p[variant] not in known for p in predictions) else [])
    idx = {lab: i for i, lab in enumerate(labels)}
    z = [[0] * len(labels) for _ in labels]
    for p in predictions:
        z[idx[name(p["target"])]][idx[name(p[variant])]] += 1
    fig = go.Figure(go.Heatmap(z=z, x=labels, y=labels, colorscale=[[0, "white"], [1, viz.PALETTE[0]]],
                               hovertemplate="LLM %{y}<br>SLM %{x}<br>%{z} examples<extra></extra>"))
    fig.update_layout(title_text=f"Confusion matrix: {VARIANT_NAMES.get(variant, variant)} vs the LLM",
                      xaxis_title="SLM answer", yaxis_title="LLM answer", yaxis_autorange="reversed",
                      height=max(420, 24 * len(labels) + 200))
    return fig


def _example_score(kind: str, pred: str, target: str) -> float:
    if kind == "label":
        return float(pred.strip() == target.strip())
    if kind in ("json", "tool_call"):
        ref = parse_json(target)
        return field_f1(parse_json(pred), ref) if ref is not None else float(pred.strip() == target.strip())
    return chrf(pred, target) / 100.0


def worst_examples(predictions: Sequence[dict[str, Any]], variant: str, kind: str, n: int = 10,
                   width: int = 240) -> list[dict[str, Any]]:
    """The `n` answers furthest from the LLM's (curated text only, shortened to `width` characters)."""
    scored = sorted(((_example_score(kind, p[variant], p["target"]), i) for i, p in enumerate(predictions)))
    out = []
    for s, i in scored[:n]:
        p = predictions[i]
        out.append({"id": p["id"], "score": round(s, 3), "request": _short(p["request"], width),
                    "llm": _short(p["target"], width), "slm": _short(p[variant], width)})
    return out


def worst_examples_table(predictions: Sequence[dict[str, Any]], variant: str, kind: str, n: int = 10):
    return viz.table(worst_examples(predictions, variant, kind, n),
                     {"request": "request", "llm": "LLM answer", "slm": "SLM answer", "score": "score"},
                     numeric={"score"})


def _short(text: str | None, width: int) -> str:
    t = " ".join((text or "").split())
    return t if len(t) <= width else t[: width - 1] + "…"


# ----------------------------------------------------------------------------- the dataset, the selection, all tasks

SPLIT_COLORS = {"train": viz.PALETTE[0], "val": viz.PALETTE[1], "test": viz.PALETTE[2]}


def split_strata(info: dict[str, Any], limit: int = 20) -> go.Figure:
    """Examples per label (or tool) in each split, the most frequent `limit` strata (dataset.json's counts)."""
    strata = info.get("strata") or {}
    if not strata:
        return viz.empty_figure("Examples per split", "This task has no label or tool to stratify by.")
    total = Counter()
    for split in strata.values():
        total.update(split)
    names = [s for s, _ in total.most_common(limit)][::-1]
    fig = go.Figure()
    for split in ("train", "val", "test"):
        fig.add_bar(y=names, x=[strata.get(split, {}).get(s, 0) for s in names], name=split, orientation="h",
                    marker_color=SPLIT_COLORS[split], hovertemplate="%{y}: %{x} " + split + " examples<extra></extra>")
    by = "label" if info.get("output_kind") == "label" else "tool"
    more = f" (top {limit} of {len(total)})" if len(total) > limit else ""
    fig.update_layout(barmode="stack", title_text=f"Examples per {by} and split{more}", xaxis_title="examples",
                      height=max(320, 22 * len(names) + 160))
    return fig


def selection_chart(result: dict[str, Any], candidates: Sequence[str] | None = None) -> go.Figure:
    """Each candidate's headline metric zero-shot and few-shot on the test split (`fde select`)."""
    rows = [r for r in result.get("ranking", []) if candidates is None or r["candidate"] in candidates]
    if not rows:
        return viz.empty_figure("Candidates", "No candidate was ranked.")
    primary = result.get("primary") or next(r[m]["primary"] for r in rows for m in ("zero_shot", "fitted") if r.get(m))
    scale = 1.0 if primary.startswith("chrf") else 100.0
    names = [r["candidate"] for r in rows]
    fig = go.Figure()
    modes = (("zero_shot", "zero-shot"), ("few_shot", f"{result.get('shots', 'k')}-shot"),
             ("fitted", "encoder, fitted head"))
    for i, (mode, label) in enumerate(modes):
        if not any(r.get(mode) for r in rows):
            continue
        fig.add_bar(x=names, y=[r[mode][primary] * scale if r.get(mode) else None for r in rows], name=label,
                    marker_color=viz.PALETTE[i], hovertemplate="%{x}: %{y:.1f}<extra>" + label + "</extra>")
    unit = "" if scale == 1.0 else " (%)"
    fig.update_layout(barmode="group", title_text=f"Candidates on the test split: {primary.replace('_', ' ')}",
                      yaxis_title=primary.replace("_", " ") + unit, yaxis_range=[0, 100])
    return fig


def agreement_by_task(reports: Sequence[dict[str, Any]]) -> go.Figure:
    """Agreement with the LLM per task: base zero-shot, few-shot and fine-tuned side by side (with their 95%
    intervals as error bars when the reports have them)."""
    if not reports:
        return viz.empty_figure("Agreement with the LLM", "No task has been evaluated yet.")
    tasks = [r["task"] for r in reports]
    fig = go.Figure()
    for i, (v, label) in enumerate(VARIANT_NAMES.items()):
        ms = [r["variants"][v]["metrics"] for r in reports]
        fig.add_bar(x=tasks, y=[100 * m["agreement"] for m in ms], name=label, marker_color=viz.PALETTE[i],
                    error_y=error_bars(ms, scale=100.0),
                    hovertemplate="%{x}: %{y:.1f}%<extra>" + label + "</extra>")
    fig.update_layout(barmode="group", title_text="Agreement with the LLM on held-out calls, by task",
                      yaxis_title="answers equivalent to the LLM's (%)", yaxis_range=[0, 100], xaxis_type="category")
    return fig
