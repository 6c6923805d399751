"""S1's figures and tables: what the scoping notebook (01_scoping) and `fde profile` draw.

Builders take the profile dict (fde_toolkit.logs.profile), never the raw calls, and return a
go.Figure (figures) or a viz.Html fragment (tables); the look is fde_toolkit.viz's theme:

    from fde_toolkit.logs import figures as s1
    fig = s1.calls_by_model(prof)
    viz.save_figure(fig, eng.artifacts.path("figure", "calls_by_model"))
    s1.key_numbers(prof)                  # executive summary cards

FIGURES names the figures `fde profile` writes as artifacts/figures/<name>.json.
"""

from __future__ import annotations

import html
from typing import Callable

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from fde_toolkit.viz import PALETTE, Html, empty_figure, note, table
from fde_toolkit import formatting as num

# ----------------------------------------------------------------------------- helpers

def _colors(names: list[str]) -> dict[str, str]:
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def _models(profile: dict, limit: int = 8) -> tuple[list[str], bool]:
    """The busiest models (by calls) to draw individually; the rest are grouped as 'other'."""
    names = [m["model"] for m in profile["models"]]
    return names[:limit], len(names) > limit




def _bin_labels(edges: list[int | None]) -> list[str]:
    labels = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        if hi is None:
            labels.append(f"≥{num.tokens(lo)}")
        elif hi - lo == 1:
            labels.append(num.tokens(lo))
        else:
            labels.append(f"{num.tokens(lo)}–{num.tokens(hi - 1) if hi - 1 < 1000 else num.tokens(hi)}")
    return labels


OTHER = "other models"


# ----------------------------------------------------------------------------- figures

def calls_over_time(profile: dict) -> go.Figure:
    """Calls per day, stacked by model."""
    title = "Calls per day, by model"
    rows = profile["over_time"]["per_day_by_model"]
    if not rows:
        return empty_figure(title, "No calls")
    top, more = _models(profile)
    series: dict[str, dict[str, int]] = {}
    for r in rows:
        key = r["model"] if r["model"] in top else OTHER
        series.setdefault(key, {}).setdefault(r["date"], 0)
        series[key][r["date"]] += r["calls"]
    colors = _colors(top)
    fig = go.Figure()
    for name in top + ([OTHER] if more else []):
        pts = sorted(series.get(name, {}).items())
        fig.add_bar(x=[d for d, _ in pts], y=[c for _, c in pts], name=name,
                    marker_color=colors.get(name, "#B8BEC6"), hovertemplate="%{y:,} calls<extra>" + name + "</extra>")
    fig.update_layout(title_text=title, barmode="stack", hovermode="x unified", bargap=0.1)
    fig.update_xaxes(title_text="Day (UTC)", type="date")
    fig.update_yaxes(title_text="Calls per day", tickformat=",")
    return fig


def hourly_pattern(profile: dict) -> go.Figure:
    """Calls by weekday and hour of day (UTC): when the workload runs."""
    title = "When calls happen: weekday × hour of day (UTC)"
    z = profile["over_time"]["weekday_hour_utc"]
    if not profile["totals"]["calls"]:
        return empty_figure(title, "No calls")
    fig = go.Figure(go.Heatmap(z=z, x=[f"{h:02d}" for h in range(24)], y=profile["over_time"]["weekdays"],
                               colorscale=[[0, "#F4F6F9"], [1, PALETTE[0]]], colorbar=dict(title="Calls"),
                               hovertemplate="%{y} %{x}:00 UTC<br>%{z:,} calls<extra></extra>", xgap=1, ygap=1))
    fig.update_layout(title_text=title, height=340)
    fig.update_xaxes(title_text="Hour of day (UTC)", showgrid=False, ticks="")
    fig.update_yaxes(autorange="reversed", showgrid=False, ticks="")
    return fig


