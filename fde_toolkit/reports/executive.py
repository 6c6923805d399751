"""The executive summary: one idea per slide, each with its numbers, its sentence and where they came from.

    ex = load_summary(eng)   # the artifacts the slides read; any of them may be missing
    problem(ex)              # viz.Html, one whole slide: kicker, headline, key numbers, source line
    money(ex)                # where the spend goes, by task (money_figure(ex) is its chart)
    moved(ex)                # the tasks a specialist SLM now handles
    quality(ex)              # specialist vs LLM on held-out calls (quality_figure)
    tiers(ex)                # the three tiers of the ROI model
    payback(ex)              # payback and its range (payback_figure)
    ask(ex)                  # what the client is asked to decide
    assumptions(ex)          # appendix: the assumptions that move the result most, with their sources

fde_toolkit/notebooks/executive_summary.ipynb calls one function per cell, one cell per slide; `fde run`
exports it as reveal.js slides. A slide whose artifact is missing says what is not measured yet
and the `fde` command that measures it, so an engagement can be presented at any depth; the
figure functions return None then.
Numbers are read, never recomputed: the profile (S1), tasks.json (S3), eval/<task>.json (S5) and
roi.json (fde_toolkit.roi).
"""

from __future__ import annotations

from functools import partial

import html
from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from fde_toolkit import FdeError, viz
from fde_toolkit.reports.branding import Branding, branding
from fde_toolkit import formatting as num
from fde_toolkit.slm.confidence import error_bars, metric_text

SLIDE_FIGURE_HEIGHT = 450
LLM_GREY = "#B8BEC6"


DECK_TITLE = "Moving {client}'s LLM workload to models it owns"
DECK_SUBTITLE = "What we measured, what it is worth, and what we ask you to decide"
DECK_KICKER = "Executive summary"


def deck_titles(client: str) -> tuple[str, str, str]:
    """(title, subtitle, kicker) of the deck's title slide."""
    title = DECK_TITLE.format(client=client) if client else "Moving the LLM workload to models you own"
    return title, DECK_SUBTITLE, DECK_KICKER


# ----------------------------------------------------------------------------- loading

@dataclass
class Summary:
    """What the slides read. None (or empty) where the step that writes it has not run."""

    engagement: str  # the engagement folder as a command line would name it
    brand: Branding
    profile: dict[str, Any] | None = None
    tasks: dict[str, Any] | None = None
    evals: dict[str, dict[str, Any]] = field(default_factory=dict)  # task id -> eval/<task>.json
    roi: dict[str, Any] | None = None
    hardening: dict[str, Any] | None = None  # hardening.json: latency and throughput measured on the hardware
    sources: dict[str, str] = field(default_factory=dict)  # what -> artifact path, for the source lines

    @property
    def client(self) -> str:
        return self.brand.client

    def task(self, task_id: str) -> dict[str, Any] | None:
        for t in (self.tasks or {}).get("tasks", []):
            if t["id"] == task_id:
                return t
        return None


def _optional(eng, name: str, *keys: str) -> dict[str, Any] | None:
    """An artifact, or None when it is missing or unreadable: a slide says "not measured yet" instead."""
    try:
        return eng.artifacts.optional(name, *keys)
    except FdeError:
        return None


def load_summary(eng) -> Summary:
    """Read every artifact the executive slides use; missing ones stay None."""
    ex = Summary(engagement=eng.display_root, brand=branding(eng))
    ex.profile = _optional(eng, "profile")
    ex.tasks = _optional(eng, "tasks")
    for tid in eng.artifacts.keys("eval"):
        rep = _optional(eng, "eval", tid)
        if rep and "variants" in rep:
            ex.evals[rep.get("task", tid)] = rep
    ex.roi = _optional(eng, "roi")
    ex.hardening = _optional(eng, "hardening")
    ex.sources = {"profile": "artifacts/profile.json", "tasks": "artifacts/tasks.json",
                  "eval": "artifacts/eval/<task>.json", "roi": "artifacts/roi.json",
                  "hardening": "artifacts/hardening.json"}
    return ex


# ----------------------------------------------------------------------------- formatting

# slides write numbers through fde_toolkit.formatting: compact money and counts, whole-percent headlines
usd = partial(num.money, compact=True)
count = partial(num.count, compact=True)
months = num.months


def pct(x: float | None, digits: int = 0) -> str:
    return num.share(x, digits)


def _e(text: Any) -> str:
    return html.escape(str(text))


