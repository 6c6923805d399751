"""Every number the ROI takes from the engagement's artifacts, with the artifact and field it came from.

    ev = gather(eng)
    ev.measurements["t001.quality"]    # t001.quality_low / _high: its 95% interval, when the evaluation has one
    # Measurement(id="t001.quality", value=0.93, unit="share", artifact="eval/t001.json",
    #             field="variants.fine_tuned.metrics.agreement", kind="measured", label="...")
    ev.tasks            # evaluated tasks: the specialists the ROI counts
    ev.next_tasks       # SLM candidates of tasks.json without an evaluation yet, best first
    ev.needs            # what is missing for a complete ROI (empty when complete)

`<task>.offload_share` and `<task>.kept_quality` come from routing.json (`fde route`) when it exists;
`<task>.slm_latency_under_load_ms` and `<task>.throughput_under_load` from hardening.json (`fde harden`),
which also replaces `<task>.slm_latency_ms` with the recommended configuration's batch-1 p50. Until then the
assumptions routing_offload_share, routing_quality_target and latency_under_load_factor stand in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fde_toolkit import FdeError

@dataclass(frozen=True)
class Measurement:
    """One measured number (or engagement setting) and where it came from."""

    id: str
    value: float
    unit: str
    artifact: str
    field: str
    label: str
    kind: str = "measured"  # measured | setting
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("id")
        return d


@dataclass
class Evidence:
    """What the artifacts hold for the ROI."""

    measurements: dict[str, Measurement] = field(default_factory=dict)
    tasks: list[str] = field(default_factory=list)  # evaluated (specialist) tasks, by candidate rank
    next_tasks: list[str] = field(default_factory=list)  # candidates without an evaluation yet
    task_info: dict[str, dict[str, Any]] = field(default_factory=dict)  # name, output kind, rank, readiness
    needs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    inputs: list[Path] = field(default_factory=list)  # the artifacts read (the step's manifest inputs)
    period: dict[str, Any] = field(default_factory=dict)

    def add(self, mid: str, value: Any, unit: str, artifact: str, fld: str, label: str, kind: str = "measured",
            note: str = "") -> None:
        if value is None:
            return
        self.measurements[mid] = Measurement(mid, float(value), unit, artifact, fld, label, kind, note)


def _dig(d: dict[str, Any], dotted: str) -> Any:
    cur: Any = d
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def peak_factor(profile: dict[str, Any]) -> tuple[float | None, str]:
    """Busiest weekday-hour of the logs against the average hour (calls per occurrence of that hour)."""
    ot = profile.get("over_time", {})
    matrix, t = ot.get("weekday_hour_utc"), profile.get("totals", {})
    if not matrix or not t.get("first_date") or not t.get("calls"):
        return None, ""
    first, last = date.fromisoformat(t["first_date"]), date.fromisoformat(t["last_date"])
    days = (last - first).days + 1
    occurrences = [0] * 7
    for k in range(days):
        occurrences[(first + timedelta(days=k)).weekday()] += 1
    per_hour = [matrix[d][h] / occurrences[d] for d in range(7) for h in range(24) if occurrences[d]]
    mean = t["calls"] / (days * 24)
    if not per_hour or mean <= 0:
        return None, ""
    busiest = max(per_hour)
    return busiest / mean, f"busiest weekday-hour averages {busiest:,.1f} calls vs {mean:,.1f} in an average hour"


def session_cycle_minutes(calls_path: Path) -> tuple[float | None, int]:
    """Median minutes from a session's first call to its last, over sessions with two calls or more."""
    import polars as pl

    try:
        lf = pl.scan_parquet(calls_path)
        if "session_id" not in lf.collect_schema().names():
            return None, 0
        spans = (lf.select("session_id", "timestamp").drop_nulls()
                 .group_by("session_id").agg(n=pl.len(), span=(pl.col("timestamp").max() - pl.col("timestamp").min()))
                 .filter(pl.col("n") >= 2)
                 .select(minutes=pl.col("span").dt.total_milliseconds() / 60_000.0)
                 .collect())
    except (pl.exceptions.PolarsError, OSError):
        return None, 0
    if spans.height == 0:
        return None, 0
    return float(spans["minutes"].median()), spans.height


