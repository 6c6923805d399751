"""Figures and tables of the ROI, built from roi.json's dict (fde_toolkit.viz theme, offline).

    data = load_roi(eng)
    spend_waterfall(data); tornado(data); monte_carlo(data); payback_curve(data); scenarios(data)
    tier1_quality(data); tier1_unit_cost(data); tier1_latency(data)               # go.Figure
    tier1_table(data); tier_table(data, "tier2"); figure_lineage_table(data)      # viz.Html
    assumptions_table(data); scenarios_table(data); needs_table(data)

Each figure draws only the numbers its entry in roi.json's `figures` lists as its lineage.
"""

from __future__ import annotations

from functools import partial

import html
from typing import Any, Callable

import plotly.graph_objects as go

from fde_toolkit import viz
from fde_toolkit.viz import Html, note, table
from fde_toolkit import formatting as num

GOOD, BAD, NEUTRAL = viz.PALETTE[2], viz.PALETTE[3], viz.PALETTE[0]
FIGURE_TITLES = {
    "tier1_quality": "Tier 1 · quality against the LLM",
    "tier1_unit_cost": "Tier 1 · cost per successful task",
    "tier1_latency": "Tier 1 · latency",
    "spend_waterfall": "Tier 3 · yearly cost before and after",
    "payback_curve": "Tier 3 · cumulative cash and payback",
    "tornado": "Uncertainty · which assumptions matter",
    "monte_carlo": "Uncertainty · range of the net benefit",
    "scenarios": "Scenarios side by side",
}


# ----------------------------------------------------------------------------- formatting

money = num.money
fmt = num.in_unit
months = partial(num.months, never="not within 10 years")


def _empty(title: str, roi: dict[str, Any]) -> go.Figure:
    need = (roi.get("needs") or ["an evaluated specialist"])[0]
    return viz.empty_figure(title, "Not computed yet: the ROI needs " + html.escape(need[:90]))


def _complete(roi: dict[str, Any] | None) -> bool:
    return bool(roi) and roi.get("status") == "complete"


def _task_label(row: dict[str, Any], width: int = 28) -> str:
    name = row.get("name") or row["task"]
    return f"{row['task']} " + (name if len(name) <= width else name[: width - 1] + "…")


def _v(entry: dict[str, Any] | None) -> float | None:
    return None if entry is None else entry.get("value")


def quality_interval(roi: dict[str, Any], task: str) -> tuple[float, float] | None:
    """The 95% interval of a specialist's agreement (measurements <task>.quality_low/_high), when evaluated with one."""
    m = roi.get("measurements", {})
    lo, hi = _v(m.get(f"{task}.quality_low")), _v(m.get(f"{task}.quality_high"))
    return None if lo is None or hi is None else (lo, hi)


def quality_text(roi: dict[str, Any], row: dict[str, Any]) -> str:
    """A Tier-1 row's agreement: '95.0% [90%, 98%]', or '95.0%' without a recorded interval."""
    ci = quality_interval(roi, row["task"])
    text = fmt(_v(row["metrics"].get("quality")), "share")
    return f"{text} {num.interval(ci[0], ci[1], digits=0)}" if ci else text


# ----------------------------------------------------------------------------- Tier 1