def figure_html(fig: go.Figure) -> str:
    """A figure as an HTML div drawn by the page's plotly.js (viz.setup_notebook embeds it once)."""
    height = fig.layout.height or SLIDE_FIGURE_HEIGHT
    return pio.to_html(fig, include_plotlyjs=False, include_mathjax=False, full_html=False, validate=False,
                       default_width="100%", default_height=height,
                       config={"displaylogo": False, "displayModeBar": False, "responsive": True})


def slide(kicker: str, headline: str, body: str = "", source: str = "", figure: go.Figure | None = None) -> viz.Html:
    """One slide: a small kicker, the headline (one idea, as a sentence), body HTML, a figure, a source line."""
    parts = [f'<div class="fde-kicker">{_e(kicker)}</div>', f"<h2>{_e(headline)}</h2>", body]
    if figure is not None:
        parts.append(figure_html(figure))
    if source:
        parts.append(f'<p class="fde-source">{_e(source)}</p>')
    return viz.Html("".join(parts))


def pending(kicker: str, headline: str, what: str, commands: list[str]) -> viz.Html:
    """The slide of a step that has not run: what is missing and the command(s) that measure it."""
    cmds = " then ".join(f"<code>{_e(c)}</code>" for c in commands)
    body = f'<div class="fde-pending"><b>Not measured yet.</b> {_e(what)} Run {cmds}.</div>'
    return slide(kicker, headline, body)


def cards(items: list[tuple[str, str]], accent: set[int] | None = None) -> str:
    accent = accent or set()
    return '<div class="fde-cards">' + "".join(
        f'<div class="fde-card{" accent" if i in accent else ""}"><div class="v">{_e(v)}</div>'
        f'<div class="k">{_e(k)}</div></div>' for i, (v, k) in enumerate(items)) + "</div>"


def lead(text: str) -> str:
    return f'<p class="fde-lead">{_e(text)}</p>'


def _slide_layout(fig: go.Figure, height: int = SLIDE_FIGURE_HEIGHT) -> go.Figure:
    """A figure sized for a 1280x720 slide under a headline: no own title, legend on top."""
    fig.update_layout(title_text="", height=height, margin=dict(l=24, r=24, t=36, b=48),
                      font=dict(size=15), legend=dict(font=dict(size=14)))
    return fig


# ----------------------------------------------------------------------------- 1. the problem

def _period(p: dict[str, Any]) -> str:
    t = p.get("totals") or {}
    if not t.get("days"):
        return "the logs"
    return f"{t['days']} days of logs, {t.get('first_date')} to {t.get('last_date')}"


def _logged_share(ex: Summary) -> float:
    """The share of the traffic the logs hold (the ROI's logged_share_of_traffic assumption), 1 when unknown."""
    a = ((ex.roi or {}).get("assumptions") or {}).get("logged_share_of_traffic") or {}
    share = a.get("likely")
    return float(share) if isinstance(share, (int, float)) and 0 < share <= 1 else 1.0


def problem(ex: Summary) -> viz.Html:
    """Volume and spend today: calls a month, spend a month and a year, latency, errors."""
    k = "The problem"
    p = ex.profile or {}
    t, c = p.get("totals") or {}, p.get("cost") or {}
    if not t.get("calls"):
        return pending(k, "How many LLM calls, and what they cost", "The call logs have not been profiled.",
                       [f"fde ingest {ex.engagement}", f"fde profile {ex.engagement}"])
    per_month_calls = (t.get("calls_per_day") or 0) * 30
    monthly = (c.get("monthly_run_rate") or {}).get("usd")
    known = c.get("known_usd", t.get("cost_usd_known"))
    if monthly is None and known is not None and t.get("days"):
        monthly = known / t["days"] * 30
    sample = _logged_share(ex)
    if sample < 1:  # the logs are a sample: the problem is the whole traffic, as the ROI counts it
        per_month_calls /= sample
        monthly = monthly / sample if monthly is not None else None
    models = p.get("models") or []
    top = max(models, key=lambda m: m.get("cost_usd") or 0) if models else None
    headline = f"{ex.client} sends {count(per_month_calls)} LLM calls a month" + (
        f", for {usd(monthly)} of known model spend" if monthly is not None else "")
    p95 = ((p.get("latency") or {}).get("overall") or {}).get("p95_ms")
    items = [(count(per_month_calls), "LLM calls a month"),
             (usd(monthly), "model spend a month (known)"),
             (usd(monthly * 12 if monthly is not None else None), "a year at today's volume"),
             (num.duration_ms(p95), "p95 latency per call"),
             (pct(t.get("error_rate"), 1), "of calls fail")]
    text = []
    if top and top.get("cost_share"):
        text.append(f"{top['model']} alone takes {pct(top['cost_share'])} of the spend and "
                    f"{pct(top.get('share'))} of the calls.")
    if ex.tasks and ex.tasks.get("steps"):
        text.append(f"The calls repeat {len(ex.tasks['steps'])} workflow steps: the same work, paid at "
                    "frontier-model prices on every call.")
    unpriced = c.get("unpriced_models") or []
    source = f"Measured: {_period(p)}, {count(t['calls'])} calls ({ex.sources['profile']})."
    if sample < 1:
        source += (f" The logs hold 1 call in {round(1 / sample):,} (assumption logged_share_of_traffic); "
                   "volumes and spend are scaled to all traffic.")
    if unpriced:
        n = len(unpriced)
        source += (f" {n} model{'s' if n != 1 else ''} ha{'ve' if n != 1 else 's'} no price "
                   f"({', '.join(u['model'] for u in unpriced[:3])}): spend is a lower bound.")
    return slide(k, headline, cards(items, accent={1, 2}) + lead(" ".join(text)), source)