def _task_measurements(ev: Evidence, t: dict[str, Any]) -> None:
    tid, key = t["id"], f"tasks[{t['id']}]"
    ev.add(f"{tid}.calls", t.get("calls"), "calls", "tasks.json", f"{key}.calls", "logged calls")
    if t.get("cost_usd") is not None:
        ev.add(f"{tid}.llm_cost_usd", t["cost_usd"], "usd", "tasks.json", f"{key}.cost_usd",
               "logged LLM cost (priced calls)")
        priced = (t.get("calls") or 0) - (t.get("unpriced_calls") or 0)
        ev.add(f"{tid}.priced_calls", priced, "calls", "tasks.json", f"{key}.calls − {key}.unpriced_calls",
               "logged calls with a known cost")
    ev.add(f"{tid}.llm_latency_ms", _dig(t, "latency_ms.p50"), "ms", "tasks.json", f"{key}.latency_ms.p50",
           "LLM p50 latency (logged)")
    ev.add(f"{tid}.volume_share", t.get("volume_share"), "share", "tasks.json", f"{key}.volume_share",
           "share of all logged calls")
    ev.add(f"{tid}.llm_error_rate", t.get("error_rate"), "share", "tasks.json", f"{key}.error_rate",
           "LLM error rate (logged)")
    ev.task_info[tid] = {"name": t.get("name", tid), "output_kind": t.get("output_kind"), "rank": t.get("rank"),
                         "candidate": bool(t.get("candidate")), "readiness": _dig(t, "readiness.score"),
                         "cost_share": t.get("cost_share"), "volume_share": t.get("volume_share"),
                         "calls": t.get("calls")}


def _routing_measurements(ev: Evidence, tid: str, r: dict[str, Any] | None) -> None:
    """The calibrated policy on the test split: the share the specialist keeps and their agreement with the LLM.
    A task whose target no threshold meets stays on the LLM: offload 0, measured."""
    key = f"tasks.{tid}"
    if not r or not r.get("specialist"):
        ev.notes.append(f"routing.json has no calibration for {tid}: the offload share is assumed; run `fde route`")
        return
    label = f"share of the task's test calls the specialist keeps at target {r.get('target')}"
    if not r.get("feasible"):
        ev.add(f"{tid}.offload_share", 0.0, "share", "routing.json", f"{key}.feasible", label,
               note=f"no threshold meets the target: the task stays on the LLM ({r.get('reason', '')})")
        return
    ev.add(f"{tid}.offload_share", r.get("offload_share"), "share", "routing.json", f"{key}.offload_share", label)
    kq = r.get("kept_quality") or {}
    ev.add(f"{tid}.kept_quality", kq.get("value"), "share", "routing.json", f"{key}.kept_quality.value",
           "agreement with the LLM of the calls the specialist keeps (test split)")
    for end in ("low", "high"):
        ev.add(f"{tid}.kept_quality_{end}", kq.get(end), "share", "routing.json", f"{key}.kept_quality.{end}",
               f"kept calls' agreement, {end} end of its 95% interval (Clopper-Pearson)")


def _hardening_measurements(ev: Evidence, tid: str, h: dict[str, Any] | None) -> None:
    """`fde harden`'s figures for the recommended configuration: its batch-1 p50 (it replaces the evaluation's
    eager one: it is what will be served, measured the same way, one request at a time) and, measured under
    load through the micro-batcher, its p50 latency and requests/s."""
    key = f"tasks.{tid}"
    if not h:
        ev.notes.append(f"hardening.json has no entry for {tid}: latency under load is assumed; run `fde harden`")
        return
    rec = h.get("recommended")
    if not rec:
        ev.notes.append(f"hardening.json: no configuration of {tid} meets the SLA ({h.get('recommendation_why', '')}); "
                        "the evaluation's latency stands")
        return
    ev.add(f"{tid}.slm_latency_ms", _dig(rec, "latency_ms.p50"), "ms", "hardening.json",
           f"{key}.recommended.latency_ms.p50",
           f"specialist p50 latency, single request ({rec.get('runtime')}, measured by fde harden)")
    ul = h.get("under_load") or {}
    if ul.get("status", "ok") != "ok":
        return
    note = f"{ul.get('concurrency')} concurrent clients, micro-batches of up to {ul.get('max_batch')}"
    ev.add(f"{tid}.slm_latency_under_load_ms", _dig(ul, "latency_ms.p50"), "ms", "hardening.json",
           f"{key}.under_load.latency_ms.p50", f"specialist p50 latency under load ({ul.get('runtime')})", note=note)
    ev.add(f"{tid}.throughput_under_load", ul.get("requests_per_s"), "per_s", "hardening.json",
           f"{key}.under_load.requests_per_s", f"specialist requests per second under load ({ul.get('runtime')})",
           note=note)


