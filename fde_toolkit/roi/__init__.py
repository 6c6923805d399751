"""Three-tier ROI: what the specialists change, measured where the toolkit measured it, assumed (named,
sourced, with a range) where it did not, and how sure the result is.

    from fde_toolkit.roi import roi, load_roi, render_roi
    data = roi(eng)                 # `fde roi`: artifacts/roi.json + artifacts/figures/roi_*.json
    print(render_roi(data))
    data = load_roi(eng)            # None before the first run
    data = roi_for_report(eng)      # for notebooks: computed, or an incomplete stub saying what is missing
    spend_waterfall(data); tornado(data); monte_carlo(data); payback_curve(data); scenarios(data)
    what_if(data)                   # ipywidgets sliders recomputing Tier 3 (live kernel only)

Modules, one job each: assumptions (the `roi:` section, validated), measurements (numbers from the
artifacts, each with its artifact and field), lineage (values that carry the ids they came from), model
(Tier 1-3 and the cash flow), uncertainty (tornado, Monte Carlo, scenarios), step (`fde roi`), views
(load, the notebooks' entry, the CLI summary), figures (plotly figures and HTML tables), interactive
(the what-if), next_steps (the S6 refinement plan), handover (model cards).

roi.json (version 1)
--------------------
status              "complete" | "incomplete" (no evaluated specialist yet: tiers empty, `needs` says why)
needs               [str] measurements still missing (with an assumption standing in, or blocking)
client, currency, computed_on, horizon_years, period {first_date, last_date, days}
settings            {expand_tasks, monte_carlo {samples, distribution, seed}, retrain {...}}
tasks               [task id] the evaluated specialists the ROI counts, best candidate first
expanded_tasks      [task id] the next candidates in the expanded scenario (no evaluation yet)
next_tasks          [task id] every SLM candidate without an evaluation, best first
task_info           {task id: {name, output_kind, rank, candidate, readiness, cost_share, volume_share,
                     calls, primary, candidate_model}}
measurements        {id: {value, unit, artifact, field, label, kind ("measured" | "setting"), note}}
                    ids: "<task>.quality" (eval/<task>.json variants.fine_tuned.metrics.agreement),
                    "<task>.quality_low", "<task>.quality_high" (its 95% interval, when evaluated with one),
                    "<task>.primary_metric", "<task>.slm_latency_ms", "<task>.throughput",
                    "<task>.eval_examples", "<task>.training_seconds", "<task>.training_examples",
                    "<task>.calls", "<task>.llm_cost_usd", "<task>.priced_calls", "<task>.llm_latency_ms",
                    "<task>.volume_share", "<task>.llm_error_rate" (tasks.json), "<task>.offload_share",
                    "<task>.kept_quality", "<task>.slm_latency_under_load_ms" (when measured),
                    "logs.days", "logs.calls", "logs.cases",
                    "logs.known_cost_usd", "logs.peak_factor" (profile.json), "logs.cycle_minutes"
                    (calls.parquet), "serving.hourly_usd" (engagement.yaml finetune.serving, a setting)
assumptions         {name: {unit, low, likely, high, source, description, flagged, measured_by, used_for,
                     used, replaced_by_measurement_for: [task]}}
tier1               {"tasks": [{task, name, output_kind, primary, specialist, metrics: {key: NUMBER}}]}
                    keys: quality, primary_metric, offload_share, calls_covered_share, calls_per_month,
                    latency_before_ms, latency_after_ms, cost_per_call_before, cost_per_call_after,
                    cost_per_success_before, cost_per_success_after, instances, utilisation, headroom,
                    net_contribution
tier2               {key: NUMBER} cases_per_month, calls_in_scope_per_month, slm_answers_per_month,
                    escalation_rate, rework_rate, person_seconds_saved_per_case, hours_saved_per_month,
                    rework_hours_per_month, net_hours_saved_per_month, handling_minutes_before/_after,
                    handling_time_saved_share, cycle_minutes_before/_after (when sessions are logged),
                    throughput_headroom, serving_utilisation
tier3               {key: NUMBER} llm_spend_before, llm_spend_in_scope, llm_spend_avoided,
                    residual_llm_escalations, uncovered_llm_spend, llm_spend_after, slm_serving,
                    labour_value, rework_cost, upkeep, net_annual_benefit (per year at full adoption),
                    one_off, one_off_fine_tuning, payback_months (null: not within 10 years), roi_pct, npv,
                    net_over_horizon
  NUMBER            {value, unit, label, measured: [measurement id], assumed: [assumption name]}
cash_flow           {months: [0..12*horizon], adoption, net, cumulative} (month 0 holds the one-off costs)
scenarios           [{name ("as_measured" | "conservative" | "expanded" | "paying_tasks"), label,
                      description, tasks, assumed_like_measured, assumptions (overrides), tier3 {key: value},
                      tier2 {net_hours_saved_per_month, escalation_rate}, cash_flow}]
uncertainty         {tornado: [{assumption, unit, low, likely, high, base, swing, unfavourable,
                                at_low {net_annual_benefit, payback_months, npv}, at_high {...}}],
                     monte_carlo: {samples, seed, distribution, varied, horizon_years,
                                   net_annual_benefit {p10, p50, p90, mean, histogram {edges, counts}},
                                   payback_months {...}, npv {...}, roi_pct {p10, p50, p90, mean},
                                   p_positive_net_benefit, p_payback_within_horizon, payback_never_share}}
figures             {name: {file, measured: [id], assumed: [name]}}: each figure's lineage; names:
                    tier1_quality, tier1_unit_cost, tier1_latency, spend_waterfall, payback_curve,
                    tornado, monte_carlo, scenarios (builders of the same names in fde_toolkit.roi)
refinement_plan     {next_tasks: [...], retrain: [...], refine_first: [task], how}
notes               [str]
"""

