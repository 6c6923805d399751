"""The step protocol: the plumbing every engagement step shares, written once.

A step is a function `step(eng, ..., force=False) -> StepResult` that states its inputs and parameters
and hands the work to `run_step`:

    def scrub(eng, force=False) -> StepResult:
        calls = eng.artifacts.require("calls")
        def make(out: StepOutputs) -> dict:
            result = curate_calls(pl.read_parquet(calls), config, key)
            out.write("curated", result.curated)        # safe write, recorded as an output
            return out.write_data("pii_report", result.report)
        return run_step(eng, "scrub", inputs=[calls], params=params, make=make,
                        previous=lambda: eng.artifacts.read("pii_report"),
                        render=render_report, summary=lambda r: r["records"], force=force)

`run_step` skips the work when the manifest says the inputs and parameters did not change and the
outputs still exist (returning the previous result read back through `previous`), otherwise runs
`make`, records its outputs, parameters and timing in the manifest, and returns one StepResult that
the CLI prints and the Python API returns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generic, TypeVar

from fde_toolkit import FdeError

if TYPE_CHECKING:
    from fde_toolkit.engagement import Engagement

T = TypeVar("T")


@dataclass
class StepResult(Generic[T]):
    """What a step returns: its data (the report, table or summary it made), whether it was skipped,
    the files it wrote, and the text the CLI prints (`str(result)`)."""

    step: str
    data: T
    skipped: bool = False
    outputs: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    renderer: Callable[[T], str] | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        body = self.renderer(self.data) if self.renderer else ""
        if self.skipped:
            note = f"{self.step.replace(':', ' ')}: up to date (inputs and settings unchanged; --force redoes it)."
            return f"{note}\n{body}" if body else note
        return body

    def __str__(self) -> str:
        return self.text


class StepOutputs:
    """Handed to a step's `make`: writes artifacts safely and remembers them as the step's outputs."""

    def __init__(self, eng: "Engagement"):
        self.engagement = eng
        self.paths: list[Path] = []
        self.summary: dict[str, Any] = {}

    def write(self, name: str, data: Any, *keys: str, **options: Any) -> Path:
        """Write catalog artifact `name` (see fde_toolkit.artifacts) and record it; returns its path."""
        return self.add(self.engagement.artifacts.write(name, data, *keys, **options))

    def write_data(self, name: str, data: T, *keys: str, **options: Any) -> T:
        """write(), returning the data: `return out.write_data("roi", roi)` ends a step's `make`."""
        self.write(name, data, *keys, **options)
        return data

    def add(self, path: Path) -> Path:
        """Record a file the step wrote some other way (a model folder, a figure) as an output."""
        path = Path(path)
        if path not in self.paths:
            self.paths.append(path)
        return path


def run_step(eng: "Engagement", name: str, *, inputs: list[Path], params: dict[str, Any],
             make: Callable[[StepOutputs], T], previous: Callable[[], T],
             render: Callable[[T], str] | None = None, summary: Callable[[T], dict[str, Any]] | None = None,
             force: bool = False) -> StepResult[T]:
    """Run step `name` at most once per (inputs, params): see the module docstring."""
    manifest = eng.manifest
    if not force and manifest.is_fresh(name, inputs, params):
        try:
            data = previous()
        except FdeError:  # an output went missing or unreadable since: run the step again
            data = None
        if data is not None:
            outputs = [eng.root / p for p in manifest.data["steps"][name].get("outputs", [])]
            return StepResult(name, data, skipped=True, outputs=outputs, renderer=render)
    out = StepOutputs(eng)
    t0 = time.perf_counter()
    data = make(out)
    seconds = time.perf_counter() - t0
    rec_summary = {**(summary(data) if summary else {}), **out.summary}
    manifest.record(name, inputs, params, out.paths, seconds, rec_summary)
    return StepResult(name, data, skipped=False, outputs=list(out.paths), seconds=seconds, renderer=render)
