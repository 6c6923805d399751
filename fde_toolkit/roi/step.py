"""`fde roi`: the three tiers, scenarios and uncertainty from the engagement's artifacts -> artifacts/roi.json.

    data = roi(eng)                     # skipped while its inputs and the roi settings are unchanged
    data = compute_roi(evidence, settings, seed=7)   # pure: what roi() writes, from gathered measurements
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

from fde_toolkit.step import StepOutputs, StepResult, run_step
from fde_toolkit.roi.assumptions import RoiSettings, roi_settings
from fde_toolkit.roi.lineage import Tracked, as_float
from fde_toolkit.roi.measurements import Evidence, gather
from fde_toolkit.roi.model import HOURS_PER_MONTH, Result, assumption_values, evaluate, model_inputs
from fde_toolkit.roi.next_steps import refinement_plan
from fde_toolkit.roi.uncertainty import SCENARIOS, monte_carlo, scenario_assumptions, tornado

ROI_VERSION = 1

TIER1 = {  # key -> (label, unit)
    "quality": ("agreement with the LLM's answers (held-out calls)", "share"),
    "primary_metric": ("the task's headline metric", "share"),
    "offload_share": ("share of the task's calls the specialist answers", "share"),
    "calls_covered_share": ("share of all the customer's calls the specialist answers", "share"),
    "calls_per_month": ("calls per month", "calls"),
    "latency_before_ms": ("p50 latency, LLM", "ms"),
    "latency_after_ms": ("p50 latency, specialist under load", "ms"),
    "cost_per_call_before": ("cost per call, LLM", "usd"),
    "cost_per_call_after": ("cost per call, specialist + escalations", "usd"),
    "cost_per_success_before": ("cost per successful task, LLM", "usd"),
    "cost_per_success_after": ("cost per successful task, after", "usd"),
    "instances": ("serving instances", "count"),
    "utilisation": ("average serving utilisation", "share"),
    "headroom": ("capacity at peak / busiest-hour load", "factor"),
    "net_contribution": ("the task's own yearly contribution (before shared upkeep and one-off costs)",
                         "usd_per_year"),
}
TIER2 = {
    "cases_per_month": ("cases handled per month", "cases"),
    "calls_in_scope_per_month": ("in-scope calls per month", "calls"),
    "slm_answers_per_month": ("calls the specialists answer per month", "calls"),
    "escalation_rate": ("escalation rate (calls sent on to the LLM)", "share"),
    "rework_rate": ("rework rate (specialist answers a person fixes)", "share"),
    "person_seconds_saved_per_case": ("waiting time saved per case", "seconds"),
    "hours_saved_per_month": ("hours of waiting saved per month", "hours"),
    "rework_hours_per_month": ("hours of rework per month", "hours"),
    "net_hours_saved_per_month": ("net hours saved per month", "hours"),
    "handling_minutes_before": ("handling time per case, today", "minutes"),
    "handling_minutes_after": ("handling time per case, after", "minutes"),
    "handling_time_saved_share": ("share of handling time saved", "share"),
    "cycle_minutes_before": ("cycle time per case (first to last call), today", "minutes"),
    "cycle_minutes_after": ("cycle time per case, after", "minutes"),
    "throughput_headroom": ("throughput headroom at the busiest hour (lowest task)", "factor"),
    "serving_utilisation": ("average serving utilisation", "share"),
}
TIER3 = {
    "llm_spend_before": ("LLM spend today", "usd_per_year"),
    "llm_spend_in_scope": ("LLM spend on the specialists' tasks", "usd_per_year"),
    "llm_spend_avoided": ("LLM spend avoided", "usd_per_year"),
    "residual_llm_escalations": ("LLM spend still on escalated calls", "usd_per_year"),
    "uncovered_llm_spend": ("LLM spend on calls outside the specialists' tasks", "usd_per_year"),
    "llm_spend_after": ("LLM spend after", "usd_per_year"),
    "slm_serving": ("specialist serving cost", "usd_per_year"),
    "labour_value": ("labour value of hours saved", "usd_per_year"),
    "rework_cost": ("cost of rework", "usd_per_year"),
    "upkeep": ("upkeep: operations and retraining", "usd_per_year"),
    "net_annual_benefit": ("net annual benefit at full adoption", "usd_per_year"),
    "one_off": ("one-off costs", "usd"),
    "one_off_fine_tuning": ("of which fine-tuning compute", "usd"),
    "payback_months": ("payback", "months"),
    "roi_pct": ("ROI over the horizon", "percent"),
    "npv": ("net present value over the horizon", "usd"),
    "net_over_horizon": ("net benefit over the horizon, after one-off costs", "usd"),
}

# figure -> (file, what it draws); its lineage is the union of the inputs of what it draws
FIGURE_FILES = {
    "tier1_quality": "figures/roi_tier1_quality.json",
    "tier1_unit_cost": "figures/roi_tier1_unit_cost.json",
    "tier1_latency": "figures/roi_tier1_latency.json",
    "spend_waterfall": "figures/roi_spend_waterfall.json",
    "payback_curve": "figures/roi_payback_curve.json",
    "tornado": "figures/roi_tornado.json",
    "monte_carlo": "figures/roi_monte_carlo.json",
    "scenarios": "figures/roi_scenarios.json",
}
# assumption -> the per-task measurement that takes its place once a later phase writes it
REPLACED_BY = {"routing_offload_share": "offload_share", "routing_quality_target": "kept_quality",
               "latency_under_load_factor": "slm_latency_under_load_ms"}
WATERFALL_KEYS = ("llm_spend_before", "llm_spend_avoided", "slm_serving", "labour_value", "rework_cost", "upkeep",
                  "net_annual_benefit")


class _Lineage:
    def __init__(self, measurements: dict[str, Any], assumptions: dict[str, Any]):
        self.m, self.a = measurements, assumptions

    def split(self, inputs: frozenset[str]) -> dict[str, list[str]]:
        return {"measured": sorted(i for i in inputs if i in self.m),
                "assumed": sorted(i for i in inputs if i in self.a)}

    def entry(self, key: str, t: Tracked, labels: dict[str, tuple[str, str]]) -> dict[str, Any]:
        label, unit = labels[key]
        return {"value": as_float(t), "unit": unit, "label": label, **self.split(t.inputs)}


def _cash(res: Result, months: int) -> dict[str, Any]:
    take = lambda x: [round(float(v), 6) for v in np.asarray(x, dtype=float).reshape(-1)[:months]]  # noqa: E731
    return {"months": list(range(0, months + 1)), "adoption": [0.0] + take(res.cash["adoption"]),
            "net": [0.0] + take(res.cash["net"]),
            "cumulative": [-(as_float(res.tier3["one_off"]) or 0.0)] + take(res.cash["cumulative"])}


def _flat(d: dict[str, Tracked]) -> dict[str, float | None]:
    return {k: as_float(v) for k, v in d.items()}


def _incomplete(ev: Evidence, settings: RoiSettings, meta: dict[str, Any]) -> dict[str, Any]:
    return {**meta, "status": "incomplete", "needs": ev.needs, "tasks": [], "expanded_tasks": [],
            "next_tasks": ev.next_tasks, "task_info": ev.task_info,
            "measurements": {k: v.as_dict() for k, v in sorted(ev.measurements.items())},
            "assumptions": {k: v.as_dict() for k, v in sorted(settings.assumptions.items())},
            "tier1": {"tasks": []}, "tier2": {}, "tier3": {}, "cash_flow": None, "scenarios": [],
            "uncertainty": None, "figures": {k: {"file": f, "measured": [], "assumed": []}
                                              for k, f in FIGURE_FILES.items()},
            "notes": ev.notes}


def compute_roi(ev: Evidence, settings: RoiSettings, seed: int = 7, client: str = "",
                currency: str = "USD") -> dict[str, Any]:
    """roi.json's content from the gathered measurements and the validated settings (pure)."""
    horizon = settings.horizon_years
    mc_seed = settings.monte_carlo.seed if settings.monte_carlo.seed is not None else seed
    meta = {"version": ROI_VERSION, "client": client, "currency": currency, "computed_on": date.today().isoformat(),
            "period": ev.period, "horizon_years": horizon,
            "settings": {"expand_tasks": settings.expand_tasks, "monte_carlo": {**settings.monte_carlo.model_dump(),
                                                                                "seed": mc_seed},
                         "retrain": settings.retrain.model_dump()}}
    if not ev.tasks:
        out = _incomplete(ev, settings, meta)
        out["refinement_plan"] = refinement_plan(out)
        return out
    measurements = {k: v.as_dict() for k, v in sorted(ev.measurements.items())}
    assumptions = settings.assumptions
    lin = _Lineage(measurements, assumptions)
    extra = ev.next_tasks[: settings.expand_tasks]
    base_inp = model_inputs(measurements, ev.tasks, horizon_years=horizon)
    exp_inp = model_inputs(measurements, ev.tasks, extra=extra, horizon_years=horizon)
    res = evaluate(base_inp, assumption_values(assumptions))

    tier1 = []
    for tid in ev.tasks:
        info = ev.task_info.get(tid, {})
        tier1.append({"task": tid, "name": info.get("name", tid), "output_kind": info.get("output_kind"),
                      "primary": info.get("primary"), "specialist": info.get("candidate_model"),
                      "metrics": {k: lin.entry(k, v, TIER1) for k, v in res.tier1[tid].items()}})
    tier2 = {k: lin.entry(k, v, TIER2) for k, v in res.tier2.items()}
    tier3 = {k: lin.entry(k, v, TIER3) for k, v in res.tier3.items()}

    rows = tornado(base_inp, assumptions)
    worse = scenario_assumptions(assumptions, rows)
    runs = {"as_measured": (base_inp, {}), "conservative": (base_inp, worse), "expanded": (exp_inp, {})}
    paying = [t for t in ev.tasks if (as_float(res.tier1[t]["net_contribution"]) or 0.0) > 0]
    if paying and len(paying) < len(ev.tasks):
        runs["paying_tasks"] = (model_inputs(measurements, paying, horizon_years=horizon), {})
    scenarios, scen_inputs = [], frozenset()
    for name, (inp, overrides) in runs.items():
        r = res if name == "as_measured" else evaluate(inp, assumption_values(assumptions, overrides=overrides))
        label, desc = SCENARIOS[name]
        if name == "expanded" and not extra:
            desc += " No further candidate task is waiting, so it equals the measured scope."
        scen_inputs |= r.tier3["net_annual_benefit"].inputs | r.tier3["npv"].inputs
        scenarios.append({"name": name, "label": label, "description": desc,
                          "tasks": [t.id for t in inp.tasks], "assumed_like_measured": [t.id for t in inp.tasks
                                                                                         if t.assumed_like_measured],
                          "assumptions": overrides, "tier3": _flat(r.tier3),
                          "tier2": {k: as_float(r.tier2[k]) for k in ("net_hours_saved_per_month", "escalation_rate")},
                          "cash_flow": _cash(r, horizon * 12)})
    mc = monte_carlo(base_inp, assumptions, samples=settings.monte_carlo.samples, seed=mc_seed,
                     distribution=settings.monte_carlo.distribution)

    varying = frozenset(n for n, a in assumptions.items() if a.varies)
    t1 = lambda *keys: frozenset().union(*(res.tier1[t][k].inputs for t in ev.tasks for k in keys  # noqa: E731
                                            if k in res.tier1[t]))
    fig_inputs = {
        "tier1_quality": t1("quality", "primary_metric") | frozenset(  # + the error bars: 95% intervals
            f"{t}.quality_{e}" for t in ev.tasks for e in ("low", "high") if f"{t}.quality_{e}" in ev.measurements),
        "tier1_unit_cost": t1("cost_per_success_before", "cost_per_success_after"),
        "tier1_latency": t1("latency_before_ms", "latency_after_ms"),
        "spend_waterfall": frozenset().union(*(res.tier3[k].inputs for k in WATERFALL_KEYS)),
        "payback_curve": scen_inputs | res.cash["inputs"] | varying,
        "tornado": res.tier3["net_annual_benefit"].inputs | varying,
        "monte_carlo": res.tier3["net_annual_benefit"].inputs | res.tier3["payback_months"].inputs | varying,
        "scenarios": scen_inputs | varying,
    }
    figures = {k: {"file": FIGURE_FILES[k], **lin.split(v)} for k, v in fig_inputs.items()}

    used = frozenset().union(*fig_inputs.values())
    assumptions_out = {}
    for name, a in sorted(assumptions.items()):
        d = a.as_dict()
        replaced = [tid for tid in ev.tasks if f"{tid}.{REPLACED_BY.get(name)}" in measurements]
        d["replaced_by_measurement_for"] = replaced
        d["used"] = name in used
        assumptions_out[name] = d
    later = []  # measurements of later phases that assumptions stand in for
    if not any(f"{t}.offload_share" in measurements for t in ev.tasks):
        later.append("each task's offload share at the quality target (routing calibration): "
                     "routing_offload_share and routing_quality_target stand in")
    if not any(f"{t}.slm_latency_under_load_ms" in measurements for t in ev.tasks):
        later.append("latency and throughput under load (hardening benchmark): "
                     "latency_under_load_factor and the evaluation's throughput stand in")
    out = {**meta, "status": "complete", "needs": ev.needs + later, "tasks": ev.tasks, "expanded_tasks": extra,
           "next_tasks": ev.next_tasks, "task_info": ev.task_info, "measurements": measurements,
           "assumptions": assumptions_out,
           "tier1": {"tasks": tier1}, "tier2": tier2, "tier3": tier3, "cash_flow": _cash(res, horizon * 12),
           "scenarios": scenarios, "uncertainty": {"tornado": rows, "monte_carlo": mc},
           "figures": figures, "notes": ev.notes + _notes(ev, settings)}
    out["refinement_plan"] = refinement_plan(out)
    return out


