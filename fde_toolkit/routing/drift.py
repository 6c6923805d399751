"""S6, the refinement loop: new logs against the engagement's tasks, and what to do about each task.

    result = drift(Engagement.load("engagements/acme"), "new_logs/")   # what `fde drift --logs` runs
    print(result)                 # render_drift(result.data)
    summary, fig = drift_view(eng)  # the handover notebook's cell

The new logs are ingested and scrubbed with the engagement's own settings and key (the same readers,
validation and pseudonyms as data/raw/), placed in the known tasks by the TaskIndex, and compared with the
engagement's curated calls, per ISO week: the task mix (PSI), calls no task is close to (clustered into
new-task candidates), input shift inside each task (a domain classifier against a permutation baseline)
and, where the logs carry the router's "fde_route" metadata, the routed outcomes against routing.json.
The statistics live in routing/shift.py. Every new record is accounted for in drift.json: read =
accepted + quarantined, accepted = curated + restricted + dropped. Only curated text is embedded or shown.
"""

from __future__ import annotations

import html
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from fde_toolkit import FdeError
from fde_toolkit import formatting as num
from fde_toolkit.engagement import Engagement
from fde_toolkit.routing.shift import (FAR_REASONS, NO_TASK, DriftThresholds, domain_shift, new_task_candidates,
                                       outcome_shift, recommend, weekly_task_mix)
from fde_toolkit.step import StepOutputs, StepResult, run_step

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from fde_toolkit import viz
    from fde_toolkit.routing.index import TaskIndex
    from fde_toolkit.tasks.embed import Embedder

__all__ = ["DRIFT_VERSION", "DriftThresholds", "domain_shift", "drift", "drift_view", "new_task_candidates",
           "outcome_shift", "recommend", "render_drift", "weekly_task_mix"]

DRIFT_VERSION = 1
QUARANTINE_SHOWN = 200  # quarantined records listed (source and reason) in drift.json; all are counted
REFERENCE_TEXTS = 200  # curated texts per known task that new-task names are contrasted with


class _NewLogs(Engagement):
    """The engagement's settings over another folder of logs, writing into a scratch folder."""

    def __init__(self, eng: Engagement, logs: Path, scratch: Path):
        super().__init__(scratch, eng.config)
        self._logs = logs

    @property
    def raw_dir(self) -> Path:
        return self._logs


def _ingest_and_scrub(eng: Engagement, logs: Path, key: bytes) -> tuple[pl.DataFrame, dict[str, Any]]:
    """(curated new calls, accounting): the ingest and scrub steps' own code on the new folder."""
    from fde_toolkit.logs.ingest import ingest
    from fde_toolkit.privacy.curation import curate_calls

    parent = eng.artifacts.path("drift_calls").parent
    parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".drift-", dir=parent))
    try:
        view = _NewLogs(eng, logs, scratch)
        report = ingest(view, force=True).data
        calls = pl.read_parquet(view.artifacts.path("calls"))
        quarantined = view.artifacts.read("quarantine")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if calls.height:
        curation = curate_calls(calls, eng.config.pii, key)
        curated, records = curation.curated, curation.report["records"]
    else:
        curated, records = calls, {"in": 0, "curated": 0, "restricted": 0, "dropped": 0}
    accounting = {"ingest": {**report.totals, "reasons": dict(report.reasons),
                             "files": [{"file": f.file, "read": f.read, "accepted": f.accepted,
                                        "quarantined": f.quarantined, "refused": f.refused} for f in report.files],
                             "quarantine": [{"source": q.get("source"), "reason": q.get("reason")}
                                            for q in quarantined[:QUARANTINE_SHOWN]]},
                  "scrub": dict(records)}
    return curated, accounting


def _task_index(eng: Engagement, embedder: "Embedder | None") -> "TaskIndex":
    """The router's task index when it is newer than the tasks it was built from, else built now."""
    from fde_toolkit.routing.index import INDEX_FILE, TaskIndex

    folder = eng.artifacts.path("task_index")
    made_from = [eng.artifacts.path("curated"), eng.artifacts.path("task_assignments")]
    if (folder / INDEX_FILE).is_file() and all(
            (folder / INDEX_FILE).stat().st_mtime >= p.stat().st_mtime for p in made_from if p.exists()):
        try:
            return TaskIndex.load(folder, embedder)
        except FdeError:  # another embedder or an older index: build a fresh one
            pass
    return TaskIndex.build(eng, embedder)