# ----------------------------------------------------------------------------- 2. where the money goes

def _candidates(ex: Summary) -> list[dict[str, Any]]:
    if not ex.tasks:
        return []
    ids = ex.tasks.get("candidates") or [t["id"] for t in ex.tasks["tasks"] if t.get("candidate")]
    return [t for i in ids if (t := ex.task(i))]


def _priced(ex: Summary) -> bool:
    return bool(ex.tasks) and any((t.get("cost_usd") or 0) > 0 for t in ex.tasks["tasks"])


def money(ex: Summary) -> viz.Html:
    """Which recurring tasks the spend pays for: the SLM candidates' share of calls and spend."""
    k = "Where the money goes"
    if not ex.tasks or not ex.tasks.get("tasks"):
        return pending(k, "Which recurring tasks the spend pays for",
                       "The calls have not been grouped into tasks.", [f"fde discover {ex.engagement}"])
    cands = _candidates(ex)
    n_tasks = len(ex.tasks["tasks"])
    calls = sum(t["volume_share"] or 0 for t in cands)
    spend = sum(t.get("cost_share") or 0 for t in cands)
    if cands:
        headline = (f"{len(cands)} repetitive tasks carry {pct(calls)} of the calls"
                    + (f" and {pct(spend)} of the spend" if _priced(ex) else ""))
        text = (f"Of {n_tasks} recurring tasks, these {len(cands)} are narrow, frequent and answer in a fixed shape: "
                "work a small specialist model can take over.")
    else:
        headline = f"The calls fall into {n_tasks} recurring tasks; none is an SLM candidate yet"
        text = "No task is narrow and repetitive enough to move first; see the scoping report for why."
    source = f"Measured: task discovery over {count(ex.tasks.get('calls'))} curated calls ({ex.sources['tasks']})."
    return slide(k, headline, lead(text), source, figure=money_figure(ex))


def money_figure(ex: Summary, limit: int = 6) -> go.Figure | None:
    """Share of calls and of spend for the candidate tasks (best first) and everything else."""
    if not ex.tasks or not ex.tasks.get("tasks"):
        return None
    priced = _priced(ex)
    cands = _candidates(ex)[:limit]
    ids = {t["id"] for t in cands}
    rest = [t for t in ex.tasks["tasks"] if t["id"] not in ids]
    rows = [(f"{t['id']} {_short(t['name'], 34)}", t["volume_share"] or 0, t.get("cost_share") or 0) for t in cands]
    if rest:
        rows.append((f"all other tasks ({len(rest)})", sum(t["volume_share"] or 0 for t in rest),
                     sum(t.get("cost_share") or 0 for t in rest)))
    rows = rows[::-1]
    fig = go.Figure()
    if priced:  # drawn first, so it sits under the calls bar of its group
        fig.add_bar(y=[r[0] for r in rows], x=[r[2] for r in rows], orientation="h", name="share of spend",
                    marker_color=ex.brand.accent, text=[pct(r[2]) for r in rows], textposition="outside",
                    cliponaxis=False, hovertemplate="%{y}: %{x:.1%} of spend<extra></extra>")
    fig.add_bar(y=[r[0] for r in rows], x=[r[1] for r in rows], orientation="h", name="share of calls",
                marker_color=ex.brand.primary, text=[pct(r[1]) for r in rows], textposition="outside",
                cliponaxis=False, hovertemplate="%{y}: %{x:.1%} of calls<extra></extra>")
    top = max([max(r[1], r[2]) for r in rows] or [1])
    fig.update_layout(barmode="group", bargap=0.25, legend_traceorder="reversed")
    fig.update_xaxes(tickformat=".0%", range=[0, top * 1.18], title_text="")
    fig.update_yaxes(tickfont=dict(size=15))
    return _slide_layout(fig, height=max(280, min(400, 90 + 46 * len(rows))))


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


