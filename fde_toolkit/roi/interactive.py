"""An interactive what-if for the notebook: sliders over the key assumptions recompute Tier 3 live.

    what_if(load_roi(eng))        # an ipywidgets VBox; needs a live kernel (tag the cell `interactive-only`)
    recompute(roi, {"routing_offload_share": 0.7})   # the same numbers without widgets

It recomputes from roi.json alone: the measurements and assumptions stored there.
"""

from __future__ import annotations

import html
from typing import Any

from fde_toolkit.roi.lineage import as_float
from fde_toolkit.roi.model import assumption_values, evaluate, model_inputs

OUTPUTS = ("llm_spend_avoided", "slm_serving", "labour_value", "rework_cost", "upkeep", "net_annual_benefit",
           "one_off", "payback_months", "roi_pct", "npv")


def recompute(roi: dict[str, Any], overrides: dict[str, float],
              tasks: list[str] | None = None) -> dict[str, float | None]:
    """Tier 3 of the measured scope with some assumptions changed (likely values for the rest)."""
    inp = model_inputs(roi["measurements"], tasks or roi["tasks"], horizon_years=roi["horizon_years"])
    res = evaluate(inp, assumption_values(roi["assumptions"], overrides=overrides))
    return {k: as_float(res.tier3[k]) for k in OUTPUTS}


def key_assumptions(roi: dict[str, Any], limit: int = 6) -> list[str]:
    """The assumptions with the largest tornado swing, plus the ramp (it moves payback, not the yearly figure)."""
    names = [r["assumption"] for r in roi["uncertainty"]["tornado"] if r["swing"] > 0][:limit]
    if "ramp_months" in roi["assumptions"] and "ramp_months" not in names:
        names.append("ramp_months")
    return names


def _summary(t: dict[str, float | None], base: dict[str, float | None]) -> str:
    from fde_toolkit.roi.figures import fmt, money, months

    def delta(k: str) -> str:
        if t[k] is None or base[k] is None or abs(t[k] - base[k]) < 0.5:
            return ""
        d = abs(t[k] - base[k])
        text = fmt(d, "percent") if k == "roi_pct" else money(d)
        return f" <span style='color:#6B7785'>({'+' if t[k] > base[k] else '−'}{html.escape(text)})</span>"

    rows = [("LLM spend avoided / yr", money(t["llm_spend_avoided"]), "llm_spend_avoided"),
            ("serving / yr", money(t["slm_serving"]), "slm_serving"),
            ("labour value − rework / yr", money((t["labour_value"] or 0) - (t["rework_cost"] or 0)), "labour_value"),
            ("upkeep / yr", money(t["upkeep"]), "upkeep"),
            ("net annual benefit", money(t["net_annual_benefit"]), "net_annual_benefit"),
            ("payback", months(t["payback_months"]), "payback_months"),
            ("ROI over the horizon", fmt(t["roi_pct"], "percent"), "roi_pct"),
            ("NPV", money(t["npv"]), "npv")]
    body = "".join(f"<tr><td style='color:#6B7785;padding-right:16px'>{html.escape(k)}</td>"
                   f"<td style='text-align:right'><b>{html.escape(v)}</b>"
                   f"{delta(key) if key != 'payback_months' else ''}"
                   f"</td></tr>" for k, v, key in rows)
    return f"<table style='font-size:14px'>{body}</table>"


def what_if(roi: dict[str, Any] | None, limit: int = 6):
    """Sliders over the key assumptions (each over its low-high range, starting at likely) and Tier 3, live."""
    import ipywidgets as widgets

    if not roi or roi.get("status") != "complete":
        return widgets.HTML("<p>The what-if needs a computed ROI (run <code>fde roi</code>).</p>")
    base = recompute(roi, {})
    sliders = {}
    for name in key_assumptions(roi, limit):
        a = roi["assumptions"][name]
        lo, hi = a["low"], a["high"]
        if hi <= lo:
            continue
        sliders[name] = widgets.FloatSlider(value=a["likely"], min=lo, max=hi, step=(hi - lo) / 50,
                                            description=name, readout_format=".3g", continuous_update=False,
                                            style={"description_width": "220px"},
                                            layout=widgets.Layout(width="560px"))
    out = widgets.HTML(_summary(base, base))
    reset = widgets.Button(description="back to likely")

    def update(_: Any = None) -> None:
        out.value = _summary(recompute(roi, {k: s.value for k, s in sliders.items()}), base)

    def back(_: Any) -> None:
        for k, s in sliders.items():
            s.value = roi["assumptions"][k]["likely"]

    for s in sliders.values():
        s.observe(update, names="value")
    reset.on_click(back)
    head = widgets.HTML("<p>Move an assumption within its range; Tier 3 is recomputed from the measurements "
                        "(the numbers in brackets are the change from the likely case).</p>")
    return widgets.VBox([head, *sliders.values(), reset, out])