def calls_by_model(profile: dict) -> go.Figure:
    """Share of calls next to share of known cost, per model."""
    title = "Calls and cost by model"
    models = profile["models"]
    if not models:
        return empty_figure(title, "No calls")
    names = [m["model"] for m in models][::-1]
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=("Share of calls", "Share of known cost"))
    calls = [m["share"] for m in models][::-1]
    cost = [m["cost_share"] for m in models][::-1]
    fig.add_bar(y=names, x=calls, orientation="h", marker_color=PALETTE[0], name="calls",
                text=[f"{c:.1%}" for c in calls], textposition="outside", cliponaxis=False,
                customdata=[m["calls"] for m in models][::-1],
                hovertemplate="%{y}<br>%{customdata:,} calls (%{x:.1%})<extra></extra>", row=1, col=1)
    fig.add_bar(y=names, x=[c or 0 for c in cost], orientation="h", marker_color=PALETTE[1], name="cost",
                text=["no price" if c is None else f"{c:.1%}" for c in cost], textposition="outside",
                cliponaxis=False, customdata=[m["cost_usd"] for m in models][::-1],
                hovertemplate="%{y}<br>$%{customdata:,.2f} (%{x:.1%})<extra></extra>", row=1, col=2)
    fig.update_layout(title_text=title, showlegend=False, height=max(300, 120 + 34 * len(names)))
    fig.update_xaxes(tickformat=".0%", rangemode="tozero", title_text="% of all calls", row=1, col=1)
    fig.update_xaxes(tickformat=".0%", rangemode="tozero", title_text="% of known cost (USD)", row=1, col=2)
    top = max([c for c in calls + cost if c] or [1])
    fig.update_xaxes(range=[0, top * 1.2])
    return fig


def token_distributions(profile: dict) -> go.Figure:
    """Input and output tokens per call: share of each model's calls per (log-spaced) bin."""
    title = "Tokens per call, by model (share of each model's calls)"
    tok = profile["tokens"]
    if not tok["histogram_input"]["edges"] and not tok["histogram_output"]["edges"]:
        return empty_figure(title, "No token counts logged")
    top, _ = _models(profile)
    colors = _colors(top)
    fig = make_subplots(rows=2, cols=1, vertical_spacing=0.2)
    for row, key, axis_title in ((1, "histogram_input", "Input tokens per call (prompt)"),
                                 (2, "histogram_output", "Output tokens per call (completion)")):
        hist = tok[key]
        labels = _bin_labels(hist["edges"])
        for name in top:
            counts = hist["counts"].get(name)
            if not counts or not sum(counts):
                continue
            total = sum(counts)
            fig.add_scatter(x=labels, y=[c / total for c in counts], mode="lines+markers", name=name,
                            legendgroup=name, showlegend=row == 1, line=dict(color=colors[name], width=2),
                            marker=dict(size=6), customdata=counts,
                            hovertemplate="%{x} tokens: %{y:.1%} (%{customdata:,} calls)<extra>" + name + "</extra>",
                            row=row, col=1)
        fig.update_xaxes(title_text=axis_title, type="category", row=row, col=1)
        fig.update_yaxes(title_text="% of model's calls", tickformat=".0%", rangemode="tozero", row=row, col=1)
    fig.update_layout(title_text=title, height=640)
    return fig


def latency_by_model(profile: dict) -> go.Figure:
    """Latency p50/p95/p99 per model, successful calls only, in seconds."""
    title = "Latency by model (successful calls)"
    rows = [r for r in profile["latency"]["by_model"] if r["p50_ms"] is not None]
    if not rows:
        return empty_figure(title, "No latency logged for successful calls")
    names = [r["model"] for r in rows]
    fig = go.Figure()
    for (key, label), color in zip((("p50", "median (p50)"), ("p95", "p95"), ("p99", "p99")),
                                   (PALETTE[0], PALETTE[1], PALETTE[3])):
        fig.add_bar(x=names, y=[r[f"{key}_ms"] / 1000 for r in rows], name=label, marker_color=color,
                    customdata=[r["ok_calls"] for r in rows],
                    hovertemplate="%{x}<br>" + label + ": %{y:,.2f} s<br>%{customdata:,} calls<extra></extra>")
    fig.update_layout(title_text=title, barmode="group")
    fig.update_xaxes(title_text="Model")
    fig.update_yaxes(title_text="Latency (seconds)", tickformat=",.1f", rangemode="tozero")
    return fig


