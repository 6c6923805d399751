"""Render the phase notebooks for an engagement: Papermill executes, nbconvert exports.

    run_phases(eng)                         # every fde_toolkit/notebooks/NN_*.ipynb there is, in order, each to
                                            # reports/<phase>.ipynb + .html, then the executive summary
                                            # as reveal.js slides: reports/executive_summary.slides.html
    run_phases(eng, ["01_scoping"], force=True)
    run_phases(eng, ["executive_summary"])  # the slides only

Each phase is a manifest step "report:<phase>" whose inputs are the notebook, the template (and for
the slides the vendored reveal.js), the logo and the artifacts it reads; its parameters include the
engagement's `reports:` branding. It is skipped while they are unchanged. A failing notebook raises
FdeError naming the notebook, the section of the failing cell and the error, and points at the
partly executed copy; when several phases run, the others still render and the error lists every
failure at the end. The notebooks themselves show "not measured yet" notes for artifacts an
engagement does not have, so an engagement renders at whatever depth it has reached.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Callable, Iterator

import nbformat

from fde_toolkit import FdeError, assets
from fde_toolkit.step import StepOutputs, run_step
from fde_toolkit.engagement import Engagement
from fde_toolkit.reports.export import (INTERACTIVE_ONLY, REVEAL_DIR, SLIDES_TEMPLATE_NAME, TEMPLATE_NAME, TEMPLATES,
                                       export_html, export_slides)
from fde_toolkit.slm.status import PROTOTYPING_ARTIFACTS

NOTEBOOKS = assets.path("notebooks")
KERNEL = "python3"
CELL_TIMEOUT_S = 1800  # a cell running longer is stuck: stop with an error instead of hanging `fde run`
# The report template is an input too: restyling it re-renders the reports.
TEMPLATE_FILES = sorted(p for p in (TEMPLATES / TEMPLATE_NAME).glob("*") if p.is_file())
SLIDES_TEMPLATE_FILES = sorted(p for p in (TEMPLATES / SLIDES_TEMPLATE_NAME).glob("*") if p.is_file()) + sorted(
    p for p in REVEAL_DIR.rglob("*") if p.is_file() and p.suffix in {".js", ".css"})
PHASE_GLOB = "[0-9][0-9]_*.ipynb"
EXECUTIVE = "executive_summary"  # fde_toolkit/notebooks/executive_summary.ipynb, exported as slides after the phases

PHASE_TITLES = {"01_scoping": "Scoping report", "02_prototyping": "Prototyping report",
                "03_hardening": "Hardening report", "04_handover": "Handover report",
                EXECUTIVE: "Executive summary"}
# Artifacts a phase's notebook reads, when present (the manifest fingerprints them): catalog names.
PHASE_ARTIFACTS = {EXECUTIVE: ["profile", "tasks", "eval", "routing", "hardening", "roi"],
                   "01_scoping": ["calls", "ingest_report", "profile", "pii_report", "tasks"],
                   "02_prototyping": PROTOTYPING_ARTIFACTS,
                   "03_hardening": ["tasks", "hardening"],
                   "04_handover": ["profile", "tasks", "eval", "training", "model_card", "routing", "drift", "roi"]}

# Files a phase's notebook reads that are not catalog artifacts of their own (the bundle's manifest).
PHASE_FILES: dict[str, Callable[[Engagement], list[Path]]] = {
    "03_hardening": lambda eng: [eng.artifacts.path("bundle") / "bundle.json"]}


def _prepare_scoping(eng: Engagement) -> None:
    """The scoping notebook reads the profile; make it first so the inputs are stable."""
    from fde_toolkit.logs.profile import profile

    profile(eng)


def _prepare_roi(eng: Engagement) -> None:
    """The handover notebook and the slides read roi.json; bring it up to date first (a step that is
    skipped when fresh). When it cannot be computed yet, the notebooks say what is missing."""
    from fde_toolkit.roi import roi_for_report

    roi_for_report(eng)


# Steps a phase needs before its notebook runs (each skips itself when fresh).
PHASE_PREPARE: dict[str, Callable[[Engagement], None]] = {"01_scoping": _prepare_scoping,
                                                         "04_handover": _prepare_roi,
                                                         "executive_summary": _prepare_roi}


def notebook_engagement(path: str | Path) -> Engagement:
    """The engagement a phase notebook works on: `path` as given, else relative to the source checkout
    (a notebook opened in Jupyter runs in its own folder, while `fde run` passes an absolute path)."""
    path = Path(path)
    checkout = assets.source_checkout()
    if not path.is_dir() and not path.is_absolute() and checkout is not None and (checkout / path).is_dir():
        path = checkout / path
    return Engagement.load(path)


def _notebook(phase: str, notebooks_dir: Path) -> Path:
    nb = notebooks_dir / f"{phase}.ipynb"
    if not nb.is_file():
        known = find_phases(notebooks_dir)
        raise FdeError(f"{nb}: no such phase notebook. Known phases: {', '.join(known) or 'none'}.")
    return nb


def find_phases(notebooks_dir: Path | None = None) -> list[str]:
    """Every phase notebook (NN_name.ipynb) in order, then the executive summary when it is there."""
    notebooks_dir = Path(notebooks_dir) if notebooks_dir is not None else NOTEBOOKS
    phases = sorted(p.stem for p in notebooks_dir.glob(PHASE_GLOB) if p.is_file())
    if (notebooks_dir / f"{EXECUTIVE}.ipynb").is_file():
        phases.append(EXECUTIVE)
    return phases


def _section_of_failure(executed: Path) -> str:
    """The heading of the section holding the first cell with an error output."""
    try:
        nb = nbformat.read(executed, as_version=4)
    except (OSError, ValueError):
        return "unknown section"
    section = "before the first section"
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            heads = [ln.lstrip("#").strip() for ln in cell.source.splitlines() if ln.startswith("#")]
            if heads:
                section = heads[-1]
        elif cell.cell_type == "code":
            pm_meta = cell.get("metadata", {}).get("papermill", {})
            if (any(o.get("output_type") == "error" for o in cell.get("outputs", []))
                    or pm_meta.get("exception") or pm_meta.get("status") == "running"):
                return section
    return section


def _interactive(cell) -> bool:
    return cell.cell_type == "code" and INTERACTIVE_ONLY in cell.get("metadata", {}).get("tags", [])


@contextmanager
def _without_interactive_cells(nb: Path) -> Iterator[Path]:
    """A copy of the notebook whose `interactive-only` cells (ipywidgets) do nothing: their output is
    dropped from reports anyway, and executing widget cells headless can leave nbclient waiting for
    ever on a widget message."""
    book = nbformat.read(nb, as_version=4)
    for cell in book.cells:
        if _interactive(cell):
            cell.source = "# interactive only: runs in live Jupyter, not in `fde run`"
    with tempfile.TemporaryDirectory(prefix="fde_run_") as tmp:
        path = Path(tmp) / nb.name
        nbformat.write(book, path)
        yield path


def _restore_interactive_cells(nb: Path, out: Path) -> None:
    """Put the original code of the `interactive-only` cells back into the executed notebook."""
    sources = [c.source for c in nbformat.read(nb, as_version=4).cells if _interactive(c)]
    done = nbformat.read(out, as_version=4)
    cells = [c for c in done.cells if _interactive(c)]
    if len(cells) == len(sources):
        for cell, source in zip(cells, sources):
            cell.source, cell.outputs = source, []
        nbformat.write(done, out)


def _execute(phase: str, nb: Path, out: Path, eng: Engagement) -> None:
    import papermill as pm
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    try:
        with _without_interactive_cells(nb) as runnable:  # in the caller's folder: paths read as typed
            pm.execute_notebook(str(runnable), str(out), parameters={"engagement": str(eng.root.resolve())},
                                kernel_name=KERNEL, execution_timeout=CELL_TIMEOUT_S, cwd=os.getcwd(),
                                progress_bar=False, log_output=False,
                                extra_arguments=["--IPKernelApp.log_level=ERROR"])
        _restore_interactive_cells(nb, out)
    except pm.PapermillExecutionError as e:
        section = _section_of_failure(out)
        evalue = (e.evalue or "").strip().splitlines()
        raise FdeError(
            f"Notebook {nb.name} failed in section '{section}' (cell In [{e.exec_count}]): "
            f"{e.ename}: {evalue[0] if evalue else ''}"
            + ("\n" + "\n".join(evalue[1:]) if len(evalue) > 1 else "")
            + f"\nThe partly executed notebook, with the full traceback, is at {out}.") from None
    except (DeadKernelError, CellTimeoutError) as e:
        what = "the kernel died (often: out of memory)" if isinstance(e, DeadKernelError) else "a cell timed out"
        raise FdeError(f"Notebook {nb.name} stopped in section '{_section_of_failure(out)}': {what}. "
                       f"The partly executed notebook is at {out}.") from None
    except NoSuchKernel:
        raise FdeError(f"Jupyter kernel '{KERNEL}' is not installed, so {nb.name} cannot run. Install it with "
                       f"`python -m ipykernel install --sys-prefix --name {KERNEL}` (or `make install`).") from None


def _render(eng: Engagement, phase: str, nb: Path, force: bool) -> list[Path]:
    """One phase: prepare, execute, export (HTML report, or slides for the executive summary)."""
    from fde_toolkit.reports.branding import branding

    brand = branding(eng)  # validates `reports:` and reads the logo before any work
    if phase in PHASE_PREPARE:
        PHASE_PREPARE[phase](eng)
    slides = phase == EXECUTIVE
    reads = [p for a in PHASE_ARTIFACTS.get(phase, []) for p in eng.artifacts.files(a)]
    reads += PHASE_FILES[phase](eng) if phase in PHASE_FILES else []
    logo = [brand.logo_path] if brand.logo_path else []
    inputs = [nb, *(SLIDES_TEMPLATE_FILES if slides else TEMPLATE_FILES), *logo] + [p for p in reads if p.is_file()]
    out_nb = eng.report(f"{phase}.ipynb")
    out = eng.report(f"{phase}.slides.html" if slides else f"{phase}.html")
    params = {"kernel": KERNEL, "template": SLIDES_TEMPLATE_NAME if slides else TEMPLATE_NAME,
              "branding": {k: v for k, v in brand.resources().items() if k != "logo"}}

    def make(outputs: StepOutputs) -> list[Path]:
        _execute(phase, nb, out_nb, eng)
        if slides:
            from fde_toolkit.reports.executive import deck_titles

            title, subtitle, kicker = deck_titles(brand.client)
            export_slides(out_nb, out, title=title, subtitle=subtitle, kicker=kicker, branding=brand)
        else:
            export_html(out_nb, out, title=f"{brand.client} · {PHASE_TITLES.get(phase, phase)}", branding=brand)
        outputs.add(out_nb)
        outputs.add(out)
        outputs.summary = {"html": out.name, "rendered_on": date.today().isoformat()}
        return [out_nb, out]

    return run_step(eng, f"report:{phase}", inputs=inputs, params=params, make=make,
                    previous=lambda: [out_nb, out] if out_nb.is_file() and out.is_file() else None,
                    force=force).data


def run_phases(eng: Engagement, phases: list[str] | None = None, force: bool = False,
               notebooks_dir: Path | None = None) -> list[Path]:
    """Execute each phase notebook into reports/<phase>.ipynb and export reports/<phase>.html; the
    executive summary exports reports/executive_summary.slides.html. `phases=None`: every phase
    notebook in notebooks_dir (NN_*.ipynb, in order), then the executive summary."""
    notebooks_dir = Path(notebooks_dir) if notebooks_dir is not None else NOTEBOOKS
    if phases is None:
        phases = find_phases(notebooks_dir)
        if not phases:
            raise FdeError(f"{notebooks_dir}: no phase notebooks (NN_name.ipynb) to run.")
    notebooks = [(phase, _notebook(phase, notebooks_dir)) for phase in phases]  # every name checked up front
    from fde_toolkit.reports.branding import branding

    branding(eng)  # a bad `reports:` section or a missing logo fails once, before any notebook runs
    written: list[Path] = []
    failures: list[str] = []
    for phase, nb in notebooks:
        try:
            written += _render(eng, phase, nb, force)
        except FdeError as e:
            if len(notebooks) == 1:
                raise
            failures.append(f"{phase}: {e}")
    if failures:
        done = ", ".join(p.name for p in written if p.suffix == ".html") or "none"
        raise FdeError(f"{len(failures)} of {len(notebooks)} notebooks failed (rendered: {done}).\n\n"
                       + "\n\n".join(failures))
    return written