def tier1_quality(roi: dict[str, Any]) -> go.Figure:
    """Per specialist: agreement with the LLM's answers and the task's headline metric (LLM = 100%)."""
    title = FIGURE_TITLES["tier1_quality"]
    if not _complete(roi):
        return _empty(title, roi)
    rows = roi["tier1"]["tasks"]
    labels = [_task_label(r) for r in rows]
    fig = go.Figure()
    q = [_v(r["metrics"]["quality"]) for r in rows]
    cis = [quality_interval(roi, r["task"]) for r in rows]
    bars = (dict(type="data", symmetric=False, array=[ci[1] - v for ci, v in zip(cis, q)],
                 arrayminus=[v - ci[0] for ci, v in zip(cis, q)], thickness=1.5, width=4)
            if all(ci is not None and v is not None for ci, v in zip(cis, q)) else None)  # 95% intervals
    fig.add_bar(y=labels, x=q, orientation="h", name="agreement with the LLM", error_x=bars,
                marker_color=NEUTRAL, text=[num.share(_v(r["metrics"]["quality"])) for r in rows],
                textposition="inside", insidetextanchor="start", textfont=dict(color="white"),
                hovertemplate="%{y}: %{x:.1%}<extra>agreement</extra>")
    prim = [_v(r["metrics"].get("primary_metric")) for r in rows]
    if any(p is not None for p in prim):
        fig.add_scatter(y=labels, x=prim, mode="markers", name="headline metric",
                        marker=dict(symbol="diamond", size=11, color=viz.PALETTE[1]),
                        customdata=[r.get("primary") or "" for r in rows],
                        hovertemplate="%{y}: %{customdata} %{x:.1%}<extra></extra>")
    fig.add_vline(x=1.0, line_dash="dot", line_color=viz.MUTED, annotation_text="LLM (reference)",
                  annotation_position="top")
    fig.update_layout(title_text=title + ": the specialists' answers on held-out calls",
                      height=max(260, 90 + 60 * len(rows)), barmode="overlay")
    fig.update_xaxes(tickformat=".0%", range=[0, 1.12], title_text="share of answers equivalent to the LLM's")
    fig.update_yaxes(autorange="reversed")
    return fig


def _before_after(roi: dict[str, Any], before: str, after: str, title: str, axis: str, fmt_unit: str,
                  scale: float = 1.0) -> go.Figure:
    if not _complete(roi):
        return _empty(title, roi)
    rows = roi["tier1"]["tasks"]
    labels = [_task_label(r, 20) for r in rows]
    fig = go.Figure()
    for key, name, color in ((before, "LLM today", viz.PALETTE[1]), (after, "with the specialist", NEUTRAL)):
        vals = [None if _v(r["metrics"].get(key)) is None else _v(r["metrics"].get(key)) * scale for r in rows]
        fig.add_bar(x=labels, y=vals, name=name, marker_color=color, text=[fmt(v, fmt_unit) for v in vals],
                    textposition="outside", cliponaxis=False, hovertemplate="%{x}: %{text}<extra>" + name + "</extra>")
    fig.update_layout(title_text=title, barmode="group")
    fig.update_yaxes(title_text=axis)
    return fig


def tier1_unit_cost(roi: dict[str, Any]) -> go.Figure:
    """Cost per successful task per specialist task: the LLM's logged cost vs serving + escalations."""
    return _before_after(roi, "cost_per_success_before", "cost_per_success_after",
                         FIGURE_TITLES["tier1_unit_cost"] + " (USD per 1,000 successful tasks)",
                         "USD per 1,000 successful tasks", "usd", scale=1000.0)


def tier1_latency(roi: dict[str, Any]) -> go.Figure:
    """p50 latency per specialist task: the LLM's logged latency vs the specialist's under load."""
    return _before_after(roi, "latency_before_ms", "latency_after_ms", FIGURE_TITLES["tier1_latency"] + " (p50)",
                         "milliseconds", "ms")


# ----------------------------------------------------------------------------- Tier 3

def spend_waterfall(roi: dict[str, Any]) -> go.Figure:
    """Yearly cost today -> LLM spend avoided, serving added -> labour value, rework, upkeep -> net cost after."""
    title = FIGURE_TITLES["spend_waterfall"]
    if not _complete(roi):
        return _empty(title, roi)
    t = {k: v["value"] or 0.0 for k, v in roi["tier3"].items() if v["value"] is not None}
    labour = t["labour_value"]
    steps = [("LLM spend today", "absolute", t["llm_spend_before"]),
             ("LLM spend avoided", "relative", -t["llm_spend_avoided"]),
             ("specialist serving", "relative", t["slm_serving"]),
             ("labour value of hours saved" if labour >= 0 else "waiting time added", "relative", -labour),
             ("rework", "relative", t["rework_cost"]),
             ("upkeep and retraining", "relative", t["upkeep"]),
             ("net yearly cost after", "total", 0.0)]
    signed = lambda v: ("+" if v > 0 else "") + money(v)  # noqa: E731
    fig = go.Figure(go.Waterfall(
        x=[s[0] for s in steps], measure=[s[1] for s in steps], y=[s[2] for s in steps],
        text=[signed(s[2]) if s[1] == "relative" else money(s[2]) for s in steps[:-1]]
        + [money(t["llm_spend_before"] - t["net_annual_benefit"])],
        textposition="outside", cliponaxis=False,
        increasing=dict(marker_color=BAD), decreasing=dict(marker_color=GOOD), totals=dict(marker_color=NEUTRAL),
        connector=dict(line=dict(color=viz.GRID)), hovertemplate="%{x}: %{text}<extra></extra>"))
    fig.update_layout(title_text=f"{title}: net benefit {money(t['net_annual_benefit'])} a year at full adoption",
                      showlegend=False)
    fig.update_yaxes(title_text=f"{roi.get('currency', 'USD')} per year", tickformat="$,.0f")
    return fig