def _notes(ev: Evidence, settings: RoiSettings) -> list[str]:
    notes = ["Every figure is either measured (artifact and field in `measurements`) or a named assumption "
             "with its source and range (`assumptions`).",
             f"Volumes are per month of production traffic: the logs cover {ev.period.get('days')} days; "
             f"serving assumes {HOURS_PER_MONTH} hours a month."]
    a = settings.assumptions
    if not any(f"{t}.offload_share" in ev.measurements for t in ev.tasks):
        notes.append("Routing has not been calibrated yet: the offload share is the assumption "
                     f"routing_offload_share ({a['routing_offload_share'].likely:.0%} likely).")
    if not any(f"{t}.slm_latency_under_load_ms" in ev.measurements for t in ev.tasks):
        notes.append("Latency under load has not been benchmarked yet: the specialists' single-request latency "
                     f"is scaled by latency_under_load_factor ({a['latency_under_load_factor'].likely:g} likely).")
    flagged = sorted(n for n, x in a.items() if x.flagged)
    if flagged:
        notes.append("Default figures still to replace with the client's: " + ", ".join(flagged) + ".")
    return notes


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)


def _clean(o: Any) -> Any:
    """NaN and infinities become None (JSON has neither)."""
    if isinstance(o, float):
        return o if np.isfinite(o) else None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def write_roi_figures(eng, data: dict[str, Any]) -> list:
    from fde_toolkit import viz
    from fde_toolkit.roi import figures as figs

    return [viz.save_figure(figs.FIGURES[name](data), eng.artifacts.path("figure", f"roi_{name}"))
            for name in FIGURE_FILES]


