"""The hardening figures and tables, read from hardening.json (`fde harden`); nothing is measured here.

    report = eng.artifacts.read("hardening")
    t = report["tasks"]["t01"]
    latency_figure(t)                    # p50 / p95 / p99 at batch 1 per configuration, the LLM's p50, the SLA p95
    throughput_figure(t)                 # requests/s against batch size, one line per configuration
    quality_figure(t, report)            # agreement per configuration with its 95% interval, the allowed drop
    sla_table(t); robustness_table(t)    # viz.Html tables
    summary_table(report)                # one row per task: the recommendation against eager and the LLM
    write_figures(eng, report)           # every figure as plotly JSON: figures/hardening_<task>_<what>.json
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from fde_toolkit import viz

STATUS_TEXT = {"ok": "ok", "failed_quality": "failed: quality", "unavailable": "not available here",
               "error": "error"}


def config_label(c: dict[str, Any]) -> str:
    """`onnx-int8` or `eager · cuda` (the device is named when it is not the CPU)."""
    device = c.get("device") or "cpu"
    return c.get("runtime", "?") + ("" if device == "cpu" else f" · {device}")


def _measured(task: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in task.get("configurations") or [] if c.get("batches")]


def _batch(c: dict[str, Any], size: int = 1) -> dict[str, Any] | None:
    rows = [b for b in c.get("batches") or [] if b.get("batch_size") == size]
    return rows[0] if rows else None


def _limits(task: dict[str, Any]) -> dict[str, Any]:
    return (task.get("sla") or {}).get("limits") or {}


def _title(task: dict[str, Any], tid: str | None, what: str) -> str:
    return f"{tid or task.get('task') or ''}: {what}".lstrip(": ")


def fmt(v: Any, spec: str, unit: str = "") -> str:
    return "–" if v is None else f"{v:{spec}}{unit}"


# ----------------------------------------------------------------------------- figures

def latency_figure(task: dict[str, Any], tid: str | None = None) -> go.Figure:
    """p50, p95 and p99 latency at batch 1 per configuration (the p50 with its spread over the repeats), against
    the LLM's logged p50 and the SLA's p95."""
    rows = [(c, b) for c in _measured(task) if (b := _batch(c)) is not None]
    if not rows:
        return viz.empty_figure(_title(task, tid, "latency at batch 1"), "No configuration was timed at batch 1.")
    x = [config_label(c) + ("" if c.get("status") == "ok" else " ✗") for c, _ in rows]
    fig = go.Figure()
    for i, q in enumerate(("p50", "p95", "p99")):
        vals = [(b.get("latency_ms") or {}).get(q) for _, b in rows]
        err = None
        if q == "p50":
            spread = [b.get("p50_spread_ms") or [v, v] for (_, b), v in zip(rows, vals)]
            err = dict(type="data", symmetric=False, color=viz.INK, thickness=1.2,
                       array=[(s[1] - v) if v is not None and s[1] is not None else 0 for s, v in zip(spread, vals)],
                       arrayminus=[(v - s[0]) if v is not None and s[0] is not None else 0
                                   for s, v in zip(spread, vals)])
        fig.add_trace(go.Bar(x=x, y=vals, name=q, marker_color=viz.PALETTE[i], error_y=err,
                             text=[fmt(v, ",.0f") for v in vals], textposition="outside",
                             hovertemplate=f"%{{x}}<br>{q} %{{y:,.1f}} ms<extra></extra>"))
    llm = (task.get("llm_latency_ms") or {}).get("p50")
    if llm is not None:
        fig.add_hline(y=llm, line=dict(color=viz.PALETTE[3], dash="dash"), annotation_text=f"LLM p50 {llm:,.0f} ms",
                      annotation_position="top left")
    sla = _limits(task).get("p95_ms")
    if sla is not None:
        fig.add_hline(y=sla, line=dict(color=viz.MUTED, dash="dot"), annotation_text=f"SLA p95 {sla:,.0f} ms",
                      annotation_position="top right")
    fig.update_layout(title=_title(task, tid, "latency per request at batch 1 (✗: failed the quality check)"),
                      barmode="group", xaxis=dict(title="configuration"),
                      yaxis=dict(title="milliseconds", rangemode="tozero"))
    return fig


def throughput_figure(task: dict[str, Any], tid: str | None = None) -> go.Figure:
    """Requests per second against batch size, one line per configuration, with the SLA's minimum."""
    configs = [c for c in _measured(task) if any(b.get("requests_per_s") is not None for b in c["batches"])]
    if not configs:
        return viz.empty_figure(_title(task, tid, "throughput"), "No throughput was measured.")
    fig = go.Figure()
    for i, c in enumerate(configs):
        bs = sorted((b for b in c["batches"] if b.get("requests_per_s") is not None), key=lambda b: b["batch_size"])
        ok = c.get("status") == "ok"
        fig.add_trace(go.Scatter(
            x=[b["batch_size"] for b in bs], y=[b["requests_per_s"] for b in bs], mode="lines+markers",
            name=config_label(c) + ("" if ok else " (failed quality)"),
            line=dict(color=viz.PALETTE[i % len(viz.PALETTE)], width=2, dash="solid" if ok else "dot"),
            customdata=[[(b.get("latency_ms") or {}).get("p95"), b.get("tokens_per_s")] for b in bs],
            hovertemplate="batch %{x}<br>%{y:,.1f} requests/s<br>p95 %{customdata[0]:,.1f} ms"
                          f"<extra>{config_label(c)}</extra>"))
    floor = _limits(task).get("min_requests_per_s")
    if floor is not None:
        fig.add_hline(y=floor, line=dict(color=viz.MUTED, dash="dot"), annotation_text=f"SLA {floor:g} requests/s",
                      annotation_position="top left")
    sizes = sorted({b["batch_size"] for c in configs for b in c["batches"]})
    fig.update_layout(title=_title(task, tid, "throughput against batch size"),
                      xaxis=dict(title="batch size", type="log", tickvals=sizes, ticktext=[str(s) for s in sizes]),
                      yaxis=dict(title="requests per second", rangemode="tozero"))
    return fig