def payback_curve(roi: dict[str, Any]) -> go.Figure:
    """Cumulative cash per scenario, month by month from the one-off costs, with the adoption ramp."""
    title = FIGURE_TITLES["payback_curve"]
    if not _complete(roi):
        return _empty(title, roi)
    fig = go.Figure()
    colors = {"as_measured": NEUTRAL, "conservative": BAD, "expanded": GOOD, "paying_tasks": viz.PALETTE[4]}
    for s in roi["scenarios"]:
        cf = s["cash_flow"]
        fig.add_scatter(x=cf["months"], y=cf["cumulative"], mode="lines", name=s["label"],
                        line=dict(width=3 if s["name"] == "as_measured" else 2, color=colors.get(s["name"]),
                                  dash=None if s["name"] == "as_measured" else "dash"),
                        hovertemplate="month %{x}: %{y:$,.0f}<extra>" + s["label"] + "</extra>")
    base = roi["cash_flow"]
    fig.add_scatter(x=base["months"], y=base["adoption"], name="adoption (as measured)", yaxis="y2", mode="lines",
                    line=dict(width=0), fill="tozeroy", fillcolor="rgba(47,93,140,0.08)",
                    hovertemplate="month %{x}: %{y:.0%} adopted<extra></extra>")
    fig.add_hline(y=0, line_color=viz.MUTED, line_width=1)
    pb = roi["tier3"]["payback_months"]["value"]
    if pb is not None and pb <= base["months"][-1]:
        fig.add_vline(x=pb, line_dash="dot", line_color=NEUTRAL, annotation_text=f"payback {pb:.1f} months",
                      annotation_position="top left")
    fig.update_layout(title_text=f"{title} over {roi['horizon_years']} years",
                      yaxis2=dict(overlaying="y", side="right", range=[0, 1.0], tickvals=[0, 0.25, 0.5, 0.75, 1.0],
                                  tickformat=".0%", showgrid=False, title_text="adoption"))
    fig.update_xaxes(title_text="months after the one-off costs")
    fig.update_layout(yaxis=dict(title_text="cumulative net cash (USD)", tickformat="$,.0f"))
    return fig


# ----------------------------------------------------------------------------- uncertainty

def tornado(roi: dict[str, Any], limit: int = 12) -> go.Figure:
    """Net annual benefit with each assumption at its low and high end (others at likely), largest swing first."""
    title = FIGURE_TITLES["tornado"]
    if not _complete(roi):
        return _empty(title, roi)
    rows = [r for r in roi["uncertainty"]["tornado"] if r["swing"] >= 0.5][:limit][::-1]
    if not rows:
        return viz.empty_figure(title, "No assumption with a range moves the net annual benefit")
    base = rows[0]["base"]
    labels = [f"{r['assumption']} ({fmt(r['low'], r['unit'])} – {fmt(r['high'], r['unit'])})" for r in rows]
    fig = go.Figure()
    for end, color, name in (("at_low", viz.PALETTE[1], "assumption at its low"),
                             ("at_high", NEUTRAL, "assumption at its high")):
        vals = [r[end]["net_annual_benefit"] - base for r in rows]
        fig.add_bar(y=labels, x=vals, base=base, orientation="h", name=name, marker_color=color,
                    customdata=[money(r[end]["net_annual_benefit"]) for r in rows],
                    hovertemplate="%{y}<br>net benefit %{customdata}<extra>" + name + "</extra>")
    fig.add_vline(x=base, line_color=viz.INK, line_width=1,
                  annotation_text=f"likely: {money(base)}", annotation_position="top")
    fig.update_layout(title_text=title + ": net annual benefit, one assumption at a time", barmode="overlay",
                      height=max(300, 120 + 34 * len(rows)))
    fig.update_xaxes(title_text="net annual benefit (USD)", tickformat="$,.0f")
    return fig