def _requests(calls: pl.DataFrame) -> pl.DataFrame:
    """call_id -> request (normalised, as discovery embeds it), request_text (curated, for reading), template
    (the normalised system prompt), tools (the offered tool names) and shape (of the answer)."""
    from fde_toolkit.tasks.signature import call_signatures

    if calls.height == 0:
        return pl.DataFrame(schema={c: pl.String for c in ("call_id", "request", "request_text", "template", "tools",
                                                           "shape")})
    sig = call_signatures(calls)
    return (sig.calls.select("call_id", "req_id", "template_id", "tools", "shape")
            .join(sig.requests.select("req_id", "request", "request_text"), on="req_id", how="left")
            .join(sig.templates.select("template_id", "template"), on="template_id", how="left")
            .drop("req_id", "template_id"))


def _routing_offload(routing: dict[str, Any] | None) -> dict[str, float]:
    """offload_share per task from routing.json, whichever way the tasks are listed there."""
    if not routing:
        return {}
    tasks = routing.get("tasks", {})
    items = tasks.items() if isinstance(tasks, dict) else ((t.get("task") or t.get("id"), t) for t in tasks)
    out = {}
    for tid, entry in items:
        stack = [entry]
        while stack:
            e = stack.pop(0)
            if isinstance(e, dict):
                if isinstance(e.get("offload_share"), (int, float)):
                    out[str(tid)] = float(e["offload_share"])
                    break
                stack.extend(v for v in e.values() if isinstance(v, dict))
    return out


def _routes(new: pl.DataFrame) -> pl.DataFrame:
    """The router's own record of each routed call (metadata "fde_route"); calls without one are dropped."""
    meta = pl.col("metadata").fill_null("{}")
    return (new.with_columns(meta.str.json_path_match("$.fde_route.route").alias("route"),
                             meta.str.json_path_match("$.fde_route.reason").fill_null("").alias("route_reason"),
                             meta.str.json_path_match("$.fde_route.task").alias("route_task"),
                             pl.coalesce(meta.str.json_path_match("$.fde_route.agree"),
                                         meta.str.json_path_match("$.fde_route.agreement")).alias("agree"))
            .filter(pl.col("route").is_in(["slm", "llm"])))


def _route_dicts(frame: pl.DataFrame) -> list[dict[str, Any]]:
    agree = {"true": True, "1": True, "false": False, "0": False}
    return [{"route": r["route"], "reason": r["route_reason"], "agree": agree.get(str(r["agree"]).lower())}
            for r in frame.select("route", "route_reason", "agree").iter_rows(named=True)]


def _sample_ids(frame: pl.DataFrame, n: int, seed: int) -> list[str]:
    return frame["call_id"].sample(min(n, frame.height), seed=seed).sort().to_list() if frame.height else []