def quality_figure(task: dict[str, Any], report: dict[str, Any] | None = None, tid: str | None = None) -> go.Figure:
    """Agreement on the test split per configuration with its 95% interval; the eager value, the allowed drop
    (hardening.max_quality_drop) and the SLA's quality floor are marked."""
    configs = [c for c in task.get("configurations") or [] if (c.get("quality") or {}).get("value") is not None]
    if not configs:
        return viz.empty_figure(_title(task, tid, "quality"), "No configuration's quality was measured.")
    vals = [c["quality"]["value"] for c in configs]
    colors = [viz.PALETTE[2] if c.get("status") == "ok" else viz.PALETTE[3] for c in configs]
    metric = configs[0]["quality"].get("metric") or "agreement"
    fig = go.Figure(go.Scatter(
        x=[config_label(c) for c in configs], y=vals, mode="markers", marker=dict(size=12, color=colors),
        error_y=dict(type="data", symmetric=False, color=viz.MUTED,
                     array=[max(0.0, (c["quality"].get("high") or v) - v) for c, v in zip(configs, vals)],
                     arrayminus=[max(0.0, v - (c["quality"].get("low") or v)) for c, v in zip(configs, vals)]),
        customdata=[[c["quality"].get("n"), c["quality"].get("drop"), STATUS_TEXT.get(c.get("status"), "")]
                    for c in configs],
        hovertemplate="%{x}<br>" + metric + " %{y:.3f} (n=%{customdata[0]})<br>drop %{customdata[1]:.3f}"
                      "<br>%{customdata[2]}<extra></extra>", showlegend=False))
    eager = next((c["quality"]["value"] for c in configs if c.get("runtime") == "eager"), None)
    drop = ((report or {}).get("settings") or {}).get("max_quality_drop")
    if eager is not None:
        fig.add_hline(y=eager, line=dict(color=viz.PALETTE[0], dash="dash"), annotation_text=f"eager {eager:.3f}",
                      annotation_position="top left")
        if drop is not None:
            fig.add_hrect(y0=eager - drop, y1=eager, fillcolor="rgba(47,93,140,0.08)", line_width=0)
            fig.add_hline(y=eager - drop, line=dict(color=viz.PALETTE[3], dash="dot"),
                          annotation_text=f"allowed drop {drop:g}", annotation_position="bottom left")
    floor = _limits(task).get("quality_floor")
    if floor is not None:
        fig.add_hline(y=floor, line=dict(color=viz.MUTED, dash="dot"), annotation_text=f"SLA floor {floor:g}",
                      annotation_position="bottom right")
    fig.update_layout(title=_title(task, tid, f"{metric} with the LLM per configuration (test split, 95% interval; "
                                              "red: failed)"),
                      xaxis=dict(title="configuration"), yaxis=dict(title=metric))
    return fig