def monte_carlo(roi: dict[str, Any]) -> go.Figure:
    """Distribution of the net annual benefit over the seeded draws, with P10 / P50 / P90."""
    title = FIGURE_TITLES["monte_carlo"]
    if not _complete(roi):
        return _empty(title, roi)
    mc = roi["uncertainty"]["monte_carlo"]
    nb = mc["net_annual_benefit"]
    h = nb["histogram"]
    fig = go.Figure()
    if h["counts"]:
        mids = [(a + b) / 2 for a, b in zip(h["edges"][:-1], h["edges"][1:])]
        width = h["edges"][1] - h["edges"][0]
        fig.add_bar(x=mids, y=[c / mc["samples"] for c in h["counts"]], width=width, marker_color=NEUTRAL,
                    opacity=0.75, name="share of draws", hovertemplate="%{x:$,.0f}: %{y:.1%} of draws<extra></extra>")
    for p, dash in (("p10", "dot"), ("p50", "solid"), ("p90", "dot")):
        if nb[p] is not None:
            fig.add_vline(x=nb[p], line_dash=dash, line_color=viz.PALETTE[1],
                          annotation_text=f"{p.upper()} {money(nb[p])}", annotation_position="top")
    pb = mc["payback_months"]
    sub = (f"payback P10/P50/P90: {months(pb['p10'])} / {months(pb['p50'])} / {months(pb['p90'])}; "
           f"{mc['p_positive_net_benefit']:.0%} of draws have a positive net benefit")
    fig.update_layout(title_text=f"{title} ({mc['samples']:,} seeded draws, {mc['distribution']})<br>"
                                 f"<sup>{html.escape(sub)}</sup>", showlegend=False, bargap=0.02)
    fig.update_xaxes(title_text="net annual benefit at full adoption (USD)", tickformat="$,.0f")
    fig.update_yaxes(title_text="share of draws", tickformat=".0%")
    return fig


def scenarios(roi: dict[str, Any]) -> go.Figure:
    """Net annual benefit and NPV per scenario, payback in the labels."""
    title = FIGURE_TITLES["scenarios"]
    if not _complete(roi):
        return _empty(title, roi)
    ss = roi["scenarios"]
    labels = [f"{s['label']}<br><sup>payback {months(s['tier3']['payback_months'])}</sup>" for s in ss]
    fig = go.Figure()
    for key, name, color in (("net_annual_benefit", "net annual benefit", NEUTRAL),
                             ("npv", f"NPV over {roi['horizon_years']} years", viz.PALETTE[1])):
        vals = [s["tier3"][key] for s in ss]
        fig.add_bar(x=labels, y=vals, name=name, marker_color=color, text=[money(v) for v in vals],
                    textposition="outside", cliponaxis=False, hovertemplate="%{text}<extra>" + name + "</extra>")
    fig.update_layout(title_text=title, barmode="group")
    fig.update_yaxes(title_text="USD", tickformat="$,.0f")
    return fig


FIGURES: dict[str, Callable[[dict[str, Any]], go.Figure]] = {
    "tier1_quality": tier1_quality, "tier1_unit_cost": tier1_unit_cost, "tier1_latency": tier1_latency,
    "spend_waterfall": spend_waterfall, "payback_curve": payback_curve, "tornado": tornado,
    "monte_carlo": monte_carlo, "scenarios": scenarios,
}


# ----------------------------------------------------------------------------- tables

def _generic(text: str, task: str) -> str:
    return text.replace(f"[{task}]", "[<task>]").replace(f"/{task}.", "/<task>.").replace(f"/{task}/", "/<task>/") \
        .replace(f"tasks.{task}.", "tasks.<task>.")