def compare(eng: Engagement, new: pl.DataFrame, assignments: pl.DataFrame, index: "TaskIndex",
            thresholds: DriftThresholds) -> dict[str, Any]:
    """The drift report's statistics for curated new calls placed by `index` (no files written)."""
    from fde_toolkit.tasks.embed import EmbeddingCache

    seed = eng.config.seed
    cache = EmbeddingCache(eng.cache_dir / "embeddings")
    tasks_json = eng.artifacts.tasks()
    names = {t["id"]: t.get("name", t["id"]) for t in tasks_json.get("tasks", [])}
    ref_assign = pl.read_parquet(eng.artifacts.require("task_assignments")).select("call_id", "task_id")
    ref_counts = {r["task_id"]: r["len"] for r in ref_assign.group_by("task_id").len().iter_rows(named=True)
                  if r["task_id"] is not None}
    new = (new.select("call_id", "timestamp", "metadata")
           .join(assignments, on="call_id", how="left", maintain_order="left")
           .join(_requests(new), on="call_id", how="left", maintain_order="left")
           .with_columns(pl.col("timestamp").dt.strftime("%G-W%V").alias("week"),
                         pl.when(pl.col("reason") == "").then(pl.col("task_id")).alias("mix_task")))
    # The index's cut-off leaves the farthest (1 - far_quantile) of each task's own calls outside it: the
    # reference mix holds that share as "no task", so the new logs' ordinary far calls do not read as a shift.
    q = index.data.get("far_quantile", eng.config.routing.far_quantile)
    ref_mix = {**{t: c * q for t, c in ref_counts.items()}, NO_TASK: sum(ref_counts.values()) * (1 - q)}
    mix = weekly_task_mix(new.select("timestamp", pl.col("mix_task").alias("task_id")), ref_mix,
                          thresholds.psi_watch, thresholds.psi_alarm)

    # the reference: a seeded sample of each known task's curated calls
    ref_ids = [cid for (tid,), part in ref_assign.sort("call_id").group_by("task_id", maintain_order=True)
               if tid is not None for cid in _sample_ids(part, thresholds.max_window, seed)]
    ref_calls = pl.scan_parquet(eng.artifacts.require("curated")).filter(pl.col("call_id").is_in(ref_ids)).collect()
    ref = _requests(ref_calls).join(ref_assign, on="call_id", how="left")
    vec = lambda texts: cache.embed([t or "" for t in texts], index.embedder)  # noqa: E731
    ref_vectors = vec(ref["request"].to_list()) if ref.height else np.empty((0, 1), np.float32)
    ref_task = ref["task_id"].to_numpy()

    # calls no known task is close to
    far = new.filter(pl.col("reason").is_in(list(FAR_REASONS)))
    ref_texts = {t: ref.filter(pl.col("task_id") == t)["request_text"].head(REFERENCE_TEXTS).fill_null("").to_list()
                 for t in sorted(ref_counts)}
    # A call under a prompt no step has (no_matching_step) is grouped by its prompt and tools first, as discovery
    # finds steps before kinds of request; a call far from its task, by the step it came in through.
    far = far.with_columns(pl.when(pl.col("reason") == "no_matching_step")
                           .then(pl.lit("prompt ") + pl.col("template").fill_null("").str.slice(0, 80)
                                 + pl.lit(" | tools ") + pl.col("tools").fill_null(""))
                           .otherwise(pl.lit("step ") + pl.col("step_id").fill_null("?")).alias("origin"))
    candidates = []
    for (origin,), group in far.sort("call_id").group_by("origin", maintain_order=True):
        reqs = group.group_by("request", maintain_order=True).agg(
            pl.len().alias("calls"), pl.col("request_text").first(), pl.col("call_id"), pl.col("week"),
            pl.col("shape").first())
        found = new_task_candidates(vec(reqs["request"].to_list()), reqs["request_text"].fill_null("").to_list(),
                                    seed, thresholds.min_candidate, reference_texts=ref_texts,
                                    weights=reqs["calls"].to_numpy())
        for c in found:
            rows = reqs[c.pop("rows")]
            weeks = rows.select("week").explode("week")["week"].value_counts().sort("week")
            c.update(origin=origin, reason=group["reason"][0],
                     output_shape=rows["shape"].drop_nulls().mode().sort().first() if rows["shape"].drop_nulls().len()
                     else None, weeks={r["week"]: r["count"] for r in weeks.iter_rows(named=True)},
                     call_ids=rows.select("call_id").explode("call_id")["call_id"].head(20).to_list(),
                     recommendation=recommend({"candidate": True, "calls": c["calls"]}, thresholds))
            candidates.append(c)
    candidates.sort(key=lambda c: (-c["calls"], c["origin"]))
    for i, c in enumerate(candidates):
        c["id"] = f"new{i + 1:02d}"

    # per known task: input shift (overall and per week) and routed outcomes
    expected = _routing_offload(eng.artifacts.optional("routing"))
    routes = _routes(new)
    if routes.height:
        routes = routes.with_columns(pl.coalesce("route_task", "task_id").alias("route_task"))
    weeks_all = [w["week"] for w in mix["weekly"]]
    # Bonferroni across the tasks this report tests, so unchanged traffic raises no alarm by chance
    testable = [tid for tid in set(ref_counts) if ref_counts.get(tid, 0) >= thresholds.min_calls
                and new.filter(pl.col("mix_task") == tid).height >= thresholds.min_calls]
    alpha = (1 - thresholds.confidence) / max(1, len(testable))
    rows = []
    for tid in sorted(set(ref_counts) | set(new["mix_task"].drop_nulls().unique().to_list())):
        mine = new.filter((pl.col("mix_task") == tid))
        ref_v = ref_vectors[ref_task == tid] if ref.height else np.empty((0, 1))
        new_v = vec(mine["request"].to_list()) if mine.height else np.empty((0, 1))
        row: dict[str, Any] = {"task": tid, "name": names.get(tid, tid), "reference_calls": ref_counts.get(tid, 0),
                               "new_calls": mine.height, "far_calls": far.filter(pl.col("task_id") == tid).height,
                               "share_before": round(ref_counts.get(tid, 0) / (sum(ref_counts.values()) or 1), 4),
                               "share_after": mix["overall"]["shares"].get(tid, 0.0), "input_shift": None,
                               "weekly_input_shift": [], "outcome": None}
        if mine.height >= thresholds.min_calls and len(ref_v) >= thresholds.min_calls:
            kw = dict(seed=seed, permutations=thresholds.permutations, floor=thresholds.auroc_floor,
                      folds=thresholds.folds, max_window=thresholds.max_window, alpha=alpha)
            row["input_shift"] = domain_shift(ref_v, new_v, **kw)
            weeks = mine["week"].to_numpy()
            for w in weeks_all if len(weeks_all) > 1 else []:
                if (weeks == w).sum() >= thresholds.min_calls:
                    row["weekly_input_shift"].append({"week": w, **domain_shift(ref_v, new_v[weeks == w], **kw)})
        routed = routes.filter(pl.col("route_task") == tid) if routes.height else routes
        if routed.height:
            row["outcome"] = outcome_shift(_route_dicts(routed), expected.get(tid), eng.config.routing.target_for(tid),
                                           thresholds)
            row["outcome"]["weekly"] = [{"week": w, **{k: v for k, v in outcome_shift(
                _route_dicts(part), expected.get(tid), None, thresholds).items() if k in ("routed", "escalation_rate",
                                                                                        "validator_failures")}}
                for (w,), part in routed.sort("week").group_by("week", maintain_order=True)]
        row["recommendation"] = recommend(row, thresholds)
        rows.append(row)
    reasons = {r["reason"] or "matched": r["len"]
               for r in new.group_by("reason").len().sort("reason").iter_rows(named=True)}
    far_weeks = {r["week"]: r["count"] for r in far["week"].value_counts().sort("week").iter_rows(named=True)}
    return {"task_mix": mix, "assignment": {"reasons": reasons, "far_calls": far.height, "far_by_week": far_weeks},
            "tasks": rows, "candidates": candidates,
            "routed": {"calls": routes.height, "with_routing_json": bool(expected),
                       "all": outcome_shift(_route_dicts(routes), None, None, thresholds) if routes.height else None}}


