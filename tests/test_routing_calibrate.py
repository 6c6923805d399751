"""Escalation thresholds on hand-made score tables whose right answer is known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import binom
from sklearn.metrics import roc_auc_score

from fde_toolkit import FdeError
from fde_toolkit.routing.calibrate import (Threshold, auroc, calibrate_threshold, calls_needed, choose_signal,
                                           clopper_pearson_interval, clopper_pearson_lower, coverage_curve,
                                           evaluate_policy)


def lower_by_binomial_tail(k: int, n: int, confidence: float = 0.95) -> float:
    """The Clopper-Pearson lower bound from its definition: the p at which P(X >= k | n, p) = 1 - confidence."""
    if k == 0:
        return 0.0
    return brentq(lambda p: binom.sf(k - 1, n, p) - (1 - confidence), 1e-12, 1 - 1e-12, xtol=1e-14)


def test_lower_bound_closed_form_when_all_are_right_and_binomial_tail_otherwise():
    for n in (1, 9, 64, 149):
        assert clopper_pearson_lower(n, n) == pytest.approx(0.05 ** (1 / n), abs=1e-12)
    assert clopper_pearson_lower(9, 9, confidence=0.9) == pytest.approx(0.1 ** (1 / 9), abs=1e-12)
    for k, n in ((19, 20), (147, 150), (3, 10), (1, 2)):
        assert clopper_pearson_lower(k, n) == pytest.approx(lower_by_binomial_tail(k, n), abs=1e-9)
    assert clopper_pearson_lower(0, 10) == 0.0
    assert clopper_pearson_lower(0, 0) == 0.0


def test_two_sided_interval_at_the_edges_and_inside():
    assert clopper_pearson_interval(10, 10) == pytest.approx((0.025 ** (1 / 10), 1.0))
    assert clopper_pearson_interval(0, 10) == pytest.approx((0.0, 1 - 0.025 ** (1 / 10)))
    assert clopper_pearson_interval(0, 0) == (0.0, 1.0)
    lo, hi = clopper_pearson_interval(7, 20)
    assert lo == pytest.approx(lower_by_binomial_tail(7, 20, 0.975), abs=1e-9)
    # the upper end from its definition: the p at which P(X <= k | n, p) = 0.025
    assert hi == pytest.approx(brentq(lambda p: binom.cdf(7, 20, p) - 0.025, 1e-9, 1 - 1e-9, xtol=1e-14), abs=1e-9)


def test_calls_needed_is_the_smallest_n_that_can_show_the_target():
    # (1 - 0.95) ** (1 / n) >= 0.98  <=>  n >= ln 0.05 / ln 0.98 = 148.3
    assert calls_needed(0.98) == 149
    assert 0.05 ** (1 / 149) >= 0.98 > 0.05 ** (1 / 148)
    assert calls_needed(0.7) == 9  # ln 0.05 / ln 0.7 = 8.4


def test_threshold_keeps_the_top_nine_where_nine_of_nine_is_the_first_prefix_that_shows_0_7():
    # 12 calls, most confident first: 9 right, 1 wrong, 2 right. 9/9 -> 0.05**(1/9) = 0.717 >= 0.7, while
    # 9/10, 10/11 and 11/12 stay below 0.7 (0.606, 0.636, 0.661 by the binomial tail), so the threshold is
    # the 9th score and the three calls below it escalate.
    scores = np.arange(12, 0, -1) / 10.0
    correct = np.array([True] * 9 + [False, True, True])
    for k, n in ((9, 10), (10, 11), (11, 12)):
        assert lower_by_binomial_tail(k, n) < 0.7
    th = calibrate_threshold(scores, correct, target=0.7)
    assert th == Threshold(True, pytest.approx(0.4), 9, 12, 9, pytest.approx(0.05 ** (1 / 9)), "")
    assert th.offload_share == pytest.approx(9 / 12)


def test_the_bound_is_not_monotone_and_the_lowest_passing_threshold_wins():
    # The most confident call is wrong: 0/1 bound 0, then it recovers as right answers follow. Brute force
    # over every prefix with the binomial-tail bound gives the expected threshold.
    scores = np.linspace(1.0, 0.05, 20)
    correct = np.array([False] + [True] * 17 + [False, False])
    target = 0.7
    bounds = [lower_by_binomial_tail(int(correct[:m].sum()), m) for m in range(1, 21)]
    passing = [m for m, b in zip(range(1, 21), bounds) if b >= target]
    assert bounds[0] == 0.0 and passing and passing[0] > 1
    m = max(passing)
    th = calibrate_threshold(scores, correct, target)
    assert th.feasible and th.kept == m and th.threshold == pytest.approx(scores[m - 1])
    assert th.lower_bound == pytest.approx(bounds[m - 1], abs=1e-9)


def test_tied_scores_are_kept_or_escalated_together():
    # The top two tie; one of them is wrong, so no threshold can keep the right one alone.
    scores = [0.9, 0.9, 0.5]
    correct = [True, False, True]
    th = calibrate_threshold(scores, correct, target=0.01)
    assert th.feasible and th.threshold == 0.5 and th.kept == 3
    # 1 of 2 right shows 1 - sqrt(0.95) = 0.0253
    assert calibrate_threshold([0.9, 0.9], [True, False], target=0.02).kept == 2
    assert not calibrate_threshold([0.9, 0.9], [True, False], target=0.03).feasible


def test_forced_calls_are_never_kept_and_do_not_spoil_the_bound():
    # Without the validator, the wrong most-confident call sinks every prefix below 0.7 except the full table;
    # forced to the LLM it is out of the count, and 9 of 9 holds 0.7.
    scores = np.arange(10, 0, -1, dtype=float)
    correct = np.array([False] + [True] * 9)
    forced = np.array([True] + [False] * 9)
    th = calibrate_threshold(scores, correct, 0.7, forced=forced)
    assert th.feasible and th.kept == 9 and th.kept_correct == 9 and th.n == 10 and th.threshold == 1.0
    assert not calibrate_threshold(scores, correct, 0.7).feasible  # 9/10 -> 0.606
    everything_forced = calibrate_threshold(scores, correct, 0.7, forced=np.ones(10, bool))
    assert not everything_forced.feasible and everything_forced.kept == 0
    assert "all 10 validation calls fail a validator" in everything_forced.reason


def test_too_few_validation_calls_is_infeasible_and_says_how_many_are_needed():
    th = calibrate_threshold(np.linspace(1, 0, 64), np.ones(64, bool), target=0.98)
    assert not th.feasible and th.threshold is None and th.kept == 0 and th.n == 64
    # 0.05 ** (1 / 64) = 0.954
    assert th.reason == ("no threshold keeps calls whose 95% lower bound reaches 0.98: the best is 0.954 on 64 calls "
                         "(64 right); 64 validation calls cannot show 0.98 even when all are right (needs >= 149) "
                         "— raise finetune.dataset.val_fraction and max_val")


def test_a_specialist_wrong_too_often_is_infeasible_with_another_reason():
    correct = np.arange(400) % 5 != 0  # 80% right, at every confidence
    th = calibrate_threshold(np.linspace(1, 0, 400), correct, target=0.98)
    assert not th.feasible
    assert "wrong too often for 0.98" in th.reason and "lower routing.target" in th.reason
    assert "max_val" not in th.reason


def test_no_calls_nan_scores_and_targets_outside_zero_one():
    empty = calibrate_threshold([], [], 0.9)
    assert not empty.feasible and empty.n == 0 and "no validation calls" in empty.reason
    nan = calibrate_threshold([math.nan, math.nan], [True, True], 0.5)
    assert not nan.feasible and "NaN" in nan.reason
    # NaN is the lowest confidence: a wrong NaN call never lowers the bound, a right one is never kept
    th = calibrate_threshold([0.9, 0.8, math.nan, math.nan], [True, True, False, True], target=0.2)
    assert th.feasible and th.kept == 2 and th.threshold == 0.8
    for bad in (0, 1, 98, -0.5):
        with pytest.raises(FdeError, match="between 0 and 1"):
            calibrate_threshold([0.5], [True], bad)
    with pytest.raises(ValueError, match="per call"):
        calibrate_threshold([0.5, 0.4], [True], 0.5)


def test_evaluate_policy_counts_and_system_quality_by_hand():
    scores = [0.95, 0.9, 0.85, 0.8, 0.6, 0.55, 0.3, 0.2, math.nan, 0.99]
    correct = [True, True, False, True, True, True, False, True, True, False]
    reasons = [""] * 9 + ["unknown_label"]
    forced = [False] * 9 + [True]
    r = evaluate_policy(scores, correct, 0.5, forced=forced, reasons=reasons)
    # kept: 0.95 0.9 0.85 0.8 0.6 0.55 -> 6 calls, 5 right; escalated: 0.3, 0.2, NaN (low), 0.99 (forced)
    assert r["n"] == 10 and r["kept"] == 6 and r["kept_correct"] == 5
    assert r["offload_share"] == pytest.approx(0.6)
    assert r["kept_quality"]["value"] == pytest.approx(5 / 6)
    assert (r["kept_quality"]["low"], r["kept_quality"]["high"]) == pytest.approx(clopper_pearson_interval(5, 6))
    assert r["system_quality"] == pytest.approx((5 + 4) / 10)
    assert r["escalation_reasons"] == {"low_confidence": 3, "unknown_label": 1}
    # reasons alone force their calls; a Threshold works as well as its number; None keeps nothing
    assert evaluate_policy(scores, correct, 0.5, reasons=reasons) == r
    th = Threshold(True, 0.5, 6, 10, 5, 0.4, "")
    assert evaluate_policy(scores, correct, th, forced=forced, reasons=reasons) == r
    none = evaluate_policy(scores, correct, None)
    assert none["kept"] == 0 and none["system_quality"] == 1.0 and none["kept_quality"]["value"] is None
    assert none["escalation_reasons"] == {"low_confidence": 10}


def test_auroc_against_a_hand_count_and_sklearn():
    # positives 0.9, 0.7, 0.6; negatives 0.8, 0.6: pairs won 0.9>0.8, 0.9>0.6, 0.7>0.6, the tie 0.6=0.6 half
    scores = [0.9, 0.8, 0.7, 0.6, 0.6]
    correct = [True, False, True, False, True]
    assert auroc(scores, correct) == pytest.approx(3.5 / 6)
    assert auroc(scores, correct) == pytest.approx(roc_auc_score(correct, scores))
    assert auroc([0.1, 0.9], [True, True]) is None and auroc([0.1, 0.9], [False, False]) is None
    assert auroc([math.nan, 0.5], [False, True]) == 1.0  # NaN ranks lowest


def test_choose_signal_picks_the_signal_that_separates_right_from_wrong():
    rng = np.random.default_rng(0)
    correct = rng.random(300) < 0.9
    separating = np.where(correct, 0.6, 0.1) + rng.random(300) * 0.3
    noise = rng.random(300)
    pick = choose_signal({"noise": noise, "margin": separating}, correct, target=0.98)
    assert pick.name == "margin" and pick.threshold.feasible
    assert pick.threshold == calibrate_threshold(separating, correct, 0.98)
    assert [row["signal"] for row in pick.table] == ["noise", "margin"]
    assert pick.table[1]["auroc"] == 1.0 and pick.table[0]["auroc"] < 0.65
    # 258 right answers above every wrong one: 258/259 shows 0.9818 >= 0.98, 258/260 only 0.9760, so the
    # threshold keeps the right ones and the most confident wrong one
    assert correct.sum() == 258 and pick.threshold.kept == 259 and pick.threshold.kept_correct == 258
    assert pick.table[1]["offload"] == pytest.approx(259 / 300) and pick.table[1]["feasible"]
    assert not pick.table[0]["feasible"] and pick.table[0]["threshold"] is None
    # every answer right: no AUROC; the signal keeping more calls wins
    all_right = np.ones(300, bool)
    pick = choose_signal({"a": np.r_[np.ones(200), np.full(100, np.nan)], "b": np.ones(300)}, all_right, target=0.95)
    assert pick.name == "b" and pick.threshold.kept == 300


def test_coverage_curve_rows_go_from_most_confident_to_everything():
    scores = np.arange(100, 0, -1) / 100
    correct = np.arange(100) < 90  # the 10 least confident are wrong
    rows = coverage_curve(scores, correct, points=10)
    assert len(rows) == 10
    assert rows[0]["threshold"] == 1.0 and rows[0]["offload_share"] == 0.01
    assert rows[-1]["threshold"] == 0.01 and rows[-1]["offload_share"] == 1.0
    assert rows[-1]["kept_quality"] == pytest.approx(0.9)
    assert (rows[-1]["low"], rows[-1]["high"]) == pytest.approx(clopper_pearson_interval(90, 100))
    assert [r["offload_share"] for r in rows] == sorted(r["offload_share"] for r in rows)
    assert coverage_curve([], []) == []
    assert len(coverage_curve([0.5] * 30, [True] * 30)) == 1