def sources(roi: dict[str, Any], ids: list[str]) -> str:
    """Measurement ids as 'artifact · field' (task ids folded into <task>), in a stable order."""
    out: list[str] = []
    for mid in ids:
        m = roi["measurements"].get(mid)
        if not m:
            continue
        task = mid.split(".")[0] if "." in mid and mid.split(".")[0] in roi.get("task_info", {}) else None
        text = f"{m['artifact']} · {m['field']}"
        text = _generic(text, task) if task else text
        if text not in out:
            out.append(text)
    return "; ".join(out) or "–"


def key_numbers(roi: dict[str, Any]) -> Html:
    """Headline cards: net annual benefit, payback, ROI, NPV, and the P10–P90 range."""
    if not _complete(roi):
        return needs_table(roi)
    t, mc = roi["tier3"], roi["uncertainty"]["monte_carlo"]
    nb = mc["net_annual_benefit"]
    cards = [
        (money(t["net_annual_benefit"]["value"]), "net annual benefit at full adoption", False),
        (months(t["payback_months"]["value"]), "payback (with the adoption ramp)", False),
        (fmt(t["roi_pct"]["value"], "percent"), f"ROI over {roi['horizon_years']} years", False),
        (money(t["npv"]["value"]), f"NPV at {roi['assumptions']['discount_rate']['likely']:.0%}", False),
        (f"{money(nb['p10'])} – {money(nb['p90'])}", "net annual benefit, P10 – P90", False),
        (money(t["llm_spend_avoided"]["value"]), "LLM spend avoided a year", False),
        (fmt(roi["tier2"]["net_hours_saved_per_month"]["value"], "hours"), "net hours saved a month", False),
    ]
    flagged = [n for n, a in roi["assumptions"].items() if a["flagged"] and a.get("used")]
    if flagged:
        cards.append((str(len(flagged)), "default assumptions to replace", True))
    body = "".join(f'<div class="fde-card{" warn" if w else ""}"><div class="v">{html.escape(v)}</div>'
                   f'<div class="k">{html.escape(k)}</div></div>' for v, k, w in cards)
    return Html(f'<div class="fde-cards">{body}</div>')


def tier1_table(roi: dict[str, Any]) -> Html:
    """One row per specialist task: quality, coverage, latency and unit cost before -> after."""
    if not _complete(roi):
        return _pending(roi)
    rows = []
    for r in roi["tier1"]["tasks"]:
        m = r["metrics"]
        g = lambda k, u: fmt(_v(m.get(k)), u)  # noqa: E731
        rows.append({"task": _task_label(r, 34), "quality": quality_text(roi, r),
                     "primary": (f"{r.get('primary')} {g('primary_metric', 'share')}"
                                 if m.get("primary_metric") else "–"),
                     "covered": g("calls_covered_share", "share"), "offload": g("offload_share", "share"),
                     "latency": f"{g('latency_before_ms', 'ms')} → {g('latency_after_ms', 'ms')}",
                     "cost": f"{g('cost_per_success_before', 'usd')} → {g('cost_per_success_after', 'usd')}",
                     "serving": f"{g('instances', 'count')} · {g('headroom', 'factor')}"})
    cols = {"task": "Task", "quality": "Agreement with LLM", "primary": "Headline metric", "offload": "Answered by SLM",
            "covered": "Share of all calls", "latency": "p50 latency LLM → SLM",
            "cost": "Cost / successful task LLM → after", "serving": "Instances · headroom"}
    return table(rows, cols, numeric={"quality", "covered", "offload"})


def tier1_lineage_table(roi: dict[str, Any]) -> Html:
    """Where each Tier-1 number comes from (every task reads the same fields of its own artifacts)."""
    if not _complete(roi):
        return _pending(roi)
    first = roi["tier1"]["tasks"][0]
    rows = [{"number": e["label"], "measured": sources(roi, e.get("measured", [])),
             "assumed": ", ".join(e.get("assumed", [])) or "–"} for e in first["metrics"].values()]
    return table(rows, {"number": "Tier-1 number (per task)", "measured": "measured in (artifact · field)",
                        "assumed": "assumptions"})


