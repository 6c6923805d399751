"""`fde roi` end to end on synthetic artifacts: roi.json, figures and their lineage, Monte Carlo, scenarios."""

from __future__ import annotations

import json

import pytest
from roi_synthetic import ROI_FIXED, eval_doc, write_engagement

from fde_toolkit.engagement import Engagement
from fde_toolkit.roi import (FIGURES, compute_roi, load_roi, render_roi, roi, roi_for_report, refinement_plan,
                             input_mix_drift)
from fde_toolkit.roi.assumptions import parse_roi_settings
from fde_toolkit.roi.measurements import gather
from fde_toolkit.roi.step import FIGURE_FILES
from fde_toolkit.roi.interactive import recompute

# a scale at which the specialists pay: the logs are a 1-in-200 sample
ROI = {"assumptions": {**ROI_FIXED, "logged_share_of_traffic": {"unit": "share", "value": 0.005, "source": "test"},
                       "rework_share": {"unit": "share", "low": 0.0, "likely": 0.02, "high": 0.1, "source": "test"}},
       "monte_carlo": {"samples": 500}}


def figures_of(eng) -> dict[str, str]:
    return {k: (eng.artifacts_dir / f).read_text(encoding="utf-8") for k, f in FIGURE_FILES.items()}


@pytest.fixture
def eng(tmp_path):
    return write_engagement(tmp_path / "acme", evaluated=("t001", "t002"), roi=ROI)


def test_roi_writes_json_and_figures_then_skips(eng):
    data = roi(eng).data
    assert data["status"] == "complete" and data["tasks"] == ["t001", "t002"]
    assert data["expanded_tasks"] == ["t003", "t004"] and data["next_tasks"] == ["t003", "t004"]
    on_disk = json.loads((eng.artifacts_dir / "roi.json").read_text())
    assert on_disk["tier3"]["net_annual_benefit"]["value"] == pytest.approx(
        data["tier3"]["net_annual_benefit"]["value"])
    for key in ("measurements", "assumptions", "tier1", "tier2", "tier3", "cash_flow", "scenarios", "uncertainty",
                "figures", "refinement_plan"):
        assert key in on_disk, key
    m = on_disk["measurements"]["t001.quality"]
    assert (m["artifact"], m["field"], m["unit"], m["value"]) == (
        "eval/t001.json", "variants.fine_tuned.metrics.agreement", "share", 0.9)
    assert on_disk["tier1"]["tasks"][0]["metrics"]["quality"]["measured"] == ["t001.quality"]
    assert set(figures_of(eng)) == set(FIGURES)
    assert "roi" in Engagement.load(eng.root).manifest.data["steps"]
    assert roi(Engagement.load(eng.root)).skipped
    assert load_roi(eng)["tier3"] == on_disk["tier3"]


def test_changed_measurement_changes_only_the_figures_that_depend_on_it(eng):
    data = roi(eng).data
    before = figures_of(eng)
    assert roi(eng, force=True) and figures_of(eng) == before  # deterministic
    cases = [("t001.slm_latency_ms", lambda d: d["variants"]["fine_tuned"]["latency_ms"].update(p50=300.0)),
             # 0.7 is below routing_offload_share x the quality target, so the offload cap moves too
             ("t001.quality", lambda d: d["variants"]["fine_tuned"]["metrics"].update(agreement=0.7))]
    for mid, change in cases:
        path = eng.artifacts_dir / "eval" / "t001.json"
        doc = json.loads(path.read_text())
        change(doc)
        path.write_text(json.dumps(doc))
        result = roi(Engagement.load(eng.root))
        data = result.data
        assert not result.skipped
        after = figures_of(eng)
        depends = {k for k, spec in data["figures"].items() if mid in spec["measured"]}
        changed = {k for k in before if after[k] != before[k]}
        assert changed == depends, mid  # in general changed <= depends: a cap or a whole instance can absorb a change
        before = after
    lat = {k for k, s in data["figures"].items() if "t001.slm_latency_ms" in s["measured"]}
    assert "tier1_quality" not in lat and "tier1_unit_cost" not in lat and "tier1_latency" in lat
    assert "tier1_latency" not in {k for k, s in data["figures"].items() if "t001.quality" in s["measured"]}


