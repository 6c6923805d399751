"""Export an executed notebook to a self-contained client report or slide deck (no code, nothing from a CDN).

    export_html(Path("reports/01_scoping.ipynb"), Path("reports/01_scoping.html"), title="Acme · Scoping")
    export_slides(Path("reports/executive_summary.ipynb"), Path("reports/executive_summary.slides.html"),
                  title="The case for specialist models", branding=branding(eng))

The report template (fde_toolkit/templates/nbconvert/report) extends nbconvert's lab template without the
require.js, MathJax, mermaid and widget-manager tags it would load from a CDN. plotly.js comes
embedded by the notebook (fde_toolkit.viz.setup_notebook). The slides template
(fde_toolkit/templates/nbconvert/slides) turns cells into reveal.js sections (cell metadata
`slideshow.slide_type`) and inlines reveal.js from fde_toolkit/vendor/revealjs; plotly.js moves into
the page head. Both take the engagement's branding (fde_toolkit.reports.branding). stderr outputs
(warnings, progress bars) and the outputs of cells tagged `interactive-only` are dropped. A last
check removes any remaining external <script src>/<link href> so the file opens on an air-gapped laptop.
"""

from __future__ import annotations

import re
import warnings
from datetime import date
from pathlib import Path

import nbformat

from fde_toolkit import FdeError, __version__, assets
from fde_toolkit.reports.branding import Branding

TEMPLATES = assets.path("templates", "nbconvert")
TEMPLATE_NAME = "report"
SLIDES_TEMPLATE_NAME = "slides"
REVEAL_DIR = assets.path("vendor", "revealjs")
SLIDE_SIZE = (1280, 720)

# An external script or stylesheet: <script ... src="http(s)://..."></script> or <link ... href="http(s)://...">.
EXTERNAL_ASSET = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script>"
    r"|<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>",
    re.IGNORECASE)


# what a client sees of a notebook: outputs only, no code, prompts or heading anchors
CODE_FREE = dict(extra_template_basedirs=[str(TEMPLATES)], exclude_input=True, exclude_input_prompt=True,
                 exclude_output_prompt=True, exclude_anchor_links=True)

INTERACTIVE_ONLY = "interactive-only"  # cell tag: its output needs a live kernel (ipywidgets), not in reports
PLOTLY_JS_BANNER = re.compile(r"\* plotly\.js v\d")  # the header comment of the plotly.js bundle
PARAMETER_TAGS = {"parameters", "injected-parameters"}
SOURCE_MAP = re.compile(r"^\s*//# sourceMappingURL=.*$", re.MULTILINE)
CSS_IMPORT = re.compile(r"^\s*@import\s+url\([^)]*\)\s*;\s*$", re.MULTILINE)