FIGURES = {"latency": latency_figure, "throughput": throughput_figure, "quality": quality_figure}


def task_figures(report: dict[str, Any], tid: str) -> dict[str, go.Figure]:
    """The three figures of one task, by name."""
    t = report["tasks"][tid]
    return {"latency": latency_figure(t, tid), "throughput": throughput_figure(t, tid),
            "quality": quality_figure(t, report, tid)}


def write_figures(eng, report: dict[str, Any] | None = None) -> list[Path]:
    """Every task's figures as plotly JSON through the catalog: figures/hardening_<task>_<what>.json."""
    report = report if report is not None else eng.artifacts.read("hardening")
    out = []
    for tid in report.get("tasks") or {}:
        for what, fig in task_figures(report, tid).items():
            out.append(viz.save_figure(fig, eng.artifacts.path("figure", f"hardening_{tid}_{what}")))
    return out


# ----------------------------------------------------------------------------- tables

def _check(v: bool | None) -> str:
    return "–" if v is None else ("✓" if v else "✗")


def sla_table(task: dict[str, Any]) -> viz.Html:
    """Every configuration and batch size against the SLA's limits: the values, each check, pass or fail."""
    sla = task.get("sla") or {}
    rec = task.get("recommended") or {}
    rows = []
    for r in sla.get("rows") or []:
        chosen = r.get("runtime") == rec.get("runtime") and r.get("batch_size") == rec.get("batch_size")
        checks = r.get("checks") or {}
        rows.append({"config": r.get("runtime", "?") + (" (recommended)" if chosen else ""),
                     "batch": r.get("batch_size"), "p95": fmt(r.get("p95_ms"), ",.1f", " ms"),
                     "rps": fmt(r.get("requests_per_s"), ",.1f"), "quality": fmt(r.get("quality"), ".3f"),
                     "memory": fmt(r.get("peak_memory_mb"), ",.0f", " MB"),
                     "usd": "–" if r.get("usd_per_million") is None else f"${r['usd_per_million']:,.2f}",
                     **{k: _check(checks.get(k)) for k in ("p95_ms", "min_requests_per_s", "quality_floor",
                                                           "max_memory_mb", "quality_drop")},
                     "passed": "PASS" if r.get("passed") else "fail"})
    if not rows:
        return viz.note("No SLA rows: no configuration was measured.")
    lim = sla.get("limits") or {}
    cols = {"config": "configuration", "batch": "batch", "p95": "p95", "rps": "requests/s", "quality": "quality",
            "memory": "peak memory", "usd": "USD per 1M", "p95_ms": f"p95 ≤ {fmt(lim.get('p95_ms'), ',.0f')}",
            "min_requests_per_s": f"≥ {fmt(lim.get('min_requests_per_s'), 'g')}/s",
            "quality_floor": f"quality ≥ {fmt(lim.get('quality_floor'), 'g')}",
            "max_memory_mb": f"memory ≤ {fmt(lim.get('max_memory_mb'), ',.0f')}", "quality_drop": "drop allowed",
            "passed": "result"}
    return viz.table(rows, cols, numeric={"batch", "p95", "rps", "quality", "memory", "usd"})