def test_monte_carlo_is_reproducible_for_a_seed(eng):
    ev, settings = gather(eng), parse_roi_settings(eng.config.roi)
    a = compute_roi(ev, settings, seed=11)["uncertainty"]["monte_carlo"]
    b = compute_roi(ev, settings, seed=11)["uncertainty"]["monte_carlo"]
    c = compute_roi(ev, settings, seed=12)["uncertainty"]["monte_carlo"]
    assert a == b
    assert a["net_annual_benefit"]["p50"] != c["net_annual_benefit"]["p50"]
    nb = a["net_annual_benefit"]
    assert nb["p10"] <= nb["p50"] <= nb["p90"] and sum(nb["histogram"]["counts"]) == 500
    assert a["seed"] == 11 and "loaded_hourly_rate_usd" in a["varied"] and "engagement_fee_usd" not in a["varied"]


def test_scenarios_conservative_is_not_above_as_measured(eng):
    data = roi(eng).data
    s = {x["name"]: x for x in data["scenarios"]}
    assert {"as_measured", "conservative", "expanded"} <= set(s)
    for k in ("net_annual_benefit", "npv"):
        assert s["conservative"]["tier3"][k] <= s["as_measured"]["tier3"][k]
    assert s["as_measured"]["tier3"]["net_annual_benefit"] == pytest.approx(
        data["tier3"]["net_annual_benefit"]["value"])
    assert s["expanded"]["tasks"] == ["t001", "t002", "t003", "t004"]
    assert s["expanded"]["assumed_like_measured"] == ["t003", "t004"]
    # each assumed task: additional_task_usd plus a fine-tune as long as the measured ones' mean
    finetune_each = s["as_measured"]["tier3"]["one_off_fine_tuning"] / 2
    assert s["expanded"]["tier3"]["one_off"] == pytest.approx(s["as_measured"]["tier3"]["one_off"]
                                                              + 2 * (8000 + finetune_each))
    rows = data["uncertainty"]["tornado"]
    assert rows == sorted(rows, key=lambda r: -r["swing"])
    assert s["conservative"]["assumptions"] == {r["assumption"]: r[r["unfavourable"]]
                                                for r in rows if r["unfavourable"]}


def test_measured_offload_and_latency_under_load_replace_assumptions(eng):
    """The ids a routing calibration and a hardening benchmark add replace their assumptions, per task."""
    ev, settings = gather(eng), parse_roi_settings(eng.config.roi)
    ev.add("t001.offload_share", 0.5, "share", "routing", "t001.offload_share", "share the specialist answers")
    ev.add("t001.kept_quality", 0.99, "share", "routing", "t001.kept_quality", "agreement of the kept answers")
    ev.add("t001.slm_latency_under_load_ms", 80.0, "ms", "hardening", "t001.p50", "p50 latency under load")
    data = compute_roi(ev, settings, seed=7)
    t1 = data["tier1"]["tasks"][0]["metrics"]
    assert t1["offload_share"]["value"] == 0.5 and t1["offload_share"]["measured"] == ["t001.offload_share"]
    assert t1["offload_share"]["assumed"] == []
    assert t1["latency_after_ms"]["value"] == 80.0 and t1["latency_after_ms"]["assumed"] == []
    assert data["assumptions"]["routing_offload_share"]["replaced_by_measurement_for"] == ["t001"]
    assert data["measurements"]["t001.offload_share"]["artifact"] == "routing"
    t2 = data["tier1"]["tasks"][1]["metrics"]  # t002 still assumed
    assert "routing_offload_share" in t2["offload_share"]["assumed"]


def test_without_an_evaluation_the_roi_says_what_it_needs(tmp_path):
    eng = write_engagement(tmp_path / "early", evaluated=(), roi=ROI)
    data = roi(eng).data
    assert data["status"] == "incomplete" and data["tier3"] == {}
    assert "fde evaluate" in data["needs"][0] and "t001" in data["needs"][0]
    assert set(figures_of(eng)) == set(FIGURES)  # placeholders, so slides and reports still find them
    text = render_roi(data)
    assert "not computed yet" in text and "fde evaluate" in text
    assert data["refinement_plan"]["next_tasks"][0]["task"] == "t001"


