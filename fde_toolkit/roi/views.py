"""Reading roi.json back and the concise summary `fde roi` prints.

    data = load_roi(eng)          # None when `fde roi` has not run
    print(render_roi(data))
"""

from __future__ import annotations

from typing import Any

from fde_toolkit import FdeError
from fde_toolkit.roi.figures import fmt, money, months, quality_text


def load_roi(eng) -> dict[str, Any] | None:
    """The engagement's artifacts/roi.json, or None when the ROI has not been computed yet."""
    return eng.artifacts.optional("roi")


def roi_for_report(eng) -> dict[str, Any]:
    """The ROI for a report: computed (or reused when fresh); when it cannot be, an incomplete stub whose
    `needs` says why (missing artifacts, an invalid `roi:` section), so every section still renders."""
    from fde_toolkit.roi.step import roi

    try:
        return roi(eng).data
    except FdeError as e:
        return {"status": "incomplete", "needs": [str(e)], "client": eng.config.client or eng.name,
                "currency": eng.config.currency, "tasks": [], "measurements": {}, "assumptions": {},
                "task_info": {}, "refinement_plan": {"next_tasks": [], "retrain": [], "refine_first": [], "how": ""}}


def render_roi(roi: dict[str, Any]) -> str:
    """A few lines for the terminal: the three tiers, the range, the scenarios, the levers, what to replace."""
    cur = roi.get("currency", "USD")
    if roi.get("status") != "complete":
        lines = [f"ROI for {roi.get('client') or 'this engagement'}: not computed yet. It needs:"]
        lines += [f"  - {n}" for n in roi.get("needs", [])]
        return "\n".join(lines)
    t2, t3 = roi["tier2"], roi["tier3"]
    v = lambda d, k: d[k]["value"] if k in d else None  # noqa: E731
    lines = [f"ROI for {roi['client']} ({len(roi['tasks'])} specialist task(s), {roi['horizon_years']}-year horizon, "
             f"{cur}; logs {roi['period'].get('first_date')} to {roi['period'].get('last_date')})"]
    lines.append("Tier 1 (measured, per task):")
    for r in roi["tier1"]["tasks"]:
        m = r["metrics"]
        g = lambda k, u: fmt(m[k]["value"], u) if k in m else "–"  # noqa: E731
        lines.append(f"  {r['task']} {r['name'][:38]:38s} agreement {quality_text(roi, r):>6}, answers "
                     f"{g('offload_share', 'share')} of its calls ({g('calls_covered_share', 'share')} of all), "
                     f"p50 {g('latency_before_ms', 'ms')} -> {g('latency_after_ms', 'ms')}, per successful task "
                     f"{g('cost_per_success_before', 'usd')} -> {g('cost_per_success_after', 'usd')}, "
                     f"contributes {g('net_contribution', 'usd_per_year')}")
    lines.append(f"Tier 2 (per month): {fmt(v(t2, 'cases_per_month'), 'cases')} cases, "
                 f"{fmt(v(t2, 'slm_answers_per_month'), 'calls')} specialist answers, escalation "
                 f"{fmt(v(t2, 'escalation_rate'), 'share')}, rework {fmt(v(t2, 'rework_rate'), 'share')}, "
                 f"net {fmt(v(t2, 'net_hours_saved_per_month'), 'hours')} saved "
                 f"({fmt(v(t2, 'handling_time_saved_share'), 'share')} of handling time), headroom "
                 f"{fmt(v(t2, 'throughput_headroom'), 'factor')} at the busiest hour")
    lines.append(f"Tier 3 (per year at full adoption): LLM spend {money(v(t3, 'llm_spend_before'))} -> "
                 f"{money(v(t3, 'llm_spend_after'))} (avoided {money(v(t3, 'llm_spend_avoided'))}); serving "
                 f"{money(v(t3, 'slm_serving'))}; labour {money(v(t3, 'labour_value'))}, rework "
                 f"{money(v(t3, 'rework_cost'))}; upkeep {money(v(t3, 'upkeep'))}")
    lines.append(f"  net annual benefit {money(v(t3, 'net_annual_benefit'))}; one-off {money(v(t3, 'one_off'))}; "
                 f"payback {months(v(t3, 'payback_months'))}; ROI {fmt(v(t3, 'roi_pct'), 'percent')}; "
                 f"NPV {money(v(t3, 'npv'))} at {roi['assumptions']['discount_rate']['likely']:.0%}")
    mc = roi["uncertainty"]["monte_carlo"]
    nb, pb = mc["net_annual_benefit"], mc["payback_months"]
    lines.append(f"Range ({mc['samples']:,} seeded draws): net annual benefit P10/P50/P90 {money(nb['p10'])} / "
                 f"{money(nb['p50'])} / {money(nb['p90'])}; payback {months(pb['p10'])} / {months(pb['p50'])} / "
                 f"{months(pb['p90'])}; positive in {mc['p_positive_net_benefit']:.0%} of draws")
    lines.append("Scenarios: " + "; ".join(
        f"{s['label']} {money(s['tier3']['net_annual_benefit'])}/yr, payback {months(s['tier3']['payback_months'])}"
        for s in roi["scenarios"]))
    levers = [r for r in roi["uncertainty"]["tornado"] if r["swing"] > 0][:3]
    if levers:
        lines.append("Biggest levers: " + ", ".join(f"{r['assumption']} (swing {money(r['swing'])})" for r in levers))
    flagged = sorted(n for n, a in roi["assumptions"].items() if a["flagged"] and a.get("used"))
    if flagged:
        lines.append("Defaults to replace with the client's figures: " + ", ".join(flagged))
    if roi.get("needs"):
        lines.append("Still missing: " + "; ".join(roi["needs"]))
    return "\n".join(lines)