def _eval_measurements(ev: Evidence, tid: str, rep: dict[str, Any]) -> bool:
    art = f"eval/{tid}.json"
    ft = _dig(rep, "variants.fine_tuned")
    if not isinstance(ft, dict) or _dig(ft, "metrics.agreement") is None:
        ev.needs.append(f"{art}: no fine_tuned variant with metrics.agreement; run `fde evaluate --task {tid}` again")
        return False
    primary = _dig(ft, "metrics.primary")
    ev.add(f"{tid}.quality", ft["metrics"]["agreement"], "share", art, "variants.fine_tuned.metrics.agreement",
           "specialist agreement with the LLM (held-out calls)")
    ci = _dig(ft, "metrics.intervals.agreement")  # absent from evaluations written before intervals
    if isinstance(ci, list) and len(ci) == 2:
        for end, v in (("low", ci[0]), ("high", ci[1])):
            ev.add(f"{tid}.quality_{end}", v, "share", art,
                   f"variants.fine_tuned.metrics.intervals.agreement[{0 if end == 'low' else 1}]",
                   f"specialist agreement, {end} end of its 95% interval (Wilson)")
    if primary and _dig(ft, f"metrics.{primary}") is not None:
        v = ft["metrics"][primary]
        ev.add(f"{tid}.primary_metric", v / 100.0 if primary == "chrf" else v, "share", art,
               f"variants.fine_tuned.metrics.{primary}", f"specialist {primary}",
               note="chrF divided by 100" if primary == "chrf" else "")
    ev.add(f"{tid}.slm_latency_ms", _dig(ft, "latency_ms.p50"), "ms", art, "variants.fine_tuned.latency_ms.p50",
           "specialist p50 latency (single request)")
    ev.add(f"{tid}.throughput", ft.get("examples_per_s"), "per_s", art, "variants.fine_tuned.examples_per_s",
           "specialist answers per second (batched)")
    ev.add(f"{tid}.eval_examples", rep.get("examples"), "calls", art, "examples", "held-out calls evaluated")
    if f"{tid}.throughput" not in ev.measurements or f"{tid}.slm_latency_ms" not in ev.measurements:
        ev.needs.append(f"{art}: throughput or latency missing; run `fde evaluate --task {tid}` again")
        return False
    ev.task_info.setdefault(tid, {})["primary"] = primary
    ev.task_info[tid]["candidate_model"] = rep.get("candidate")
    return True