# ----------------------------------------------------------------------------- 3. what moved to SLMs

def _ft(rep: dict[str, Any]) -> dict[str, Any]:
    return rep["variants"].get("fine_tuned") or {}


def moved(ex: Summary) -> viz.Html:
    """The tasks a fine-tuned specialist has been evaluated on: coverage, model, cost per task."""
    k = "What moved to small models"
    if not ex.evals:
        first = next((t["id"] for t in _candidates(ex)), None)
        if ex.tasks is None:
            cmds = [f"fde discover {ex.engagement}"]
        else:
            task = first or "TASK"
            cmds = [f"fde dataset {ex.engagement} --task {task}", f"fde finetune {ex.engagement} --task {task}",
                    f"fde evaluate {ex.engagement} --task {task}"]
        return pending(k, "Which tasks a specialist model takes over", "No specialist model has been evaluated.", cmds)
    rows, calls, spend = [], 0.0, 0.0
    for tid, rep in ex.evals.items():
        t = ex.task(tid) or {}
        ft = _ft(rep)
        calls += t.get("volume_share") or 0
        spend += t.get("cost_share") or 0
        ratio = rep.get("cost_ratio_fine_tuned_vs_llm")
        rows.append({"task": f"{tid} {_short(t.get('name', ''), 40)}".strip(),
                     "calls": pct(t.get("volume_share"), 1), "spend": pct(t.get("cost_share"), 1),
                     "model": rep.get("candidate", "–"),
                     "agree": metric_text(ft.get("metrics", {}), "agreement"),  # 95% interval when measured
                     "cost": "–" if ratio is None else f"{ratio:.1%} of the LLM's"})
    n = len(rows)
    headline = (f"{n} task{'s' if n != 1 else ''} moved to specialist models, covering {pct(calls)} of the calls"
                + (f" and {pct(spend)} of the spend" if spend else ""))
    table = viz.table(rows, {"task": "Task", "calls": "Share of calls", "spend": "Share of spend",
                             "model": "Specialist (base model)", "agree": "Agrees with LLM",
                             "cost": "Cost per successful task"},
                      numeric={"calls", "spend", "agree"}).body
    todo = [t for t in _candidates(ex) if t["id"] not in ex.evals]
    text = ""
    if todo:
        text = lead(f"Next candidates not yet moved: {', '.join(t['id'] for t in todo[:5])} "
                    f"({pct(sum(t['volume_share'] or 0 for t in todo))} of the calls).")
    source = (f"Measured: each specialist against the LLM's own answers on held-out calls "
              f"({ex.sources['eval']}).")
    return slide(k, headline, table + text, source)


# ----------------------------------------------------------------------------- 4. quality held

def quality(ex: Summary) -> viz.Html:
    """How often each specialist gives the LLM's answer on calls it never saw in training."""
    k = "Quality held"
    if not ex.evals:
        return pending(k, "Does a small model answer as well as the LLM?",
                       "Quality is measured once a specialist has been fine-tuned and evaluated.",
                       [f"fde evaluate {ex.engagement} --task {next((t['id'] for t in _candidates(ex)), 'TASK')}"])
    agree = {tid: _ft(rep).get("metrics", {}).get("agreement") for tid, rep in ex.evals.items()}
    vals = [v for v in agree.values() if v is not None]
    base = [rep["variants"].get("base", {}).get("metrics", {}).get("agreement") for rep in ex.evals.values()]
    base = [b for b in base if b is not None]
    if not vals:
        return pending(k, "Does a small model answer as well as the LLM?", "The evaluations have no agreement score.",
                       [f"fde evaluate {ex.engagement} --force"])
    lo, hi = min(vals), max(vals)
    span = pct(lo) if abs(hi - lo) < 0.005 else f"{pct(lo)}–{pct(hi)}"
    headline = f"The specialists give the LLM's answer on {span} of calls they never saw"
    n_ex = sum(rep.get("examples") or 0 for rep in ex.evals.values())
    text = (f"Measured on {count(n_ex)} held-out calls: the LLM's logged answer is the reference, so 100% means "
            "the specialist answers exactly as the frontier model did.")
    if base:
        text += f" Before fine-tuning, the same small models agreed on {pct(min(base))}–{pct(max(base))}."
    sure = _how_sure(ex)
    return slide(k, headline, lead(text) + (lead(sure) if sure else ""), f"Measured: {ex.sources['eval']}.",
                 figure=quality_figure(ex))