def drift(eng: Engagement, logs_dir: str | Path, force: bool = False,
          embedder: "Embedder | None" = None) -> StepResult[dict[str, Any]]:
    """`fde drift --logs NEW_DIR`: drift/curated.parquet, drift/assignments.parquet and drift.json.

    Skipped when the new log files, the engagement's tasks and the settings this step reads did not change.
    `embedder` overrides the configured embedding model (it must be the one the tasks were found with).
    """
    from fde_toolkit.privacy.pseudonym import key_id, load_key
    from fde_toolkit.tasks.embed import SentenceEmbedder

    logs = Path(logs_dir)
    if not logs.is_dir():
        raise FdeError(f"{logs}: no such folder of new logs. Pass the folder the new call logs are in with --logs.")
    thresholds = DriftThresholds()
    files = _NewLogs(eng, logs, eng.root).raw_files()
    if not files:
        raise FdeError(f"{logs}: no log files. Copy the new call logs there and run again.")
    arts = eng.artifacts
    inputs = [*files, arts.require("curated"), arts.require("task_assignments"), arts.require("tasks")]
    inputs += [p for p in (arts.path("routing"), arts.path("task_index") / "index.json") if p.is_file()]
    key = load_key(eng.root, eng.config.pii.key_file)
    embedder = embedder or SentenceEmbedder(eng.config.tasks.embedding_model)
    params = {"drift_version": DRIFT_VERSION, "logs": str(logs.resolve()), "thresholds": thresholds.to_dict(),
              "seed": eng.config.seed, "pii": eng.config.pii.fingerprint(), "key_id": key_id(key),
              "embedding_model_key": getattr(embedder, "cache_key", None) or getattr(embedder, "__name__", "?"),
              **eng.config.model_dump(mode="json", include={"sources", "prices", "currency", "routing"})}

    def make(out: StepOutputs) -> dict[str, Any]:
        curated, accounting = _ingest_and_scrub(eng, logs, key)
        out.write("drift_calls", curated)
        index = _task_index(eng, embedder)
        assignments = index.assign(curated)
        out.write("drift_assignments", assignments)
        stats = compare(eng, curated, assignments, index, thresholds)
        when = curated["timestamp"] if curated.height else pl.Series([], dtype=pl.Datetime("us", "UTC"))
        report = {"version": DRIFT_VERSION, "engagement": eng.name, "logs": str(logs), **accounting,
                  "calls": curated.height, "period": {"first": str(when.min()) if when.len() else None,
                                                      "last": str(when.max()) if when.len() else None},
                  "thresholds": thresholds.to_dict(), **stats}
        out.summary = {"calls": curated.height, "quarantined": accounting["ingest"]["quarantined"],
                       "retrain": sum(t["recommendation"]["action"] == "retrain" for t in stats["tasks"]),
                       "candidates": len(stats["candidates"])}
        return out.write_data("drift", report, indent=2)

    return run_step(eng, "drift", inputs=inputs, params=params, make=make, previous=lambda: arts.read("drift"),
                    render=render_drift, force=force)