def error_rate_over_time(profile: dict) -> go.Figure:
    """Failed calls per day (bars) and the daily error rate (line)."""
    title = "Errors per day"
    rows = profile["errors"]["by_day"]
    if not rows:
        return empty_figure(title, "No calls")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    days = [r["date"] for r in rows]
    fig.add_bar(x=days, y=[r["errors"] for r in rows], name="failed calls", marker_color="#D8B4B8",
                hovertemplate="%{y:,} failed calls<extra></extra>", secondary_y=False)
    fig.add_scatter(x=days, y=[r["error_rate"] for r in rows], name="error rate", mode="lines+markers",
                    line=dict(color=PALETTE[3], width=2), marker=dict(size=5),
                    hovertemplate="%{y:.2%} of calls failed<extra></extra>", secondary_y=True)
    fig.update_layout(title_text=title, hovermode="x unified")
    fig.update_xaxes(title_text="Day (UTC)", type="date")
    fig.update_yaxes(title_text="Failed calls per day", tickformat=",", rangemode="tozero", secondary_y=False)
    fig.update_yaxes(title_text="Error rate (% of calls)", tickformat=".1%", rangemode="tozero", showgrid=False,
                     secondary_y=True)
    return fig


def cost_by_model_and_day(profile: dict) -> go.Figure:
    """Known cost per day, stacked by model; unpriced models are named, not drawn as zero."""
    cost = profile["cost"]
    title = "Known cost per day, by model (USD)"
    rows = [r for r in cost["by_day_and_model"] if r["cost_usd"] is not None]
    unpriced = [u["model"] for u in cost["unpriced_models"]]
    note = ("Not included (no price): " + ", ".join(unpriced[:6]) + (" …" if len(unpriced) > 6 else "")
            if unpriced else "")
    if not rows:
        fig = empty_figure(title, "No known cost" + (f"<br>{note}" if note else ""))
        return fig
    priced = [m["model"] for m in profile["models"] if m["cost_usd"] is not None]
    top = priced[:8]
    colors = _colors([m["model"] for m in profile["models"]])
    series: dict[str, dict[str, float]] = {}
    for r in rows:
        key = r["model"] if r["model"] in top else OTHER
        series.setdefault(key, {}).setdefault(r["date"], 0.0)
        series[key][r["date"]] += r["cost_usd"]
    fig = go.Figure()
    for name in top + ([OTHER] if OTHER in series else []):
        pts = sorted(series.get(name, {}).items())
        fig.add_bar(x=[d for d, _ in pts], y=[c for _, c in pts], name=name,
                    marker_color=colors.get(name, "#B8BEC6"),
                    hovertemplate="$%{y:,.2f}<extra>" + name + "</extra>")
    fig.update_layout(title_text=title, barmode="stack", hovermode="x unified", bargap=0.1)
    fig.update_xaxes(title_text="Day (UTC)", type="date")
    fig.update_yaxes(title_text="Cost per day (USD)", tickprefix="$", tickformat=",.2f", rangemode="tozero")
    if note:
        fig.add_annotation(text=note, x=0, y=-0.22, xref="paper", yref="paper", xanchor="left", showarrow=False,
                           font=dict(size=12, color=PALETTE[3]))
        fig.update_layout(margin_b=96)
    return fig


def tool_usage(profile: dict, limit: int = 20) -> go.Figure:
    """Per tool: calls that offered it and calls that called it."""
    title = "Tool usage: offered vs called"
    rows = profile["tools"]["by_tool"]
    if not rows:
        return empty_figure(title, "No tools offered or called")
    rows = sorted(rows, key=lambda r: (-(r["called_calls"] + r["offered_calls"]), r["name"]))[:limit][::-1]
    names = [r["name"] for r in rows]
    fig = go.Figure()
    fig.add_bar(y=names, x=[r["offered_calls"] for r in rows], orientation="h", name="offered in (calls)",
                marker_color="#B7C7DA", hovertemplate="%{y}: offered in %{x:,} calls<extra></extra>")
    fig.add_bar(y=names, x=[r["called_calls"] for r in rows], orientation="h", name="called in (calls)",
                marker_color=PALETTE[0], customdata=[r["invocations"] for r in rows],
                hovertemplate="%{y}: called in %{x:,} calls (%{customdata:,} invocations)<extra></extra>")
    fig.update_layout(title_text=title, barmode="group", height=max(320, 140 + 40 * len(names)))
    fig.update_xaxes(title_text="Calls", tickformat=",")
    return fig