def _drop_noise(nb: nbformat.NotebookNode) -> None:
    """Remove stderr streams (warnings, tqdm bars) from every code cell, and the outputs of cells
    tagged `interactive-only` (widgets render only with a live kernel) with their saved widget state."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if INTERACTIVE_ONLY in cell.get("metadata", {}).get("tags", []):
            cell.outputs = []
            continue
        cell.outputs = [o for o in cell.get("outputs", [])
                        if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]


def strip_external_assets(html: str) -> tuple[str, list[str]]:
    """Remove external script/link tags; returns the cleaned HTML and what was removed."""
    removed = EXTERNAL_ASSET.findall(html)
    return EXTERNAL_ASSET.sub("", html), removed


def _read(executed_ipynb: Path) -> nbformat.NotebookNode:
    try:
        return nbformat.read(executed_ipynb, as_version=4)
    except (OSError, ValueError) as e:
        raise FdeError(f"{executed_ipynb}: cannot read the executed notebook ({e.__class__.__name__}). "
                       f"Run `fde run --force` to render it again.") from None


def _write(body: str, out_html: Path) -> Path:
    """The last check (no external script/stylesheet tag), then write the file."""
    body, removed = strip_external_assets(body)
    if removed:
        warnings.warn(f"{out_html.name}: removed {len(removed)} external script/stylesheet tag(s) "
                      "so the report works offline", stacklevel=3)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text(body, encoding="utf-8")
    return out_html


def export_html(executed_ipynb: Path, out_html: Path, title: str | None = None,
                branding: Branding | None = None) -> Path:
    """Write `executed_ipynb` as a code-free, offline HTML report at `out_html`."""
    from nbconvert import HTMLExporter

    executed_ipynb, out_html = Path(executed_ipynb), Path(out_html)
    nb = _read(executed_ipynb)
    _drop_noise(nb)
    title = title or executed_ipynb.stem
    nb.metadata["title"] = title
    exporter = HTMLExporter(
        template_name=TEMPLATE_NAME,
        **CODE_FREE,
    )
    resources = {"fde_report": {"title": title, "subtitle": date.today().strftime("%d %B %Y"),
                                "footer": f"Prepared with fde-toolkit {__version__}. "
                                          "Figures are interactive: hover for values."},
                 "fde_brand": branding.resources() if branding else {}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return _write(body, out_html)


def _vendored(name: str) -> str:
    """A reveal.js file from fde_toolkit/vendor/revealjs, ready to inline (no source map, no web-font import)."""
    path = REVEAL_DIR / name
    if not path.is_file():
        raise FdeError(f"{path}: the vendored reveal.js file is missing, so slides cannot be exported. "
                       "Reinstall fde-toolkit (`make install`).")
    text = path.read_text(encoding="utf-8")
    return CSS_IMPORT.sub("", SOURCE_MAP.sub("", text))


def _hoist_plotly_js(nb: nbformat.NotebookNode) -> str:
    """Take the plotly.js bundle out of the cell that emitted it (viz.setup_notebook) and return it for
    the page head, so every slide can draw figures whatever cell it sits in. When no cell emitted it but
    figures are there, the plotly package's own copy is used (still inline)."""
    head, has_figures = [], False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            html = out.get("data", {}).get("text/html", "")
            html = "".join(html) if isinstance(html, list) else html
            if html and PLOTLY_JS_BANNER.search(html) and not head:
                head.append(html)
                continue
            if "Plotly.newPlot(" in html:
                has_figures = True
            kept.append(out)
        cell.outputs = kept
    if not head and has_figures:
        from plotly.offline import get_plotlyjs

        head.append(f'<script type="text/javascript">{get_plotlyjs()}</script>')
    return "".join(head)


def export_slides(executed_ipynb: Path, out_html: Path, title: str | None = None,
                  branding: Branding | None = None, subtitle: str | None = None, kicker: str | None = None) -> Path:
    """Write `executed_ipynb` as a single-file reveal.js deck at `out_html`: reveal.js and plotly.js
    inlined, code and stderr hidden, a branded title slide first, then one <section> per slide of the
    notebook (cell metadata `slideshow.slide_type`: slide, subslide, fragment, skip, notes or -)."""
    from nbconvert import SlidesExporter

    executed_ipynb, out_html = Path(executed_ipynb), Path(out_html)
    nb = _read(executed_ipynb)
    _drop_noise(nb)
    branding = branding or Branding(client="")
    title = title or str(nb.metadata.get("title") or executed_ipynb.stem)
    nb.metadata["title"] = title
    head = _hoist_plotly_js(nb)
    for cell in nb.cells:  # the parameters (and the cell Papermill injects after them) are never a slide
        if PARAMETER_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            cell.metadata.setdefault("slideshow", {})["slide_type"] = "skip"
    exporter = SlidesExporter(
        template_name=SLIDES_TEMPLATE_NAME,
        **CODE_FREE,
    )
    width, height = SLIDE_SIZE
    resources = {
        "fde_brand": branding.resources(),
        "fde_slides": {"title": title, "subtitle": subtitle or "", "kicker": kicker or "",
                       "date": date.today().strftime("%d %B %Y"), "width": width, "height": height,
                       "reveal_js": _vendored("reveal.js"), "reveal_css": _vendored("reveal.css"),
                       "theme_css": _vendored("theme/white.css"), "head_html": head},
    }
    try:
        body, _ = exporter.from_notebook_node(nb, resources=resources)
    except ValueError as e:  # nbconvert: "All cells are hidden, cannot create slideshow"
        raise FdeError(f"{executed_ipynb}: no slide to show ({e}). Give some cells a slideshow slide_type other "
                       "than skip or notes.") from None
    return _write(body, out_html)
