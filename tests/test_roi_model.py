"""The ROI model checked by what must hold whatever its formulas: tier totals are sums of their parts, savings move
the right way with prices and offload, no offload saves no LLM spend, payback agrees with the cash flow, logged
figures scale to production as the logged share says; plus the cash-flow arithmetic and one case from first
principles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from roi_synthetic import write_engagement

from fde_toolkit.roi.assumptions import parse_roi_settings
from fde_toolkit.roi.lineage import Tracked
from fde_toolkit.roi.measurements import gather
from fde_toolkit.roi.model import adoption, assumption_values, evaluate, financials, model_inputs

# ---------------------------------------------------------------------------------------------- the cash flow


def test_payback_npv_roi_with_flat_cash_flow():
    out = financials(np.full(36, 1000.0), 5000.0, 0.0, 36)
    assert out["payback_months"] == pytest.approx(5.0)  # $5,000 back at $1,000 a month
    assert out["npv"] == pytest.approx(36 * 1000 - 5000)
    assert out["roi_pct"] == pytest.approx(620.0)  # $31,000 net on $5,000 spent


def test_npv_is_the_value_today_at_the_yearly_rate():
    # $1,100 received a year from now is worth $1,000 today at 10% a year: spending $1,000 for it breaks even
    year = np.r_[np.zeros(11), 1100.0]
    assert financials(year, 1000.0, 0.10, 12)["npv"] == pytest.approx(0.0, abs=1e-9)
    flat = [financials(np.full(36, 1000.0), 5000.0, r, 36) for r in (0.0, 0.05, 0.10, 0.20)]
    assert all(a["npv"] > b["npv"] for a, b in zip(flat, flat[1:]))  # a higher rate is worth less today
    assert {float(f["payback_months"]) for f in flat} == {5.0}  # payback is undiscounted


def test_payback_interpolates_within_the_month_and_never_is_inf():
    out = financials(np.array([100.0, 400.0, 700.0, 1000.0, 1000.0]), 2000.0, 0.0, 5)
    # cumulative: -1900, -1500, -800, +200 -> 3 months and 800/1000 of the fourth
    assert out["payback_months"] == pytest.approx(3.8)
    assert math.isinf(financials(np.full(12, -100.0), 1000.0, 0.0, 12)["payback_months"])
    assert financials(np.full(12, 10.0), 0.0, 0.0, 12)["payback_months"] == 0.0


def test_adoption_ramp_is_linear_then_full():
    assert adoption(np.arange(1, 7), 4.0).tolist() == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert adoption(np.arange(1, 3), 1.0).tolist() == [1.0, 1.0]
    both = adoption(np.arange(1, 4), np.array([1.0, 3.0]))  # one row per sample
    assert both.shape == (2, 3) and both[1].tolist() == pytest.approx([1 / 3, 2 / 3, 1.0])


def test_financials_work_per_sample():
    net = np.array([np.full(12, 1000.0), np.full(12, 500.0)])
    out = financials(net, np.array([3000.0, 3000.0]), np.array([0.0, 0.0]), 12)
    assert out["payback_months"].tolist() == pytest.approx([3.0, 6.0])


# ---------------------------------------------------------------------------------------------- the three tiers

MEASURED = {  # logs of 30 days, a 1-in-200 sample of traffic; two tasks of different sizes and speeds
    "logs.days": 30.0, "logs.cases": 2500.0, "logs.known_cost_usd": 40.0, "logs.peak_factor": 2.0,
    "serving.hourly_usd": 0.50,
    "t1.calls": 6000.0, "t1.llm_cost_usd": 6.0, "t1.llm_latency_ms": 800.0, "t1.volume_share": 0.3,
    "t1.llm_error_rate": 0.02, "t1.quality": 0.93, "t1.slm_latency_ms": 120.0, "t1.throughput": 20.0,
    "t1.training_seconds": 1800.0,
    "t2.calls": 3000.0, "t2.llm_cost_usd": 9.0, "t2.llm_latency_ms": 1500.0, "t2.volume_share": 0.15,
    "t2.llm_error_rate": 0.05, "t2.quality": 0.85, "t2.slm_latency_ms": 300.0, "t2.throughput": 5.0,
    "t2.training_seconds": 5400.0,
}
ASSUMED = {
    "logged_share_of_traffic": 0.005, "routing_offload_share": 0.8, "routing_quality_target": 0.9,
    "latency_under_load_factor": 1.5, "target_utilisation": 0.6, "min_instances_per_task": 1,
    "loaded_hourly_rate_usd": 50.0, "handling_minutes_per_case": 10.0, "critical_path_share": 0.5,
    "rework_share": 0.02, "rework_minutes": 3.0, "ramp_months": 3.0, "engagement_fee_usd": 40000.0,
    "integration_usd": 20000.0, "training_hourly_usd": 2.0, "retrains_per_year": 4.0, "annual_upkeep_usd": 12000.0,
    "additional_task_usd": 8000.0, "discount_rate": 0.08,
}


def run(tasks=("t1", "t2"), extra=(), measured=None, **assumed):
    """evaluate() on MEASURED and ASSUMED with the given changes."""
    meas = {k: {"value": v} for k, v in {**MEASURED, **(measured or {})}.items()}
    inp = model_inputs(meas, list(tasks), list(extra), horizon_years=3)
    return evaluate(inp, {k: Tracked(v, {k}) for k, v in {**ASSUMED, **assumed}.items()})


def val(x: Tracked) -> float:
    return float(np.asarray(x.value))


def test_tier_totals_are_the_sums_of_their_parts():
    both, one, two = run(), run(tasks=("t1",)), run(tasks=("t2",))
    t1, t2, t3 = both.tier1, both.tier2, both.tier3
    assert val(t2["calls_in_scope_per_month"]) == pytest.approx(sum(val(r["calls_per_month"]) for r in t1.values()))
    slm = sum(val(r["calls_per_month"]) * val(r["offload_share"]) for r in t1.values())
    assert val(t2["slm_answers_per_month"]) == pytest.approx(slm)
    assert val(t2["escalation_rate"]) == pytest.approx(1 - slm / val(t2["calls_in_scope_per_month"]))
    assert val(t2["net_hours_saved_per_month"]) == pytest.approx(
        val(t2["hours_saved_per_month"]) - val(t2["rework_hours_per_month"]))
    # the LLM bill splits into avoided + what stays, and into in scope + uncovered
    assert val(t3["llm_spend_before"]) == pytest.approx(val(t3["llm_spend_avoided"]) + val(t3["llm_spend_after"]))
    assert val(t3["llm_spend_in_scope"]) == pytest.approx(
        val(t3["llm_spend_avoided"]) + val(t3["residual_llm_escalations"]))
    assert val(t3["llm_spend_before"]) == pytest.approx(val(t3["llm_spend_in_scope"]) + val(t3["uncovered_llm_spend"]))
    net = val(t3["net_annual_benefit"])
    assert net == pytest.approx(val(t3["llm_spend_avoided"]) - val(t3["slm_serving"]) + val(t3["labour_value"])
                                - val(t3["rework_cost"]) - val(t3["upkeep"]))
    # the yearly net is what each task contributes, less the upkeep they share
    assert net == pytest.approx(sum(val(r["net_contribution"]) for r in t1.values()) - val(t3["upkeep"]))
    # each task's money adds up across tasks evaluated apart
    for k in ("llm_spend_in_scope", "llm_spend_avoided", "slm_serving", "labour_value", "rework_cost",
              "one_off_fine_tuning"):
        assert val(t3[k]) == pytest.approx(val(one.tier3[k]) + val(two.tier3[k])), k
    for k in ("calls_in_scope_per_month", "slm_answers_per_month", "hours_saved_per_month", "rework_hours_per_month"):
        assert val(t2[k]) == pytest.approx(val(one.tier2[k]) + val(two.tier2[k])), k
    assert val(t3["one_off"]) == pytest.approx(
        ASSUMED["engagement_fee_usd"] + ASSUMED["integration_usd"] + val(t3["one_off_fine_tuning"]))


def test_no_offload_saves_no_llm_spend():
    res = run(routing_offload_share=0.0)
    t2, t3 = res.tier2, res.tier3
    assert val(t3["llm_spend_avoided"]) == 0.0
    assert val(t3["llm_spend_after"]) == pytest.approx(val(t3["llm_spend_before"]))
    assert val(t2["slm_answers_per_month"]) == 0.0 and val(t2["escalation_rate"]) == pytest.approx(1.0)
    assert val(t3["rework_cost"]) == 0.0  # no kept answers, nothing to fix
    assert val(t3["labour_value"]) < 0  # every call waits for the specialist, then for the LLM
    assert val(t3["net_annual_benefit"]) < 0 and math.isinf(val(t3["payback_months"]))
    assert val(t3["slm_serving"]) == pytest.approx(val(run().tier3["slm_serving"]))  # the instances still run


@pytest.mark.parametrize("where, name, values, figure, direction", [
    ("measured", "t1.llm_cost_usd", [1.0, 3.0, 6.0, 12.0, 30.0], "llm_spend_avoided", +1),
    ("measured", "t1.llm_cost_usd", [1.0, 3.0, 6.0, 12.0, 30.0], "net_annual_benefit", +1),
    ("measured", "t1.llm_cost_usd", [1.0, 3.0, 6.0, 12.0, 30.0], "payback_months", -1),
    ("assumed", "routing_offload_share", [0.1, 0.3, 0.5, 0.8], "llm_spend_avoided", +1),
    ("assumed", "routing_offload_share", [0.1, 0.3, 0.5, 0.8], "labour_value", +1),
    ("measured", "t2.llm_latency_ms", [600.0, 1000.0, 1500.0, 3000.0], "labour_value", +1),
    ("assumed", "loaded_hourly_rate_usd", [20.0, 50.0, 90.0], "labour_value", +1),
    ("measured", "serving.hourly_usd", [0.1, 0.5, 2.0], "net_annual_benefit", -1),
    ("assumed", "rework_share", [0.1, 0.5, 1.0], "rework_cost", +1),
    ("assumed", "annual_upkeep_usd", [0.0, 12000.0, 30000.0], "net_annual_benefit", -1),
    ("assumed", "engagement_fee_usd", [10000.0, 40000.0, 80000.0], "payback_months", +1),
    ("assumed", "ramp_months", [1.0, 3.0, 9.0], "payback_months", +1),
    ("assumed", "discount_rate", [0.0, 0.08, 0.2], "npv", -1),
])
def test_figures_move_the_right_way(where, name, values, figure, direction):
    got = [val(run(**({"measured": {name: v}} if where == "measured" else {name: v})).tier3[figure]) for v in values]
    assert all(direction * (b - a) > 0 for a, b in zip(got, got[1:])), got


def test_a_higher_llm_price_saves_proportionally_more():
    # the same calls at twice the price: twice the spend avoided, and the rest of the money unchanged
    base, dear = run(), run(measured={"t1.llm_cost_usd": 12.0, "t2.llm_cost_usd": 18.0})
    assert val(dear.tier3["llm_spend_avoided"]) == pytest.approx(2 * val(base.tier3["llm_spend_avoided"]))
    for k in ("slm_serving", "labour_value", "rework_cost", "upkeep", "one_off"):
        assert val(dear.tier3[k]) == pytest.approx(val(base.tier3[k])), k
    assert val(dear.tier1["t1"]["cost_per_call_before"]) == pytest.approx(
        2 * val(base.tier1["t1"]["cost_per_call_before"]))


def test_payback_month_is_where_the_cumulative_cash_turns_positive():
    res = run()
    cum, net, months = res.cash["cumulative"], res.cash["net"], res.cash["months"]
    p = val(res.tier3["payback_months"])
    assert 0 < p < len(months)
    m = math.floor(p)  # cumulative after m whole months is still negative; during month m + 1 it reaches 0
    assert (cum[:m] < 0).all() and cum[m] >= 0
    assert (cum[m - 1] if m else -val(res.tier3["one_off"])) + (p - m) * net[m] == pytest.approx(0.0, abs=1e-6)
    # after the ramp, a month earns a twelfth of the yearly net (all calls on the specialists)
    ramp = int(ASSUMED["ramp_months"])
    assert res.cash["adoption"][ramp - 1] == 1.0 and (np.diff(net[:ramp]) > 0).all()
    assert net[ramp:] == pytest.approx(np.full(len(net) - ramp, val(res.tier3["net_annual_benefit"]) / 12))
    # over the horizon: ROI % and the undiscounted NPV are the cumulative cash at its end
    h = 36
    assert val(res.tier3["net_over_horizon"]) == pytest.approx(cum[h - 1])
    assert val(res.tier3["roi_pct"]) == pytest.approx(cum[h - 1] / val(res.tier3["one_off"]) * 100)
    assert val(run(discount_rate=0.0).tier3["npv"]) == pytest.approx(cum[h - 1])
    # a longer ramp delays the money, not the yearly figure at full adoption
    slow = run(ramp_months=9.0)
    assert val(slow.tier3["payback_months"]) > p
    assert val(slow.tier3["net_annual_benefit"]) == pytest.approx(val(res.tier3["net_annual_benefit"]))


@pytest.mark.parametrize("doubled", ["logged_share_of_traffic", "logs.days"])
def test_logs_twice_as_complete_halve_the_production_estimates(doubled):
    """The same logs standing for twice the share of traffic (or twice the days) mean half the production volume."""
    base = run()
    if doubled in ASSUMED:
        half = run(**{doubled: 2 * ASSUMED[doubled]})
    else:
        half = run(measured={doubled: 2 * MEASURED[doubled]})
    for tier, k in [("tier2", "cases_per_month"), ("tier2", "calls_in_scope_per_month"),
                    ("tier2", "slm_answers_per_month"), ("tier2", "hours_saved_per_month"),
                    ("tier2", "rework_hours_per_month"), ("tier3", "llm_spend_before"),
                    ("tier3", "llm_spend_avoided"), ("tier3", "labour_value"), ("tier3", "rework_cost")]:
        assert val(getattr(half, tier)[k]) == pytest.approx(val(getattr(base, tier)[k]) / 2), k
    for tid in ("t1", "t2"):
        assert val(half.tier1[tid]["calls_per_month"]) == pytest.approx(val(base.tier1[tid]["calls_per_month"]) / 2)
    # what is per call or per case does not depend on how much traffic the logs saw
    for k in ("offload_share", "cost_per_call_before", "latency_after_ms", "cost_per_success_before"):
        assert val(half.tier1["t2"][k]) == pytest.approx(val(base.tier1["t2"][k])), k
    for k in ("escalation_rate", "rework_rate", "person_seconds_saved_per_case", "handling_time_saved_share"):
        assert val(half.tier2[k]) == pytest.approx(val(base.tier2[k])), k


@pytest.mark.parametrize("traffic", [1.0, 30.0, 300.0])
def test_serving_covers_the_busiest_hour_with_whole_instances(traffic):
    res = run(logged_share_of_traffic=ASSUMED["logged_share_of_traffic"] / traffic)  # 30x, 300x: several a task
    u = ASSUMED["target_utilisation"]
    for tid, row in res.tier1.items():
        calls_per_hour = val(row["calls_per_month"]) * 12 / (365.25 * 24)
        busiest = calls_per_hour * MEASURED["logs.peak_factor"]
        per_instance = MEASURED[f"{tid}.throughput"] * 3600 * u  # an instance's calls an hour at the target
        n = val(row["instances"])
        assert n == int(n) >= ASSUMED["min_instances_per_task"]
        assert n * per_instance >= busiest and (n == 1 or (n - 1) * per_instance < busiest)
        assert val(row["headroom"]) >= 1 / u and val(row["utilisation"]) <= u / MEASURED["logs.peak_factor"]
    assert traffic == 1.0 or min(val(r["instances"]) for r in res.tier1.values()) > 1


def test_offload_never_exceeds_what_the_quality_target_allows():
    # t2 agrees with the LLM 85% of the time: at a 90% target at most 85/90 of its calls can be kept
    res = run(routing_offload_share=0.95)
    for tid, row in res.tier1.items():
        q = MEASURED[f"{tid}.quality"]
        assert val(row["offload_share"]) <= min(0.95, q / 0.9) + 1e-12
        assert val(row["offload_share"]) * 0.9 <= q + 1e-12  # kept answers at the target fit inside the agreement
    assert val(res.tier1["t2"]["offload_share"]) < val(res.tier1["t1"]["offload_share"]) <= 0.95


def test_each_extra_task_adds_its_one_off_and_is_assumed_like_the_measured():
    measured = {"t3.calls": 1000.0, "t3.llm_cost_usd": 2.0, "t3.llm_latency_ms": 700.0, "t3.volume_share": 0.05}
    base, more = run(), run(extra=("t3",), measured=measured)
    # its fee, and its fine-tuning: as long as the measured tasks' mean (half an hour and 1.5 hours: one hour)
    extra_training = (MEASURED["t1.training_seconds"] + MEASURED["t2.training_seconds"]) / 2 / 3600
    assert val(more.tier3["one_off"]) - val(base.tier3["one_off"]) == pytest.approx(
        ASSUMED["additional_task_usd"] + extra_training * ASSUMED["training_hourly_usd"])
    assert val(more.tier1["t3"]["quality"]) == pytest.approx((MEASURED["t1.quality"] + MEASURED["t2.quality"]) / 2)
    assert val(more.tier3["llm_spend_avoided"]) > val(base.tier3["llm_spend_avoided"])


def test_samples_give_the_same_figures_as_single_runs():
    rates = np.array([20.0, 50.0, 90.0])
    many = run(loaded_hourly_rate_usd=rates, ramp_months=np.array([1.0, 3.0, 6.0]))
    for i, (rate, ramp) in enumerate(zip(rates, [1.0, 3.0, 6.0])):
        one = run(loaded_hourly_rate_usd=float(rate), ramp_months=ramp)
        for k in ("labour_value", "net_annual_benefit", "payback_months", "npv", "roi_pct"):
            assert np.asarray(many.tier3[k].value)[i] == pytest.approx(val(one.tier3[k])), k


def test_one_case_from_first_principles():
    """Logs of exactly one average month (365.25 / 12 = 30.4375 days) of all traffic: 100,000 calls for $1,000,
    one cent a call. The specialist answers half of them: 50,000 x $0.01 = $500 a month, $6,000 a year, not spent.
    Its one instance at $0.10 an hour runs around the clock, 365.25 x 24 = 8,766 hours a year: $876.60. Nobody's
    time is counted (no waiting on the critical path, no rework), no upkeep, no training: $5,123.40 a year net.
    With no ramp the $10,000 fee is back after 10,000 / (5,123.40 / 12) = 23.42 months; after three years the
    cash is 3 x 5,123.40 - 10,000 = $5,370.20 up."""
    measured = {"logs.days": 30.4375, "logs.known_cost_usd": 1000.0, "logs.peak_factor": 1.0,
                "serving.hourly_usd": 0.10, "t1.calls": 100000.0, "t1.llm_cost_usd": 1000.0,
                "t1.throughput": 10.0, "t1.training_seconds": 0.0}
    res = run(tasks=("t1",), measured=measured, logged_share_of_traffic=1.0, routing_offload_share=0.5,
              critical_path_share=0.0, rework_share=0.0, annual_upkeep_usd=0.0, engagement_fee_usd=10000.0,
              integration_usd=0.0, ramp_months=1.0, discount_rate=0.0)
    t3 = res.tier3
    assert val(res.tier1["t1"]["calls_per_month"]) == pytest.approx(100000)
    assert val(res.tier1["t1"]["instances"]) == 1
    assert val(t3["llm_spend_avoided"]) == pytest.approx(6000.0)
    assert val(t3["slm_serving"]) == pytest.approx(876.60)
    assert val(t3["labour_value"]) == 0.0 and val(t3["rework_cost"]) == 0.0
    assert val(t3["net_annual_benefit"]) == pytest.approx(5123.40)
    assert val(t3["one_off"]) == pytest.approx(10000.0)
    assert val(t3["payback_months"]) == pytest.approx(23.42, abs=0.005)
    assert val(t3["npv"]) == pytest.approx(5370.20)


def fixed(unit, v, source="test"):
    return {"unit": unit, "value": v, "source": source}


def test_values_carry_their_lineage(tmp_path):
    """Measured through gather() from a synthetic engagement: each figure names the measurements it used."""
    assumed = {k: fixed(u, ASSUMED[k]) for k, u in [
        ("logged_share_of_traffic", "share"), ("routing_offload_share", "share"), ("routing_quality_target", "share"),
        ("latency_under_load_factor", "factor"), ("target_utilisation", "share"), ("min_instances_per_task", "count"),
        ("loaded_hourly_rate_usd", "usd_per_hour"), ("handling_minutes_per_case", "minutes"),
        ("critical_path_share", "share"), ("rework_share", "share"), ("rework_minutes", "minutes"),
        ("ramp_months", "months"), ("engagement_fee_usd", "usd"), ("integration_usd", "usd"),
        ("training_hourly_usd", "usd_per_hour"), ("retrains_per_year", "count"), ("annual_upkeep_usd", "usd"),
        ("additional_task_usd", "usd"), ("discount_rate", "rate_per_year")]}
    eng = write_engagement(tmp_path / "lineage", evaluated=("t001",), roi={"assumptions": assumed})
    settings = parse_roi_settings(eng.config.roi)
    ev = gather(eng)
    inp = model_inputs({k: v.as_dict() for k, v in ev.measurements.items()}, ev.tasks, horizon_years=3)
    res = evaluate(inp, assumption_values(settings.assumptions))
    assert res.tier1["t001"]["quality"].inputs == {"t001.quality"}
    assert res.tier1["t001"]["latency_before_ms"].inputs == {"t001.llm_latency_ms"}
    assert "routing_offload_share" in res.tier3["llm_spend_avoided"].inputs
    assert "t001.slm_latency_ms" not in res.tier3["llm_spend_avoided"].inputs
    assert {"discount_rate", "engagement_fee_usd"} <= res.tier3["npv"].inputs
    assert (Tracked(2.0, {"a"}) * Tracked(3.0, {"b"}) + 1).inputs == {"a", "b"}
