"""Intervals and the paired test against cases computed by hand (z = 1.96, z² = 3.8416)."""

from __future__ import annotations

import numpy as np
import pytest

from fde_toolkit.slm import metrics as M
from fde_toolkit.slm.stats import bootstrap_interval, mcnemar, paired, wilson_interval


def test_wilson_interval_by_hand():
    # 83/100: p = 0.83; denominator 1 + z²/n = 1.038416; centre (0.83 + 3.8416/200) / 1.038416 = 0.849208 / 1.038416
    # = 0.817792; half 1.96 * sqrt(0.83 * 0.17 / 100 + 3.8416 / 40000) / 1.038416
    # = 1.96 * sqrt(0.001411 + 0.00009604) / 1.038416 = 1.96 * 0.038821 / 1.038416 = 0.073274
    lo, hi = wilson_interval(83, 100)
    assert lo == pytest.approx(0.817792 - 0.073274, abs=1e-5) and hi == pytest.approx(0.817792 + 0.073274, abs=1e-5)
    # 0/10: denominator 1 + 0.38416 = 1.38416; centre 0.19208 / 1.38416 = 0.138770; half 1.96 * (1.96 / 20) / 1.38416
    # = 0.138770 too, so [0, 0.277540]: no negative bound, unlike the normal approximation's [0, 0]
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.277540), abs=1e-5)
    # 10/10 mirrors it: [1 - 0.277540, 1]
    assert wilson_interval(10, 10) == pytest.approx((0.722460, 1.0), abs=1e-5)
    # 20/24: p = 0.833333; denominator 1 + 3.8416/24 = 1.160067; centre (0.833333 + 0.080033) / 1.160067 = 0.787340;
    # half 1.96 * sqrt(0.138889 / 24 + 3.8416 / 2304) / 1.160067 = 1.96 * sqrt(0.0074544) / 1.160067 = 0.145875
    assert wilson_interval(20, 24) == pytest.approx((0.787340 - 0.145875, 0.787340 + 0.145875), abs=1e-5)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_mcnemar_exact_by_hand():
    # 10 examples only a gets right, 2 only b, 5 both: the 5 tell nothing. Among the 12 discordant ones,
    # P(X <= 2 | n=12, 1/2) = (C(12,0) + C(12,1) + C(12,2)) / 2^12 = (1 + 12 + 66) / 4096; two-sided: twice that
    a = [True] * 10 + [False] * 2 + [True] * 5
    b = [False] * 10 + [True] * 2 + [True] * 5
    r = mcnemar(a, b)
    assert r == {"n": 17, "a_only": 10, "b_only": 2, "p_value": pytest.approx(2 * 79 / 4096), "verdict": "better"}
    assert r["p_value"] == pytest.approx(0.03857, abs=1e-5)
    assert mcnemar(b, a)["verdict"] == "worse" and mcnemar(b, a)["p_value"] == pytest.approx(0.03857, abs=1e-5)
    assert mcnemar(a, b, alpha=0.01)["verdict"] == "not distinguishable"


def test_mcnemar_ties_and_no_discordant_example():
    # b = c = 5: P(X <= 5 | 10, 1/2) = 638/1024 > 1/2, so the two-sided p-value is capped at 1
    a = [True] * 5 + [False] * 5
    r = mcnemar(a, [not x for x in a])
    assert (r["a_only"], r["b_only"], r["p_value"], r["verdict"]) == (5, 5, 1.0, "not distinguishable")
    same = mcnemar([True, False, True], [True, False, True])
    assert same == {"n": 3, "a_only": 0, "b_only": 0, "p_value": 1.0, "verdict": "not distinguishable"}
    assert mcnemar([], [])["n"] == 0
    with pytest.raises(ValueError):
        mcnemar([True], [True, False])


def test_paired_keeps_the_ids_both_variants_answered():
    a = {"e1": True, "e2": False, "e3": True, "e4": True}
    b = {"e3": False, "e1": True, "e5": False}
    assert paired(a, b) == ([True, True], [True, False])  # e1, e3 in a's order
    assert mcnemar(*paired(a, b))["n"] == 2


def test_bootstrap_reproducible_and_around_the_estimate():
    rng = np.random.default_rng(1)
    values = rng.random(200)
    mean = lambda s: s.mean(axis=-1)  # noqa: E731
    one = bootstrap_interval(values, mean, seed=3, vectorised=True)
    assert one == bootstrap_interval(values, mean, seed=3, vectorised=True)
    assert one != bootstrap_interval(values, mean, seed=4, vectorised=True)
    assert one[0] < values.mean() < one[1]
    # a mean of 200 uniforms: standard error sqrt(1/12 / 200) = 0.0204, so the 95% interval is about ±0.04
    assert one[1] - one[0] == pytest.approx(2 * 1.96 * 0.0204, rel=0.2)
    # the same resamples whether the statistic takes one resample or a stack of them
    assert bootstrap_interval(values, np.mean, seed=3) == pytest.approx(one)
    assert bootstrap_interval(values, mean, seed=3, level=0.5, vectorised=True)[1] < one[1]
    assert bootstrap_interval([0.5] * 20, np.mean) == (0.5, 0.5)
    with pytest.raises(ValueError):
        bootstrap_interval([], np.mean)


