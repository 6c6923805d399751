"""The price table: matching, precedence, and filling cost_usd without inventing zeros."""

from __future__ import annotations


import polars as pl
import pytest
import yaml

from fde_toolkit import FdeError
from fde_toolkit.engagement import EngagementConfig, PriceRow
from fde_toolkit.pricing import BUILTIN_PRICES, PriceTable


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load()


def _calls(models, inp, out, cost=None) -> pl.DataFrame:
    n = len(models)
    return pl.DataFrame(
        {"model": models, "input_tokens": inp, "output_tokens": out,
         "cost_usd": cost if cost is not None else [None] * n},
        schema={"model": pl.String, "input_tokens": pl.Int64, "output_tokens": pl.Int64, "cost_usd": pl.Float64},
    )


# ---------------------------------------------------------------- the built-in table

def test_builtin_table_rows_are_complete(table):
    rows = yaml.safe_load(BUILTIN_PRICES.read_text())["prices"]
    assert len(table) == len(rows) >= 50
    for r in table.rows:
        assert r.pattern.startswith("^") and r.pattern.endswith("$"), r.pattern
        assert r.provider and r.effective_date and r.source
        assert r.input_per_mtok > 0 and r.output_per_mtok > 0


@pytest.mark.parametrize("model, input_rate, output_rate", [
    ("gpt-4o", 2.50, 10.00),
    ("gpt-4o-2024-08-06", 2.50, 10.00),
    ("gpt-4o-2024-11-20", 2.50, 10.00),
    ("openai/gpt-4o", 2.50, 10.00),
    ("azure/gpt-4o-2024-08-06", 2.50, 10.00),
    ("GPT-4o", 2.50, 10.00),
    ("gpt-4o-2024-05-13", 5.00, 15.00),
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4o-mini-2024-07-18", 0.15, 0.60),
    ("openrouter/openai/gpt-4o-mini", 0.15, 0.60),
    ("gpt-4.1", 2.00, 8.00),
    ("gpt-4.1-2025-04-14", 2.00, 8.00),
    ("gpt-4.1-mini-2025-04-14", 0.40, 1.60),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("o1", 15.00, 60.00),
    ("o1-2024-12-17", 15.00, 60.00),
    ("o3", 2.00, 8.00),
    ("o3-2025-04-16", 2.00, 8.00),
    ("o3-mini-2025-01-31", 1.10, 4.40),
    ("o4-mini", 1.10, 4.40),
    ("gpt-4-turbo-2024-04-09", 10.00, 30.00),
    ("gpt-4-1106-preview", 10.00, 30.00),
    ("gpt-3.5-turbo-0125", 0.50, 1.50),
    ("gpt-35-turbo", 0.50, 1.50),
    ("gpt-5", 1.25, 10.00),
    ("gpt-5-2025-08-07", 1.25, 10.00),
    ("gpt-5-mini-2025-08-07", 0.25, 2.00),
    ("gpt-5-nano", 0.05, 0.40),
    ("ft:gpt-4o-mini-2024-07-18:acme::B7x2kLq9", 0.30, 1.20),
    ("ft:gpt-4o-2024-08-06:acme:triage:9xYz", 3.75, 15.00),
    ("ft:gpt-4.1-mini-2025-04-14:acme::abc", 0.80, 3.20),
    ("claude-3-5-sonnet-20241022", 3.00, 15.00),
    ("claude-3-5-sonnet-latest", 3.00, 15.00),
    ("anthropic/claude-3.5-sonnet", 3.00, 15.00),
    ("claude-3-5-sonnet-v2@20241022", 3.00, 15.00),
    ("anthropic.claude-3-5-sonnet-20240620-v1:0", 3.00, 15.00),
    ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", 3.00, 15.00),
    ("claude-sonnet-4-20250514", 3.00, 15.00),
    ("claude-sonnet-4-5-20250929", 3.00, 15.00),
    ("claude-sonnet-4-5", 3.00, 15.00),
    ("claude-opus-4-20250514", 15.00, 75.00),
    ("claude-opus-4-1-20250805", 15.00, 75.00),
    ("claude-opus-4-5-20251101", 5.00, 25.00),
    ("claude-3-5-haiku-20241022", 0.80, 4.00),
    ("claude-haiku-4-5-20251001", 1.00, 5.00),
    ("claude-3-haiku-20240307", 0.25, 1.25),
    ("gemini-1.5-pro-002", 1.25, 5.00),
    ("models/gemini-1.5-flash", 0.075, 0.30),
    ("gemini-1.5-flash-8b", 0.0375, 0.15),
    ("gemini-2.0-flash-001", 0.10, 0.40),
    ("gemini-2.0-flash-lite", 0.075, 0.30),
    ("google/gemini-2.5-pro", 1.25, 10.00),
    ("gemini-2.5-flash", 0.30, 2.50),
    ("gemini-2.5-flash-lite", 0.10, 0.40),
    ("mistral-large-latest", 2.00, 6.00),
    ("mistral-small-2503", 0.10, 0.30),
    ("llama-3.3-70b-versatile", 0.59, 0.79),
    ("meta-llama/Llama-3.3-70B-Instruct-Turbo", 0.88, 0.88),
])
def test_known_models_match_their_list_price(table, model, input_rate, output_rate):
    row = table.price_for(model)
    assert row is not None, model
    assert (row.input_per_mtok, row.output_per_mtok) == (input_rate, output_rate)


