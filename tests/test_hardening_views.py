"""The hardening figures, tables and notebook sections on a hardening.json that follows the schema, and on none."""

from __future__ import annotations

import json
from pathlib import Path

import plotly.graph_objects as go
import pytest
from slm_toy import toy_engagement

from fde_toolkit.engagement import Engagement
from fde_toolkit.hardening import figures, views

BATCHES = (1, 2, 4)


def _config(runtime: str, p50: float, rps1: float, quality: float, status: str = "ok", why: str = "",
            precision: str = "fp32") -> dict:
    batches = [] if status == "unavailable" else [
        {"batch_size": b, "latency_ms": {"p50": p50 * (1 + 0.3 * k), "p95": p50 * (1.4 + 0.3 * k),
                                         "p99": p50 * (1.8 + 0.3 * k)},
         "p50_spread_ms": [p50 * 0.95, p50 * 1.05], "requests_per_s": rps1 * b / (1 + 0.3 * k),
         "tokens_per_s": rps1 * b * 30.0} for k, b in enumerate(BATCHES)]
    q = None if status == "unavailable" else {
        "metric": "agreement", "value": quality, "low": quality - 0.04, "high": min(1.0, quality + 0.03), "n": 120,
        "drop": round(0.95 - quality, 4), "equal_to_eager": quality == 0.95}
    return {"runtime": runtime, "device": "cpu", "precision": precision, "status": status, "why": why,
            "load_s": 0.0 if status == "unavailable" else 1.5, "peak_memory_mb": 0.0 if status == "unavailable"
            else 310.0, "batches": batches, "quality": q}


def synthetic_task(kind: str = "encoder", output_kind: str = "label", candidate: str = "tiny-bert") -> dict:
    """One task of hardening.json as `fde harden` writes it (COMMON.md's schema)."""
    configs = [_config("eager", 40.0, 25.0, 0.95), _config("onnx", 9.0, 110.0, 0.95),
               _config("onnx-int8", 5.0, 190.0, 0.90, status="failed_quality", precision="int8",
                       why="agreement 0.900 is 0.050 below eager (allowed 0.010)"),
               _config("llama.cpp", 0, 0, 0, status="unavailable",
                       why="llama-cpp-python ships no wheel for this platform")]
    limits = {"p95_ms": 120.0, "min_requests_per_s": 20.0, "quality_floor": 0.9, "max_memory_mb": None,
              "p95_source": "sla"}
    rows = []
    for c in configs:
        for b in c["batches"]:
            checks = {"p95_ms": b["latency_ms"]["p95"] <= 120, "min_requests_per_s": b["requests_per_s"] >= 20,
                      "quality_floor": c["quality"]["value"] >= 0.9, "max_memory_mb": None,
                      "quality_drop": c["status"] != "failed_quality"}
            rows.append({"runtime": c["runtime"], "batch_size": b["batch_size"], "p95_ms": b["latency_ms"]["p95"],
                         "requests_per_s": b["requests_per_s"], "quality": c["quality"]["value"],
                         "peak_memory_mb": c["peak_memory_mb"], "usd_per_million": 3600 / b["requests_per_s"],
                         "checks": checks, "passed": all(v for v in checks.values() if v is not None)})
    onnx = configs[1]["batches"][0]
    return {
        "kind": kind, "output_kind": output_kind, "candidate": candidate,
        "llm_latency_ms": {"p50": 477.0, "p95": 900.0}, "test_calls": 120, "configurations": configs,
        "under_load": {"runtime": "onnx", "concurrency": 16, "max_batch": 16,
                       "latency_ms": {"p50": 30.0, "p95": 55.0, "p99": 70.0}, "requests_per_s": 300.0},
        "sla": {"limits": limits, "rows": rows},
        "recommended": {"runtime": "onnx", "batch_size": 1, "why": "the cheapest configuration that passes",
                        "latency_ms": onnx["latency_ms"], "requests_per_s": onnx["requests_per_s"],
                        "usd_per_million": 3600 / onnx["requests_per_s"]},
        "robustness": [
            {"case": "empty", "description": "empty input", "route": "llm", "reason": "empty_input", "ok": True,
             "ms": 1.2, "detail": ""},
            {"case": "rtl", "description": "right-to-left text", "route": "slm", "reason": "", "ok": True, "ms": 9.0,
             "detail": ""},
            {"case": "injection", "description": "ignore your instructions", "route": "slm", "reason": "",
             "ok": True, "ms": 9.5, "detail": ""}]}


