"""S1 profile: known numbers on a hand-built call table, the profile step, and the figures."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
import pytest

from fde_toolkit import FdeError, viz
from fde_toolkit.engagement import Engagement
from fde_toolkit.logs import figures as s1
from fde_toolkit.logs import profile as profile_mod
from fde_toolkit.logs.profile import profile, profile_calls, render_summary
from fde_toolkit.logs.schema import conform

OPENAI_TOOLS = json.dumps([{"type": "function", "function": {"name": "search", "parameters": {}}},
                           {"type": "function", "function": {"name": "book", "parameters": {}}}])
BARE_TOOLS = json.dumps([{"name": "lookup", "input_schema": {}}])


def _ts(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=timezone.utc)  # 2025-03-03 is a Monday


def _tc(*names: str) -> list[dict]:
    return [{"name": n, "arguments": "{}"} for n in names]


def sample_calls() -> pl.DataFrame:
    """8 calls, 3 days, 3 models; local-llama has no price; two errors."""
    rows = [
        # call_id, ts, model, provider, in, out, latency, cost, status, error, tools, tool_calls, text, session, user, workload
        ("c1", _ts(3, 9), "gpt-4o", "openai", 100, 10, 1000.0, 0.01, "ok", None, OPENAI_TOOLS, _tc("search"), None, "s1", "u1", "triage"),
        ("c2", _ts(3, 10), "gpt-4o", "openai", 200, 20, 2000.0, 0.02, "ok", None, OPENAI_TOOLS, _tc("search", "search"), None, "s1", "u1", "triage"),
        ("c3", _ts(4, 9, 30), "gpt-4o", "openai", 300, 30, 3000.0, 0.03, "ok", None, None, [], "hi", "s2", "u2", None),
        ("c4", _ts(4, 11), "gpt-4o", "openai", None, None, 50000.0, None, "error", "RateLimitError: slow down", None, [], None, "s2", "u2", None),
        ("c5", _ts(5, 12), "gpt-4o-mini", "openai", 50, 5, 500.0, 0.001, "ok", None, BARE_TOOLS, _tc("lookup"), "x", "s3", "u3", None),
        ("c6", _ts(5, 13), "local-llama", "self-hosted", 1000, 100, 4000.0, None, "ok", None, "{broken", [], "long answer", "s3", "u3", None),
        ("c7", _ts(5, 14), "local-llama", "self-hosted", 3000, 300, 6000.0, None, "ok", None, None, [], "text", "s3", "u3", None),
        ("c8", _ts(5, 15), "local-llama", "self-hosted", 10, 1, 100.0, None, "error", "Timeout", None, [], None, "s3", "u3", None),
    ]
    cols = ["call_id", "timestamp", "model", "provider", "input_tokens", "output_tokens", "latency_ms", "cost_usd",
            "status", "error", "tools", "tool_calls", "response_text", "session_id", "user_id", "workload_id"]
    df = pl.DataFrame([dict(zip(cols, r)) for r in rows], schema_overrides={
        "timestamp": pl.Datetime("us", "UTC"), "input_tokens": pl.Int64, "output_tokens": pl.Int64,
        "cost_usd": pl.Float64, "error": pl.String, "tools": pl.String, "response_text": pl.String,
        "workload_id": pl.String, "tool_calls": pl.List(pl.Struct({"name": pl.String, "arguments": pl.String}))})
    return conform(df.with_columns(
        pl.concat_list(pl.struct(role=pl.lit("user"), content=pl.lit("secret prompt text"))).alias("messages")))


@pytest.fixture(scope="module")
def prof() -> dict:
    return profile_calls(sample_calls())


def _model(prof: dict, name: str) -> dict:
    return next(m for m in prof["models"] if m["model"] == name)


def test_totals_and_time(prof):
    t = prof["totals"]
    assert (t["calls"], t["days"], t["sessions"], t["users"], t["models"]) == (8, 3, 3, 3, 3)
    assert t["first_date"] == "2025-03-03" and t["last_date"] == "2025-03-05"
    assert t["calls_per_day"] == pytest.approx(8 / 3, abs=1e-6)
    per_day = {r["date"]: (r["calls"], r["errors"]) for r in prof["over_time"]["per_day"]}
    assert per_day == {"2025-03-03": (2, 0), "2025-03-04": (2, 1), "2025-03-05": (4, 1)}
    assert prof["over_time"]["by_weekday"] == [2, 2, 4, 0, 0, 0, 0]
    assert prof["over_time"]["by_hour_utc"][9] == 2 and sum(prof["over_time"]["by_hour_utc"]) == 8


def test_models_tokens_latency(prof):
    assert [m["model"] for m in prof["models"]] == ["gpt-4o", "local-llama", "gpt-4o-mini"]
    g = _model(prof, "gpt-4o")
    assert g["calls"] == 4 and g["share"] == 0.5 and g["providers"] == "openai"
    assert (g["input_tokens"], g["output_tokens"]) == (600, 60)
    assert g["input_tokens_dist"]["p50"] == 200 and g["input_tokens_dist"]["p90"] == pytest.approx(280)
    assert g["input_tokens_dist"]["max"] == 300
    # latency on ok calls only: the 50 s failed call is excluded
    lat = g["latency"]
    assert lat["ok_calls"] == 3
    assert (lat["p50_ms"], lat["p95_ms"], lat["p99_ms"]) == (pytest.approx(2000), pytest.approx(2900),
                                                             pytest.approx(2980))
    assert lat["ms_per_output_token_p50"] == pytest.approx(100)
    hist = prof["tokens"]["histogram_input"]
    assert hist["edges"][0] == 10 and hist["edges"][-1] == 5000  # 10 tokens .. 3,000 tokens
    labels = dict(zip(hist["edges"], hist["counts"]["gpt-4o"]))
    assert labels[100] == 1 and labels[200] == 2 and sum(hist["counts"]["gpt-4o"]) == 3  # null tokens not binned


def test_errors(prof):
    e = prof["errors"]
    assert e["errors"] == 2 and e["rate"] == 0.25
    by_model = {r["model"]: r["rate"] for r in e["by_model"]}
    assert by_model == {"gpt-4o": 0.25, "local-llama": pytest.approx(1 / 3, abs=1e-6), "gpt-4o-mini": 0.0}
    assert {k["error_kind"]: k["calls"] for k in e["kinds"]} == {"RateLimitError": 1, "Timeout": 1}
    assert "slow down" not in json.dumps(e)  # only the error's category, never its text


def test_cost_never_counts_unpriced_as_zero(prof):
    c = prof["cost"]
    assert c["known_usd"] == pytest.approx(0.061)
    assert _model(prof, "local-llama")["cost_usd"] is None
    assert _model(prof, "local-llama")["cost_share"] is None
    assert _model(prof, "gpt-4o")["cost_usd"] == pytest.approx(0.06)
    assert _model(prof, "gpt-4o")["cost_share"] == pytest.approx(0.06 / 0.061, abs=1e-6)
    assert c["unpriced_models"] == [{"model": "local-llama", "calls": 3, "input_tokens": 4010,
                                     "output_tokens": 401, "no_known_cost": True}]
    # priced: c1-c3, c5 and the token-less failed call c4; unknown: the three local-llama calls
    assert c["cost_known_share"] == pytest.approx(5 / 8)
    assert c["per_day_usd"] == pytest.approx(0.061 / 3, abs=1e-6)
    assert c["monthly_run_rate"]["usd"] == pytest.approx(0.61, abs=1e-6)
    assert "lower bound" in c["monthly_run_rate"]["basis"]


def test_tools_responses_workloads(prof):
    tools = {r["name"]: (r["offered_calls"], r["called_calls"], r["invocations"]) for r in prof["tools"]["by_tool"]}
    assert tools == {"search": (2, 2, 3), "book": (2, 0, 0), "lookup": (1, 1, 1)}
    assert prof["tools"]["calls_with_tools_offered"] == 4
    assert prof["tools"]["unreadable_tools_json_calls"] == 1
    kinds = {k: v["calls"] for k, v in prof["responses"]["kinds"].items()}
    assert kinds == {"tool_call": 2, "text": 3, "both": 1, "empty": 0}
    assert prof["workloads"]["coverage"] == 0.25 and prof["workloads"]["top"][0]["workload_id"] == "triage"


def test_profile_is_json_and_lazy_equals_eager(prof):
    json.dumps(prof, allow_nan=False)
    assert profile_calls(sample_calls().lazy()) == prof
    assert "secret prompt text" not in json.dumps(prof)


def test_summary_names_the_key_numbers(prof):
    text = render_summary(prof)
    for part in ("8 calls", "2025-03-03", "gpt-4o", "$0.06", "p95 5,500 ms", "25.0%", "local-llama (3 calls)"):
        assert part in text, part


@pytest.fixture()
def eng(tmp_path):
    (tmp_path / "engagement.yaml").write_text("name: t\nclient: Test Client\n")
    (tmp_path / "artifacts").mkdir()
    sample_calls().write_parquet(tmp_path / "artifacts" / "calls.parquet")
    (tmp_path / "artifacts" / "ingest_report.json").write_text(json.dumps({
        "files": [{"file": "a.jsonl", "format": "canonical", "read": 11, "accepted": 8, "quarantined": 3,
                   "refused": False}],
        "reasons": {"invalid JSON": 2, "missing field: model": 1},
        "totals": {"read": 11, "accepted": 8, "quarantined": 3, "files": 1, "refused_files": 0},
        "unpriced_models": ["local-llama"]}))
    return Engagement.load(tmp_path)


def test_profile_step_writes_artifacts_and_skips_when_fresh(eng, monkeypatch):
    prof = profile(eng).data
    out = eng.artifacts_dir / "profile.json"
    assert json.loads(out.read_text()) == prof
    assert prof["ingest"]["totals"]["quarantined"] == 3
    assert prof["ingest"]["reasons"][0] == {"reason": "invalid JSON", "records": 2}
    figs = sorted(p.stem for p in (eng.artifacts_dir / "figures").glob("*.json"))
    assert figs == sorted(s1.FIGURES)
    fig = pio.read_json(eng.artifacts_dir / "figures" / "cost_by_model_and_day.json")
    assert "local-llama" in fig.layout.annotations[0].text  # unpriced model named, not drawn as zero
    assert "profile" in eng.manifest.data["steps"]

    def boom(_):
        raise AssertionError("profile recomputed although its inputs did not change")

    monkeypatch.setattr(profile_mod, "profile_calls", boom)
    assert profile(Engagement.load(eng.root)).data == prof
    with pytest.raises(AssertionError):
        profile(Engagement.load(eng.root), force=True)


def test_profile_without_calls_says_which_step_to_run(tmp_path):
    (tmp_path / "engagement.yaml").write_text("name: t\n")
    with pytest.raises(FdeError, match="fde ingest"):
        profile(Engagement.load(tmp_path))


def test_every_figure_uses_the_theme_and_has_titles(prof):
    assert pio.templates.default == "fde"
    prof = {**prof, "ingest": {"totals": {}, "reasons": [{"reason": "invalid JSON", "records": 2}],
                               "by_format": [], "unpriced_models": []}}
    for name, build in s1.FIGURES.items():
        fig = build(prof)
        assert isinstance(fig, go.Figure), name
        assert fig.layout.title.text, name
        assert fig.layout.template.layout.colorway == tuple(viz.PALETTE), name
        assert len(fig.data) > 0, f"{name} drew nothing"
    latency = s1.latency_by_model(prof)
    assert latency.layout.yaxis.title.text == "Latency (seconds)"
    assert [t.name for t in latency.data] == ["median (p50)", "p95", "p99"]
    assert latency.data[1].y[0] == pytest.approx(2.9)  # gpt-4o p95 in seconds


def test_error_kinds_group_messages_that_differ_in_details():
    msgs = ["Rate limit reached for requests. Please try again in 3s.",
            "Rate limit reached for requests. Please try again in 11s.",
            "Error code: 429 - {'error': {'message': 'quota for user 12345'}}",
            "This model's maximum context length is 128000 tokens. However, you asked for more",
            "RateLimitError: slow down", "HTTP 503"]
    kinds = pl.DataFrame({"e": msgs}).select(profile_mod._error_kind(pl.col("e")))["e"].to_list()
    assert kinds == ["Rate limit reached for requests", "Rate limit reached for requests", "Error code: 429",
                     "This model's maximum context length is N tokens", "RateLimitError", "HTTP 503"]


def test_error_texts_in_the_profile_come_only_from_curated_calls(eng):
    """Error kinds end up in reports: before `fde scrub` they are withheld, after it they are the curated text."""
    kinds = {k["error_kind"] for k in profile(eng).data["errors"]["kinds"]}
    assert kinds == {profile_mod.ERROR_TEXT_WITHHELD}
    curated = pl.read_parquet(eng.artifacts_dir / "calls.parquet").with_columns(
        pl.when(pl.col("error").is_not_null()).then(pl.lit("Invalid recipient <EMAIL_7f3a9b2cde1f>"))
        .alias("error"))
    curated.write_parquet(eng.artifacts_dir / "curated.parquet")
    kinds = {k["error_kind"] for k in profile(Engagement.load(eng.root)).data["errors"]["kinds"]}
    assert kinds == {"Invalid recipient <EMAIL_7f3a9b2cde1f>"}