def test_report_entry_turns_errors_into_needs(tmp_path):
    eng = write_engagement(tmp_path / "noroi", roi={})
    data = roi_for_report(eng)
    assert data["status"] == "incomplete" and "roi.assumptions.engagement_fee_usd: missing" in data["needs"][0]


def test_render_and_what_if(eng):
    data = roi(eng).data
    text = render_roi(data)
    for part in ("Tier 1", "Tier 2", "Tier 3", "net annual benefit", "payback", "P10/P50/P90", "Scenarios",
                 "Biggest levers"):
        assert part in text, part
    same = recompute(data, {})
    assert same["net_annual_benefit"] == pytest.approx(data["tier3"]["net_annual_benefit"]["value"])
    more = recompute(data, {"loaded_hourly_rate_usd": 60.0})
    assert more["net_annual_benefit"] != same["net_annual_benefit"]
    from fde_toolkit.roi import what_if
    ui = what_if(data)
    assert len(ui.children) >= 3


def test_refinement_plan_and_drift(eng):
    plan = refinement_plan(roi(eng).data)
    assert [r["task"] for r in plan["next_tasks"]] == ["t003", "t004"]
    assert plan["next_tasks"][0]["in_expanded_scenario"]
    r = plan["retrain"][0]
    assert r["every_months"] == pytest.approx(3.0) and r["agreement_floor"] == pytest.approx(0.87)
    assert input_mix_drift({"a": 50, "b": 50}, {"a": 50, "b": 50}) == pytest.approx(0.0)
    assert input_mix_drift({"a": 90, "b": 10}, {"a": 50, "b": 50}) > 0.2


def test_eval_of_an_unknown_task_is_left_out_with_a_note(eng):
    (eng.artifacts_dir / "eval" / "t999.json").write_text(json.dumps(eval_doc("t999")))
    data = roi(eng).data
    assert "t999" not in data["tasks"] and any("t999" in n for n in data["notes"])


def test_paying_tasks_scenario_drops_tasks_that_cost_more_than_they_save(tmp_path):
    slow = eval_doc("t002", "json", agreement=0.9, latency_ms=4000.0)  # ten times slower than the LLM's 400 ms
    eng = write_engagement(tmp_path / "mixed", evaluated=("t001", "t002"), roi=ROI, evals={"t002": slow})
    data = roi(eng).data
    contrib = {r["task"]: r["metrics"]["net_contribution"]["value"] for r in data["tier1"]["tasks"]}
    assert contrib["t001"] > 0 > contrib["t002"]
    s = {x["name"]: x for x in data["scenarios"]}
    assert s["paying_tasks"]["tasks"] == ["t001"]
    assert s["paying_tasks"]["tier3"]["net_annual_benefit"] > s["as_measured"]["tier3"]["net_annual_benefit"]


def test_agreement_interval_is_measured_shown_and_in_the_quality_figure_lineage(tmp_path):
    from fde_toolkit.roi.figures import tier1_quality, tier1_table

    doc = eval_doc("t001", agreement=0.9)
    doc["variants"]["fine_tuned"]["metrics"]["intervals"] = {"agreement": [0.8256, 0.9448]}  # Wilson, 90/100
    eng = write_engagement(tmp_path / "ci", evaluated=("t001", "t002"), roi=ROI, evals={"t001": doc})
    data = roi(eng).data
    low = data["measurements"]["t001.quality_low"]
    assert low["value"] == 0.8256 and low["field"] == "variants.fine_tuned.metrics.intervals.agreement[0]"
    assert data["measurements"]["t001.quality_high"]["value"] == 0.9448
    assert "t002.quality_low" not in data["measurements"]  # evaluated before intervals: none made up
    assert {"t001.quality_low", "t001.quality_high"} <= set(data["figures"]["tier1_quality"]["measured"])
    assert "agreement 90.0% [83%, 94%]" in render_roi(data)
    assert "90.0% [83%, 94%]" in str(tier1_table(data))
    bars = tier1_quality(data).data[0].error_x
    assert bars.array is None  # t002 has no interval: no error bars rather than half of them
    only = write_engagement(tmp_path / "one", evaluated=("t001",), roi=ROI, evals={"t001": doc})
    bars = tier1_quality(roi(only).data).data[0].error_x
    assert list(bars.array) == pytest.approx([0.9448 - 0.9]) and list(bars.arrayminus) == pytest.approx([0.9 - 0.8256])
