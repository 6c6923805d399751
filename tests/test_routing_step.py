"""`fde route` on a toy engagement with a trained encoder specialist: the policy, the evidence, the ROI's inputs."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from slm_toy import hash_embedder, one_thread, save_toy_encoder, toy_engagement  # noqa: F401

from fde_toolkit import FdeError
from fde_toolkit.engagement import Engagement
from fde_toolkit.routing.calibrate import clopper_pearson_lower
from fde_toolkit.routing.step import route
from fde_toolkit.slm import build_dataset
from fde_toolkit.slm.evaluation import evaluate
from fde_toolkit.slm.tuning import finetune

pytestmark = pytest.mark.usefixtures("one_thread")


def _engagement(root, routing: dict) -> Engagement:
    eng = toy_engagement(root / "acme", n=200)
    cfg = yaml.safe_load((eng.root / "engagement.yaml").read_text())
    cfg.update(candidates=[{"id": "tiny-bert", "kind": "encoder", "folder": str(save_toy_encoder(root / "bert")),
                            "params_m": 0.05}],
               finetune={"classifier": {"layers": 2}, "dataset": {"val_fraction": 0.3},
                         "evaluate": {"latency_examples": 2}},
               routing=routing)
    (eng.root / "engagement.yaml").write_text(yaml.safe_dump(cfg))
    return Engagement.load(eng.root)


@pytest.fixture(scope="module")
def eng(tmp_path_factory):
    eng = _engagement(tmp_path_factory.mktemp("route"), {"target": 0.8})
    import shutil
    shutil.copy(eng.artifacts.path("curated"), eng.artifacts.path("calls"))  # the toy calls carry no PII
    eng.profile()
    build_dataset(eng, "t01")
    finetune(eng, "t01", progress=False)
    evaluate(eng, "t01", embedder=hash_embedder, progress=False)
    return eng


def test_route_calibrates_on_val_and_reports_the_test_split(eng) -> None:
    result = route(eng, embedder=hash_embedder)
    r = result.data["tasks"]["t01"]
    val, test = eng.artifacts.read("split", "t01", "val"), eng.artifacts.read("split", "t01", "test")
    assert r["specialist"] == "tiny-bert" and r["kind"] == "encoder" and r["target"] == 0.8
    assert {s["signal"] for s in r["signals"]} == {"top_probability", "margin"}
    assert r["feasible"] and r["threshold"] is not None and r["signal"] in ("top_probability", "margin")
    # the validation bound the threshold was chosen by holds the target
    v = r["validation"]
    assert v["n"] == len(val) and v["lower_bound"] >= 0.8
    assert v["lower_bound"] == pytest.approx(clopper_pearson_lower(v["kept_correct"], v["kept"]), abs=1e-4)
    # test figures: counts add up, the interval holds the value, escalated calls get the LLM's answer
    assert r["n"] == len(test) and r["offload_share"] == pytest.approx(r["kept"] / r["n"])
    kq = r["kept_quality"]
    assert kq["low"] <= kq["value"] <= kq["high"]
    assert sum(r["escalation_reasons"].values()) == r["n"] - r["kept"]
    assert r["system_quality"] == pytest.approx((kq["value"] * r["kept"] + r["n"] - r["kept"]) / r["n"])
    # cost: the kept calls pay the specialist only
    c = r["cost_per_1000_calls"]
    assert c["before"] == pytest.approx(1000 * np.mean([x["cost_usd"] for x in test]), rel=1e-3)
    assert c["after"] < c["before"]
    assert r["p50_latency_ms"]["before"] and r["p50_latency_ms"]["after"]
    # the per-call scores the notebook's slider reads, and the policy a router loads
    scores = eng.artifacts.read("routing_scores", "t01")
    assert scores.height == len(val) + len(test) and scores.filter(scores["split"] == "test")["kept"].sum() == r["kept"]
    policy = eng.artifacts.read("routing_policy")
    assert policy["tasks"]["t01"] == {"route": "slm", "reason": "", "specialist": "tiny-bert", "kind": "encoder",
                                      "output_kind": "label", "model": "models/t01", "signal": r["signal"],
                                      "threshold": r["threshold"], "target": 0.8}
    assert eng.artifacts.path("task_index").is_dir()
    assert "keeps" in str(result) and "t01" in str(result)
    assert route(eng, embedder=hash_embedder).skipped  # fresh: nothing changed


def test_the_roi_takes_the_measured_offload_and_kept_quality(eng) -> None:
    from fde_toolkit.roi.measurements import gather

    route(eng, embedder=hash_embedder)
    r = eng.artifacts.read("routing")["tasks"]["t01"]
    m = gather(eng).measurements
    assert m["t01.offload_share"].value == pytest.approx(r["offload_share"])
    assert m["t01.offload_share"].artifact == "routing.json"
    assert m["t01.kept_quality"].value == pytest.approx(r["kept_quality"]["value"])
    assert m["t01.kept_quality_low"].value == pytest.approx(r["kept_quality"]["low"])


def test_a_target_the_validation_split_cannot_show_stays_on_the_llm(eng) -> None:
    cfg = yaml.safe_load((eng.root / "engagement.yaml").read_text())
    cfg["routing"] = {"target": 0.8, "targets": {"t01": 0.999}}
    (eng.root / "engagement.yaml").write_text(yaml.safe_dump(cfg))
    try:
        strict = Engagement.load(eng.root)
        r = route(strict, embedder=hash_embedder).data["tasks"]["t01"]
        assert not r["feasible"] and r["offload_share"] == 0.0 and "validation calls" in r["reason"]
        assert strict.artifacts.read("routing_policy")["tasks"]["t01"]["route"] == "llm"
        from fde_toolkit.roi.measurements import gather
        assert gather(strict).measurements["t01.offload_share"].value == 0.0
    finally:
        cfg["routing"] = {"target": 0.8}
        (eng.root / "engagement.yaml").write_text(yaml.safe_dump(cfg))


def test_without_an_evaluated_specialist_route_names_the_commands(tmp_path) -> None:
    eng = toy_engagement(tmp_path / "bare", n=40)
    with pytest.raises(FdeError, match="fde finetune"):
        route(eng, embedder=hash_embedder)


def test_a_bad_target_is_a_config_error(tmp_path) -> None:
    with pytest.raises(FdeError, match="routing.targets.t01"):
        _engagement(tmp_path, {"targets": {"t01": 98}})


def test_the_notebooks_slider_reads_back_what_route_reported(eng) -> None:
    from fde_toolkit.routing import figures

    route(eng, embedder=hash_embedder)
    r = eng.artifacts.read("routing")["tasks"]["t01"]
    scores = eng.artifacts.read("routing_scores", "t01")
    p = figures.policy_at(scores, r["signal"], r["threshold"], r["slm_cost_per_call_usd"])
    assert p["kept"] == r["kept"] and p["offload_share"] == pytest.approx(r["offload_share"])
    assert p["kept_quality"]["low"] == pytest.approx(r["kept_quality"]["low"])
    assert p["system_quality"] == pytest.approx(r["system_quality"])
    assert p["cost_per_1000_calls"]["after"] == pytest.approx(r["cost_per_1000_calls"]["after"], rel=1e-3)
    assert figures.policy_at(scores, r["signal"], float("inf"))["kept"] == 0
    for fig in (figures.coverage_figure(scores, r), figures.cost_figure(scores, r), figures.reasons_figure(r)):
        assert fig.layout.title.text