@pytest.mark.parametrize("model", [
    "gpt-4o-audio-preview",      # priced differently: must not fall back to gpt-4o
    "gpt-4o-realtime-preview",
    "gpt-5-pro",
    "o1-mini-ish",
    "my-gpt-4o",                 # not a provider prefix
    "claude-sonnet-4-7",
    "llama-3-8b",
    "totally-unknown-model",
    "",
])
def test_near_misses_match_nothing(table, model):
    assert table.price_for(model) is None


def test_specific_rows_come_before_general_ones(table):
    # with anchored patterns every built-in name has one row; the specific one must be first anyway,
    # so that a looser pattern added later cannot shadow it
    idx = {r.pattern: i for i, r in enumerate(table.rows)}
    order = [r.pattern for r in table.rows]

    def first(fragment):
        return next(i for i, p in enumerate(order) if fragment in p)

    assert first("gpt-4o-mini") < first("gpt-4o(?:")
    assert first("gpt-4\\.1-nano") < first("gpt-4\\.1(?:")
    assert first("gpt-5-mini") < first("gpt-5(?:")
    assert first("o3-mini") < first("o3(?:")
    assert first("gemini-2\\.5-flash-lite") < first("gemini-2\\.5-flash(?:")
    assert len(idx) == len(order), "duplicate patterns in prices.yaml"
    assert table.price_for("gpt-4o-mini").input_per_mtok == 0.15


# ---------------------------------------------------------------- apply

def test_apply_prices_gpt_4o_mini_not_as_gpt_4o(table):
    out = table.apply(_calls(["gpt-4o-mini-2024-07-18", "gpt-4o"], [1_000_000, 1_000_000], [1_000_000, 1_000_000]))
    assert out["cost_usd"].to_list() == pytest.approx([0.15 + 0.60, 2.50 + 10.00])


def test_apply_keeps_logged_cost(table):
    out = table.apply(_calls(["gpt-4o", "gpt-4o"], [1000, 1000], [500, 500], cost=[0.123, None]))
    assert out["cost_usd"][0] == 0.123
    assert out["cost_usd"][1] == pytest.approx((1000 * 2.5 + 500 * 10) / 1e6)


def test_unknown_model_stays_null_not_zero(table):
    out = table.apply(_calls(["acme-internal-llm", "gpt-4o", None], [1000, 1000, 1000], [10, 10, 10]))
    assert out["cost_usd"][0] is None
    assert out["cost_usd"][1] > 0
    assert out["cost_usd"][2] is None
    assert table.unpriced(out) == ["acme-internal-llm"]


def test_missing_tokens_leave_cost_null(table):
    out = table.apply(_calls(["gpt-4o", "gpt-4o"], [None, 100], [100, None]))
    assert out["cost_usd"].to_list() == [None, None]
    assert table.unpriced(out) == []  # the model is known; the call lacks counts


def test_apply_on_frame_without_any_known_model(table):
    out = table.apply(_calls(["x", "y"], [1, 2], [1, 2], cost=[0.5, None]))
    assert out["cost_usd"].to_list() == [0.5, None]
    assert out.schema["cost_usd"] == pl.Float64


def test_apply_lazy_returns_lazy_and_same_result(table):
    df = _calls(["gpt-4o", "nope", "o3"], [100, 100, 100], [10, 10, 10], cost=[None, None, 1.0])
    lazy = table.apply(df.lazy())
    assert isinstance(lazy, pl.LazyFrame)
    assert lazy.collect().equals(table.apply(df))
    assert table.unpriced(df.lazy()) == ["nope"]


def test_apply_keeps_other_columns_and_order(table):
    df = _calls(["o3", "gpt-4o", "o3"], [10, 20, 30], [1, 2, 3]).with_columns(pl.Series("call_id", ["a", "b", "c"]))
    out = table.apply(df)
    assert out.columns == df.columns
    assert out["call_id"].to_list() == ["a", "b", "c"]
    assert out["cost_usd"].to_list() == pytest.approx([(10 * 2 + 8) / 1e6, (20 * 2.5 + 20) / 1e6, (30 * 2 + 24) / 1e6])


