"""ROI arithmetic against hand-computed cases: payback, NPV, ROI %, the adoption ramp, and the three tiers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from roi_synthetic import write_engagement

from fde_toolkit.roi.assumptions import parse_roi_settings
from fde_toolkit.roi.lineage import Tracked
from fde_toolkit.roi.measurements import gather
from fde_toolkit.roi.model import (DAYS_PER_MONTH, HOURS_PER_MONTH, adoption, assumption_values, evaluate, financials,
                                   model_inputs)


def test_payback_npv_roi_with_flat_cash_flow():
    out = financials(np.full(36, 1000.0), 5000.0, 0.0, 36)
    assert out["payback_months"] == pytest.approx(5.0)
    assert out["npv"] == pytest.approx(36 * 1000 - 5000)
    assert out["roi_pct"] == pytest.approx((36_000 - 5000) / 5000 * 100)  # 620%


def test_npv_discounts_month_m_by_rate_to_the_m_over_12():
    out = financials(np.full(36, 1000.0), 5000.0, 0.10, 36)
    hand = -5000 + sum(1000 / 1.1 ** (m / 12) for m in range(1, 37))
    assert out["npv"] == pytest.approx(hand)
    assert out["payback_months"] == pytest.approx(5.0)  # payback is undiscounted


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


def fixed(unit, v, source="test"):
    return {"unit": unit, "value": v, "source": source}


HAND = {  # every assumption fixed, so the figures below follow by hand
    "logged_share_of_traffic": fixed("share", 0.001), "routing_offload_share": fixed("share", 0.8),
    "routing_quality_target": fixed("share", 0.9), "latency_under_load_factor": fixed("factor", 1.0),
    "target_utilisation": fixed("share", 0.5), "min_instances_per_task": fixed("count", 1),
    "loaded_hourly_rate_usd": fixed("usd_per_hour", 60), "handling_minutes_per_case": fixed("minutes", 10),
    "critical_path_share": fixed("share", 0.5), "rework_share": fixed("share", 0.0), "rework_minutes": fixed("minutes", 2),
    "ramp_months": fixed("months", 1), "engagement_fee_usd": fixed("usd", 40000), "integration_usd": fixed("usd", 20000),
    "training_hourly_usd": fixed("usd_per_hour", 2.0), "retrains_per_year": fixed("count", 4),
    "annual_upkeep_usd": fixed("usd", 12000), "additional_task_usd": fixed("usd", 8000),
    "discount_rate": fixed("rate_per_year", 0.0),
}


@pytest.fixture
def hand_case(tmp_path):
    eng = write_engagement(tmp_path / "hand", evaluated=("t001",), roi={"assumptions": HAND})
    settings = parse_roi_settings(eng.config.roi)
    ev = gather(eng)
    inp = model_inputs({k: v.as_dict() for k, v in ev.measurements.items()}, ev.tasks, horizon_years=3)
    return inp, settings, evaluate(inp, assumption_values(settings.assumptions))


def test_three_tiers_by_hand(hand_case):
    _, _, res = hand_case
    k = DAYS_PER_MONTH / 30 / 0.001  # production months per logged 30 days, logs a 1-in-1,000 sample
    calls = 6000 * k  # t001: 6,000 logged calls, $6.00 of logged cost, LLM p50 400 ms
    offload = min(0.8, 0.9 / 0.9)  # the assumption, under the cap agreement / target
    t1 = res.tier1["t001"]
    assert t1["offload_share"].value == pytest.approx(0.8)
    assert t1["calls_per_month"].value == pytest.approx(calls)
    assert t1["cost_per_call_before"].value == pytest.approx(6.0 / 6000)
    assert t1["latency_after_ms"].value == pytest.approx(100.0)
    # serving: 10 answers/s at 50% target utilisation = 18,000 an hour; the flat busiest hour needs one instance
    assert t1["instances"].value == 1
    serving_y = 1 * HOURS_PER_MONTH * 0.10 * 12
    assert res.tier3["slm_serving"].value == pytest.approx(serving_y)
    avoided_y = 6.0 * k * offload * 12
    assert res.tier3["llm_spend_avoided"].value == pytest.approx(avoided_y)
    assert res.tier3["llm_spend_before"].value == pytest.approx(40.0 * k * 12)
    # waiting saved per call: kept answers save 400 - 100 ms, escalated ones add the specialist's 100 ms
    wait_s = offload * 0.3 - (1 - offload) * 0.1
    hours = calls * wait_s * 0.5 / 3600
    assert res.tier2["hours_saved_per_month"].value == pytest.approx(hours)
    assert res.tier3["labour_value"].value == pytest.approx(hours * 60 * 12)
    assert res.tier3["rework_cost"].value == pytest.approx(0.0)
    finetune = 3600 / 3600 * 2.0  # one hour of training at $2/h
    assert res.tier3["upkeep"].value == pytest.approx(12000 + 4 * finetune)
    net_y = avoided_y - serving_y + hours * 60 * 12 - (12000 + 4 * finetune)
    assert res.tier3["net_annual_benefit"].value == pytest.approx(net_y)
    one_off = 40000 + 20000 + finetune
    assert res.tier3["one_off"].value == pytest.approx(one_off)
    # no ramp and no discounting: payback = one-off / monthly net; NPV = 36 months of net - one-off
    assert res.tier3["payback_months"].value == pytest.approx(one_off / (net_y / 12))
    assert res.tier3["npv"].value == pytest.approx(3 * net_y - one_off)
    assert res.tier3["roi_pct"].value == pytest.approx((3 * net_y - one_off) / one_off * 100)
    assert res.tier2["escalation_rate"].value == pytest.approx(0.2)
    assert res.tier2["cases_per_month"].value == pytest.approx(10000 * k)


def test_ramp_delays_payback_by_hand(hand_case):
    inp, settings, res = hand_case
    ramped = evaluate(inp, assumption_values(settings.assumptions, overrides={"ramp_months": 3.0}))
    t3 = res.tier3
    variable = (t3["llm_spend_avoided"].value + t3["labour_value"].value) / 12
    fixed_m = (t3["slm_serving"].value + t3["upkeep"].value) / 12
    cum, month = -t3["one_off"].value, 0
    while True:
        month += 1
        net = min(1.0, month / 3) * variable - fixed_m
        if cum + net >= 0:
            hand = month - 1 + (-cum) / net
            break
        cum += net
    assert ramped.tier3["payback_months"].value == pytest.approx(hand)
    assert ramped.tier3["payback_months"].value > t3["payback_months"].value
    assert ramped.tier3["net_annual_benefit"].value == pytest.approx(t3["net_annual_benefit"].value)


def test_offload_is_capped_by_agreement_over_the_quality_target(hand_case):
    inp, settings, _ = hand_case
    res = evaluate(inp, assumption_values(settings.assumptions, overrides={"routing_quality_target": 0.99,
                                                                           "routing_offload_share": 0.95}))
    assert res.tier1["t001"]["offload_share"].value == pytest.approx(0.9 / 0.99)


def test_values_carry_their_lineage(hand_case):
    _, _, res = hand_case
    assert res.tier1["t001"]["quality"].inputs == {"t001.quality"}
    assert res.tier1["t001"]["latency_before_ms"].inputs == {"t001.llm_latency_ms"}
    assert "routing_offload_share" in res.tier3["llm_spend_avoided"].inputs
    assert "t001.slm_latency_ms" not in res.tier3["llm_spend_avoided"].inputs
    assert {"discount_rate", "engagement_fee_usd"} <= res.tier3["npv"].inputs
    assert (Tracked(2.0, {"a"}) * Tracked(3.0, {"b"}) + 1).inputs == {"a", "b"}
