"""Export an executed notebook to a self-contained client report (HTML, no code, nothing from a CDN).

    export_html(Path("reports/01_scoping.ipynb"), Path("reports/01_scoping.html"), title="Acme · Scoping")

The report template (templates/nbconvert/report) extends nbconvert's lab template without the
require.js, MathJax, mermaid and widget-manager tags it would load from a CDN. plotly.js comes
embedded by the notebook (fde_toolkit.viz.setup_notebook). stderr outputs (warnings, progress
bars) are dropped. A last check removes any remaining external <script src>/<link href> so the
file opens on an air-gapped laptop.
"""

from __future__ import annotations

import re
import warnings
from datetime import date
from pathlib import Path

import nbformat

import fde_toolkit
from fde_toolkit import FdeError

TEMPLATES = Path(fde_toolkit.__file__).resolve().parent.parent / "templates" / "nbconvert"
TEMPLATE_NAME = "report"

# An external script or stylesheet: <script ... src="http(s)://..."></script> or <link ... href="http(s)://...">.
EXTERNAL_ASSET = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script>"
    r"|<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>",
    re.IGNORECASE)


INTERACTIVE_ONLY = "interactive-only"  # cell tag: its output needs a live kernel (ipywidgets), not in reports


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


def export_html(executed_ipynb: Path, out_html: Path, title: str | None = None) -> Path:
    """Write `executed_ipynb` as a code-free, offline HTML report at `out_html`."""
    from nbconvert import HTMLExporter

    executed_ipynb, out_html = Path(executed_ipynb), Path(out_html)
    try:
        nb = nbformat.read(executed_ipynb, as_version=4)
    except (OSError, ValueError) as e:
        raise FdeError(f"{executed_ipynb}: cannot read the executed notebook ({e.__class__.__name__}). "
                       f"Run `fde run --force` to render it again.") from None
    _drop_noise(nb)
    title = title or executed_ipynb.stem
    nb.metadata["title"] = title
    exporter = HTMLExporter(
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_anchor_links=True,
    )
    resources = {"fde_report": {"title": title, "subtitle": date.today().strftime("%d %B %Y"),
                                "footer": f"Prepared with fde-toolkit {fde_toolkit.__version__}. "
                                          "Figures are interactive: hover for values."}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    body, removed = strip_external_assets(body)
    if removed:
        warnings.warn(f"{out_html.name}: removed {len(removed)} external script/stylesheet tag(s) "
                      "so the report works offline", stacklevel=2)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text(body, encoding="utf-8")
    return out_html