def gather(eng, read_calls: bool = True) -> Evidence:
    """Read profile.json, tasks.json, eval/*.json, models/*/training.json and, when present, calls.parquet.
    profile.json and tasks.json are required. `read_calls=False` lists
    calls.parquet among the inputs without scanning it (enough to decide whether the step is fresh)."""
    arts = eng.artifacts
    ev = Evidence()
    prof_path = arts.require("profile")
    ev.inputs += [prof_path, arts.require("tasks")]
    prof, tasks = arts.profile(), arts.tasks()

    t = prof.get("totals", {})
    if not t.get("calls") or not t.get("days"):
        raise FdeError(f"{prof_path}: no calls in the profile; the ROI needs logged calls. Run `fde ingest` first.")
    ev.period = {"first_date": t.get("first_date"), "last_date": t.get("last_date"), "days": t.get("days")}
    ev.add("logs.days", t["days"], "days", "profile.json", "totals.days", "days the logs cover")
    ev.add("logs.calls", t["calls"], "calls", "profile.json", "totals.calls", "logged calls")
    sessions = t.get("sessions")
    if sessions:
        ev.add("logs.cases", sessions, "cases", "profile.json", "totals.sessions", "cases (logged sessions)")
    else:
        ev.add("logs.cases", t["calls"], "cases", "profile.json", "totals.calls",
               "cases (one per call: no sessions logged)",
               note="the logs carry no session ids, so each call counts as a case")
    ev.add("logs.known_cost_usd", _dig(prof, "cost.known_usd") or t.get("cost_usd_known") or 0.0, "usd", "profile.json",
           "cost.known_usd", "logged LLM cost (priced calls)")
    pf, pf_note = peak_factor(prof)
    ev.add("logs.peak_factor", pf if pf is not None else 1.0, "factor", "profile.json", "over_time.weekday_hour_utc",
           "busiest hour vs average hour", note=pf_note or "no hourly shape in the profile: flat traffic assumed")

    calls_path = arts.path("calls")
    if calls_path.is_file() and not read_calls:
        ev.inputs.append(calls_path)
    elif calls_path.is_file():
        minutes, n = session_cycle_minutes(calls_path)
        ev.inputs.append(calls_path)
        if minutes is not None:
            ev.add("logs.cycle_minutes", minutes, "minutes", "calls.parquet", "timestamp by session_id (median span)",
                   "cycle time per case (first to last call)", note=f"median over {n:,} sessions with 2+ calls")

    cfg = eng.config.finetune
    ev.add("serving.hourly_usd", cfg.serving.hourly_usd, "usd_per_hour", "engagement.yaml",
           "finetune.serving.hourly_usd", f"serving hardware price ({cfg.serving.hardware})", kind="setting")

    rows = tasks.get("tasks", [])
    by_id = {r["id"]: r for r in rows if "id" in r}
    for r in rows:
        if r.get("candidate") or (r.get("id") and arts.exists("eval", r["id"])):
            _task_measurements(ev, r)
    ranked = sorted((r for r in rows if r.get("candidate")), key=lambda r: (r.get("rank") or 10**9, r["id"]))

    evaluated: list[str] = []
    for tid in arts.keys("eval"):
        if tid not in by_id:
            ev.notes.append(f"eval/{tid}.json: task {tid} is not in tasks.json (discovery re-ran?); left out")
            continue
        ev.inputs.append(arts.path("eval", tid))
        if _eval_measurements(ev, tid, arts.read("eval", tid)):
            evaluated.append(tid)
            if arts.exists("training", tid):
                ev.inputs.append(arts.path("training", tid))
                tr = arts.read("training", tid)
                ev.add(f"{tid}.training_seconds", _dig(tr, "result.elapsed_seconds"), "seconds",
                       f"models/{tid}/training.json", "result.elapsed_seconds", "fine-tuning time",
                       note=f"on {_dig(tr, 'result.device') or 'unknown device'}")
                ev.add(f"{tid}.training_examples", _dig(tr, "encoded.train"), "calls", f"models/{tid}/training.json",
                       "encoded.train", "training examples")
            else:
                ev.notes.append(f"models/{tid}/training.json not found: its fine-tuning time counts as 0")
    routing = arts.optional("routing")
    if routing is not None:
        ev.inputs.append(arts.path("routing"))
        for tid in evaluated:
            _routing_measurements(ev, tid, (routing.get("tasks") or {}).get(tid))
    hardening = arts.optional("hardening")
    if hardening is not None:
        ev.inputs.append(arts.path("hardening"))
        for tid in evaluated:
            _hardening_measurements(ev, tid, (hardening.get("tasks") or {}).get(tid))
    order = {r["id"]: i for i, r in enumerate(ranked)}
    ev.tasks = sorted(evaluated, key=lambda x: (order.get(x, 10**9), x))
    ev.next_tasks = [r["id"] for r in ranked if r["id"] not in evaluated and r.get("cost_usd") is not None]

    if not ev.tasks:
        if ranked:
            ev.needs.insert(0, "an evaluated specialist: run `fde dataset`, `fde finetune` and `fde evaluate` for "
                               f"a candidate task (best first: {', '.join(r['id'] for r in ranked[:3])})")
        else:
            ev.needs.insert(0, "an SLM candidate task: tasks.json has none; review `fde discover` settings")
    return ev
