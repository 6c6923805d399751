"""The prototyping notebook's routing section, read from routing.json and the per-call scores.

    views.show_routing(eng)          # the policy per task, coverage and cost curves, escalation reasons
    views.routing_explorer(eng)      # live Jupyter: a threshold slider per task (offload, quality, cost)
"""

from __future__ import annotations

from typing import Any

import polars as pl

from fde_toolkit import formatting as num
from fde_toolkit import viz
from fde_toolkit.routing import figures


_display = viz.show


def _interval(kq: dict[str, Any] | None) -> str:
    if not kq or kq.get("value") is None:
        return "–"
    return f"{kq['value']:.3f} [{kq['low']:.3f}, {kq['high']:.3f}]"


def _before_after(d: dict[str, Any] | None, fmt) -> str:
    if not d or d.get("before") is None or d.get("after") is None:
        return "–"
    return f"{fmt(d['before'])} → {fmt(d['after'])}"


def policy_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per task with a specialist: the chosen signal and threshold and what they do on test."""
    rows = []
    for tid, r in report.get("tasks", {}).items():
        if not r.get("specialist"):
            continue
        feasible = r.get("feasible")
        rows.append({
            "task": tid, "signal": r.get("signal") or "–",
            "threshold": f"{r['threshold']:.4g}" if feasible else "not feasible",
            "target": f"{r['target']:g}",
            "offload": num.share(r.get("offload_share")) if feasible else "0% (stays on the LLM)",
            "kept": _interval(r.get("kept_quality")) if feasible else "–",
            "system": f"{r['system_quality']:.3f}" if r.get("system_quality") is not None else "–",
            "cost": _before_after(r.get("cost_per_1000_calls"), lambda v: f"${v:,.3f}"),
            "latency": _before_after(r.get("p50_latency_ms"), lambda v: f"{v:,.0f} ms"),
        })
    return rows


def policy_table(report: dict[str, Any]) -> viz.Html:
    cols = {"task": "task", "signal": "signal", "threshold": "threshold", "target": "target",
            "offload": "SLM keeps", "kept": "kept agreement [95%]", "system": "system quality",
            "cost": "per 1,000 calls", "latency": "p50 latency"}
    return viz.table(policy_rows(report), cols, numeric={"threshold", "target", "offload", "system"})


def _signals_table(r: dict[str, Any]) -> viz.Html:
    rows = [{"signal": s["signal"] + (" (chosen)" if s["signal"] == r.get("signal") else ""),
             "auroc": "–" if s.get("auroc") is None else f"{s['auroc']:.3f}",
             "auroc_test": "–" if s.get("auroc_test") is None else f"{s['auroc_test']:.3f}",
             "offload": "not feasible" if not s.get("feasible") else num.share(s.get("offload"))}
            for s in r.get("signals", [])]
    return viz.table(rows, {"signal": "confidence signal", "auroc": "AUROC (val)", "auroc_test": "AUROC (test)",
                            "offload": "keeps on val at the target"}, numeric={"auroc", "auroc_test", "offload"})


def show_routing(eng) -> None:
    """Displays the routing section: the policy table, then per task its signals and the three figures."""
    report = eng.artifacts.optional("routing")
    if report is None:
        _display(viz.note(f"Routing has not been calibrated yet. Run `fde route {eng.display_root}`."))
        return
    _display(policy_table(report))
    for tid, r in report["tasks"].items():
        if not r.get("specialist"):
            continue
        _display(viz.Html(f"<h3>{tid} {r.get('name', '')}</h3>"), _signals_table(r))
        if not r.get("feasible"):
            _display(viz.note(f"Stays on the LLM: {r['reason']}"))
        if eng.artifacts.exists("routing_scores", tid):
            scores = eng.artifacts.read("routing_scores", tid)
            _display(figures.coverage_figure(scores, r), figures.cost_figure(scores, r))
        _display(figures.reasons_figure(r))
    stay = [f"{tid} ({r['reason']})" for tid, r in report["tasks"].items() if not r.get("specialist")
            and r.get("candidate")]
    if stay:
        _display(viz.note("On the LLM until they have a specialist: " + "; ".join(stay)))


def routing_explorer(eng):
    """ipywidgets (live kernel only): move a task's threshold and see offload, kept agreement, system quality
    and cost per 1,000 calls on the test split, from the stored scores."""
    import ipywidgets as w

    report = eng.artifacts.optional("routing")
    tasks = [tid for tid, r in (report or {}).get("tasks", {}).items()
             if r.get("specialist") and eng.artifacts.exists("routing_scores", tid)]
    if not tasks:
        return viz.note(f"No routing scores yet. Run `fde route {eng.display_root}`.")
    scores = {tid: eng.artifacts.read("routing_scores", tid) for tid in tasks}
    pick = w.Dropdown(options=tasks, description="task")
    slider = w.FloatSlider(min=0.0, max=1.0, step=0.001, readout_format=".3f", description="threshold",
                           continuous_update=True, layout=w.Layout(width="480px"))
    out = w.HTML()

    def bounds(*_: Any) -> None:
        r, s = report["tasks"][pick.value], scores[pick.value]
        col = s[r["signal"]].drop_nulls().drop_nans()
        lo, hi = (float(col.min()), float(col.max())) if col.len() else (0.0, 1.0)
        hi = max(hi, lo + 1e-6)
        if lo > slider.max:  # widen first so min never exceeds max while the bounds move
            slider.max = hi
        slider.min, slider.max, slider.step = lo, hi, (hi - lo) / 500
        slider.value = r["threshold"] if r.get("feasible") else hi

    def draw(*_: Any) -> None:
        r = report["tasks"][pick.value]
        p = figures.policy_at(scores[pick.value], r["signal"], slider.value, r.get("slm_cost_per_call_usd"))
        cost = p["cost_per_1000_calls"]
        cards = [("SLM keeps", num.share(p["offload_share"])), ("kept agreement [95%]", _interval(p["kept_quality"])),
                 ("system quality", "–" if p["system_quality"] is None else f"{p['system_quality']:.3f}"),
                 ("per 1,000 calls", _before_after(cost, lambda v: f"${v:,.3f}"))]
        low = p["kept_quality"]["low"]
        warn = low is not None and low < r["target"]
        out.value = viz.Html('<div class="fde-cards">' + "".join(
            f'<div class="fde-card{" warn" if warn and k.startswith("kept") else ""}"><div class="v">{v}</div>'
            f'<div class="k">{k}</div></div>' for k, v in cards) + "</div>")._repr_html_()

    pick.observe(lambda *_: (bounds(), draw()), names="value")
    slider.observe(draw, names="value")
    bounds()
    draw()
    return w.VBox([w.HBox([pick, slider]), out])


def routing_frame(eng) -> pl.DataFrame:
    """routing.json's tasks as one table (for a notebook user's own analysis)."""
    report = eng.artifacts.optional("routing") or {"tasks": {}}
    return pl.DataFrame(policy_rows(report)) if report["tasks"] else pl.DataFrame()