def _how_sure(ex: Summary) -> str:
    """The agreement's 95% intervals and whether fine-tuning beat few-shot prompting on the same calls
    ('' for evaluations written before they were recorded)."""
    cis, verdicts = [], {}
    for tid, rep in ex.evals.items():
        ci = (_ft(rep).get("metrics", {}).get("intervals") or {}).get("agreement")
        if ci:
            cis.append(f"{tid} {num.interval(ci[0], ci[1], digits=0)}")
        c = (rep.get("comparisons") or {}).get("fine_tuned_vs_few_shot")
        if c:
            verdicts.setdefault(c["verdict"], []).append(f"{tid} ({num.p_value(c.get('p_value'))}, "
                                                         f"{count(c.get('n'))} paired calls)")
    out = []
    if cis:
        out.append("95% intervals of the agreement: " + ", ".join(cis) + ".")
    if verdicts:
        out.append("Against the same small model prompted with examples, the specialist is "
                   + "; ".join(f"{v} on {', '.join(ts)}" for v, ts in verdicts.items()) + " (McNemar's paired test).")
    return " ".join(out)


def quality_figure(ex: Summary) -> go.Figure | None:
    """Agreement with the LLM per task: base model, few-shot, fine-tuned; the LLM's own level as a line."""
    if not ex.evals:
        return None
    from fde_toolkit.slm.figures import VARIANT_NAMES

    labels = [f"{tid} {_short((ex.task(tid) or {}).get('name', ''), 24)}".strip() for tid in ex.evals]
    fig = go.Figure()
    colors = {"base": "#C9D3DF", "few_shot": "#8FA9C6", "fine_tuned": ex.brand.primary}
    for v in ("base", "few_shot", "fine_tuned"):
        ms = [rep["variants"].get(v, {}).get("metrics", {}) for rep in ex.evals.values()]
        ys = [m.get("agreement") for m in ms]
        if all(y is None for y in ys):
            continue
        fig.add_bar(x=labels, y=ys, name=VARIANT_NAMES.get(v, v), marker_color=colors[v], error_y=error_bars(ms),
                    text=[pct(y) if y is not None else "" for y in ys], textposition="outside", cliponaxis=False,
                    hovertemplate="%{x}<br>%{y:.1%} agreement<extra>" + VARIANT_NAMES.get(v, v) + "</extra>")
    fig.add_hline(y=1.0, line=dict(color=LLM_GREY, dash="dash", width=2),
                  annotation_text="the LLM (reference)", annotation_position="top left")
    fig.update_layout(barmode="group", bargap=0.3)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.12], title_text="agreement with the LLM")
    fig.update_xaxes(tickfont=dict(size=15))
    return _slide_layout(fig, height=330)


# ----------------------------------------------------------------------------- 5-7: the ROI model

def _roi_ready(ex: Summary) -> bool:
    return bool(ex.roi) and ex.roi.get("status") == "complete"


def _t3(ex: Summary, key: str) -> float | None:
    return ((ex.roi or {}).get("tier3", {}).get(key) or {}).get("value")


def _t2(ex: Summary, key: str) -> float | None:
    return ((ex.roi or {}).get("tier2", {}).get(key) or {}).get("value")


def _mc(ex: Summary) -> dict[str, Any]:
    return ((ex.roi or {}).get("uncertainty") or {}).get("monte_carlo") or {}


def _horizon(ex: Summary) -> int:
    return int((ex.roi or {}).get("horizon_years") or 3)


def _roi_pending(ex: Summary, kicker: str, headline: str) -> viz.Html:
    if ex.roi and ex.roi.get("status") != "complete":
        needs = ex.roi.get("needs") or []
        what = "The ROI model still needs: " + "; ".join(needs[:3]) + ("; …" if len(needs) > 3 else "") + "."
        return pending(kicker, headline, what, [f"fde roi {ex.engagement}"])
    cmds = [f"fde roi {ex.engagement}"]
    if not ex.profile:
        cmds = [f"fde profile {ex.engagement}"] + cmds
    return pending(kicker, headline, "The ROI model has not been run.", cmds)


def _row(label: str, value: str) -> str:
    return f'<div class="row"><span>{_e(label)}</span><b>{_e(value)}</b></div>'


def _tier(title: str, tag: str, rows: list[tuple[str, str]]) -> str:
    return (f'<div class="fde-tier"><div class="tag">{_e(tag)}</div><h3>{_e(title)}</h3>'
            + "".join(_row(k, v) for k, v in rows) + "</div>")


def _span(values: list[float], fmt) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    lo, hi = min(values), max(values)
    return fmt(lo) if fmt(lo) == fmt(hi) else f"{fmt(lo)}–{fmt(hi)}"