def test_bootstrap_over_pairs_for_a_corpus_metric():
    refs = ["a", "a", "b", "c", "b", "a"] * 5
    preds = ["a", "b", "b", "b", "b", "a"] * 5
    pairs = list(zip(preds, refs))
    lo, hi = bootstrap_interval(pairs, lambda s: M.macro_f1(s[:, 0], s[:, 1]), n_boot=300)
    assert 0.0 <= lo < M.macro_f1(preds, refs) < hi <= 1.0


CASES = {
    "label": (["a", "b", "b", "c"] * 3, ["a", "a", "b", "c"] * 3),
    "json": (['{"a": 1, "b": 2}', '{"a": 2}', "no", '{"a": 1}'] * 3, ['{"b": 2, "a": 1}', '{"a": 1}', '{"a": 1}',
                                                                      '{"a": 1}'] * 3),
    "tool_call": (['{"name": "x", "arguments": {"q": 1}}', '{"name": "x", "arguments": {"q": 2}}', "no"] * 4,
                  ['{"name": "x", "arguments": {"q": 1}}'] * 12),
    "text": (["the claim is open", "the claim is shut", "zzz"] * 4, ["the claim is open", "the claim is closed",
                                                                     "policy renewed"] * 4),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_metric_intervals_cover_every_metric_of_score(kind):
    from fde_toolkit.slm.confidence import metric_intervals

    preds, refs = CASES[kind]
    m = M.score(kind, preds, refs)
    ci = metric_intervals(kind, preds, refs)
    assert set(ci) == set(m) - {"primary", "n"}
    for key, (lo, hi) in ci.items():
        assert lo <= m[key] <= hi, (key, lo, m[key], hi)
    ok = M.successes(kind, preds, refs)
    assert ci["agreement"] == pytest.approx(list(wilson_interval(sum(ok), len(ok))), abs=1e-6)
    assert metric_intervals(kind, preds, refs) == ci  # seeded
    assert set(metric_intervals(kind, [], [])) == set(ci)


def test_add_confidence_pairs_variants_by_record_id():
    from fde_toolkit.slm.confidence import add_confidence, comparison_lines, metric_text

    records = [{"id": f"r{i}", "target": "a"} for i in range(12)]
    preds = {"base": ["b"] * 12, "few_shot": ["a"] * 6 + ["b"] * 6, "fine_tuned": ["a"] * 11}  # one record short
    report = {"variants": {v: {"metrics": M.score("label", p, [r["target"] for r in records[: len(p)]])}
                           for v, p in preds.items()}}
    ok = {v: M.successes("label", p, [r["target"] for r in records]) for v, p in preds.items()}
    add_confidence(report, "label", records, preds, ok)
    ft = report["variants"]["fine_tuned"]["metrics"]
    assert ft["examples"] == 11
    assert ft["intervals"]["agreement"] == pytest.approx(list(wilson_interval(11, 11)), abs=1e-6)
    # fine-tuned vs base on the 11 shared ids: fine-tuned alone right on all 11 -> p = 2 / 2^11
    vs_base = report["comparisons"]["fine_tuned_vs_base"]
    assert (vs_base["n"], vs_base["a_only"], vs_base["b_only"], vs_base["verdict"]) == (11, 11, 0, "better")
    assert vs_base["p_value"] == pytest.approx(2 / 2 ** 11)
    # vs few-shot: fine-tuned alone right on r6..r10 (5); P(X = 0 | 5, 1/2) * 2 = 2/32 = 0.0625
    vs_few = report["comparisons"]["fine_tuned_vs_few_shot"]
    assert (vs_few["a_only"], vs_few["b_only"], vs_few["verdict"]) == (5, 0, "not distinguishable")
    assert vs_few["p_value"] == pytest.approx(0.0625)
    assert comparison_lines(report) == [
        "fine-tuned vs few-shot: not distinguishable (McNemar p=0.062, 11 paired calls)",
        "fine-tuned vs base zero-shot: better (McNemar p<0.001, 11 paired calls)"]
    assert metric_text(ft, "agreement") == "100.0% [74%, 100%]"
    assert metric_text(ft, "agreement", interval_digits=1) == "100.0% [74.1%, 100.0%]"
    assert metric_text({"agreement": 0.5}, "agreement") == "50.0%"  # a report from before intervals
    assert comparison_lines({"variants": {}}) == []