def ingest_quarantine(profile: dict) -> go.Figure:
    """Records quarantined at ingest, by reason (counts only)."""
    title = "Quarantined records by reason"
    ing = profile.get("ingest")
    if not ing:
        return empty_figure(title, "No ingest report")
    rows = ing["reasons"]
    if not rows:
        return empty_figure(title, "No records quarantined")
    rows = rows[:20][::-1]
    fig = go.Figure(go.Bar(y=[r["reason"] for r in rows], x=[r["records"] for r in rows], orientation="h",
                           marker_color=PALETTE[3], text=[f"{r['records']:,}" for r in rows],
                           textposition="outside", cliponaxis=False,
                           hovertemplate="%{y}: %{x:,} records<extra></extra>"))
    fig.update_layout(title_text=title, showlegend=False, height=max(260, 140 + 36 * len(rows)))
    fig.update_xaxes(title_text="Records", tickformat=",", rangemode="tozero")
    return fig


FIGURES: dict[str, Callable[[dict], go.Figure]] = {
    "calls_over_time": calls_over_time,
    "hourly_pattern": hourly_pattern,
    "calls_by_model": calls_by_model,
    "token_distributions": token_distributions,
    "latency_by_model": latency_by_model,
    "error_rate_over_time": error_rate_over_time,
    "cost_by_model_and_day": cost_by_model_and_day,
    "tool_usage": tool_usage,
    "ingest_quarantine": ingest_quarantine,
}


# ----------------------------------------------------------------------------- tables

def key_numbers(profile: dict) -> Html:
    """Executive summary cards: volume, cost, run-rate, latency, errors, coverage."""
    t, cost, lat = profile["totals"], profile["cost"], profile["latency"]["overall"]
    unpriced = cost["unpriced_models"]
    top = profile["models"][0] if profile["models"] else None
    cards = [
        (num.count(t["calls"]), f"calls over {t['days']} days", False),
        (num.count(round(t["calls_per_day"] or 0)), "calls per day", False),
        (num.count(t["models"]), "models", False),
        (num.money(cost["known_usd"]), f"known cost ({num.share(cost['cost_known_share'])} of calls priced)",
         bool(unpriced)),
        (num.money(cost["monthly_run_rate"]["usd"]), "projected monthly run-rate", False),
        (num.duration_ms(lat["p95_ms"]), "p95 latency (successful calls)", False),
        (num.share(t["error_rate"], 2), "of calls failed", False),
    ]
    if top:
        cards.append((num.share(top["share"]), f"of calls go to {top['model']}", False))
    if unpriced:
        cards.append((num.count(len(unpriced)), "model(s) without a price", True))
    body = "".join(f'<div class="fde-card{" warn" if w else ""}"><div class="v">{html.escape(v)}</div>'
                   f'<div class="k">{html.escape(k)}</div></div>' for v, k, w in cards)
    return Html(f'<div class="fde-cards">{body}</div>')


def ingest_table(profile: dict) -> Html:
    """Ingest counts per source format and in total (counts only, never record contents)."""
    ing = profile.get("ingest")
    if not ing:
        return note("No ingest report was found for this engagement; the calls were loaded directly.")
    rows = [{**r, **{k: num.count(r[k]) for k in ("files", "read", "accepted", "quarantined", "refused")}}
            for r in ing["by_format"]]
    tt = ing["totals"]
    rows.append({"format": "total", "files": num.count(tt.get("files")), "read": num.count(tt.get("read")),
                 "accepted": num.count(tt.get("accepted")), "quarantined": num.count(tt.get("quarantined")),
                 "refused": num.count(tt.get("refused_files"))})
    cols = {"format": "Format", "files": "Files", "read": "Records read", "accepted": "Accepted",
            "quarantined": "Quarantined", "refused": "Files refused"}
    return table(rows, cols, numeric=set(cols) - {"format"})