def tier_table(roi: dict[str, Any], tier: str) -> Html:
    """Tier 2 or Tier 3: each number with its value, the measurements and the assumptions it comes from."""
    if not _complete(roi):
        return _pending(roi)
    rows = [{"number": e["label"], "value": fmt(e["value"], e["unit"]), "measured": sources(roi, e.get("measured", [])),
             "assumed": ", ".join(e.get("assumed", [])) or "–"} for e in roi[tier].values()]
    return table(rows, {"number": "Number", "value": "Value", "measured": "measured in (artifact · field)",
                        "assumed": "assumptions"}, numeric={"value"})


def figure_lineage_table(roi: dict[str, Any]) -> Html:
    """Which measurements and assumptions feed which figure."""
    if not _complete(roi):
        return _pending(roi)
    rows = [{"figure": FIGURE_TITLES.get(name, name), "measured": sources(roi, spec["measured"]),
             "assumed": ", ".join(spec["assumed"]) or "–"} for name, spec in roi["figures"].items()]
    return table(rows, {"figure": "Figure", "measured": "measured in (artifact · field)", "assumed": "assumptions"})


def assumptions_table(roi: dict[str, Any], used_only: bool = True) -> Html:
    """Every assumption with its range, unit and source; defaults still to replace are marked."""
    rows = []
    for name, a in roi["assumptions"].items():
        if used_only and roi.get("status") == "complete" and not a.get("used", True):
            continue
        replaced = a.get("replaced_by_measurement_for") or []
        rng = (fmt(a["likely"], a["unit"]) if a["low"] == a["high"]
               else f"{fmt(a['low'], a['unit'])} / {fmt(a['likely'], a['unit'])} / {fmt(a['high'], a['unit'])}")
        rows.append({"name": ("⚠ " if a["flagged"] else "") + name, "range": rng, "source": a["source"]
                     + (f" (measured instead for {', '.join(replaced)})" if replaced else ""),
                     "what": a["description"]})
    return table(rows, {"name": "Assumption", "range": "low / likely / high", "source": "Source", "what": "Meaning"})


def measurements_table(roi: dict[str, Any]) -> Html:
    rows = [{"id": k, "value": fmt(m["value"], m["unit"]), "artifact": m["artifact"], "field": m["field"],
             "note": m.get("note", "")} for k, m in roi["measurements"].items()]
    return table(rows, {"id": "Measurement", "value": "Value", "artifact": "Artifact", "field": "Field",
                        "note": "Note"}, numeric={"value"})


def scenarios_table(roi: dict[str, Any]) -> Html:
    """The scenarios side by side: scope, spend, benefit, payback, ROI, NPV."""
    if not _complete(roi):
        return _pending(roi)
    rows = []
    for s in roi["scenarios"]:
        t = s["tier3"]
        rows.append({"scenario": s["label"], "tasks": ", ".join(s["tasks"]), "avoided": money(t["llm_spend_avoided"]),
                     "serving": money(t["slm_serving"]),
                     "labour": money((t["labour_value"] or 0) - (t["rework_cost"] or 0)),
                     "net": money(t["net_annual_benefit"]), "one_off": money(t["one_off"]),
                     "payback": months(t["payback_months"]), "roi": fmt(t["roi_pct"], "percent"),
                     "npv": money(t["npv"])})
    cols = {"scenario": "Scenario", "tasks": "Tasks", "avoided": "LLM spend avoided /yr", "serving": "Serving /yr",
            "labour": "Labour net of rework /yr", "net": "Net benefit /yr", "one_off": "One-off",
            "payback": "Payback", "roi": f"ROI ({roi['horizon_years']} yr)", "npv": "NPV"}
    notes = "".join(note(f"{s['label']}: {s['description']}").body for s in roi["scenarios"])
    return Html(table(rows, cols, numeric=set(cols) - {"scenario", "tasks"}).body + notes)


def _skew(likely: float | None, q: dict[str, Any]) -> str:
    """A sentence when the all-likely case sits outside the P10-P90 band (skewed ranges)."""
    if likely is None or q["p10"] is None or q["p90"] is None:
        return ""
    if likely > q["p90"]:
        return (f" The all-likely case ({money(likely)}) is above the P90: the ranges lean to the unfavourable side, "
                "so taking every assumption at its likely value overstates the benefit.")
    if likely < q["p10"]:
        return (f" The all-likely case ({money(likely)}) is below the P10: the ranges lean to the favourable side.")
    return ""