from __future__ import annotations

from typing import Any

from fde_toolkit.roi.assumptions import RoiSettings, parse_roi_settings, roi_settings

# name -> the module it lives in; loaded on first use, so reading settings does not import plotly
_LAZY = {**{n: "figures" for n in (
    "FIGURES", "assumptions_table", "figure_lineage_table", "key_numbers", "measurements_table", "monte_carlo",
    "needs_table", "next_tasks_table", "payback_curve", "retrain_table", "scenarios", "scenarios_table",
    "spend_waterfall", "tier1_latency", "tier1_lineage_table", "tier1_quality", "tier1_table", "tier1_unit_cost",
    "tier_table", "tornado", "uncertainty_table")},
    "model_cards": "handover", "model_cards_markdown": "handover", "input_mix_drift": "next_steps",
    "refinement_plan": "next_steps", "load_roi": "views", "render_roi": "views", "roi_for_report": "views",
    "compute_roi": "step"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f"fde_toolkit.roi.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(name)


def roi(eng, force: bool = False) -> "StepResult[dict[str, Any]]":  # noqa: F821
    """`fde roi`: write artifacts/roi.json and the ROI figures; skipped while inputs and settings are unchanged."""
    from fde_toolkit.roi.step import roi as run

    return run(eng, force=force)


def what_if(data: dict[str, Any] | None, limit: int = 6):
    """ipywidgets sliders over the key assumptions that recompute Tier 3 live (needs a live kernel)."""
    from fde_toolkit.roi.interactive import what_if as build

    return build(data, limit=limit)


__all__ = [
    "roi", "load_roi", "render_roi", "roi_for_report", "compute_roi", "what_if", "roi_settings", "parse_roi_settings",
    "RoiSettings", "FIGURES", "tier1_quality", "tier1_unit_cost", "tier1_latency", "spend_waterfall", "payback_curve",
    "tornado", "monte_carlo", "scenarios", "key_numbers", "tier1_table", "tier1_lineage_table", "tier_table",
    "figure_lineage_table", "assumptions_table", "measurements_table", "scenarios_table", "uncertainty_table",
    "needs_table", "next_tasks_table", "retrain_table", "refinement_plan", "input_mix_drift", "model_cards",
    "model_cards_markdown",
]
