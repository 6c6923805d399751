"""Render the phase notebooks for an engagement: Papermill executes, nbconvert exports.

    run_phases(eng)                         # reports/01_scoping.ipynb and reports/01_scoping.html
    run_phases(eng, ["01_scoping"], force=True)

Each phase is a manifest step "report:<phase>" whose inputs are the notebook, the report template
and the artifacts it reads; it is skipped while they are unchanged. A failing notebook raises FdeError naming the
notebook, the section of the failing cell and the error, and points at the partly executed copy.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Callable

import nbformat

import fde_toolkit
from fde_toolkit import FdeError
from fde_toolkit.engagement import Engagement
from fde_toolkit.reports.export import TEMPLATE_NAME, TEMPLATES, export_html

REPO_ROOT = Path(fde_toolkit.__file__).resolve().parent.parent
NOTEBOOKS = REPO_ROOT / "notebooks"
KERNEL = "python3"
# The report template is an input too: restyling it re-renders the reports.
TEMPLATE_FILES = sorted(p for p in (TEMPLATES / TEMPLATE_NAME).glob("*") if p.is_file())

PHASE_TITLES = {"01_scoping": "Scoping report", "02_prototyping": "Prototyping report",
                "03_hardening": "Hardening report", "04_handover": "Handover report"}
# Artifacts a phase's notebook reads, when present (the manifest fingerprints them).
PHASE_ARTIFACTS = {"01_scoping": ["calls.parquet", "ingest_report.json", "profile.json", "pii_report.json",
                                  "tasks.json"]}


def _prepare_scoping(eng: Engagement) -> None:
    """The scoping notebook reads the profile; make it first so the inputs are stable."""
    from fde_toolkit.logs.profile import profile

    profile(eng)


# Steps a phase needs before its notebook runs (each skips itself when fresh).
PHASE_PREPARE: dict[str, Callable[[Engagement], None]] = {"01_scoping": _prepare_scoping}


def notebook_engagement(path: str | Path) -> Engagement:
    """The engagement a phase notebook works on: `path` as given, else relative to the repo root
    (a notebook opened in Jupyter runs in notebooks/, while `fde run` passes an absolute path)."""
    path = Path(path)
    if not path.is_dir() and not path.is_absolute() and (REPO_ROOT / path).is_dir():
        path = REPO_ROOT / path
    return Engagement.load(path)


def _notebook(phase: str, notebooks_dir: Path) -> Path:
    nb = notebooks_dir / f"{phase}.ipynb"
    if not nb.is_file():
        known = sorted(p.stem for p in notebooks_dir.glob("[0-9]*.ipynb"))
        raise FdeError(f"{nb}: no such phase notebook. Known phases: {', '.join(known) or 'none'}.")
    return nb


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


def _execute(phase: str, nb: Path, out: Path, eng: Engagement) -> None:
    import papermill as pm
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    try:
        pm.execute_notebook(str(nb), str(out), parameters={"engagement": str(eng.root.resolve())},
                            kernel_name=KERNEL, cwd=str(REPO_ROOT), progress_bar=False, log_output=False,
                            extra_arguments=["--IPKernelApp.log_level=ERROR"])
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


def run_phases(eng: Engagement, phases: list[str] = ["01_scoping"], force: bool = False,
               notebooks_dir: Path | None = None) -> list[Path]:
    """Execute each phase notebook into reports/<phase>.ipynb and export reports/<phase>.html."""
    notebooks_dir = Path(notebooks_dir) if notebooks_dir is not None else NOTEBOOKS
    client = eng.config.client or eng.name
    written: list[Path] = []
    for phase in phases:
        nb = _notebook(phase, notebooks_dir)
        if phase in PHASE_PREPARE:
            PHASE_PREPARE[phase](eng)
        reads = [eng.artifacts_dir / a for a in PHASE_ARTIFACTS.get(phase, [])]
        inputs = [nb, *TEMPLATE_FILES] + [p for p in reads if p.is_file()]
        out_nb, out_html = eng.report(f"{phase}.ipynb"), eng.report(f"{phase}.html")
        params = {"kernel": KERNEL, "template": TEMPLATE_NAME}
        with eng.step(f"report:{phase}", inputs=inputs, params=params, force=force) as run:
            if not run.skip:
                _execute(phase, nb, out_nb, eng)
                title = f"{client} · {PHASE_TITLES.get(phase, phase)}"
                export_html(out_nb, out_html, title=title)
                run.outputs = [out_nb, out_html]
                run.summary = {"html": out_html.name, "rendered_on": date.today().isoformat()}
        written += [out_nb, out_html]
    return written