def uncertainty_table(roi: dict[str, Any]) -> Html:
    if not _complete(roi):
        return _pending(roi)
    mc = roi["uncertainty"]["monte_carlo"]
    rows = []
    for k, label, f in (("net_annual_benefit", "Net annual benefit", money), ("payback_months", "Payback", months),
                        ("npv", "NPV", money), ("roi_pct", "ROI %", lambda v: fmt(v, "percent"))):
        rows.append({"what": label, "p10": f(mc[k]["p10"]), "p50": f(mc[k]["p50"]), "p90": f(mc[k]["p90"])})
    head = note(f"{mc['samples']:,} draws ({mc['distribution']}, seed {mc['seed']}) of the {len(mc['varied'])} "
                f"assumptions with a range; the measurements stay as measured. "
                f"{mc['p_positive_net_benefit']:.0%} of draws have a positive net benefit, "
                f"{mc['p_payback_within_horizon']:.0%} pay back within {roi['horizon_years']} years."
                + _skew(roi["tier3"]["net_annual_benefit"]["value"], mc["net_annual_benefit"]))
    return Html(head.body + table(rows, {"what": "", "p10": "P10", "p50": "P50", "p90": "P90"},
                                  numeric={"p10", "p50", "p90"}).body)


def _pending(roi: dict[str, Any] | None) -> Html:
    return note("Not computed yet: what the ROI still needs is listed in the executive summary above.")


def needs_table(roi: dict[str, Any] | None) -> Html:
    """What the ROI still needs, when it could not be computed."""
    if not roi:
        return note("The ROI has not been computed: run `fde roi` on this engagement.")
    needs = roi.get("needs") or []
    if roi.get("status") == "complete" and not needs:
        return note("The ROI has every measurement it needs.")
    rows = [{"need": n} for n in needs]
    intro = note("The ROI cannot be computed yet. It needs every number below; each is measured by a toolkit "
                 "step, except the assumptions in engagement.yaml (roi:).") if roi.get("status") != "complete" else \
        note("Measurements still missing (the ROI uses assumptions meanwhile):")
    return Html(intro.body + table(rows, {"need": "Needed"}).body)


def next_tasks_table(plan: dict[str, Any]) -> Html:
    rows = [{"task": f"{r['task']} {r['name']}", "kind": (r.get("output_kind") or "").replace("_", " "),
             "calls": fmt(r.get("calls_per_month"), "calls"), "share": num.share(r.get("cost_share")),
             "spend": money(r.get("llm_spend_per_year")), "avoidable": money(r.get("avoidable_per_year")),
             "readiness": "–" if r.get("readiness") is None else f"{r['readiness']:.2f}",
             "expanded": "yes" if r["in_expanded_scenario"] else ""} for r in plan["next_tasks"]]
    if not rows:
        return note("Every SLM-candidate task already has a specialist.")
    return table(rows, {"task": "Task", "kind": "Output", "calls": "Calls / month", "share": "% of LLM cost",
                        "spend": "LLM spend /yr", "avoidable": "Avoidable /yr (likely offload)",
                        "readiness": "Readiness", "expanded": "In expanded scenario"},
                 numeric={"calls", "share", "spend", "avoidable", "readiness"})


def retrain_table(plan: dict[str, Any]) -> Html:
    rows = [{"task": f"{r['task']} {r['name']}", "quality": num.share(r.get("quality")),
             "triggers": " · ".join(r["triggers"])} for r in plan["retrain"]]
    if not rows:
        return note("No specialist yet: retraining starts with the first one.")
    body = table(rows, {"task": "Specialist", "quality": "Agreement at evaluation", "triggers": "Retrain when"}).body
    if plan.get("refine_first"):
        body += note("Refine first: " + ", ".join(plan["refine_first"]) + " agree with the LLM less often than the "
                     "router is assumed to keep their answers; more training data, a larger candidate or constrained "
                     "decoding come before a wider rollout.").body
    return Html(body)