def roi(eng, force: bool = False) -> StepResult[dict[str, Any]]:
    """`fde roi`: write artifacts/roi.json and the ROI figures (artifacts/figures/roi_*.json)."""
    from fde_toolkit.roi.views import render_roi

    settings = roi_settings(eng)
    ev = gather(eng, read_calls=False)
    params = {"version": ROI_VERSION, "roi": settings.params(), "seed": eng.config.seed,
              "serving": eng.config.finetune.serving.model_dump(mode="json"), "client": eng.config.client,
              "currency": eng.config.currency}

    def make(out: StepOutputs) -> dict[str, Any]:
        data = _clean(compute_roi(gather(eng), settings, seed=eng.config.seed, client=eng.config.client or eng.name,
                                  currency=eng.config.currency))
        out.write("roi", data, default=_json_default, allow_nan=False)
        for fig in write_roi_figures(eng, data):
            out.add(fig)
        t3 = data["tier3"]
        out.summary = {"status": data["status"], "tasks": data["tasks"],
                       "net_annual_benefit": (t3.get("net_annual_benefit") or {}).get("value"),
                       "payback_months": (t3.get("payback_months") or {}).get("value")}
        return data

    return run_step(eng, "roi", inputs=ev.inputs, params=params, make=make,
                    previous=lambda: eng.artifacts.read("roi"), render=render_roi, force=force)
