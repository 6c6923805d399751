"""Executive slides: reveal.js inlined and offline, branding, one section per slide, slides that degrade
gracefully, the run of every phase notebook, and a headless browser that opens the deck."""

from __future__ import annotations

import html as htmllib
import json
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import polars as pl
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from fde_toolkit import FdeError
from fde_toolkit.engagement import Engagement
from fde_toolkit.logs.profile import profile_calls
from fde_toolkit.logs.schema import conform
from fde_toolkit.reports import executive
from fde_toolkit.reports.branding import Branding, branding
from fde_toolkit.reports.export import REVEAL_DIR, export_html, export_slides
from fde_toolkit.reports.runner import NOTEBOOKS, find_phases, run_phases

CLIENT = "Slide Test Mutual"
PRIMARY, ACCENT = "#123ABC", "#FEDCBA"
LOGO = ('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" '
        'fill="#123ABC"/></svg>')
# an external script or stylesheet, as a browser would fetch it
EXTERNAL = re.compile(r"""<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)
KERNEL_META = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


def _slide(t: str, **extra) -> dict:
    return {"slideshow": {"slide_type": t}, **extra}


def _text(fragment) -> str:
    """A slide's HTML with entities decoded, to search its sentences."""
    return htmllib.unescape(str(fragment))


def _top_sections(html: str) -> int:
    """Top-level <section>s of the deck (a slide is a <section> holding one <section> per subslide)."""
    body = html[html.index('<div class="slides">'):]
    body = re.sub(r"<script[\s\S]*?</script>", "", body)
    depth = top = 0
    for m in re.finditer(r"<section\b|</section>", body):
        if m.group(0) == "</section>":
            depth -= 1
        else:
            top += depth == 0
            depth += 1
    return top


def _engagement(root: Path, reports: dict | None = None, client: str = "Config Client") -> Engagement:
    root.mkdir(parents=True, exist_ok=True)
    (root / "artifacts").mkdir(exist_ok=True)
    cfg = {"name": root.name, "client": client}
    if reports is not None:
        cfg["reports"] = reports
    (root / "engagement.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return Engagement.load(root)


def _branded(root: Path) -> Engagement:
    root.mkdir(parents=True, exist_ok=True)
    (root / "brand").mkdir(exist_ok=True)
    (root / "brand" / "logo.svg").write_text(LOGO, encoding="utf-8")
    return _engagement(root, {"client_name": CLIENT, "logo": "brand/logo.svg", "primary_color": PRIMARY,
                              "accent_color": ACCENT, "footer": "Confidential test footer"})


# ----------------------------------------------------------------------------- artifacts for the executive summary

def _profile() -> dict:
    start = datetime(2026, 3, 2, tzinfo=timezone.utc)
    n = 300
    i = pl.int_range(n, eager=True)
    df = pl.DataFrame({"i": i}).with_columns(
        pl.col("i").cast(pl.String).alias("call_id"),
        pl.Series([start + timedelta(hours=2 * k) for k in range(n)]).cast(pl.Datetime("us", "UTC")).alias("timestamp"),
        pl.when(pl.col("i") % 3 == 0).then(pl.lit("gpt-4o")).otherwise(pl.lit("gpt-4o-mini")).alias("model"),
        pl.lit("openai").alias("provider"),
        (200 + pl.col("i")).alias("input_tokens"), pl.lit(8).alias("output_tokens"),
        (500.0 + pl.col("i")).alias("latency_ms"), (pl.col("i") % 3 * 0.01 + 0.001).alias("cost_usd"),
        pl.lit("ok").alias("status"),
        pl.concat_list(pl.struct(role=pl.lit("user"), content=pl.lit("PRIVATE-PROMPT-TEXT"))).alias("messages"),
        pl.lit("label").alias("response_text"))
    return profile_calls(conform(df))


def _tasks() -> dict:
    rows = []
    for tid, name, kind, share, cost_share, rank in (("t001", "classify intents", "label", 0.5, 0.3, 1),
                                                    ("t002", "extract claim fields", "json", 0.3, 0.4, 2),
                                                    ("t003", "open questions", "long_text", 0.2, 0.3, None)):
        rows.append({"id": tid, "name": name, "output_kind": kind, "steps": ["s01"], "calls": int(share * 300),
                     "volume_share": share, "cost_usd": cost_share * 4.0, "cost_share": cost_share,
                     "readiness": {"score": 0.9 if rank else 0.3}, "candidate": rank is not None, "rank": rank})
    return {"calls": 300, "steps": [{"id": "s01", "calls": 300, "output_kind": "label"}], "tasks": rows,
            "candidates": ["t001", "t002"]}


def _eval(task: str, agreement: float) -> dict:
    variant = lambda a: {"metrics": {"accuracy": a, "agreement": a}, "latency_ms": {"p50": 90.0},  # noqa: E731
                         "examples_per_s": 5.0, "cost": {"per_task_usd": 5e-6, "per_successful_task_usd": 6e-6}}
    return {"task": task, "output_kind": "label", "candidate": "tiny-slm", "examples": 120,
            "metric_names": ["accuracy", "agreement"],
            "variants": {"base": variant(0.2), "few_shot": variant(0.5), "fine_tuned": variant(agreement)},
            "llm": {"cost_per_task_usd": 0.001, "priced_examples": 120, "latency_ms_p50": 600.0},
            "cost_ratio_fine_tuned_vs_llm": 0.006}


def _roi() -> dict:
    entry = lambda v, unit="usd_per_year": {"value": v, "unit": unit, "label": "", "measured": [], "assumed": []}  # noqa: E731
    metrics = {"quality": entry(0.95, "share"), "calls_covered_share": entry(0.5, "share"),
               "calls_per_month": entry(150, "calls"), "latency_before_ms": entry(600.0, "ms"),
               "latency_after_ms": entry(120.0, "ms"), "cost_per_success_before": entry(0.001, "usd"),
               "cost_per_success_after": entry(0.0002, "usd")}
    cash = {"months": [0, 1, 2], "adoption": [0, 0.5, 1], "net": [0, 1, 2], "cumulative": [-50000, -40000, -20000]}
    return {"status": "complete", "horizon_years": 3, "tasks": ["t001"], "expanded_tasks": ["t002"],
            "tier1": {"tasks": [{"task": "t001", "name": "classify intents", "metrics": metrics}]},
            "tier2": {"cases_per_month": entry(1200, "cases"), "slm_answers_per_month": entry(140, "calls"),
                      "escalation_rate": entry(0.07, "share"), "net_hours_saved_per_month": entry(35, "hours"),
                      "throughput_headroom": entry(3.5, "factor")},
            "tier3": {"llm_spend_avoided": entry(90000), "slm_serving": entry(8000), "labour_value": entry(21000),
                      "upkeep": entry(12000), "net_annual_benefit": entry(91000), "one_off": entry(55000, "usd"),
                      "payback_months": entry(8.4, "months"), "npv": entry(170000, "usd"),
                      "roi_pct": entry(390, "percent")},
            "cash_flow": cash,
            "scenarios": [{"name": n, "label": n.title(), "tier3": {"net_annual_benefit": v, "payback_months": pb},
                           "cash_flow": cash} for n, v, pb in (("as_measured", 91000, 8.4),
                                                                ("conservative", 40000, 17.0),
                                                                ("expanded", 150000, 6.0))],
            "uncertainty": {"tornado": [{"assumption": "loaded_hourly_rate_usd", "unit": "usd_per_hour", "low": 40,
                                         "high": 60, "at_low": {"net_annual_benefit": 80000},
                                         "at_high": {"net_annual_benefit": 102000}}],
                            "monte_carlo": {"samples": 500, "net_annual_benefit": {"p10": 52000, "p50": 90000,
                                                                                   "p90": 130000},
                                            "payback_months": {"p10": 6.0, "p50": 8.5, "p90": 13.0},
                                            "p_positive_net_benefit": 0.96, "p_payback_within_horizon": 0.99}},
            "assumptions": {"loaded_hourly_rate_usd": {"likely": 50, "source": "client HR", "flagged": False,
                                                       "used": True},
                            "rework_share": {"likely": 0.2, "source": "default", "flagged": True, "used": True}}}


def _with_artifacts(eng: Engagement, roi: bool = True) -> Engagement:
    art = eng.artifacts_dir
    (art / "profile.json").write_text(json.dumps(_profile(), default=str), encoding="utf-8")
    (art / "tasks.json").write_text(json.dumps(_tasks()), encoding="utf-8")
    (art / "eval").mkdir(exist_ok=True)
    (art / "eval" / "t001.json").write_text(json.dumps(_eval("t001", 0.95)), encoding="utf-8")
    (art / "eval" / "t001_predictions.jsonl").write_text("{}\n", encoding="utf-8")  # not an evaluation report
    if roi:
        (art / "roi.json").write_text(json.dumps(_roi()), encoding="utf-8")
    return eng


# ----------------------------------------------------------------------------- export_slides, no kernel

def _executed_deck(tmp_path: Path) -> Path:
    """An 'executed' notebook built by hand: parameters, plotly.js, three slides, noise to drop."""
    from plotly.offline import get_plotlyjs

    setup = new_code_cell("viz.setup_notebook()", metadata=_slide("skip"))
    setup.outputs = [new_output("display_data", data={"text/html": f"<script>{get_plotlyjs()}</script>"})]
    fig = new_code_cell("fig", metadata=_slide("-"))
    fig.outputs = [new_output("display_data", data={"text/html": '<div id="f1"></div><script>'
                                                                  'Plotly.newPlot("f1", [{"y": [1, 3, 2]}])</script>'}),
                   new_output("stream", name="stderr", text="tqdm 50%|#####\n")]
    widget = new_code_cell("explorer()", metadata=_slide("-", tags=["interactive-only"]))
    widget.outputs = [new_output("display_data", data={"text/plain": "WIDGET-ONLY-OUTPUT"})]
    injected = new_code_cell('engagement = "/abs/path"', metadata={"tags": ["injected-parameters"]})
    cells = [new_code_cell('engagement = "x"', metadata=_slide("skip", tags=["parameters"])), injected, setup,
             new_markdown_cell("## Slide one: the problem", metadata=_slide("slide")),
             new_code_cell("print('SOURCE-CODE-MARKER')", metadata=_slide("-")),
             new_markdown_cell("## Slide two: a figure", metadata=_slide("slide")), fig, widget,
             new_markdown_cell("speaker notes here", metadata=_slide("notes")),
             new_markdown_cell("## Slide three: the ask", metadata=_slide("slide"))]
    cells[4].outputs = [new_output("stream", name="stdout", text="visible result\n")]
    path = tmp_path / "deck.ipynb"
    nbformat.write(new_notebook(cells=cells, metadata=KERNEL_META), path)
    return path


@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("deck")
    brand = Branding(client=CLIENT, primary=PRIMARY, accent=ACCENT, logo_data_uri="data:image/svg+xml;base64,AAAA",
                     footer="Confidential test footer")
    out = export_slides(_executed_deck(tmp), tmp / "deck.slides.html", title="The case", subtitle="Sub",
                        kicker="Executive summary", branding=brand)
    return out.read_text(encoding="utf-8")


def test_slides_inline_reveal_and_nothing_external(deck):
    reveal_js = (REVEAL_DIR / "reveal.js").read_text(encoding="utf-8")
    assert reveal_js.splitlines()[1].strip() in deck  # the vendored bundle's banner: reveal.js is inline
    assert "Reveal.initialize(" in deck
    assert not EXTERNAL.findall(deck)
    assert "unpkg.com" not in deck and "cdnjs" not in deck and "require.js" not in deck.lower()
    assert "sourceMappingURL" not in deck
    assert "@import url(" not in deck
    assert deck.count("plotly.js v") >= 1 and deck.index("plotly.js v") < deck.index('Plotly.newPlot("f1"')


def test_slides_branding_and_one_section_per_slide(deck):
    assert CLIENT in deck and "Confidential test footer" in deck
    assert f"--fde-primary:{PRIMARY}" in deck and f"--fde-accent:{ACCENT}" in deck
    assert 'src="data:image/svg+xml;base64,AAAA"' in deck
    assert _top_sections(deck) == 4  # the branded title slide + three notebook slides
    assert 'class="fde-title-slide"' in deck and "The case" in deck


def test_slides_hide_code_noise_and_widgets(deck):
    assert "visible result" in deck
    assert "SOURCE-CODE-MARKER" not in deck and "tqdm" not in deck
    assert "WIDGET-ONLY-OUTPUT" not in deck
    assert "/abs/path" not in deck  # the cell Papermill injects is not a slide
    assert '<aside class="notes">' in deck  # speaker notes stay hidden in an aside


def test_slides_without_any_visible_cell(tmp_path):
    nbformat.write(new_notebook(cells=[new_markdown_cell("x", metadata=_slide("skip"))]), tmp_path / "e.ipynb")
    with pytest.raises(FdeError, match="no slide to show"):
        export_slides(tmp_path / "e.ipynb", tmp_path / "e.html")


def test_report_takes_the_branding(tmp_path):
    nbformat.write(new_notebook(cells=[new_markdown_cell("## Section")]), tmp_path / "r.ipynb")
    eng = _branded(tmp_path / "eng")
    html = export_html(tmp_path / "r.ipynb", tmp_path / "r.html", title="T", branding=branding(eng)).read_text()
    assert f"--fde-primary:{PRIMARY}" in html and 'class="fde-logo" src="data:image/svg+xml;base64,' in html
    assert "Confidential test footer" in html and not EXTERNAL.findall(html)


# ----------------------------------------------------------------------------- branding errors

def test_branding_defaults_to_the_client(tmp_path):
    b = branding(_engagement(tmp_path / "e"))
    assert b.client == "Config Client" and b.logo_data_uri is None and b.primary.startswith("#")


def test_missing_logo_names_the_field_and_file(tmp_path):
    eng = _engagement(tmp_path / "e", {"logo": "brand/nope.png"})
    with pytest.raises(FdeError) as err:
        branding(eng)
    msg = str(err.value)
    assert "reports.logo" in msg and str(tmp_path / "e" / "brand" / "nope.png") in msg and "does not exist" in msg
    assert "engagement.yaml" in msg


def test_logo_of_unknown_type(tmp_path):
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "logo.bmp").write_bytes(b"BM")
    with pytest.raises(FdeError, match=r"reports\.logo .*logo\.bmp.*\.svg"):
        branding(_engagement(tmp_path / "e", {"logo": "logo.bmp"}))


@pytest.mark.parametrize("section, field", [({"primary_color": "blue"}, "reports.primary_color"),
                                            ({"accent_color": "#12"}, "reports.accent_color"),
                                            ({"logo_path": "x.png"}, "reports.logo_path")])
def test_bad_reports_section(tmp_path, section, field):
    with pytest.raises(FdeError) as err:
        branding(_engagement(tmp_path / "e", section))
    assert field in str(err.value) and "Traceback" not in str(err.value)


def test_run_stops_before_any_notebook_on_a_missing_logo(tmp_path):
    eng = _engagement(tmp_path / "e", {"logo": "missing.svg"})
    with pytest.raises(FdeError, match="reports.logo"):
        run_phases(eng, ["01_scoping"])
    assert not eng.reports_dir.exists() or not any(eng.reports_dir.iterdir())


# ----------------------------------------------------------------------------- the slides' numbers and sentences

def test_every_slide_says_what_is_not_measured_yet(tmp_path):
    ex = executive.load_summary(_engagement(tmp_path / "bare"))
    for fn, command in ((executive.problem, "fde ingest"), (executive.money, "fde discover"),
                        (executive.moved, "fde discover"), (executive.quality, "fde evaluate"),
                        (executive.tiers, "fde roi"), (executive.payback, "fde roi"),
                        (executive.assumptions, "fde roi")):
        html = _text(fn(ex))
        assert "Not measured yet" in html and command in html, fn.__name__
    assert "not quantified yet" in _text(executive.ask(ex))
    assert executive.money_figure(ex) is None and executive.quality_figure(ex) is None
    assert executive.payback_figure(ex) is None


def test_slides_read_the_artifacts(tmp_path):
    ex = executive.load_summary(_with_artifacts(_branded(tmp_path / "full")))
    assert ex.client == CLIENT and list(ex.evals) == ["t001"]
    problem = _text(executive.problem(ex))
    assert "LLM calls a month" in problem and "Not measured" not in problem
    assert "2 repetitive tasks carry 80% of the calls and 70% of the spend" in _text(executive.money(ex))
    assert "1 task moved to specialist models, covering 50% of the calls" in _text(executive.moved(ex))
    assert "give the LLM's answer on 95% of calls" in _text(executive.quality(ex))
    assert "$91k a year of net benefit" in _text(executive.tiers(ex))
    payback = _text(executive.payback(ex))
    assert "pays back in 8.4 months (P10–P90: 6–13 months)" in payback and "$52k to $130k" in payback
    ask = _text(executive.ask(ex))
    assert "Approve $55k to save $91k a year" in ask and "Approve the next wave: t002" in ask
    assert "rework share" in ask  # a default assumption still to confirm
    assert "loaded hourly rate usd" in _text(executive.assumptions(ex))
    assert "PRIVATE-PROMPT-TEXT" not in problem


def test_slides_show_intervals_and_the_paired_test_when_the_evaluation_has_them(tmp_path):
    eng = _with_artifacts(_branded(tmp_path / "ci"))
    doc = _eval("t001", 0.95)
    doc["variants"]["fine_tuned"]["metrics"]["intervals"] = {"accuracy": [0.895, 0.977], "agreement": [0.895, 0.977]}
    doc["comparisons"] = {"fine_tuned_vs_few_shot": {"n": 120, "a_only": 54, "b_only": 0, "p_value": 1.1e-16,
                                                     "verdict": "better"}}
    (eng.artifacts_dir / "eval" / "t001.json").write_text(json.dumps(doc), encoding="utf-8")
    ex = executive.load_summary(eng)
    assert "95.0% [90%, 98%]" in _text(executive.moved(ex))
    quality = _text(executive.quality(ex))
    assert "give the LLM's answer on 95% of calls" in quality
    assert "95% intervals of the agreement: t001 [90%, 98%]" in quality
    assert "the specialist is better on t001 (p<0.001, 120 paired calls)" in quality
    bars = {b.name: b.error_y for b in executive.quality_figure(ex).data}
    assert list(bars["fine-tuned"].array) == pytest.approx([0.977 - 0.95]) and bars["base, zero-shot"].array is None


def test_roi_that_does_not_pay_back_is_said_plainly(tmp_path):
    eng = _with_artifacts(_branded(tmp_path / "neg"))
    roi = _roi()
    roi["tier3"]["net_annual_benefit"]["value"] = -12000
    roi["tier3"]["payback_months"]["value"] = None
    (eng.artifacts_dir / "roi.json").write_text(json.dumps(roi), encoding="utf-8")
    ex = executive.load_summary(eng)
    assert "cost $12k a year more than they save" in _text(executive.tiers(ex))
    assert "does not pay back within 3 years" in _text(executive.payback(ex))
    assert "Widen the scope before investing" in _text(executive.ask(ex))


def test_incomplete_roi_lists_what_it_needs(tmp_path):
    eng = _with_artifacts(_branded(tmp_path / "inc"), roi=False)
    (eng.artifacts_dir / "roi.json").write_text(json.dumps({"status": "incomplete", "needs": ["an evaluated task"]}))
    html = _text(executive.tiers(executive.load_summary(eng)))
    assert "Not measured yet" in html and "an evaluated task" in html


def test_usd_reads_like_a_cfo():
    assert [executive.usd(x) for x in (None, 0, 39.034, 4560.4, 45_300, 1_240_000, -18_000)] == \
        ["unknown", "$0.00", "$39.03", "$4,560", "$45k", "$1.2M", "-$18k"]


# ----------------------------------------------------------------------------- run_phases over notebooks

def _tiny_notebook(path: Path, body: str, slides: bool = False) -> None:
    meta = (lambda t: _slide(t)) if slides else (lambda t: {})
    cells = [new_code_cell('engagement = "x"', metadata={**meta("skip"), "tags": ["parameters"]}),
             new_markdown_cell(f"## {path.stem}", metadata=meta("slide")),
             new_code_cell(body, metadata=meta("-"))]
    nbformat.write(new_notebook(cells=cells, metadata=KERNEL_META), path)


def test_find_phases_orders_phases_then_the_summary(tmp_path):
    for name in ("02_b", "01_a", "executive_summary", "notes", "1_bad"):
        _tiny_notebook(tmp_path / f"{name}.ipynb", "1")
    assert find_phases(tmp_path) == ["01_a", "02_b", "executive_summary"]
    assert find_phases(NOTEBOOKS)[0] == "01_scoping" and find_phases(NOTEBOOKS)[-1] == "executive_summary"


def test_run_phases_without_phases_renders_every_notebook(tmp_path):
    nbs = tmp_path / "nb"
    nbs.mkdir()
    _tiny_notebook(nbs / "01_a.ipynb", "print('phase A ran')")
    _tiny_notebook(nbs / "02_b.ipynb", "print('phase B ran')")
    _tiny_notebook(nbs / "executive_summary.ipynb", "print('summary ran')", slides=True)
    eng = _branded(tmp_path / "eng")
    written = run_phases(eng, notebooks_dir=nbs)
    rep = eng.reports_dir
    assert written == [rep / "01_a.ipynb", rep / "01_a.html", rep / "02_b.ipynb", rep / "02_b.html",
                       rep / "executive_summary.ipynb", rep / "executive_summary.slides.html"]
    assert "phase B ran" in (rep / "02_b.html").read_text()
    assert f"{CLIENT} · 02_b" in (rep / "02_b.html").read_text()
    slides = (rep / "executive_summary.slides.html").read_text()
    assert "summary ran" in slides and "Reveal.initialize(" in slides and not EXTERNAL.findall(slides)
    steps = Engagement.load(eng.root).manifest.data["steps"]
    assert {"report:01_a", "report:02_b", "report:executive_summary"} <= set(steps)
    # unchanged inputs: every step is skipped
    before = {p: p.stat().st_mtime_ns for p in written}
    assert run_phases(Engagement.load(eng.root), notebooks_dir=nbs) == written
    assert {p: p.stat().st_mtime_ns for p in written} == before


def test_a_failing_phase_does_not_stop_the_others(tmp_path):
    nbs = tmp_path / "nb"
    nbs.mkdir()
    _tiny_notebook(nbs / "01_a.ipynb", "print('ok')")
    _tiny_notebook(nbs / "02_broken.ipynb", "raise ValueError('boom in phase two')")
    _tiny_notebook(nbs / "executive_summary.ipynb", "print('summary ran')", slides=True)
    eng = _engagement(tmp_path / "eng")
    with pytest.raises(FdeError) as err:
        run_phases(eng, notebooks_dir=nbs)
    msg = str(err.value)
    assert "1 of 3 notebooks failed" in msg and "02_broken.ipynb" in msg and "boom in phase two" in msg
    assert (eng.reports_dir / "01_a.html").is_file()
    assert (eng.reports_dir / "executive_summary.slides.html").is_file()


def test_unknown_phase_is_named_before_anything_runs(tmp_path):
    eng = _engagement(tmp_path / "eng")
    with pytest.raises(FdeError, match="no such phase notebook"):
        run_phases(eng, ["01_scoping", "07_nope"])
    assert "report:01_scoping" not in eng.manifest.data["steps"]


# ----------------------------------------------------------------------------- the real executive summary notebook

@pytest.fixture(scope="module")
def summary_deck(tmp_path_factory):
    root = tmp_path_factory.mktemp("exec") / "acme"
    eng = _with_artifacts(_branded(root))
    run_phases(eng, ["executive_summary"])
    return eng, (eng.reports_dir / "executive_summary.slides.html").read_text(encoding="utf-8")


def test_executive_summary_deck(summary_deck):
    _, html = summary_deck
    assert _top_sections(html) == 9  # title + problem, money, moved, quality, tiers, payback, ask, appendix
    for kicker in ("The problem", "Where the money goes", "What moved to small models", "Quality held",
                   "The three tiers", "Payback and its range", "The ask", "Appendix"):
        assert f'class="fde-kicker">{kicker}' in html, kicker
    assert not EXTERNAL.findall(html)
    assert "PRIVATE-PROMPT-TEXT" not in html
    assert "executive.problem" not in html and "notebook_engagement" not in html  # code hidden
    assert html.count("Plotly.newPlot(") == 3  # money, quality, payback


def test_executive_summary_of_a_bare_engagement(tmp_path):
    eng = _branded(tmp_path / "bare")
    run_phases(eng, ["executive_summary"])
    html = (eng.reports_dir / "executive_summary.slides.html").read_text(encoding="utf-8")
    assert html.count("Not measured yet") == 7 and "Plotly.newPlot(" not in html
    assert _top_sections(html) == 9


@pytest.mark.skipif(not shutil.which("chromium"), reason="chromium is not installed")
def test_deck_opens_in_a_headless_browser_offline(summary_deck, tmp_path):
    """Reveal.js runs and plotly draws, with every network request refused."""
    _, html = summary_deck
    page = tmp_path / "deck.html"
    probe = ("<script>setTimeout(function(){document.body.setAttribute('data-probe', [typeof Reveal, "
             "Reveal.isReady(), Reveal.getTotalSlides(), document.querySelectorAll('.main-svg').length].join('|'))}"
             ", 1500)</script></html>")
    page.write_text(html.replace("</html>", probe), encoding="utf-8")
    out = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                          "--proxy-server=127.0.0.1:9", "--window-size=1280,720", "--dump-dom", page.as_uri() + "#/2"],
                         capture_output=True, text=True, timeout=120)
    m = re.search(r'data-probe="([^"]*)"', out.stdout)
    assert m, out.stderr[-2000:]
    kind, ready, total, svgs = m.group(1).split("|")
    assert kind in ("object", "function") and ready == "true" and int(total) == 9
    assert int(svgs) >= 1  # the figure on the current slide was drawn by the inlined plotly.js


def test_interactive_only_cells_are_not_executed_by_run_phases(tmp_path):
    """Widget cells are for live Jupyter: `fde run` must not execute them (headless widget execution can
    hang nbclient), and the executed notebook keeps their code for whoever opens it in Jupyter."""
    nbs = tmp_path / "nb"
    nbs.mkdir()
    _tiny_notebook(nbs / "01_a.ipynb", "print('phase A ran')")
    book = nbformat.read(nbs / "01_a.ipynb", as_version=4)
    book.cells.append(new_code_cell("raise RuntimeError('widget cell executed')",
                                    metadata={"tags": ["interactive-only"]}))
    nbformat.write(book, nbs / "01_a.ipynb")
    eng = _engagement(tmp_path / "eng")
    run_phases(eng, ["01_a"], notebooks_dir=nbs)
    done = nbformat.read(eng.reports_dir / "01_a.ipynb", as_version=4)
    widget = [c for c in done.cells if "interactive-only" in c.metadata.get("tags", [])]
    assert len(widget) == 1 and widget[0].source == "raise RuntimeError('widget cell executed')"
    assert widget[0].outputs == [] and "phase A ran" in (eng.reports_dir / "01_a.html").read_text()