# ----------------------------------------------------------------------------- what the CLI prints

def _auroc_text(shift: dict[str, Any] | None) -> str:
    if not shift or shift.get("auroc") is None:
        return "–"
    return f"{shift['auroc']:.2f}/{shift['permutation_p95']:.2f}" + (" !" if shift["shifted"] else "")


def render_drift(report: dict[str, Any]) -> str:
    """A few lines for the terminal: the accounting, the task mix by week, each task's verdict, the candidates."""
    ing, scrub, mix = report["ingest"], report["scrub"], report["task_mix"]
    th = report["thresholds"]
    lines = [f"Drift of {report['engagement']} on {report['logs']}: {ing['read']:,} records read, "
             f"{ing['accepted']:,} accepted, {ing['quarantined']:,} quarantined"
             + (f" ({', '.join(f'{k} {v}' for k, v in ing['reasons'].items())})" if ing["reasons"] else "") + ";",
             f"  scrubbed: {scrub['curated']:,} curated, {scrub['restricted']:,} restricted, "
             f"{scrub['dropped']:,} dropped."]
    psi = mix["overall"]["psi"]
    lines.append(f"Task mix: PSI {f'{psi:.3f}' if psi is not None else '–'} over {report['calls']:,} calls, "
                 f"{mix['overall'].get('level') or '–'} (watch > {th['psi_watch']}, shift > {th['psi_alarm']}); "
                 f"in no task: {num.share(mix['overall']['shares'].get(NO_TASK, 0.0))}")
    for w in mix["weekly"]:
        lines.append(f"  {w['week']}  {w['calls']:>7,} calls  PSI {w['psi']:.3f}  {w.get('level') or ''}")
    lines.append("")
    lines.append(f"{'task':<8} {'name':<34} {'before':>7} {'after':>7} {'new':>6} {'AUROC/p95':>10} "
                 f"{'escal.':>7}  action")
    for t in report["tasks"]:
        esc = (t["outcome"] or {}).get("escalation_rate")
        lines.append(f"{t['task']:<8} {t['name'][:34]:<34} {num.share(t['share_before']):>7} "
                     f"{num.share(t['share_after']):>7} {t['new_calls']:>6,} {_auroc_text(t['input_shift']):>10} "
                     f"{num.share(esc) if esc is not None else '–':>7}  {t['recommendation']['action']}")
    for t in report["tasks"]:
        if t["recommendation"]["action"] != "keep":
            lines.append(f"  {t['task']}: {t['recommendation']['because']} [{t['recommendation']['trigger']}]")
    a = report["assignment"]
    lines.append("")
    lines.append(f"Far from every task: {a['far_calls']:,} calls; new-task candidates "
                 f"(>= {th['min_candidate']} calls): {len(report['candidates'])}")
    for c in report["candidates"]:
        lines.append(f"  {c['id']}  {c['calls']:>6,} calls  {c['name']}  -> create a specialist")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the handover notebook