def synthetic_hardening(tasks: dict | None = None) -> dict:
    return {"format": "fde-hardening/1",
            "machine": {"platform": "Linux-x86_64", "cpu": "Test CPU", "cores": 2, "threads": 2, "cuda": None,
                        "torch": "2.5.1", "load_average": [1.5, 1.2, 1.0]},
            "settings": {"max_quality_drop": 0.01, "runtimes": [], "batch_sizes": list(BATCHES), "repeats": 3,
                         "max_requests": 200, "warmup": 3, "threads": None, "concurrency": 16},
            "tasks": tasks if tasks is not None else {"t01": synthetic_task()},
            "skipped": {"t03": "no specialist: run `fde finetune --task t03`"}}


def write_hardening(eng: Engagement, report: dict) -> Path:
    path = eng.artifacts.path("hardening")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report), encoding="utf-8")
    return path


def _text(obj) -> str:
    return obj._repr_html_() if hasattr(obj, "_repr_html_") else str(obj)


def test_figures_read_the_schema():
    report = synthetic_hardening()
    t = report["tasks"]["t01"]
    lat = figures.latency_figure(t, "t01")
    assert [tr.name for tr in lat.data] == ["p50", "p95", "p99"]
    # every timed configuration at batch 1, the failed one marked; the unavailable one has no bar
    assert list(lat.data[0].x) == ["eager", "onnx", "onnx-int8 ✗"]
    assert list(lat.data[0].y) == [40.0, 9.0, 5.0]
    assert lat.data[0].error_y.array[0] == pytest.approx(2.0)  # the p50 spread over the repeats
    shapes = [s.y0 for s in lat.layout.shapes]
    assert 477.0 in shapes and 120.0 in shapes  # the LLM's p50 and the SLA's p95

    thr = figures.throughput_figure(t, "t01")
    assert len(thr.data) == 3 and list(thr.data[1].x) == list(BATCHES)
    assert thr.data[1].y[0] == pytest.approx(110.0) and "failed quality" in thr.data[2].name
    assert thr.layout.xaxis.type == "log"

    q = figures.quality_figure(t, report, "t01")
    assert list(q.data[0].x) == ["eager", "onnx", "onnx-int8"]
    assert q.data[0].error_y.arrayminus[0] == pytest.approx(0.04)
    assert pytest.approx(0.94) in [s.y0 for s in q.layout.shapes]  # eager minus the allowed drop

    sla = _text(figures.sla_table(t))
    assert "onnx (recommended)" in sla and sla.count("PASS") >= 2 and "fail" in sla and "✗" in sla
    rob = _text(figures.robustness_table(t))
    assert "empty_input" in rob and "right-to-left text" in rob
    rows = figures.summary_rows(report)
    assert rows[0]["recommended"] == "onnx" and rows[0]["vs_eager"] == "4.4× faster"
    assert rows[0]["vs_llm"] == "2% of 477 ms"


def test_figures_of_a_task_with_nothing_measured():
    t = {"kind": "decoder", "configurations": [], "sla": {"limits": {}, "rows": []}, "recommended": None,
         "robustness": []}
    for fig in (figures.latency_figure(t), figures.throughput_figure(t), figures.quality_figure(t)):
        assert isinstance(fig, go.Figure) and not fig.data and fig.layout.annotations
    assert "No SLA rows" in _text(figures.sla_table(t))
    assert figures.summary_rows({"tasks": {"t02": t}})[0]["recommended"] == "none passed"


def _shown(monkeypatch) -> list:
    out: list = []
    monkeypatch.setattr(views, "_display", lambda *objs: out.extend(o for o in objs if o is not None))
    return out


