"""One look for every figure and table in the project: the plotly theme and the helpers the stages share.

Importing this module registers the plotly template "fde" and makes it the default. Each stage's own
figures and tables live beside it (fde_toolkit/logs/figures.py for S1, privacy/figures.py, tasks/,
slm/, roi/) and use what is here: PALETTE and the colours, empty_figure, save_figure, and the HTML
helpers (Html, table, note, title_block); numbers are written by fde_toolkit.formatting.

    fig = s1.calls_by_model(prof)          # from fde_toolkit.logs import figures as s1
    viz.save_figure(fig, eng.artifacts.path("figure", "calls_by_model"))

In a notebook, call `viz.setup_notebook()` once: figures then render with plotly.js embedded once
in the page (no CDN), so exported reports open on an air-gapped laptop.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.io._base_renderers import NotebookRenderer

from fde_toolkit.files import write_text

# ----------------------------------------------------------------------------- the theme

PALETTE = ["#2F5D8C", "#E09F3E", "#4F9D8E", "#B5525C", "#7D6BA8", "#6E8B3D", "#3E9BC4", "#A67F59",
           "#8A8F98", "#C97BA6"]
INK = "#23303D"
MUTED = "#6B7785"
GRID = "#E6E9EE"
FONT = "Inter, 'Segoe UI', 'Helvetica Neue', Helvetica, Arial, sans-serif"
HEIGHT = 440


def _template() -> go.layout.Template:
    t = go.layout.Template(pio.templates["plotly_white"])
    t.layout.update(
        colorway=PALETTE,
        font=dict(family=FONT, size=13, color=INK),
        title=dict(font=dict(size=17, color=INK), x=0.01, xanchor="left", y=0.97, yanchor="top"),
        margin=dict(l=72, r=28, t=96, b=64),
        height=HEIGHT,
        paper_bgcolor="white",
        plot_bgcolor="white",
        legend=dict(orientation="h", x=0, xanchor="left", y=1.02, yanchor="bottom", title_text="",
                    font=dict(size=12)),
        hoverlabel=dict(font=dict(family=FONT, size=12), bgcolor="white", bordercolor=GRID),
        separators=".,",
        bargap=0.18,
    )
    axis = dict(gridcolor=GRID, linecolor="#C9CED6", zerolinecolor="#C9CED6", ticks="outside",
                tickcolor="#C9CED6", title=dict(font=dict(size=13, color=MUTED)), automargin=True)
    t.layout.xaxis.update(axis)
    t.layout.yaxis.update(axis)
    return t


pio.templates["fde"] = _template()
pio.templates.default = "fde"


def save_figure(fig: go.Figure, path: str | Path) -> Path:
    """Write a figure as plotly JSON (read back with plotly.io.read_json)."""
    return write_text(path, pio.to_json(fig, validate=False, pretty=False))


# ----------------------------------------------------------------------------- offline notebook rendering

class _OfflineNotebookRenderer(NotebookRenderer):
    """plotly's "notebook" renderer (plotly.js inlined, connected=False), made fit for air-gapped reports:
    plotly.js is emitted once per kernel (not once per activation), and figures carry no MathJax CDN tag.
    The plotly mimetype is kept so JupyterLab renders natively; nbconvert's HTML export uses text/html."""

    emitted = False

    def activate(self, force: bool = False) -> None:
        if force or not _OfflineNotebookRenderer.emitted:
            super().activate()
            _OfflineNotebookRenderer.emitted = True

    def to_mimebundle(self, fig_dict: dict) -> dict:
        div = pio.to_html(fig_dict, config={"displaylogo": False, "responsive": True, **self.config},
                          include_plotlyjs=False, include_mathjax=False, full_html=False,
                          default_width="100%", default_height=fig_dict.get("layout", {}).get("height", HEIGHT),
                          validate=False)
        return {"text/html": div, "application/vnd.plotly.v1+json": {"data": fig_dict.get("data", []),
                                                                     "layout": fig_dict.get("layout", {})}}


RENDERER = "fde_offline"
pio.renderers[RENDERER] = _OfflineNotebookRenderer(connected=False)


def setup_notebook() -> None:
    """Render figures in this notebook with plotly.js embedded once, here (no CDN, works offline)."""
    pio.templates.default = "fde"
    pio.renderers.default = RENDERER
    pio.renderers[RENDERER].activate(force=True)


# ----------------------------------------------------------------------------- small helpers

def show(*objs: Any) -> None:
    """Display each object in the notebook, skipping None (a section with nothing to show)."""
    from IPython.display import display

    for o in objs:
        if o is not None:
            display(o)


def empty_figure(title: str, message: str) -> go.Figure:
    """A titled, axis-free figure that says why there is nothing to draw."""
    fig = go.Figure()
    fig.update_layout(title_text=title, height=260, xaxis_visible=False, yaxis_visible=False)
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=14, color=MUTED))
    return fig


# ----------------------------------------------------------------------------- HTML tables

_TABLE_CSS = """<style>
.fde-table{border-collapse:collapse;font-family:%s;font-size:13px;color:%s;margin:6px 0 14px}
.fde-table th{text-align:left;font-weight:600;color:%s;border-bottom:2px solid %s;padding:6px 14px 6px 0}
.fde-table td{border-bottom:1px solid %s;padding:5px 14px 5px 0}
.fde-table td.num,.fde-table th.num{text-align:right;font-variant-numeric:tabular-nums}
.fde-cards{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0 16px;font-family:%s}
.fde-card{border:1px solid %s;border-radius:8px;padding:10px 16px;min-width:150px;background:#FAFBFC}
.fde-card .v{font-size:22px;font-weight:600;color:%s}
.fde-card .k{font-size:12px;color:%s;margin-top:2px}
.fde-card.warn .v{color:%s}
.fde-note{font-family:%s;font-size:13px;color:%s}
</style>""" % (FONT, INK, MUTED, GRID, GRID, FONT, GRID, INK, MUTED, PALETTE[3], FONT, MUTED)


class Html:
    """An HTML fragment that renders in a notebook (and in the exported report)."""

    def __init__(self, body: str):
        self.body = body

    def _repr_html_(self) -> str:
        return _TABLE_CSS + self.body

    def __str__(self) -> str:
        return self.body


def table(rows: list[dict[str, Any]], columns: dict[str, str], numeric: set[str] | None = None) -> Html:
    """A styled table: `columns` maps row keys to headers; values are pre-formatted or escaped here."""
    numeric = numeric or set()
    head = "".join(f'<th class="{"num" if k in numeric else ""}">{html.escape(h)}</th>' for k, h in columns.items())
    body = "".join(
        "<tr>" + "".join(f'<td class="{"num" if k in numeric else ""}">{html.escape(str(r.get(k, "")))}</td>'
                         for k in columns) + "</tr>" for r in rows)
    return Html(f'<table class="fde-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>')


def note(text: str) -> Html:
    return Html(f'<p class="fde-note">{html.escape(text)}</p>')


def title_block(client: str, phase: str, profile: dict | None = None) -> Html:
    """The report's heading: client, phase and (when known) the period the logs cover."""
    sub = ""
    if profile and profile["totals"]["calls"]:
        t = profile["totals"]
        sub = f'<p class="fde-note">Logged calls from {t["first_date"]} to {t["last_date"]} ({t["days"]} days)</p>'
    return Html(f"<h1>{html.escape(client)}: {html.escape(phase)}</h1>{sub}")