def models_table(profile: dict) -> Html:
    """Calls, tokens, cost and latency per model."""
    rows = [{"model": m["model"], "providers": m["providers"], "calls": num.count(m["calls"]),
             "share": num.share(m["share"]), "in": num.count(m["input_tokens"]), "out": num.count(m["output_tokens"]),
             "cost": num.money(m["cost_usd"]), "cost_share": num.share(m["cost_share"]),
             "p95": num.duration_ms(m["latency"]["p95_ms"]), "err": num.share(m["error_rate"], 2)}
            for m in profile["models"]]
    cols = {"model": "Model", "providers": "Provider", "calls": "Calls", "share": "% calls", "in": "Input tokens",
            "out": "Output tokens", "cost": "Known cost", "cost_share": "% cost", "p95": "p95 latency",
            "err": "Error rate"}
    return table(rows, cols, numeric=set(cols) - {"model", "providers"})


def workloads_table(profile: dict, limit: int = 15) -> Html:
    """Coverage of the customer's own workload tag, and the biggest tagged workloads."""
    w = profile["workloads"]
    if not w["tagged_calls"]:
        return note("No call carries a workload_id tag: tasks will be discovered from the calls themselves.")
    head = note(f"{num.share(w['coverage'])} of calls carry a workload_id tag ({num.count(w['distinct'])} distinct).")
    rows = [{"workload": r["workload_id"], "calls": num.count(r["calls"]), "share": num.share(r["share"])}
            for r in w["top"][:limit]]
    return Html(head.body + table(rows, {"workload": "Workload", "calls": "Calls", "share": "% of calls"},
                                  numeric={"calls", "share"}).body)


def error_kinds_table(profile: dict) -> Html:
    """Failed calls by kind of error (the error's leading category, not its full text)."""
    e = profile["errors"]
    if not e["errors"]:
        return note("No failed calls were logged.")
    rows = [{"kind": r["error_kind"], "calls": num.count(r["calls"]), "share": num.share(r["share"]),
             "models": num.count(r["models"])} for r in e["kinds"]]
    return table(rows, {"kind": "Error kind", "calls": "Failed calls", "share": "% of errors", "models": "Models"},
                 numeric={"calls", "share", "models"})


def cost_table(profile: dict) -> Html:
    """Known cost, run-rate and the models that could not be priced (with their volumes)."""
    c = profile["cost"]
    rr = c["monthly_run_rate"]
    parts = [note(f"Known cost {num.money(c['known_usd'])} over {rr['days_observed']} days "
                  f"({num.money(c['per_day_usd'])} per day). Projected monthly run-rate: {num.money(rr['usd'])} "
                  f"({rr['basis']}).")]
    if c["unpriced_models"]:
        parts.append(note("These models have no price, so their cost is unknown (not zero). "
                          "Add them under `prices:` in engagement.yaml and re-run:"))
        rows = [{"model": u["model"], "calls": num.count(u["calls"]), "in": num.count(u["input_tokens"]),
                 "out": num.count(u["output_tokens"])} for u in c["unpriced_models"]]
        parts.append(table(rows, {"model": "Model", "calls": "Calls without cost", "in": "Input tokens",
                                  "out": "Output tokens"}, numeric={"calls", "in", "out"}))
    return Html("".join(p.body for p in parts))


def responses_table(profile: dict) -> Html:
    """What successful calls return: tool calls, text, both, or nothing."""
    r = profile["responses"]
    labels = {"tool_call": "tool call only", "text": "text only", "both": "tool call and text", "empty": "empty"}
    rows = [{"kind": labels[k], "calls": num.count(v["calls"]), "share": num.share(v["share"])}
            for k, v in r["kinds"].items()]
    t = profile["tools"]
    head = note(f"{num.share(t['offered_share'])} of calls offer tools; {num.count(t['calls_with_tool_calls'])} calls "
                f"answer with a tool call.")
    return Html(head.body + table(rows, {"kind": "Response (successful calls)", "calls": "Calls",
                                         "share": "% of successful calls"}, numeric={"calls", "share"}).body)
