"""An engagement folder: its engagement.yaml (every section typed and validated when it loads), its
artifact catalog, its run manifest, and the steps of the engagement as methods.

    eng = open_engagement("engagements/acme")
    eng.ingest(); eng.scrub(); eng.profile(); eng.discover()     # each returns a StepResult
    eng.dataset("t03"); eng.finetune("t03"); eng.evaluate("t03"); eng.roi(); eng.run_reports()
    eng.config.finetune.train.lr                                 # typed settings
    eng.artifacts.tasks()                                        # artifacts through the catalog
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import secrets
import shutil
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fde_toolkit import FdeError, assets, files, format_errors
from fde_toolkit.artifacts import ArtifactCatalog
from fde_toolkit.hardening.config import HardeningConfig, SlaConfig
from fde_toolkit.privacy.config import PiiConfig
from fde_toolkit.reports.branding import ReportsConfig
from fde_toolkit.roi.assumptions import RoiSection
from fde_toolkit.routing.config import RoutingConfig
from fde_toolkit.serving.config import ServeConfig
from fde_toolkit.slm.config import FinetuneConfig
from fde_toolkit.slm.registry import Candidate, duplicate_ids, parse_candidates, with_builtins
from fde_toolkit.tasks.config import TasksConfig

if TYPE_CHECKING:
    from fde_toolkit.step import StepResult

LogFormat = Literal["auto", "canonical", "openai", "otel", "csv", "parquet"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceConfig(_Strict):
    """How to read the files under data/raw/ that match `glob`."""

    glob: str = "**/*"
    format: LogFormat = "auto"
    # canonical field -> column name in the customer's CSV/Parquet (or a JSON path for nested data)
    mapping: dict[str, str] = Field(default_factory=dict)
    # strftime format for a text timestamp column; None lets polars infer ISO 8601 / epoch numbers
    timestamp_format: str | None = None
    # unit of a numeric timestamp column
    timestamp_unit: Literal["s", "ms", "us", "ns"] = "s"


class PriceRow(_Strict):
    """One row of the price table: USD per million tokens for models matching `pattern` (a regex)."""

    pattern: str
    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(default=None, ge=0)
    provider: str | None = None
    effective_date: str | None = None
    source: str | None = None


class EngagementConfig(_Strict):
    """engagement.yaml, validated. Unknown keys are errors, so typos do not pass silently."""

    name: str
    client: str = ""
    description: str = ""
    seed: int = 7
    currency: str = "USD"
    sources: list[SourceConfig] = Field(default_factory=lambda: [SourceConfig()])
    # extra price rows, checked before the built-in table
    prices: list[PriceRow] = Field(default_factory=list)
    # the steps' sections, each a typed model defined beside the stage that uses it
    pii: PiiConfig = Field(default_factory=PiiConfig)
    tasks: TasksConfig = Field(default_factory=TasksConfig)
    candidates: list[Candidate] = Field(default_factory=lambda: parse_candidates([]))  # the built-ins
    finetune: FinetuneConfig = Field(default_factory=FinetuneConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    hardening: HardeningConfig = Field(default_factory=HardeningConfig)
    sla: SlaConfig = Field(default_factory=SlaConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    roi: RoiSection = Field(default_factory=RoiSection)
    reports: ReportsConfig = Field(default_factory=ReportsConfig)

    @field_validator("pii", "tasks", "finetune", "routing", "hardening", "sla", "serve", "roi", "reports",
                     mode="before")
    @classmethod
    def _empty_section_is_defaults(cls, v: Any) -> Any:
        return {} if v is None else v

    @field_validator("tasks", mode="before")
    @classmethod
    def _seed_is_top_level(cls, v: Any) -> Any:
        if isinstance(v, dict) and "seed" in v:
            raise ValueError("tasks.seed is not a setting; set the top-level `seed` instead")
        return v

    @field_validator("candidates", mode="before")
    @classmethod
    def _builtin_candidates(cls, v: Any) -> Any:
        """`{id: <built-in id>}` picks a built-in (its keys overridable); an empty list means the built-ins."""
        return with_builtins(v)

    @field_validator("candidates")
    @classmethod
    def _candidate_ids_are_unique(cls, v: list[Candidate]) -> list[Candidate]:
        dupes = duplicate_ids(v)
        if dupes:
            raise ValueError(f"id {dupes[0]} is listed twice; give each candidate its own id")
        return v

    @model_validator(mode="after")
    def _tasks_take_the_seed(self) -> "EngagementConfig":
        self.tasks.seed = self.seed
        return self

    @field_validator("name")
    @classmethod
    def _name_is_a_folder_name(cls, v: str) -> str:
        if not v or any(c in v for c in "/\\") or v.startswith("."):
            raise ValueError("must be a plain folder name (letters, digits, - or _)")
        return v




def load_config(path: Path) -> EngagementConfig:
    """Read and validate an engagement.yaml, with errors that name the field."""
    if not path.is_file():
        raise FdeError(f"{path}: no engagement.yaml here. Create one with `fde new NAME --logs DIR`.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise FdeError(f"{path}:{where}: not valid YAML ({getattr(e, 'problem', 'parse error')}).") from None
    if not isinstance(raw, dict):
        raise FdeError(f"{path}: expected a mapping of settings at the top level.")
    try:
        return EngagementConfig.model_validate(raw)
    except ValidationError as e:
        raise FdeError(format_errors(f"{path}: these settings are not valid:", e.errors(),
                                     "Fix these fields (every option is explained in the engagement.yaml "
                                     "that `fde new` writes) and run again.")) from None


def file_digest(path: Path, chunk: int = 1 << 22) -> str:
    """Content fingerprint of a file (sha1, streamed: a change detector, not a security measure)."""
    h = hashlib.sha1(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("fde-toolkit", "polars", "pyarrow", "plotly", "papermill", "nbconvert", "torch",
                "transformers", "peft", "sentence-transformers"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


class Manifest:
    """manifest.json: per step, the inputs' hashes, parameters, outputs, versions and timings.

    A step whose inputs and parameters did not change, and whose outputs still exist, is fresh:
    callers skip it unless forced.
    """

    def __init__(self, path: Path):
        self.path = path
        self._resolved_root = path.parent.resolve()
        self.data: dict[str, Any] = {"steps": {}, "hash_cache": {}}
        if path.is_file():
            try:
                self.data = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                raise FdeError(f"{path}: manifest is not valid JSON. Delete it to rebuild every step.") from None
            self.data.setdefault("steps", {})
            self.data.setdefault("hash_cache", {})

    def _root(self) -> Path:
        return self.path.parent

    def _rel(self, p: Path) -> str:
        """Path relative to the engagement folder (absolute when outside it)."""
        p = Path(p)
        if not p.is_absolute():
            p = Path.cwd() / p
        root = self._resolved_root
        try:
            return str(p.relative_to(root))
        except ValueError:
            p = p.resolve()
            try:
                return str(p.relative_to(root))
            except ValueError:
                return str(p)

    def digest(self, path: Path) -> str:
        """Content hash, cached by (size, mtime) so unchanged big files are not re-read."""
        st = path.stat()
        key = self._rel(path)
        cached = self.data["hash_cache"].get(key)
        if cached and cached["size"] == st.st_size and cached["mtime_ns"] == st.st_mtime_ns:
            return cached["digest"]
        d = file_digest(path)
        self.data["hash_cache"][key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "digest": d}
        return d

    def fingerprint(self, inputs: list[Path], params: dict[str, Any]) -> dict[str, Any]:
        return {
            "inputs": {self._rel(p): self.digest(p) for p in sorted(inputs)},
            "params": json.loads(json.dumps(params, sort_keys=True, default=str)),
        }

    def is_fresh(self, step: str, inputs: list[Path], params: dict[str, Any]) -> bool:
        """True when `step` already ran on these exact inputs and parameters and its outputs exist."""
        rec = self.data["steps"].get(step)
        if not rec:
            return False
        fp = self.fingerprint(inputs, params)
        if rec.get("inputs") != fp["inputs"] or rec.get("params") != fp["params"]:
            return False
        return all((self._root() / o).exists() for o in rec.get("outputs", []))

    def record(self, step: str, inputs: list[Path], params: dict[str, Any], outputs: list[Path],
               seconds: float, summary: dict[str, Any] | None = None) -> None:
        """Store a finished step and write the manifest."""
        fp = self.fingerprint(inputs, params)
        self.data["steps"][step] = {
            **fp,
            "outputs": [self._rel(p) for p in outputs],
            "seconds": round(seconds, 3),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "versions": _package_versions(),
            "summary": summary or {},
        }
        self.save()

    def save(self) -> None:
        files.write_text(self.path, json.dumps(self.data, indent=2, sort_keys=True))


class Engagement:
    """One customer engagement folder: its settings, its artifacts, its manifest, and its steps.

    Each step method runs the same library function as the `fde` command of the same name and returns
    its StepResult (`print(result)` shows what the CLI prints; `result.data` is what the step made).
    """

    def __init__(self, root: Path, config: EngagementConfig):
        self.root = Path(root)
        self.config = config
        self.manifest = Manifest(self.root / "manifest.json")
        self.artifacts = ArtifactCatalog(self)

    @classmethod
    def load(cls, root: str | os.PathLike) -> "Engagement":
        root = Path(root)
        if not root.is_dir():
            raise FdeError(f"{root}: no such engagement folder. Create one with `fde new NAME --logs DIR`.")
        return cls(root, load_config(root / "engagement.yaml"))

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def raw_dir(self) -> Path:
        return self.root / "data" / "raw"

    @property
    def artifacts_dir(self) -> Path:
        return self.artifacts.root

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def cache_dir(self) -> Path:
        return self.root / ".cache"

    @property
    def config_path(self) -> Path:
        return self.root / "engagement.yaml"

    def report(self, name: str) -> Path:
        p = self.reports_dir / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def display(self, path: str | os.PathLike) -> str:
        """A path as the user would type it: relative to the working directory when inside it."""
        return shown_path(Path(path))

    @property
    def display_root(self) -> str:
        return self.display(self.root)

    def raw_files(self) -> list[Path]:
        """Every file under data/raw/ (hidden files excluded), sorted for determinism."""
        if not self.raw_dir.is_dir():
            return []
        return sorted(p for p in self.raw_dir.rglob("*")
                      if p.is_file() and not any(part.startswith(".") for part in p.relative_to(self.raw_dir).parts))

    # ------------------------------------------------------------------ the steps (the Python API)

    def ingest(self, force: bool = False) -> "StepResult":
        """S1: every file under data/raw/ -> calls.parquet + quarantine.jsonl (`fde ingest`)."""
        from fde_toolkit.logs.ingest import ingest

        return ingest(self, force=force)

    def scrub(self, force: bool = False) -> "StepResult":
        """S2: PII replaced, sensitivity rules applied -> curated.parquet (`fde scrub`)."""
        from fde_toolkit.privacy.step import scrub

        return scrub(self, force=force)

    def profile(self, force: bool = False) -> "StepResult":
        """S1: volume, models, tokens, latency, errors, cost, tools -> profile.json (`fde profile`)."""
        from fde_toolkit.logs.profile import profile

        return profile(self, force=force)

    def discover(self, force: bool = False) -> "StepResult":
        """S3: the recurring tasks -> tasks.parquet + tasks.json (`fde discover`)."""
        from fde_toolkit.tasks.discover import discover

        return discover(self, force=force)

    def dataset(self, task: str, force: bool = False) -> "StepResult":
        """S4/S5: a task's train/val/test examples (`fde dataset --task`)."""
        from fde_toolkit.slm.datasets import build_dataset

        return build_dataset(self, task, force=force)

    def select(self, task: str, force: bool = False) -> "StepResult":
        """S4: every candidate SLM zero- and few-shot on the task, ranked (`fde select --task`)."""
        from fde_toolkit.slm.selection import select_candidates

        return select_candidates(self, task, force=force)

    def finetune(self, task: str, candidate: str | None = None, resume: bool = False,
                 budget_minutes: float | None = None, max_steps: int | None = None,
                 force: bool = False) -> "StepResult":
        """S5: LoRA on the task's dataset (`fde finetune --task`)."""
        from fde_toolkit.slm.tuning import finetune

        return finetune(self, task, candidate=candidate, resume=resume, budget_minutes=budget_minutes,
                        max_steps=max_steps, force=force)

    def evaluate(self, task: str, force: bool = False) -> "StepResult":
        """The specialist against base, few-shot and the LLM (`fde evaluate --task`)."""
        from fde_toolkit.slm.evaluation import evaluate

        return evaluate(self, task, force=force)

    def route(self, force: bool = False) -> "StepResult":
        """Calibrated SLM-first routing per task -> routing.yaml + routing.json (`fde route`)."""
        from fde_toolkit.routing.step import route

        return route(self, force=force)

    def harden(self, force: bool = False, tasks: "list[str] | None" = None,
               runtimes: "list[str] | None" = None) -> "StepResult":
        """Each specialist benchmarked per runtime, SLA table, recommendation, robustness -> hardening.json
        (`fde harden`)."""
        from fde_toolkit.hardening.step import harden

        return harden(self, force=force, tasks=tasks, runtimes=runtimes)

    def replay(self, force: bool = False) -> "StepResult":
        """Held-out calls through the routing policy vs all-LLM -> router/replay.json (`fde route --replay`)."""
        from fde_toolkit.routing.replay import replay

        return replay(self, force=force)

    def drift(self, logs: "str | os.PathLike", force: bool = False) -> "StepResult":
        """New logs against the engagement's tasks: shift and a recommendation per task -> drift.json (`fde drift`)."""
        from fde_toolkit.routing.drift import drift

        return drift(self, logs, force=force)

    def roi(self, force: bool = False) -> "StepResult":
        """The three-tier ROI -> roi.json (`fde roi`)."""
        from fde_toolkit.roi.step import roi

        return roi(self, force=force)

    def bundle(self, out: "str | os.PathLike | None" = None, force: bool = False) -> "StepResult":
        """The deployable folder: models, routing, serving config, pinned requirements, runbook (`fde bundle`)."""
        from fde_toolkit.serving.bundle import bundle

        return bundle(self, out=out, force=force)

    def candidate_tasks(self) -> list[str]:
        """The SLM candidate task ids from tasks.json, best first."""
        from fde_toolkit.slm.status import candidate_task_ids

        return candidate_task_ids(self.artifacts.tasks())

    def run_reports(self, phases: list[str] | None = None, force: bool = False) -> list[Path]:
        """Render the phase notebooks and the executive slides into reports/ (`fde run`)."""
        from fde_toolkit.reports.runner import run_phases

        return list(run_phases(self, phases=phases, force=force))


