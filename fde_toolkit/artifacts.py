"""The artifact catalog: one place that owns every artifact's name, path, the command that makes it,
how it is read, and how it is written.

    eng.artifacts.path("eval", "t03")          # engagements/acme/artifacts/eval/t03.json
    eng.artifacts.tasks()                      # tasks.json, or an error naming `fde discover`
    eng.artifacts.read("profile")              # any JSON / JSONL / Parquet / text artifact by name
    eng.artifacts.optional("roi")              # None when `fde roi` has not run yet
    eng.artifacts.keys("eval")                 # the task ids that have an eval/<task>.json

Steps and notebooks ask the catalog; they never spell a file name. A reader that finds its artifact
missing or unreadable raises one FdeError that names the file and the command that writes it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fde_toolkit import FdeError
from fde_toolkit import files

if TYPE_CHECKING:
    import polars as pl

    from fde_toolkit.engagement import Engagement


@dataclass(frozen=True)
class Artifact:
    """One kind of artifact: `pattern` is relative to artifacts/, with `{task}`-style fields."""

    name: str
    pattern: str
    made_by: str
    description: str

    @property
    def fields(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.pattern)

    @property
    def format(self) -> str:
        suffix = Path(self.pattern).suffix
        return {".json": "json", ".jsonl": "jsonl", ".parquet": "parquet", ".md": "text", ".yaml": "yaml",
                ".enc": "bytes"}.get(suffix, "folder")


def _a(name: str, pattern: str, made_by: str, description: str) -> Artifact:
    return Artifact(name, pattern, made_by, description)


CATALOG: dict[str, Artifact] = {a.name: a for a in (
    # S1
    _a("calls", "calls.parquet", "ingest", "every accepted call, canonical schema (raw text: S1 only)"),
    _a("quarantine", "quarantine.jsonl", "ingest", "records not accepted, with file, line and reason"),
    _a("ingest_report", "ingest_report.json", "ingest", "read / accepted / quarantined by file and reason"),
    _a("profile", "profile.json", "profile", "volume, models, tokens, latency, errors, cost, tools"),
    _a("figure", "figures/{figure}.json", "profile", "a plotly figure as JSON (profile_*, roi_*)"),
    # S2
    _a("curated", "curated.parquet", "scrub", "calls with PII replaced and sensitivity rules applied"),
    _a("restricted", "restricted.parquet", "scrub", "calls a sensitivity rule moved aside"),
    _a("pii_vault", "pii_vault.enc", "scrub", "encrypted placeholder -> original map (pii.vault: true)"),
    _a("pii_report", "pii_report.json", "scrub", "PII counts by type, field and detector; never values"),
    # S3
    _a("task_assignments", "tasks.parquet", "discover", "call -> task, with the distance to its centre"),
    _a("tasks", "tasks.json", "discover", "the tasks: names, statistics, SLM readiness with reasons"),
    # S4/S5
    _a("dataset", "datasets/{task}", "dataset", "a task's dataset folder"),
    _a("dataset_info", "datasets/{task}/dataset.json", "dataset", "splits, strata, labels, tools"),
    _a("split", "datasets/{task}/{split}.jsonl", "dataset", "train / val / test chat examples"),
    _a("openai_export", "datasets/{task}/openai_{split}.jsonl", "dataset", "OpenAI fine-tuning format"),
    _a("selection", "select/{task}.json", "select", "candidates zero-shot and few-shot, ranked"),
    _a("model", "models/{task}", "finetune", "a task's specialist folder"),
    _a("adapter", "models/{task}/adapter", "finetune", "the LoRA adapter (PEFT format)"),
    _a("checkpoint", "models/{task}/checkpoints/last", "finetune", "the last training checkpoint"),
    _a("training", "models/{task}/training.json", "finetune", "what was trained, how, and how it went"),
    _a("curves", "models/{task}/curves.json", "finetune", "training and validation loss by step"),
    _a("model_card", "models/{task}/model_card.md", "finetune", "the specialist's model card"),
    _a("eval", "eval/{task}.json", "evaluate", "base vs few-shot vs fine-tuned vs the LLM"),
    _a("predictions", "eval/{task}_predictions.jsonl", "evaluate", "every test answer of every variant"),
    # routing (S5 -> S6)
    _a("task_index", "router/task_index", "route", "what the router needs to place a new call in a task"),
    _a("routing_scores", "router/{task}_scores.parquet", "route", "val and test calls: signals, correct, reasons"),
    _a("routing_policy", "routing.yaml", "route", "the policy a router loads: per task signal and threshold"),
    _a("routing", "routing.json", "route", "the evidence: AUROC per signal, offload, kept quality, cost"),
    _a("replay", "router/replay.json", "route", "held-out calls through the policy against all-LLM"),
    _a("drift_calls", "drift/curated.parquet", "drift", "the new logs, ingested and scrubbed"),
    _a("drift_assignments", "drift/assignments.parquet", "drift", "new call -> task, distance, reason"),
    _a("drift", "drift.json", "drift", "task-mix, input and outcome shift per week; a recommendation per task"),
    # hardening (phase 3)
    _a("runtime_model", "models/{task}/runtime/{runtime}", "harden", "a specialist converted for a fast runtime"),
    _a("hardening_runs", "hardening/{task}.json", "harden", "every configuration's timings, memory and answers"),
    _a("hardening", "hardening.json", "harden", "per task: configurations, SLA table, recommendation, robustness"),
    _a("bundle", "bundle", "bundle", "the deployable folder: models, routing.yaml, serving config, runbook"),
    # handover
    _a("roi", "roi.json", "roi", "the three tiers, scenarios and uncertainty"),
)}


class ArtifactCatalog:
    """Paths, readers and writers of one engagement's artifacts (see CATALOG)."""

    def __init__(self, eng: "Engagement"):
        self.engagement = eng
        self.root = eng.root / "artifacts"

    # ------------------------------------------------------------------ paths

    def spec(self, name: str) -> Artifact:
        try:
            return CATALOG[name]
        except KeyError:
            raise KeyError(f"no artifact named {name!r}; known: {', '.join(CATALOG)}") from None

    def path(self, name: str, *keys: str) -> Path:
        """Where artifact `name` lives for `keys` (e.g. the task id); nothing is created."""
        spec = self.spec(name)
        if len(keys) != len(spec.fields):
            raise TypeError(f"artifact {name!r} takes {len(spec.fields)} key(s) ({', '.join(spec.fields) or 'none'})"
                            f", got {len(keys)}")
        return self.root / spec.pattern.format(**dict(zip(spec.fields, keys)))

    def exists(self, name: str, *keys: str) -> bool:
        return self.path(name, *keys).exists()

    def command(self, name: str, *keys: str) -> str:
        """The command that writes artifact `name` (with --task when it is per task)."""
        spec = self.spec(name)
        cmd = f"fde {spec.made_by} {self.engagement.display_root}"
        if "task" in spec.fields and keys:
            cmd += f" --task {keys[spec.fields.index('task')]}"
        return cmd

    def require(self, name: str, *keys: str) -> Path:
        """The artifact's path, or an FdeError naming the command to run first."""
        p = self.path(name, *keys)
        if not p.exists():
            raise FdeError(f"{self.engagement.display(p)}: not found. Run `{self.command(name, *keys)}` first.")
        return p

    def keys(self, name: str) -> list[str]:
        """The values of the first key for which artifact `name` exists, sorted (e.g. task ids with an eval)."""
        spec = self.spec(name)
        if not spec.fields:
            return [""] if self.exists(name) else []
        regex = self._regex(spec)
        glob = spec.pattern
        for f in spec.fields:
            glob = glob.replace("{" + f + "}", "*")
        return sorted({m.group(spec.fields[0]) for p in self.root.glob(glob)
                       if (m := regex.match(p.relative_to(self.root).as_posix()))})

    def files(self, name: str) -> list[Path]:
        """Every existing file of artifact `name`, for all its keys (sorted)."""
        spec = self.spec(name)
        glob = spec.pattern
        for f in spec.fields:
            glob = glob.replace("{" + f + "}", "*")
        if not spec.fields:
            return [self.root / glob] if (self.root / glob).is_file() else []
        regex = self._regex(spec)
        return sorted(p for p in self.root.glob(glob)
                      if p.is_file() and regex.match(p.relative_to(self.root).as_posix()))

    @staticmethod
    def _regex(spec: Artifact) -> re.Pattern:
        body = re.escape(spec.pattern)
        for f in spec.fields:
            body = body.replace(re.escape("{" + f + "}"), f"(?P<{f}>[^/]+)")
        return re.compile(f"^{body}$")

    # ------------------------------------------------------------------ readers

    def read(self, name: str, *keys: str) -> Any:
        """Read an artifact by its format: JSON -> object, JSONL -> list of dicts, Parquet -> DataFrame,
        Markdown/YAML -> text. Missing or unreadable: an FdeError naming the command that writes it."""
        p = self.require(name, *keys)
        fmt = self.spec(name).format
        try:
            if fmt == "json":
                return json.loads(p.read_text(encoding="utf-8"))
            if fmt == "jsonl":
                import orjson

                with open(p, "rb") as f:
                    return [orjson.loads(line) for line in f if line.strip()]
            if fmt == "parquet":
                import polars as pl

                return pl.read_parquet(p)
            if fmt == "yaml":
                import yaml

                try:
                    return yaml.safe_load(p.read_text(encoding="utf-8"))
                except yaml.YAMLError as e:
                    raise ValueError(str(e)) from None
            if fmt == "text":
                return p.read_text(encoding="utf-8")
            if fmt == "bytes":
                return p.read_bytes()
        except (ValueError, OSError) as e:  # JSONDecodeError and orjson's errors are ValueErrors
            raise FdeError(f"{self.engagement.display(p)}: cannot be read ({type(e).__name__}). "
                           f"Run `{self.command(name, *keys)} --force` to write it again.") from None
        raise TypeError(f"artifact {name!r} is a folder; use path()")

    def optional(self, name: str, *keys: str) -> Any:
        """Like read(), but None when the artifact does not exist yet (an unreadable one still raises)."""
        return self.read(name, *keys) if self.exists(name, *keys) else None

    def scan(self, name: str, *keys: str) -> "pl.LazyFrame":
        import polars as pl

        return pl.scan_parquet(self.require(name, *keys))

    def tasks(self) -> dict[str, Any]:
        """tasks.json (from `fde discover`)."""
        return self.read("tasks")

    def profile(self) -> dict[str, Any]:
        """profile.json (from `fde profile`)."""
        return self.read("profile")

    # ------------------------------------------------------------------ writers

    def write(self, name: str, data: Any, *keys: str, **options: Any) -> Path:
        """Write an artifact safely (temporary file, then replace) in its format; returns the path."""
        p = self.path(name, *keys)
        fmt = self.spec(name).format
        if fmt == "json":
            return files.write_json(p, data, **options)
        if fmt == "jsonl":
            return files.write_jsonl(p, data)
        if fmt == "parquet":
            return files.write_parquet(p, data)
        if fmt == "yaml" and not isinstance(data, str):
            import yaml

            return files.write_text(p, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        if fmt in ("text", "yaml"):
            return files.write_text(p, data)
        if fmt == "bytes":
            return files.write_bytes(p, data)
        raise TypeError(f"artifact {name!r} is a folder; write into path() with files.replacing()")
