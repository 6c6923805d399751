"""The handover notebook rendered by the report runner: every section, offline, with and without evaluations."""

from __future__ import annotations

import re

import nbformat
import pytest
from roi_synthetic import ROI_FIXED, write_engagement

from fde_toolkit.reports.runner import run_phases

EXTERNAL = re.compile(r"""<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)
EXTERNAL_ASSET = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//[^"'\s>]+\.(?:js|css|mjs)\b""", re.IGNORECASE)
PLOTLY_BANNER = re.compile(r"\* plotly\.js v\d")
CLIENT = "Handover Test Client"
ROI = {"assumptions": {**ROI_FIXED, "logged_share_of_traffic": {"unit": "share", "value": 0.005, "source": "test"}},
       "monte_carlo": {"samples": 300}}


def _render(root):
    run_phases(root, ["04_handover"])
    html = (root.reports_dir / "04_handover.html").read_text(encoding="utf-8")
    nb = nbformat.read(root.reports_dir / "04_handover.ipynb", as_version=4)
    return html, nb


@pytest.fixture(scope="module")
def complete(tmp_path_factory):
    eng = write_engagement(tmp_path_factory.mktemp("handover") / "acme", evaluated=("t001", "t002"), roi=ROI,
                           client=CLIENT)
    return (eng, *_render(eng))


@pytest.fixture(scope="module")
def early(tmp_path_factory):
    eng = write_engagement(tmp_path_factory.mktemp("handover") / "early", evaluated=(), roi=ROI, client=CLIENT)
    return (eng, *_render(eng))


def _without_plotly_js(html: str) -> str:
    m = PLOTLY_BANNER.search(html)
    assert m, "plotly.js is not embedded"
    start, end = html.rfind("<script", 0, m.start()), html.index("</script>", m.end())
    return html[:start] + html[end:]


def test_handover_report_has_every_section(complete):
    eng, html, _ = complete
    assert CLIENT in html and "Handover report" in html
    for section in ("Executive summary", "Tier 1", "Tier 2", "Tier 3", "Scenarios", "How sure we are",
                    "Where each number comes from", "The specialists", "Next steps", "What if"):
        assert f">{section}" in html, section
    assert "eval/&lt;task&gt;.json · variants.fine_tuned.metrics.agreement" in html  # lineage in the tables
    assert "t001 specialist: LoRA adapter" in html  # the model cards
    assert "t003" in html  # the next candidate in the refinement plan
    assert (eng.artifacts_dir / "roi.json").is_file()


def test_handover_report_works_offline(complete):
    _, html, nb = complete
    assert not EXTERNAL_ASSET.findall(html)
    rest = _without_plotly_js(html)
    assert not EXTERNAL.findall(rest)
    assert "cdn" not in rest.lower() and "require.js" not in rest
    assert len(PLOTLY_BANNER.findall(html)) == 1
    assert rest.count("Plotly.newPlot(") >= 8
    # the what-if widget is interactive-only: live Jupyter runs it (tests/test_roi_step.py builds it), `fde run`
    # does not, and the executed notebook keeps its code
    widget_cells = [c for c in nb.cells if "interactive-only" in c.get("metadata", {}).get("tags", [])]
    assert len(widget_cells) == 1 and "what_if(" in widget_cells[0].source and not widget_cells[0].outputs
    assert "application/vnd.jupyter.widget-view+json" not in html


def test_handover_renders_before_any_evaluation(early):
    _, html, nb = early
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
    assert "The ROI cannot be computed yet" in html and "fde evaluate" in html
    assert "No specialist has been fine-tuned yet" in html
    assert not EXTERNAL_ASSET.findall(html)
