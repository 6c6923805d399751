"""Report runner and exporter: the scoping notebook end to end, offline HTML, failures that name the notebook."""

from __future__ import annotations

import json
import re
import warnings
from datetime import datetime, timedelta, timezone

import nbformat
import polars as pl
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from fde_toolkit import FdeError
from fde_toolkit.engagement import Engagement
from fde_toolkit.logs.schema import conform
from fde_toolkit.reports.export import export_html, strip_external_assets
from fde_toolkit.reports.runner import run_phases

CLIENT = "Tiny Test Client"
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//[^"'\s>]+\.(?:js|css|mjs)\b""", re.IGNORECASE)
PLOTLY_BANNER = re.compile(r"\* plotly\.js v\d")


def _calls(n: int = 60) -> pl.DataFrame:
    start = datetime(2025, 5, 5, tzinfo=timezone.utc)
    i = pl.int_range(n, eager=True)
    df = pl.DataFrame({"i": i}).with_columns(
        pl.col("i").cast(pl.String).alias("call_id"),
        pl.Series([start + timedelta(hours=7 * k) for k in range(n)]).cast(pl.Datetime("us", "UTC")).alias("timestamp"),
        pl.when(pl.col("i") % 3 == 0).then(pl.lit("gpt-4o")).when(pl.col("i") % 3 == 1)
        .then(pl.lit("gpt-4o-mini")).otherwise(pl.lit("in-house-llm")).alias("model"),
        pl.lit("openai").alias("provider"),
        (100 + pl.col("i") * 10).alias("input_tokens"),
        (5 + pl.col("i")).alias("output_tokens"),
        (400.0 + pl.col("i") * 25).alias("latency_ms"),
        pl.when(pl.col("i") % 3 == 2).then(None).otherwise(pl.col("i") * 0.001).alias("cost_usd"),
        pl.when(pl.col("i") % 10 == 0).then(pl.lit("error")).otherwise(pl.lit("ok")).alias("status"),
        pl.when(pl.col("i") % 10 == 0).then(pl.lit("Timeout")).alias("error"),
        pl.when(pl.col("i") % 2 == 0).then(pl.lit('[{"type":"function","function":{"name":"search"}}]')).alias("tools"),
        pl.when(pl.col("i") % 4 == 0).then(pl.concat_list(pl.struct(name=pl.lit("search"), arguments=pl.lit("{}"))))
        .alias("tool_calls"),
        pl.when(pl.col("i") % 4 != 0).then(pl.lit("an answer")).alias("response_text"),
        pl.concat_list(pl.struct(role=pl.lit("user"), content=pl.lit("PRIVATE-PROMPT-TEXT"))).alias("messages"),
    )
    return conform(df)


