"""Data-curation figures: built from the report's counts, never from values."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import plotly.graph_objects as go
import polars as pl

from fde_toolkit.logs.schema import MESSAGE, TOOL_CALL, conform
from fde_toolkit.privacy import PiiConfig, scrub_calls
from fde_toolkit.privacy.figures import FIGURES, entities_by_field, entities_by_type, sensitivity_outcomes


def report() -> dict:
    rows = [{"call_id": f"c{i}", "timestamp": datetime(2024, 3, 1, tzinfo=timezone.utc), "model": "m",
             "messages": [{"role": "user", "content": t}], "tool_calls": [],
             "metadata": json.dumps({"email": "ops@acme.com"})}
            for i, t in enumerate(["mail jane@example.com or 415-555-0132", "diagnosis pending", "hello"])]
    df = conform(pl.DataFrame(rows, schema_overrides={"messages": pl.List(MESSAGE), "tool_calls": pl.List(TOOL_CALL)}))
    cfg = PiiConfig(ner=False, sensitivity=[{"name": "health", "keywords": ["diagnosis"], "action": "restrict"}])
    return scrub_calls(df, cfg, b"k" * 32)[2]


def test_figures_show_the_report_counts() -> None:
    rep = report()
    fig = entities_by_type(rep)
    assert dict(zip(fig.data[0].y, fig.data[0].x)) == {"EMAIL": 4, "PHONE": 1}
    by_field = entities_by_field(rep)
    assert {t.name for t in by_field.data} == {"EMAIL", "PHONE"}
    assert sum(sum(t.x) for t in by_field.data) == 5
    sens = sensitivity_outcomes(rep)
    assert [t.name for t in sens.data] == ["matched", "restricted"] and list(sens.data[1].x) == [1]


def test_every_figure_builds_and_says_so_when_empty() -> None:
    rep = report()
    for name, build in FIGURES.items():
        fig = build(rep)
        assert isinstance(fig, go.Figure) and fig.layout.title.text, name
        assert "jane@example.com" not in fig.to_json()
    empty = {**rep, "entities": {**rep["entities"], "by_type": {}, "by_field": {}, "by_detector": {}},
             "sensitivity": {**rep["sensitivity"], "rules": []}}
    assert entities_by_type(empty).layout.annotations[0].text == "No PII found"
    assert sensitivity_outcomes(empty).layout.annotations[0].text == "No sensitivity rules configured"
