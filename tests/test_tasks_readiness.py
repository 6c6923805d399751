"""SLM readiness: scores in [0, 1] with reasons that say what helps and what hurts."""

from __future__ import annotations

from fde_toolkit.tasks.readiness import TaskFacts, readiness


def test_a_label_task_scores_high_with_its_reasons() -> None:
    r = readiness(TaskFacts(calls=7340, volume_share=0.37, kind="label", similarity=0.70, median_output_tokens=3,
                            determinism=0.98, error_rate=0.01, n_labels=14))
    assert r["score"] > 0.9
    assert "+ structured output: labels (14 distinct)" in r["reasons"]
    assert any(x.startswith("+ deterministic: 98%") for x in r["reasons"])
    assert any(x.startswith("+ 7,340 calls") for x in r["reasons"])
    assert set(r["factors"]) == {"volume", "narrow_input", "structured_output", "short_output", "determinism", "errors"}


def test_open_ended_reasoning_scores_low() -> None:
    r = readiness(TaskFacts(calls=2300, volume_share=0.11, kind="long_text", similarity=0.45, median_output_tokens=410,
                            determinism=None, error_rate=0.02))
    assert r["score"] < 0.5
    assert any(x.startswith("- long open-ended outputs (median 410 tokens)") for x in r["reasons"])
    assert "- unstructured output: long free text" in r["reasons"]
    assert "~ determinism not measurable: too few repeated requests" in r["reasons"]


def test_each_factor_moves_the_score() -> None:
    base = dict(calls=5000, volume_share=0.2, kind="json", similarity=0.6, median_output_tokens=60, determinism=0.9,
                error_rate=0.0)
    s0 = readiness(TaskFacts(**base))["score"]
    for change in ({"calls": 20}, {"similarity": 0.2}, {"kind": "short_text"}, {"median_output_tokens": 900},
                   {"determinism": 0.3}, {"error_rate": 0.2}):
        r = readiness(TaskFacts(**{**base, **change}))
        assert r["score"] < s0, change
        assert 0.0 <= r["score"] <= 1.0
    few = readiness(TaskFacts(**{**base, "calls": 20}))
    assert any(x.startswith("- only 20 calls") for x in few["reasons"])
    noisy = readiness(TaskFacts(**{**base, "error_rate": 0.2}))
    assert "- high error rate 20.0%" in noisy["reasons"]