def test_views_without_hardening_say_to_run_fde_harden(tmp_path, monkeypatch):
    eng = toy_engagement(tmp_path / "acme", n=20)
    h = views.load_hardening(eng)
    assert h.report is None
    assert "fde harden" in _text(views.key_numbers(h))
    shown = _shown(monkeypatch)
    views.show_hardening(eng)
    texts = [_text(o) for o in shown]
    assert sum("Run `fde harden" in t for t in texts) == 7  # the cards and every measured section
    assert any("fde bundle" in t for t in texts)  # the deployment section says how to make one
    assert views.hardening_frame(eng).is_empty()


def test_views_with_hardening(tmp_path, monkeypatch):
    eng = toy_engagement(tmp_path / "acme", n=20)
    write_hardening(eng, synthetic_hardening())
    h = views.load_hardening(eng)
    cards = _text(views.key_numbers(h))
    assert "1 of 1" in cards and "2%" in cards and "Test CPU" in cards
    shown = _shown(monkeypatch)
    views.show_hardening(eng)
    texts = [_text(o) for o in shown if not isinstance(o, go.Figure)]
    figs = [o for o in shown if isinstance(o, go.Figure)]
    assert len(figs) == 3  # latency, throughput, quality for the one task
    joined = "\n".join(texts)
    assert "llama.cpp: llama-cpp-python ships no wheel" in joined  # considered, not measured
    assert "t03 (no specialist" in joined
    assert "Recommended: onnx at batch 1" in joined and "16 concurrent clients" in joined
    assert "empty_input" in joined
    frame = views.hardening_frame(eng)
    assert frame.height == 9 and {"task", "runtime", "passed", "check_p95_ms"} <= set(frame.columns)


def test_write_figures_through_the_catalog(tmp_path):
    import plotly.io as pio

    eng = toy_engagement(tmp_path / "acme", n=20)
    report = synthetic_hardening({"t01": synthetic_task(), "t02": synthetic_task("decoder", "json", "toy")})
    paths = figures.write_figures(eng, report)
    assert sorted(p.name for p in paths) == sorted(f"hardening_{t}_{w}.json" for t in ("t01", "t02")
                                                   for w in ("latency", "throughput", "quality"))
    assert all(p.parent == eng.artifacts_dir / "figures" for p in paths)
    assert pio.read_json(paths[0]).data


SECTIONS = ("Summary", "Service levels", "Latency", "Throughput and batching",
            "Quality after conversion and quantization", "Robustness", "Deployment")


def test_the_hardening_report_renders_with_and_without_hardening(tmp_path):
    """`fde run --phase 03_hardening` (papermill + nbconvert): empty states first, then the measured report."""
    from fde_toolkit.reports.runner import find_phases, run_phases

    assert "03_hardening" in find_phases()
    eng = toy_engagement(tmp_path / "acme", n=20)
    paths = run_phases(eng, ["03_hardening"])
    assert paths == [eng.reports_dir / "03_hardening.ipynb", eng.reports_dir / "03_hardening.html"]
    html = paths[1].read_text(encoding="utf-8")
    assert all(f">{s}" in html for s in SECTIONS)
    assert "Hardening report" in html and f"Run `fde harden {eng.root.resolve()}`" in html
    assert "views.show_sla" not in html  # no code in the report

    write_hardening(eng, synthetic_hardening())
    assert run_phases(eng, ["03_hardening"]) == paths  # hardening.json is an input: rendered again
    html = paths[1].read_text(encoding="utf-8")
    assert "Run `fde harden" not in html
    assert html.count("Plotly.newPlot(") >= 3 and "onnx (recommended)" in html and "empty_input" in html
    assert "No bundle yet" in html


def test_the_executive_tiers_say_where_latency_and_serving_cost_come_from(tmp_path):
    """Without hardening.json: scaled single-request figures, and the command; with it: measured under load."""
    from test_slides import _branded, _with_artifacts

    from fde_toolkit.reports import executive

    eng = _with_artifacts(_branded(tmp_path / "deck"))
    before = _text(executive.tiers(executive.load_summary(eng)))
    assert "p50 latency under load" not in before and "assumed load factors" in before and "fde harden" in before
    write_hardening(eng, synthetic_hardening({"t001": synthetic_task()}))
    after = _text(executive.tiers(executive.load_summary(eng)))
    assert "p50 latency under load" in after
    assert "measured by the hardening benchmark under load on Test CPU (2 cores" in after
    assert "artifacts/hardening.json" in after