def _weighted(values: list[float | None], weights: list[float | None]) -> float | None:
    """Mean of `values` weighted by `weights` (calls a month), over the pairs where both are known."""
    pairs = [(v, w or 0.0) for v, w in zip(values, weights) if v is not None]
    total = sum(w for _, w in pairs)
    if not pairs:
        return None
    return sum(v * w for v, w in pairs) / total if total > 0 else sum(v for v, _ in pairs) / len(pairs)


def tiers(ex: Summary) -> viz.Html:
    """The three tiers: model and operations (measured), business process, financial."""
    k = "The three tiers"
    if not _roi_ready(ex):
        return _roi_pending(ex, k, "From model quality to process to money")
    from fde_toolkit.roi.figures import quality_interval

    rows1 = ex.roi["tier1"]["tasks"]
    hardened = _hardened(ex, [r["task"] for r in rows1])
    m = lambda key: [(r["metrics"].get(key) or {}).get("value") for r in rows1]  # noqa: E731
    w = m("calls_per_month")
    covered = sum(v or 0 for v in m("calls_covered_share"))
    ci = quality_interval(ex.roi, rows1[0]["task"]) if len(rows1) == 1 else None  # one task: its 95% interval
    tier1 = [("agreement with the LLM", _span(m("quality"), pct) + (f" {num.interval(*ci, digits=0)}" if ci else "")),
             ("share of all calls answered", pct(covered)),
             ("p50 latency" + (" under load" if hardened else ""),
              f"{num.duration_ms(_weighted(m('latency_before_ms'), w))} → "
              f"{num.duration_ms(_weighted(m('latency_after_ms'), w))}"),
             ("cost per successful task", f"{usd(_weighted(m('cost_per_success_before'), w))} → "
                                          f"{usd(_weighted(m('cost_per_success_after'), w))}")]
    tier2 = [("cases handled a month", count(_t2(ex, "cases_per_month"))),
             ("calls the specialists answer a month", count(_t2(ex, "slm_answers_per_month"))),
             ("escalated to the LLM", pct(_t2(ex, "escalation_rate"))),
             ("net hours saved a month", count(_t2(ex, "net_hours_saved_per_month"))),
             ("throughput headroom at peak", "–" if _t2(ex, "throughput_headroom") is None
              else f"{_t2(ex, 'throughput_headroom'):,.1f}×")]
    tier3 = [("LLM spend avoided a year", usd(_t3(ex, "llm_spend_avoided"))),
             ("specialist serving a year", usd(_t3(ex, "slm_serving"))),
             ("labour value of hours saved", usd(_t3(ex, "labour_value"))),
             ("upkeep and retraining a year", usd(_t3(ex, "upkeep"))),
             ("net annual benefit", usd(_t3(ex, "net_annual_benefit"))),
             ("one-off costs", usd(_t3(ex, "one_off")))]
    nab = _t3(ex, "net_annual_benefit")
    n = len(rows1)
    if nab is not None and nab >= 0:
        headline = f"{n} specialist{'s' if n != 1 else ''} turn measured quality into {usd(nab)} a year of net benefit"
    else:
        headline = (f"At the measured scope, the specialists cost {usd(-(nab or 0))} a year more than they save"
                    if nab is not None else "From model quality to process to money")
    body = ('<div class="fde-tiers">'
            + _tier("Tier 1 · Model and operations", "measured on held-out calls", tier1)
            + _tier("Tier 2 · Business process", "measured where the logs allow, else assumed", tier2)
            + _tier("Tier 3 · Financial", "per year at full adoption", tier3) + "</div>")
    source = ("Each tier is computed from the one before it; every number is measured (an artifact field) or a "
              f"named assumption with a range and a source ({ex.sources['roi']}, the handover report). "
              + hardening_line(ex, [r["task"] for r in rows1]))
    return slide(k, headline, body, source)


def _hardened(ex: Summary, task_ids: list[str]) -> list[str]:
    """The tasks whose latency and throughput under load hardening.json measured."""
    tasks = (ex.hardening or {}).get("tasks") or {}
    return [t for t in task_ids if (tasks.get(t) or {}).get("under_load")]


def hardening_line(ex: Summary, task_ids: list[str]) -> str:
    """Where the specialists' latency and serving cost come from: the hardening benchmark, or an assumption."""
    done = _hardened(ex, task_ids)
    if not done:
        return ("Specialist latency and serving cost: single-request measurements scaled by assumed load factors; "
                f"the hardening benchmark (`fde harden {ex.engagement}`) has not measured them under load yet.")
    mach = (ex.hardening or {}).get("machine") or {}
    where = mach.get("cpu") or mach.get("platform") or "the serving hardware"
    rest = [t for t in task_ids if t not in done]
    return (f"Specialist latency and serving cost: measured by the hardening benchmark under load on {where} "
            f"({mach.get('cores', '?')} cores; {ex.sources['hardening']}, {', '.join(done)})"
            + (f"; {', '.join(rest)} not benchmarked yet, assumed." if rest else "."))


