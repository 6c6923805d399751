"""Which task a new call belongs to: the two levels of task discovery, replayed on one call at a time.

    index = TaskIndex.build(eng)                  # from curated.parquet + tasks.parquet (+ the embedding cache)
    index.save(eng.artifacts.path("task_index"))  # index.json + centres.npy, no pickle
    index = TaskIndex.load(folder)
    index.assign(calls)   # call_id, task_id, step_id, distance, reason ("" when the call matches a task closely)

Discovery (fde_toolkit/tasks) puts a call in a workflow step by its prompt-template family, the tools it
offers and, where a template carries several workload tags, the tag; a step split by kind of request
then places the call at the nearest centre of its tasks. The index keeps what that needs: the template
families (exact normalised prompts, and the prefix of a family with a variable slot such as retrieved
passages), the step of each family + tool set (+ tag), and per task the unit centre of its requests'
embeddings with a distance cut-off (the `routing.far_quantile` of its own calls' distances).
A call the index cannot place gets a reason instead of a task: empty_input, oversized_input,
undecodable_input, no_matching_step, far_from_task (task_id then names the nearest task).
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from fde_toolkit import FdeError
from fde_toolkit.files import replacing, write_json
from fde_toolkit.tasks.embed import Embedder, EmbeddingCache, SentenceEmbedder, unit_rows
from fde_toolkit.tasks.signature import REQUEST_CHARS, VOLATILE, _tool_names, call_signatures
from fde_toolkit.tasks.steps import PER_REQUEST_TOOLS, assign_steps, per_request_tool_families

if TYPE_CHECKING:
    from fde_toolkit.engagement import Engagement

VERSION = 1
INDEX_FILE = "index.json"
CENTRES_FILE = "centres.npy"
SAMPLE_PER_TASK = 2000  # distinct requests embedded per task for its centre and cut-off (drawn by call count)
MEMO = 4096  # request vectors kept in memory between calls
DISK_FROM = 64  # a batch with this many new requests reads and fills the on-disk embedding cache (when given)
SLOT = " …"  # how template_families names a family with a variable slot
CALL_COLUMNS = ["call_id", "model", "messages", "tools", "response_text", "tool_calls", "input_tokens",
                "output_tokens", "latency_ms", "cost_usd", "status", "workload_id"]
EMPTY = pl.DataFrame(schema={"call_id": pl.String, "task_id": pl.String, "step_id": pl.String,
                             "distance": pl.Float64, "reason": pl.String})

# The volatile-token rules of tasks/signature.py in Python's `re`: one call is normalised in microseconds
# (polars costs milliseconds per call). The index checks at build time that both agree on the engagement.
_RULES = [(re.compile(p), re.sub(r"\$(\d)", r"\\\1", r)) for p, r in VOLATILE]


def normalise_text(text: str) -> str:
    """The normalised text tasks/signature.py gives `text` (lowercase, volatile tokens replaced)."""
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    return text.strip().lower()


def _role_text(roles: tuple[str, ...], last: bool) -> pl.Expr:
    picked = pl.col("messages").list.eval(
        pl.element().filter(pl.element().struct.field("role").is_in(list(roles))).struct.field("content"))
    return picked.list.last() if last else picked.list.join("\n")


def _call_parts(calls: pl.DataFrame) -> pl.DataFrame:
    """Per call what the index reads: system text, last user text, request text, size and bad characters."""
    content = pl.element().struct.field("content")
    bad = content.str.contains("\u0000", literal=True) | content.str.contains("\ufffd", literal=True)
    tools = pl.col("tools").fill_null("")
    return calls.select(
        pl.col("call_id").cast(pl.String),
        _role_text(("system", "developer"), last=False).fill_null("").alias("system"),
        _role_text(("user",), last=True).alias("user"),
        pl.coalesce(_role_text(("user",), last=True),
                    pl.col("messages").list.eval(content).list.last(), pl.lit("")).str.slice(0, REQUEST_CHARS)
        .alias("request"),
        pl.col("messages").list.eval(content.str.len_chars().fill_null(0)).list.sum().fill_null(0).alias("chars"),
        (pl.col("messages").list.eval(bad.fill_null(False)).list.any().fill_null(False)
         | tools.str.contains("\u0000", literal=True) | tools.str.contains("\ufffd", literal=True)).alias("bad"),
        pl.col("tools"),
        pl.col("workload_id").fill_null(""),
    )


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][min(int(np.searchsorted(cum, q * cum[-1] - 1e-9)), len(order) - 1)])


class TaskIndex:
    """Template families -> steps -> task centres, with the cut-offs that say a call is too far from any task."""

    def __init__(self, data: dict[str, Any], centres: np.ndarray, embedder: Embedder,
                 cache_dir: str | Path | None = None):
        self.data = data
        self.cache_dir = cache_dir
        self.centres = np.asarray(centres, dtype=np.float32)
        self.embedder = embedder
        self.tasks: list[str] = [t["id"] for t in data["tasks"]]
        self.max_input_chars: int = data["max_input_chars"]
        self._row = {t: i for i, t in enumerate(self.tasks)}
        self._cutoff = np.array([t["cutoff"] for t in data["tasks"]], dtype=np.float64)
        self._templates: dict[str, str] = data["templates"]
        self._slots = [(p.split(" "), f) for p, f in sorted(data["slot_families"], key=lambda x: -len(x[0]))]
        self._loose = set(data["per_request_tool_families"])
        self._steps = {(s["family"], s["tools"]): s for s in data["steps"]}
        self._step_tasks: dict[str, list[str]] = data["step_tasks"]
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()

    # ------------------------------------------------------------------ building

    @classmethod
    def build(cls, eng: "Engagement", embedder: Embedder | None = None) -> "TaskIndex":
        """From curated.parquet and tasks.parquet: the signatures are re-derived (deterministic on the same
        calls), the request vectors mostly come from the embedding cache `fde discover` filled."""
        from fde_toolkit.tasks.cluster import weighted_order  # scikit-learn: only when building

        config = eng.config.tasks
        curated = eng.artifacts.require("curated")
        assignments = pl.read_parquet(eng.artifacts.require("task_assignments"))
        embedder = embedder or SentenceEmbedder(config.embedding_model)
        signatures = call_signatures(pl.scan_parquet(curated).select(CALL_COLUMNS))
        sig, templates = assign_steps(signatures.calls, signatures.templates, config)
        sig = (sig.join(templates.select("template_id", pl.col("family").alias("raw_family")), on="template_id",
                        how="left", maintain_order="left")
               .join(assignments.select("call_id", "step_id", "task_id"), on="call_id", how="left",
                     maintain_order="left"))
        missing = sig["task_id"].null_count()
        if missing:
            raise FdeError(f"{eng.display(eng.artifacts.path('task_assignments'))}: {missing} curated call(s) have "
                           f"no task; the tasks are older than the curated calls. Run `fde discover "
                           f"{eng.display_root}` again.")
        # template families: exact normalised prompts, and the prefixes of families with a variable slot
        exact: dict[str, str] = {}
        slots: dict[str, str] = {}
        mismatches = 0
        for r in templates.iter_rows(named=True):
            if r["family_text"].endswith(SLOT):
                slots[r["family_text"][:-len(SLOT)]] = r["family"]
                continue
            exact[r["template"]] = r["family"]
            mine = normalise_text(r["system"] or "")
            if mine != r["template"]:
                mismatches += 1
                exact.setdefault(mine, r["family"])
        # steps by family + tool set (+ workload tag)
        loose = per_request_tool_families(sig.with_columns(pl.col("raw_family").alias("family")))
        groups = sig.group_by("raw_family", "tools", "tag", "step_id").agg(pl.len().alias("n")).sort(
            ["raw_family", "tools", "tag", "n", "step_id"], descending=[False, False, False, True, False])
        steps: dict[tuple[str, str], dict[str, Any]] = {}
        for r in groups.iter_rows(named=True):
            s = steps.setdefault((r["raw_family"], r["tools"]), {"family": r["raw_family"], "tools": r["tools"],
                                                                  "tags": {}, "steps": []})
            if r["step_id"] not in s["steps"]:
                s["steps"].append(r["step_id"])
            if r["tag"] not in ("", "?"):
                s["tags"].setdefault(r["tag"], r["step_id"])
        step_tasks = (sig.group_by("step_id").agg(pl.col("task_id").unique().sort()).sort("step_id"))
        # task centres and cut-offs, on a weighted sample of each task's distinct requests
        reqs = (sig.group_by("task_id", "req_id").agg(pl.len().alias("calls"))
                .join(signatures.requests.select("req_id", "request"), on="req_id", how="left")
                .sort("task_id", "req_id"))
        parts = []
        for (tid,), part in reqs.group_by("task_id", maintain_order=True):
            take = np.sort(weighted_order(part["calls"].to_numpy(), config.seed)[:SAMPLE_PER_TASK])
            parts.append(part[take.tolist()])
        sample = pl.concat(parts)
        vectors = EmbeddingCache(eng.cache_dir / "embeddings").embed(sample["request"].to_list(), embedder)
        routing = eng.config.routing
        task_rows, centres = [], []
        task_col, calls_col = sample["task_id"].to_numpy(), sample["calls"].to_numpy().astype(np.float64)
        task_steps = sig.group_by("task_id").agg(pl.col("step_id").unique().sort(), pl.len().alias("calls"))
        task_steps = {r["task_id"]: r for r in task_steps.iter_rows(named=True)}
        for tid in sorted(task_steps):
            rows = np.flatnonzero(task_col == tid)
            v, w = vectors[rows], calls_col[rows]
            centre = unit_rows((w[:, None] * v).sum(axis=0, keepdims=True))[0]
            dist = np.clip(1.0 - v @ centre, 0.0, 2.0)
            task_rows.append({"id": tid, "steps": task_steps[tid]["step_id"], "calls": int(task_steps[tid]["calls"]),
                              "requests_embedded": int(len(rows)),
                              "cutoff": round(_weighted_quantile(dist, w, routing.far_quantile) + 1e-6, 6)})
            centres.append(centre)
        data = {
            "version": VERSION, "engagement": eng.name,
            "embedding": {"model": config.embedding_model,
                          "key": getattr(embedder, "cache_key", None) or getattr(embedder, "__name__",
                                                                                 type(embedder).__name__)},
            "max_input_chars": routing.max_input_chars, "far_quantile": routing.far_quantile,
            "templates": exact, "slot_families": sorted(slots.items()), "per_request_tool_families": loose,
            "steps": [steps[k] for k in sorted(steps)],
            "step_tasks": {r["step_id"]: r["task_id"] for r in step_tasks.iter_rows(named=True)},
            "tasks": task_rows, "normaliser_mismatches": mismatches,
        }
        return cls(data, np.stack(centres), embedder, eng.cache_dir / "embeddings")

    # ------------------------------------------------------------------ files

    def save(self, folder: str | Path) -> Path:
        """index.json + centres.npy in `folder` (replaced as a whole)."""
        folder = Path(folder)
        with replacing(folder) as tmp:
            tmp.mkdir(parents=True)
            write_json(tmp / INDEX_FILE, self.data)
            np.save(tmp / CENTRES_FILE, self.centres, allow_pickle=False)
        return folder

    @classmethod
    def load(cls, folder: str | Path, embedder: Embedder | None = None,
             cache_dir: str | Path | None = None) -> "TaskIndex":
        """The index saved in `folder`; its embedding model is loaded on the first call that needs it.
        `cache_dir` (the engagement's .cache/embeddings) serves large batches (drift) from the disk cache."""
        folder = Path(folder)
        try:
            data = json.loads((folder / INDEX_FILE).read_text(encoding="utf-8"))
            centres = np.load(folder / CENTRES_FILE, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise FdeError(f"{folder}: no readable task index ({type(e).__name__}). Run `fde route` to build it.") \
                from None
        if data.get("version") != VERSION:
            raise FdeError(f"{folder / INDEX_FILE}: task index version {data.get('version')}, this toolkit reads "
                           f"{VERSION}. Run `fde route` again.")
        embedder = embedder or SentenceEmbedder(data["embedding"]["model"])
        key = getattr(embedder, "cache_key", None) or getattr(embedder, "__name__", type(embedder).__name__)
        if key != data["embedding"]["key"]:
            raise FdeError(f"{folder / INDEX_FILE}: the index was built with the embedding model "
                           f"{data['embedding']['key']}, not {key}. Pass that embedder or rebuild with `fde route`.")
        return cls(data, centres, embedder, cache_dir)

    # ------------------------------------------------------------------ placing calls

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of normalised request texts (the embedder sees each distinct text once per MEMO)."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if len(todo) >= DISK_FROM and self.cache_dir is not None:
            new = EmbeddingCache(self.cache_dir).embed(todo, self.embedder)
        elif todo:
            new = unit_rows(np.asarray(self.embedder(todo), dtype=np.float32))
        if todo:
            for t, v in zip(todo, new):
                self._memo[t] = v
        out = np.stack([self._memo[t] for t in texts]) if texts else np.empty((0, self.centres.shape[1]), np.float32)
        for t in texts:
            self._memo.move_to_end(t)
        while len(self._memo) > MEMO:
            self._memo.popitem(last=False)
        return out

    def family(self, template: str) -> str | None:
        """The template family of a normalised system prompt, or None for a prompt discovery never saw."""
        fam = self._templates.get(template)
        if fam is not None:
            return fam
        words = template.split(" ")
        for prefix, fam in self._slots:
            if words[:len(prefix)] == prefix:
                return fam
        return None

    def candidate_steps(self, template: str, tools_json: str | None, workload_id: str = "") -> list[str]:
        """The steps a call may belong to (several only for an untagged call of a step split by tag)."""
        fam = self.family(template)
        if fam is None:
            return []
        tools = _tool_names(tools_json)
        if fam in self._loose and tools:
            tools = PER_REQUEST_TOOLS
        s = self._steps.get((fam, tools))
        if s is None:
            return []
        if s["tags"] and workload_id in s["tags"]:
            return [s["tags"][workload_id]]
        return list(s["steps"])

    def assign(self, calls: pl.DataFrame) -> pl.DataFrame:
        """call_id, task_id, step_id, distance, reason for canonical calls (curated text)."""
        if calls.height == 0:
            return EMPTY.clone()
        parts = _call_parts(calls)
        out: list[dict[str, Any]] = []
        pending: list[tuple[int, list[str], str]] = []
        for i, r in enumerate(parts.iter_rows(named=True)):
            row = {"call_id": r["call_id"], "task_id": None, "step_id": None, "distance": None, "reason": ""}
            out.append(row)
            if r["user"] is None or not r["user"].strip():
                row["reason"] = "empty_input"
            elif r["chars"] > self.max_input_chars:
                row["reason"] = "oversized_input"
            elif r["bad"]:
                row["reason"] = "undecodable_input"
            else:
                steps = self.candidate_steps(normalise_text(r["system"]), r["tools"], r["workload_id"])
                if not steps:
                    row["reason"] = "no_matching_step"
                else:
                    if len(steps) == 1:
                        row["step_id"] = steps[0]
                    pending.append((i, steps, normalise_text(r["request"])))
        if pending:
            vectors = self.embed([p[2] for p in pending])
            for (i, steps, _), v in zip(pending, vectors):
                tasks = sorted({t for s in steps for t in self._step_tasks.get(s, [])})
                rows = [self._row[t] for t in tasks]
                dist = np.clip(1.0 - self.centres[rows] @ v, 0.0, 2.0)
                j = int(np.argmin(dist))
                row = out[i]
                row["task_id"], row["distance"] = tasks[j], round(float(dist[j]), 5)
                if row["step_id"] is None:
                    row["step_id"] = next(s for s in steps if tasks[j] in self._step_tasks.get(s, []))
                if dist[j] > self._cutoff[rows[j]]:
                    row["reason"] = "far_from_task"
        return pl.DataFrame(out, schema=EMPTY.schema)
