"""An engagement folder: its validated engagement.yaml, its paths, and its run manifest.

    eng = Engagement.load("engagements/acme")
    eng.artifact("calls.parquet")        # engagements/acme/artifacts/calls.parquet
    if eng.manifest.is_fresh("ingest", inputs, params): ...
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import secrets
import shutil
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fde_toolkit import FdeError

TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "engagement.yaml"
PACKAGE_TEMPLATE = Path(__file__).resolve().parent / "templates" / "engagement.yaml"

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
    # sections owned by later steps; each step validates its own section
    pii: dict[str, Any] = Field(default_factory=dict)
    tasks: dict[str, Any] = Field(default_factory=dict)
    candidates: list[dict[str, Any]] = Field(default_factory=list)
    finetune: dict[str, Any] = Field(default_factory=dict)
    routing: dict[str, Any] = Field(default_factory=dict)
    sla: dict[str, Any] = Field(default_factory=dict)
    roi: dict[str, Any] = Field(default_factory=dict)
    reports: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name_is_a_folder_name(cls, v: str) -> str:
        if not v or any(c in v for c in "/\\") or v.startswith("."):
            raise ValueError("must be a plain folder name (letters, digits, - or _)")
        return v


def _format_validation_error(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: engagement.yaml is not valid:"]
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  - {field}: {e['msg']}")
    lines.append("Fix these fields (see templates/engagement.yaml for every option) and run again.")
    return "\n".join(lines)


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
        raise FdeError(_format_validation_error(path, e)) from None


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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)


class Engagement:
    """One customer engagement folder and its settings."""

    def __init__(self, root: Path, config: EngagementConfig):
        self.root = Path(root)
        self.config = config
        self.manifest = Manifest(self.root / "manifest.json")

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
        return self.root / "artifacts"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    def artifact(self, name: str) -> Path:
        """Path of an artifact; its folder is created."""
        p = self.artifacts_dir / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def report(self, name: str) -> Path:
        p = self.reports_dir / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def raw_files(self) -> list[Path]:
        """Every file under data/raw/ (hidden files excluded), sorted for determinism."""
        if not self.raw_dir.is_dir():
            return []
        return sorted(p for p in self.raw_dir.rglob("*")
                      if p.is_file() and not any(part.startswith(".") for part in p.relative_to(self.raw_dir).parts))

    def require(self, artifact: str, made_by: str) -> Path:
        """An artifact an earlier step must have written, or a clear error saying which step to run."""
        p = self.artifacts_dir / artifact
        if not p.exists():
            raise FdeError(f"{p}: not found. Run `fde {made_by} {self.root}` first.")
        return p

    @contextmanager
    def step(self, name: str, inputs: list[Path], params: dict[str, Any], force: bool = False) -> Iterator["StepRun"]:
        """Run a step at most once per (inputs, params); see StepRun."""
        run = StepRun(self, name, inputs, params, skip=(not force and self.manifest.is_fresh(name, inputs, params)))
        t0 = time.perf_counter()
        yield run
        if not run.skip:
            self.manifest.record(name, inputs, params, run.outputs, time.perf_counter() - t0, run.summary)


class StepRun:
    """Handle yielded by Engagement.step: check `.skip`, then fill `.outputs` and `.summary`."""

    def __init__(self, eng: Engagement, name: str, inputs: list[Path], params: dict[str, Any], skip: bool):
        self.engagement, self.name, self.inputs, self.params, self.skip = eng, name, inputs, params, skip
        self.outputs: list[Path] = []
        self.summary: dict[str, Any] = {}

    @property
    def previous_summary(self) -> dict[str, Any]:
        return self.engagement.manifest.data["steps"].get(self.name, {}).get("summary", {})


def new_engagement(root: str | os.PathLike, logs: str | os.PathLike | None = None, link: bool = False,
                   client: str = "") -> Engagement:
    """Scaffold an engagement folder from the template and bring the raw logs under data/raw/.

    `logs` may be a file or a folder; files are copied (or symlinked with `link=True`), never modified.
    """
    root = Path(root)
    cfg_path = root / "engagement.yaml"
    if cfg_path.exists():
        raise FdeError(f"{cfg_path}: already exists. Pick another name or edit that engagement.")
    template = TEMPLATE if TEMPLATE.is_file() else PACKAGE_TEMPLATE
    text = template.read_text(encoding="utf-8")
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
        files = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
        for f in files:
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
    key_file = eng.config.pii.get("key_file")
    if not key_file:
        return None
    path = Path(key_file).expanduser()
    path = path if path.is_absolute() else eng.root / path
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32) + "\n", encoding="utf-8")
        path.chmod(0o600)
    return path