def drift_figure(report: dict[str, Any]) -> "go.Figure":
    """Task shares per week (stacked bars, reference first) with the weekly PSI on a second axis."""
    import plotly.graph_objects as go

    from fde_toolkit import viz

    mix = report["task_mix"]
    if not mix["weekly"]:
        return viz.empty_figure("Task mix of the new logs", "The new logs hold no curated calls.")
    weeks = ["reference"] + [w["week"] for w in mix["weekly"]]
    tasks = sorted(set(mix["reference"]) | {k for w in mix["weekly"] for k in w["shares"]})
    fig = go.Figure()
    for i, t in enumerate(tasks):
        ys = [mix["reference"].get(t, 0.0)] + [w["shares"].get(t, 0.0) for w in mix["weekly"]]
        colour = viz.MUTED if t == NO_TASK else viz.PALETTE[i % len(viz.PALETTE)]
        fig.add_bar(x=weeks, y=ys, name=t, marker_color=colour,
                    hovertemplate=f"{html.escape(t)}: %{{y:.1%}}<extra></extra>")
    fig.add_scatter(x=weeks[1:], y=[w["psi"] for w in mix["weekly"]], name="PSI", yaxis="y2", mode="lines+markers",
                    line=dict(color=viz.INK, width=2))
    alarm = report["thresholds"]["psi_alarm"]
    fig.add_scatter(x=weeks[1:], y=[alarm] * (len(weeks) - 1), name=f"PSI {alarm} (act)", yaxis="y2", mode="lines",
                    line=dict(color=viz.PALETTE[3], dash="dash", width=1))
    fig.update_layout(barmode="stack", title_text="Task mix per ISO week against the engagement's calls",
                      yaxis=dict(title_text="share of calls", tickformat=".0%", range=[0, 1]),
                      yaxis2=dict(title_text="PSI", overlaying="y", side="right", rangemode="tozero", showgrid=False))
    return fig


def drift_view(eng: Engagement) -> "tuple[viz.Html, go.Figure]":
    """(summary, figure) for the handover notebook: `display(*drift_view(eng))`; a note when drift has not run."""
    from fde_toolkit import viz

    report = eng.artifacts.optional("drift")
    if report is None:
        return (viz.note(f"No drift report yet: run `fde drift {eng.display_root} --logs NEW_DIR`."),
                viz.empty_figure("Task mix of the new logs", "fde drift has not run"))
    ing = report["ingest"]
    cards = [(f"{report['calls']:,}", "new calls (curated)"), (f"{ing['quarantined']:,}", "quarantined"),
             (f"{report['task_mix']['overall']['psi'] or 0:.3f}", "task-mix PSI"),
             (str(sum(t["recommendation"]["action"] == "retrain" for t in report["tasks"])), "tasks to retrain"),
             (str(len(report["candidates"])), "new-task candidates")]
    body = '<div class="fde-cards">' + "".join(
        f'<div class="fde-card"><div class="v">{html.escape(v)}</div><div class="k">{html.escape(k)}</div></div>'
        for v, k in cards) + "</div>"
    rows = [{"task": t["task"], "name": t["name"], "before": num.share(t["share_before"]),
             "after": num.share(t["share_after"]), "new": f"{t['new_calls']:,}", "auroc": _auroc_text(t["input_shift"]),
             "action": t["recommendation"]["action"], "why": t["recommendation"]["because"]} for t in report["tasks"]]
    rows += [{"task": c["id"], "name": c["name"], "before": "–", "after": "–", "new": f"{c['calls']:,}", "auroc": "–",
              "action": c["recommendation"]["action"], "why": c["recommendation"]["because"]}
             for c in report["candidates"]]
    table = viz.table(rows, {"task": "task", "name": "name", "before": "share before", "after": "share after",
                             "new": "new calls", "auroc": "AUROC / chance p95", "action": "recommendation",
                             "why": "because"}, numeric={"before", "after", "new"})
    return viz.Html(body + str(table)), drift_figure(report)
