"""An interactive task explorer for the notebook: pick a task, see its calls, terms and figures.

    from fde_toolkit.tasks.explorer import task_explorer
    task_explorer(tasks)          # tasks = eng.artifacts.tasks()

It shows only what tasks.json holds: curated text, never raw logs.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from fde_toolkit import formatting as num


def _value_text(t: dict[str, Any]) -> str:
    """The value a candidate was ranked by, and what it is made of."""
    if t.get("priority_basis") == "volume_share":
        return (f"{t['priority']:.3f} = {num.share(t['volume_share'])} of calls (no cost known) x readiness "
                f"{t['readiness']['score']:.2f}")
    score = t["readiness"]["score"]
    return f"{t['priority']:.3f} = {num.share(t.get('cost_share'))} of the bill x readiness {score:.2f}"


def task_card(t: dict[str, Any]) -> str:
    """One task as HTML: figures, readiness with reasons, terms and representative calls."""
    e = html.escape
    r = t["readiness"]
    verdict = (f"SLM candidate #{t['rank']}" if t.get("rank") else "not an SLM candidate")
    rows = [
        ("calls", f"{t['calls']:,} ({num.share(t['volume_share'])} of volume)"),
        ("share of the bill", f"{num.share(t.get('cost_share'))} of the known cost"
                              + (f" ({num.money(t['cost_usd'])})" if t.get("cost_usd") else "")),
        *([("value", _value_text(t))] if t.get("rank") and t.get("priority") is not None else []),
        ("tokens in / out (mean)", f"{t['tokens']['input_mean']} / {t['tokens']['output_mean']}"),
        ("latency p50 / p95", f"{t['latency_ms']['p50']} / {t['latency_ms']['p95']} ms"),
        ("error rate", num.share(t["error_rate"])),
        ("models", ", ".join(f"{m['model']} ({m['calls']:,})" for m in t["models"][:4])),
        ("output", t["output_kind"].replace("_", " ")
         + (f": {', '.join(t['labels'][:8])}" if t.get("labels") else "")
         + (f": {', '.join(t['json_keys'][:8])}" if t.get("json_keys") else "")
         + (f": {', '.join(t['tools'][:8])}" if t.get("tools") else "")
         + (f" ({t['n_tools']:,} tools over {t['tool_sets']:,} tool sets, each request offering its own)"
            if t.get("per_request_tools") else "")),
        ("determinism", num.share(t.get("determinism"))),
        ("distinct requests", f"{t['distinct_requests']:,}"),
        ("steps", ", ".join(t["steps"]) + f" ({t['level']})"),
    ]
    table = "".join(f"<tr><td style='color:#6B7785;padding-right:14px'>{e(k)}</td><td>{e(str(v))}</td></tr>"
                    for k, v in rows)
    reasons = "".join(f"<li>{e(x)}</li>" for x in r["reasons"])
    examples = "".join(
        f"<li><div><b>request</b> ({x['calls']:,} call{'s' if x['calls'] != 1 else ''}): {e(x['request'])}</div>"
        + (f"<div style='color:#6B7785'><b>answer</b>: {e(x['answer'])}</div>" if x.get("answer") else "") + "</li>"
        for x in t["representatives"])
    return (f"<h3 style='margin:4px 0'>{e(t['id'])} · {e(t['name'])}</h3>"
            f"<p><b>readiness {r['score']:.2f}</b> · {e(verdict)}</p>"
            f"<table style='font-size:13px'>{table}</table>"
            f"<p><b>top terms</b>: {e(', '.join(t['top_terms']))}</p>"
            f"<p><b>why</b></p><ul style='margin-top:0'>{reasons}</ul>"
            f"<p><b>representative calls</b></p><ol style='margin-top:0'>{examples}</ol>")


def task_explorer(tasks: dict[str, Any]) -> widgets.VBox:
    """A dropdown of the tasks (candidates first, by rank), each with its share of calls and of the bill, and the
    chosen task's card."""
    order = sorted(tasks["tasks"], key=lambda t: (t.get("rank") is None, t.get("rank") or 0, -t["calls"]))
    options = [(f"{t['id']} · {t['name']} ({t['volume_share']:.1%} of calls, {num.share(t.get('cost_share'))} of the "
                "bill)", t["id"]) for t in order]
    by_id = {t["id"]: t for t in tasks["tasks"]}
    pick = widgets.Dropdown(options=options, description="Task", layout=widgets.Layout(width="640px"))
    card = widgets.HTML(task_card(by_id[pick.value]) if options else "<p>No tasks.</p>")

    def show(change: dict) -> None:
        card.value = task_card(by_id[change["new"]])

    pick.observe(show, names="value")
    return widgets.VBox([pick, card])