def shown_path(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when inside it (reports show
    `engagements/acme`, not the FDE's home folder)."""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd().resolve()) else str(path)
    except (OSError, ValueError):
        return str(path)


def new_engagement(root: str | os.PathLike, logs: str | os.PathLike | None = None, link: bool = False,
                   client: str = "") -> Engagement:
    """Scaffold an engagement folder from the template and bring the raw logs under data/raw/.

    `logs` may be a file or a folder; files are copied (or symlinked with `link=True`), never modified.
    """
    root = Path(root)
    cfg_path = root / "engagement.yaml"
    if cfg_path.exists():
        raise FdeError(f"{cfg_path}: already exists. Pick another name or edit that engagement.")
    text = assets.path("templates", "engagement.yaml").read_text(encoding="utf-8")
    name = root.name
    text = text.replace("{{name}}", name).replace("{{client}}", client or name)
    raw = root / "data" / "raw"
    src = Path(logs) if logs is not None else None
    if src is not None and not src.exists():
        raise FdeError(f"{src}: no such file or folder. Pass --logs the folder or file holding the call logs.")
    raw.mkdir(parents=True, exist_ok=True)
    (root / "artifacts").mkdir(exist_ok=True)
    (root / "reports").mkdir(exist_ok=True)
    if src is not None:
        logs_found = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
        for f in logs_found:
            rel = f.name if src.is_file() else f.relative_to(src)
            dest = raw / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if link:
                dest.symlink_to(f.resolve())
            else:
                shutil.copy2(f, dest)
    cfg_path.write_text(text, encoding="utf-8")
    eng = Engagement.load(root)
    create_pii_key(eng)
    return eng


def create_pii_key(eng: Engagement) -> Path | None:
    """Write a random pseudonym key where engagement.yaml's pii.key_file points, if none is there yet.

    The key is per engagement and random (never a built-in default); engagements/*/.secrets/ is git-ignored.
    Keep a copy somewhere safe: a new key gives every value a new pseudonym.
    """
    key_file = eng.config.pii.key_file
    if not key_file:
        return None
    path = Path(key_file).expanduser()
    path = path if path.is_absolute() else eng.root / path
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32) + "\n", encoding="utf-8")
        path.chmod(0o600)
    return path