@pytest.fixture(scope="module")
def eng(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    (root / "engagement.yaml").write_text(f"name: t\nclient: {CLIENT}\n")
    (root / "artifacts").mkdir()
    _calls().write_parquet(root / "artifacts" / "calls.parquet")
    (root / "artifacts" / "ingest_report.json").write_text(json.dumps({
        "files": [{"file": "calls.jsonl", "format": "canonical", "read": 64, "accepted": 60, "quarantined": 4,
                   "refused": False}],
        "reasons": {"invalid JSON": 3, "timestamp out of range": 1},
        "totals": {"read": 64, "accepted": 60, "quarantined": 4, "files": 1, "refused_files": 0},
        "unpriced_models": ["in-house-llm"]}))
    return Engagement.load(root)


@pytest.fixture(scope="module")
def rendered(eng):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = run_phases(eng, ["01_scoping"])
    html = (eng.reports_dir / "01_scoping.html").read_text(encoding="utf-8")
    return eng, paths, html, [str(w.message) for w in caught]


def _without_plotly_js(html: str) -> str:
    """The page minus the embedded plotly.js bundle (whose code mentions map-tile URLs it never loads here)."""
    m = PLOTLY_BANNER.search(html)
    assert m, "plotly.js is not embedded"
    start, end = html.rfind("<script", 0, m.start()), html.index("</script>", m.end())
    return html[:start] + html[end:]


def test_scoping_report_is_written(rendered):
    eng, paths, html, _ = rendered
    assert paths == [eng.reports_dir / "01_scoping.ipynb", eng.reports_dir / "01_scoping.html"]
    assert all(p.is_file() for p in paths)
    assert CLIENT in html
    for section in ("Executive summary", "Data intake", "Where the calls go", "Tokens and latency", "Errors",
                    "Cost", "Tools"):
        assert f">{section}" in html, section
    assert "in-house-llm" in html  # the unpriced model is called out
    assert "timestamp out of range" in html  # quarantine reasons, as counts
    assert "PRIVATE-PROMPT-TEXT" not in html


def test_report_works_offline(rendered):
    _, _, html, caught = rendered
    # the template and the figure renderer emit nothing external: the last-resort stripping never ran
    assert not [w for w in caught if "external" in w]
    assert not EXTERNAL.findall(html)
    assert len(PLOTLY_BANNER.findall(html)) == 1
    rest = _without_plotly_js(html)
    assert "cdn" not in rest.lower()
    assert "require.js" not in rest and "mathjax.js" not in rest.lower()
    assert rest.count("Plotly.newPlot(") >= 8  # the figures are there, drawn by the embedded library
    assert html.index("plotly.js v") < html.index("Plotly.newPlot(")


def test_report_hides_code_and_noise(rendered):
    _, _, html, _ = rendered
    assert 'class="jp-CodeMirrorEditor' not in html and 'class="jp-InputPrompt' not in html
    assert "s1.key_numbers" not in html and "notebook_engagement" not in html
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in html


def test_export_drops_code_and_stderr(tmp_path):
    cell = new_code_cell("print('SOURCE-CODE-MARKER')")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="tqdm 50%|#####     | 1/2\n"),
                    nbformat.v4.new_output("stream", name="stdout", text="visible result\n")]
    nbformat.write(new_notebook(cells=[new_markdown_cell("# Title"), cell]), tmp_path / "x.ipynb")
    out = export_html(tmp_path / "x.ipynb", tmp_path / "x.html", title="Client X · Scoping report")
    html = out.read_text(encoding="utf-8")
    assert "visible result" in html and "Client X · Scoping report" in html
    assert "tqdm" not in html and "SOURCE-CODE-MARKER" not in html
    assert not EXTERNAL.findall(html)


def test_second_run_is_skipped(rendered):
    eng, paths, _, _ = rendered
    before = {p: p.stat().st_mtime_ns for p in paths}
    fresh = Engagement.load(eng.root)
    assert "report:01_scoping" in fresh.manifest.data["steps"]
    assert run_phases(fresh, ["01_scoping"]) == paths
    assert {p: p.stat().st_mtime_ns for p in paths} == before


def test_failing_notebook_names_notebook_section_and_error(eng, tmp_path):
    nb = new_notebook(cells=[
        new_code_cell('engagement = "x"', metadata={"tags": ["parameters"]}),
        new_markdown_cell("## Broken section\nThis part fails."),
        new_code_cell('raise ValueError("boom: the data is odd")'),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, tmp_path / "99_broken.ipynb")
    with pytest.raises(FdeError) as err:
        run_phases(eng, ["99_broken"], notebooks_dir=tmp_path)
    msg = str(err.value)
    assert "99_broken.ipynb" in msg and "Broken section" in msg
    assert "ValueError: boom: the data is odd" in msg
    assert str(eng.reports_dir / "99_broken.ipynb") in msg
    assert "Traceback" not in msg
    assert "report:99_broken" not in Engagement.load(eng.root).manifest.data["steps"]


def test_unknown_phase_lists_known_ones(eng):
    with pytest.raises(FdeError, match="01_scoping"):
        run_phases(eng, ["07_nope"])


def test_strip_external_assets():
    page = ('<head><script src="https://cdn.example.com/require.min.js"></script>'
            '<link rel="stylesheet" href="//fonts.example.com/a.css"><script>var ok = 1;</script></head>')
    cleaned, removed = strip_external_assets(page)
    assert len(removed) == 2 and cleaned == "<head><script>var ok = 1;</script></head>"