def payback(ex: Summary) -> viz.Html:
    """Payback, ROI and NPV, with the P10-P90 range of the Monte Carlo run and the scenarios."""
    k = "Payback and its range"
    if not _roi_ready(ex):
        return _roi_pending(ex, k, "When the investment pays back, and how sure we are")
    mc, h = _mc(ex), _horizon(ex)
    pb = _t3(ex, "payback_months")
    nb, pbq = mc.get("net_annual_benefit") or {}, mc.get("payback_months") or {}
    p_pos, p_pb = mc.get("p_positive_net_benefit"), mc.get("p_payback_within_horizon")
    if pb is not None and pb <= h * 12:
        headline = f"The investment pays back in {months(pb)}"
        if pbq.get("p10") is not None and pbq.get("p90") is not None:
            headline += f" (P10–P90: {pbq['p10']:,.0f}–{pbq['p90']:,.0f} months)"
    else:
        headline = f"At the measured scope the investment does not pay back within {h} years"
    items = [(months(pb), "payback, as measured"),
             (usd(_t3(ex, "npv")), f"NPV over {h} years"),
             ("–" if _t3(ex, "roi_pct") is None else f"{_t3(ex, 'roi_pct'):,.0f}%", f"ROI over {h} years"),
             (f"{usd(nb.get('p10'))} to {usd(nb.get('p90'))}", "net benefit a year, P10 to P90")]
    text = []
    if p_pos is not None:
        text.append(f"{pct(p_pos)} of {count(mc.get('samples'))} simulated outcomes have a positive net benefit"
                    + (f" and {pct(p_pb)} pay back within {h} years." if p_pb is not None else "."))
    scen = {s["name"]: s for s in ex.roi.get("scenarios") or []}
    if "conservative" in scen:
        c = scen["conservative"]["tier3"]
        text.append(f"Conservative case: {usd(c.get('net_annual_benefit'))} a year, payback "
                    f"{months(c.get('payback_months'))}.")
    if "expanded" in scen and ex.roi.get("expanded_tasks"):
        e = scen["expanded"]["tier3"]
        text.append(f"With the next {len(ex.roi['expanded_tasks'])} candidate tasks: "
                    f"{usd(e.get('net_annual_benefit'))} a year, payback {months(e.get('payback_months'))}.")
    return slide(k, headline, cards(items, accent={0}) + lead(" ".join(text)),
                 f"Seeded Monte Carlo over the assumptions' ranges ({ex.sources['roi']}).",
                 figure=payback_figure(ex))


def payback_figure(ex: Summary) -> go.Figure | None:
    """Cumulative cash per scenario, month by month (fde_toolkit.roi.figures.payback_curve), sized for a slide."""
    if not _roi_ready(ex):
        return None
    try:
        from fde_toolkit.roi.figures import payback_curve
    except ImportError:
        return None
    fig = _slide_layout(payback_curve(ex.roi), height=290)
    fig.update_layout(margin=dict(t=56, r=70), legend=dict(orientation="h", x=0, y=1.04, yanchor="bottom"),
                      yaxis2=dict(tickformat=".0%", title_text="adoption"))
    return fig


def assumptions(ex: Summary, limit: int = 6) -> viz.Html:
    """Appendix: the assumptions that move the net benefit most (the tornado), with range and source."""
    k = "Appendix · What we assumed"
    if not _roi_ready(ex):
        return _roi_pending(ex, k, "The assumptions behind the numbers")
    named = ex.roi.get("assumptions") or {}
    rows = []
    for r in ((ex.roi.get("uncertainty") or {}).get("tornado") or [])[:limit]:
        a = named.get(r["assumption"], {})
        swing = abs((r["at_high"]["net_annual_benefit"] or 0) - (r["at_low"]["net_annual_benefit"] or 0))
        rows.append({"name": r["assumption"].replace("_", " "),
                     "range": f"{num.in_unit(r['low'], r['unit'])} / {num.in_unit(a.get('likely'), r['unit'])} / "
                              f"{num.in_unit(r['high'], r['unit'])}",
                     "swing": usd(swing),
                     "source": ("default, to confirm" if a.get("flagged") else a.get("source", "–"))})
    if not rows:
        return slide(k, "Every assumption is a fixed figure from the client",
                     lead("Nothing was varied: the net benefit has no assumption range to report."))
    top = [r["name"] for r in rows[:2]]
    headline = "The net benefit hinges most on " + " and ".join(top)
    table = viz.table(rows, {"name": "Assumption", "range": "low / likely / high", "swing": "Moves net benefit by",
                             "source": "Source"}, numeric={"swing"}).body
    flagged = [n for n, a in named.items() if a.get("flagged") and a.get("used")]
    text = lead(f"{len(flagged)} of the assumptions used are defaults still to replace with {ex.client}'s figures.") \
        if flagged else ""
    return slide(k, headline, table + text, f"Tornado: each assumption at its low and high end, the others at likely "
                                           f"({ex.sources['roi']}).")