def test_apply_matches_each_distinct_model_once_on_100k_rows(table, monkeypatch):
    """Vectorised: the Python matching runs once per distinct model name, the 100k rows are a polars lookup."""
    models = [f"acme-model-{i}" for i in range(40)] + ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-20250514"]
    n = 100_000
    df = pl.DataFrame({
        "model": [models[i % len(models)] for i in range(n)],
        "input_tokens": list(range(n)),
        "output_tokens": [i % 1000 for i in range(n)],
        "cost_usd": pl.Series([None] * n, dtype=pl.Float64),
    })
    fresh = PriceTable.load()
    calls = []
    real = fresh._index_for
    monkeypatch.setattr(fresh, "_index_for", lambda m: calls.append(m) or real(m))
    out = fresh.apply(df)
    assert sorted(calls) == sorted(models)  # one match per distinct model, no per-row Python
    calls.clear()
    lazy = fresh.apply(df.lazy())
    assert isinstance(lazy, pl.LazyFrame) and sorted(calls) == sorted(models)  # a lazy frame stays lazy
    assert lazy.collect().equals(out)
    priced = out.filter(pl.col("model") == "gpt-4o")
    expected = (priced["input_tokens"].cast(pl.Float64) * 2.5 + priced["output_tokens"].cast(pl.Float64) * 10) / 1e6
    assert (priced["cost_usd"] - expected).abs().max() < 1e-12
    n_acme = df.filter(pl.col("model").str.starts_with("acme")).height
    assert out["cost_usd"].null_count() == n_acme > 0


# ---------------------------------------------------------------- engagement rows

def test_engagement_row_wins_over_builtin():
    cfg = EngagementConfig.model_validate({"name": "acme", "prices": [
        {"pattern": "^gpt-4o$", "input_per_mtok": 1.0, "output_per_mtok": 4.0, "source": "contract"}]})
    t = PriceTable.load(cfg.prices)
    assert t.price_for("gpt-4o").source == "contract"
    assert t.price_for("gpt-4o-2024-08-06").input_per_mtok == 2.50  # only what the pattern covers
    out = t.apply(_calls(["gpt-4o"], [1_000_000], [1_000_000]))
    assert out["cost_usd"][0] == pytest.approx(5.0)
    assert t.to_frame()["origin"][0] == "engagement"


def test_first_matching_engagement_row_wins():
    t = PriceTable.load([PriceRow(pattern="^acme-", input_per_mtok=1, output_per_mtok=1),
                         PriceRow(pattern="^acme-big", input_per_mtok=9, output_per_mtok=9)])
    assert t.price_for("acme-big-v2").input_per_mtok == 1


def test_engagement_patterns_are_case_insensitive_search():
    t = PriceTable.load([PriceRow(pattern="finetuned", input_per_mtok=1, output_per_mtok=2)])
    assert t.price_for("ft:gpt-4o-mini:acme:FineTuned:abc") is not None


def test_invalid_engagement_regex_names_the_row():
    rows = [PriceRow(pattern="^ok$", input_per_mtok=1, output_per_mtok=1),
            PriceRow(pattern="^gpt-4o(", input_per_mtok=1, output_per_mtok=1)]
    with pytest.raises(FdeError, match=r"engagement\.yaml: prices\[1\]\.pattern"):
        PriceTable.load(rows)


def test_invalid_builtin_row_names_index_and_field(tmp_path):
    p = tmp_path / "prices.yaml"
    p.write_text(yaml.safe_dump({"prices": [
        {"pattern": "^a$", "input_per_mtok": 1, "output_per_mtok": 1},
        {"pattern": "^b$", "input_per_mtok": -1, "output_per_mtok": 1},
    ]}))
    with pytest.raises(FdeError, match=r"prices\[1\]\.input_per_mtok") as e:
        PriceTable.load(path=p)
    assert str(p) in str(e.value)
    p.write_text(yaml.safe_dump({"prices": [{"pattern": "[", "input_per_mtok": 1, "output_per_mtok": 1}]}))
    with pytest.raises(FdeError, match=r"prices\[0\]\.pattern"):
        PriceTable.load(path=p)
    p.write_text("rows: []\n")
    with pytest.raises(FdeError, match="prices"):
        PriceTable.load(path=p)


def test_to_frame_lists_rows_in_match_order(table):
    f = table.to_frame()
    assert f.height == len(table)
    assert f["order"].to_list() == list(range(len(table)))
    assert {"pattern", "provider", "input_per_mtok", "output_per_mtok", "cached_input_per_mtok",
            "effective_date", "source"} <= set(f.columns)
    assert f.filter(pl.col("provider") == "openai").height >= 14