def robustness_table(task: dict[str, Any]) -> viz.Html:
    """One row per robustness case: what was sent, where it went, why, and whether it ended cleanly."""
    rows = [{"case": r.get("case", ""), "description": r.get("description", ""), "route": r.get("route") or "–",
             "reason": r.get("reason") or "–", "ok": "✓" if r.get("ok") else "✗ " + str(r.get("detail") or ""),
             "ms": fmt(r.get("ms"), ",.0f")}
            for r in task.get("robustness") or []]
    if not rows:
        return viz.note("No robustness case was recorded for this task.")
    return viz.table(rows, {"case": "case", "description": "input", "route": "answered by", "reason": "reason",
                            "ms": "ms", "ok": "clean answer or escalation"}, numeric={"ms"})


def configurations_table(task: dict[str, Any]) -> viz.Html:
    """Every configuration considered: status and why, load time, peak memory, batch-1 p50 and quality."""
    rows = []
    for c in task.get("configurations") or []:
        b = _batch(c) or {}
        q = c.get("quality") or {}
        rows.append({"config": config_label(c), "precision": c.get("precision") or "–",
                     "status": STATUS_TEXT.get(c.get("status"), c.get("status") or "–"), "why": c.get("why") or "",
                     "load": fmt(c.get("load_s"), ",.1f", " s"),
                     "memory": fmt(c.get("peak_memory_mb"), ",.0f", " MB"),
                     "p50": fmt((b.get("latency_ms") or {}).get("p50"), ",.1f", " ms"),
                     "quality": "–" if q.get("value") is None else
                     f"{q['value']:.3f} [{fmt(q.get('low'), '.3f')}, {fmt(q.get('high'), '.3f')}]"})
    return viz.table(rows, {"config": "configuration", "precision": "precision", "status": "status", "why": "why",
                            "load": "load", "memory": "peak memory", "p50": "p50 at batch 1",
                            "quality": "quality [95%]"}, numeric={"load", "memory", "p50"})


def _eager_p50(task: dict[str, Any]) -> float | None:
    for c in _measured(task):
        if c.get("runtime") == "eager" and (c.get("device") or "cpu") == "cpu":
            return ((_batch(c) or {}).get("latency_ms") or {}).get("p50")
    return None


def summary_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per task: the recommended configuration, its batch-1 p50 against eager and the LLM, throughput, load."""
    rows = []
    for tid, t in (report.get("tasks") or {}).items():
        rec = t.get("recommended") or {}
        p50 = (rec.get("latency_ms") or {}).get("p50")
        eager, llm = _eager_p50(t), (t.get("llm_latency_ms") or {}).get("p50")
        load = t.get("under_load") or {}
        rows.append({"task": tid, "kind": t.get("kind", ""), "recommended": rec.get("runtime") or "none passed",
                     "batch": rec.get("batch_size") if rec else "–", "p50": fmt(p50, ",.1f", " ms"),
                     "vs_eager": "–" if not (p50 and eager) else f"{eager / p50:,.1f}× faster",
                     "vs_llm": "–" if not (p50 and llm) else f"{p50 / llm:.0%} of {llm:,.0f} ms",
                     "rps": fmt(rec.get("requests_per_s"), ",.1f"),
                     "load": "–" if not load else f"p95 {fmt((load.get('latency_ms') or {}).get('p95'), ',.0f')} ms, "
                     f"{fmt(load.get('requests_per_s'), ',.1f')}/s at {load.get('concurrency', '?')} clients",
                     "usd": "–" if rec.get("usd_per_million") is None else f"${rec['usd_per_million']:,.2f}",
                     "passed": f"{sum(1 for r in (t.get('sla') or {}).get('rows') or [] if r.get('passed'))}"
                               f" of {len((t.get('sla') or {}).get('rows') or [])}"})
    return rows


def summary_table(report: dict[str, Any]) -> viz.Html:
    return viz.table(summary_rows(report), {
        "task": "task", "kind": "specialist", "recommended": "recommended", "batch": "batch",
        "p50": "p50 at batch 1", "vs_eager": "vs eager", "vs_llm": "vs the LLM's p50", "rps": "requests/s",
        "load": "under load", "usd": "USD per 1M requests", "passed": "SLA rows passed"},
        numeric={"batch", "p50", "rps", "usd"})