def _share_of_calls(ex: Summary, ids: list[str]) -> float:
    return sum((ex.task(i) or {}).get("volume_share") or 0 for i in ids)


def _flagged(ex: Summary) -> list[str]:
    return [n for n, a in ((ex.roi or {}).get("assumptions") or {}).items() if a.get("flagged") and a.get("used")]


def _confirm_line(ex: Summary) -> str | None:
    flagged = _flagged(ex)
    if not flagged:
        return None
    names = ", ".join(n.replace("_", " ") for n in flagged[:3]) + (", …" if len(flagged) > 3 else "")
    return (f"Confirm the {len(flagged)} default assumption{'s' if len(flagged) != 1 else ''} "
            f"with your figures ({names}).")


def ask(ex: Summary) -> viz.Html:
    """What the client is asked to decide: the tasks to move, the one-off cost, the expected return."""
    k = "The ask"
    moved_ids = list(ex.evals)
    todo = [t["id"] for t in _candidates(ex) if t["id"] not in ex.evals]
    n = len(moved_ids)
    scope = (f"the {n} evaluated task{'s' if n != 1 else ''} ({', '.join(moved_ids)}; "
             f"{pct(_share_of_calls(ex, moved_ids))} of the calls)") if n else ""
    wave = f"{', '.join(todo[:4])} ({pct(_share_of_calls(ex, todo[:4]))} of the calls)" if todo else ""
    items: list[str] = []
    note = ""
    if _roi_ready(ex):
        one_off, nab, pb, h = (_t3(ex, "one_off"), _t3(ex, "net_annual_benefit"), _t3(ex, "payback_months"),
                               _horizon(ex))
        pbq = _mc(ex).get("payback_months") or {}
        if nab is not None and nab > 0 and pb is not None:
            rng = (f" (P10–P90: {pbq['p10']:,.0f}–{pbq['p90']:,.0f} months)"
                   if pbq.get("p10") is not None and pbq.get("p90") is not None else "")
            headline = f"Approve {usd(one_off)} to save {usd(nab)} a year, paid back in {months(pb)}"
            items.append(f"Put the specialist models for {scope} into production behind the SLM-first router, "
                         "with the LLM as fallback.")
            items.append(f"Invest {usd(one_off)} one-off; expect {usd(nab)} a year of net benefit at full adoption "
                         f"and payback in {months(pb)}{rng}.")
            if wave:
                items.append(f"Approve the next wave: {wave}.")
        else:
            headline = ("Widen the scope before investing: at today's volume the case does not pay back "
                        f"within {h} years")
            scen = {x["name"]: x for x in ex.roi.get("scenarios") or []}
            exp = (scen.get("expanded") or {}).get("tier3") or {}
            if ex.roi.get("expanded_tasks") and exp.get("net_annual_benefit") is not None:
                items.append(f"Adding the next {len(ex.roi['expanded_tasks'])} candidate tasks "
                             f"({', '.join(ex.roi['expanded_tasks'])}) changes the net benefit to "
                             f"{usd(exp['net_annual_benefit'])} a year (payback {months(exp.get('payback_months'))}).")
            if n:
                items.append(f"Keep the specialists for {scope} ready: quality holds, the case turns on volume and "
                             "serving cost.")
        line = _confirm_line(ex)
        if line:
            items.append(line)
    else:
        headline = "What we ask you to decide"
        if n:
            items.append(f"Put the specialist models for {scope} into production behind the SLM-first router, "
                         "with the LLM as fallback.")
            if wave:
                items.append(f"Approve the next wave: {wave}.")
        elif todo:
            items.append(f"Fund the prototyping phase: fine-tune and evaluate specialists for "
                         f"{', '.join(todo[:3])} ({pct(_share_of_calls(ex, todo[:3]))} of the calls).")
        note = (f'<div class="fde-pending">The return on this decision is not quantified yet: run '
                f"<code>fde roi {_e(ex.engagement)}</code>.</div>")
    items.append("Own the models: weights, adapters and the retraining runbook stay with your team.")
    body = '<div class="fde-ask"><ul>' + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul></div>" + note
    return slide(k, headline, body)
