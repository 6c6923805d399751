"""The hardening notebook's sections, read from hardening.json (`fde harden`) and the bundle's manifest.

    h = views.load_hardening(eng)       # the report, or None (every section then says to run `fde harden`)
    views.key_numbers(h)                # cards: tasks benchmarked, fastest recommended p50, vs the LLM, machine
    views.show_summary(h)               # the recommendation per task against eager and the LLM
    views.show_sla(h)                   # the SLA pass/fail table per task
    views.show_latency(h); views.show_throughput(h); views.show_quality(h); views.show_robustness(h)
    views.show_deployment(h)            # the bundle (`fde bundle`): where it is, what it holds
    views.show_hardening(eng)           # every section in one call
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import polars as pl

from fde_toolkit import FdeError, viz
from fde_toolkit.hardening import figures

_display = viz.show


@dataclass
class Hardening:
    """What the notebook shows: the engagement and its hardening.json (None when not measured yet)."""

    eng: Any
    report: dict[str, Any] | None

    @property
    def tasks(self) -> dict[str, Any]:
        return (self.report or {}).get("tasks") or {}

    @property
    def command(self) -> str:
        return f"fde harden {self.eng.display_root}"


def load_hardening(eng) -> Hardening:
    """The engagement's hardening.json, or an empty state when it is missing."""
    return Hardening(eng, eng.artifacts.optional("hardening"))


def _missing(h: Hardening) -> viz.Html | None:
    if h.report is None:
        return viz.note(f"Not measured yet: the specialists have not been benchmarked on this hardware. Run "
                        f"`{h.command}` (it writes artifacts/hardening.json).")
    if not h.tasks:
        skipped = "; ".join(f"{t}: {why}" for t, why in (h.report.get("skipped") or {}).items())
        return viz.note("hardening.json holds no benchmarked task" + (f" ({skipped})." if skipped else "."))
    return None


def _name(h: Hardening, tid: str) -> str:
    try:
        names = {t["id"]: t.get("name", "") for t in h.eng.artifacts.tasks().get("tasks", [])}
    except FdeError:  # tasks.json missing: the id alone
        names = {}
    return f"{tid} · {names[tid]}" if names.get(tid) else tid


def _heading(h: Hardening, tid: str) -> viz.Html:
    return viz.Html(f"<h3>{html.escape(_name(h, tid))}</h3>")


def machine_text(report: dict[str, Any]) -> str:
    m = report.get("machine") or {}
    load = m.get("load_average")
    parts = [m.get("cpu") or m.get("platform") or "unknown CPU", f"{m.get('cores', '?')} cores",
             f"{m.get('threads', '?')} threads per specialist", f"CUDA {m['cuda']}" if m.get("cuda") else "no CUDA",
             f"torch {m['torch']}" if m.get("torch") else None,
             f"load average {', '.join(f'{x:.1f}' for x in load)}" if load else None]
    return "Measured on " + ", ".join(p for p in parts if p) + "."


def key_numbers(h: Hardening) -> viz.Html:
    """Cards: tasks benchmarked, the best recommended p50 and its share of the LLM's, SLA passes."""
    if (empty := _missing(h)) is not None:
        return empty
    rows = figures.summary_rows(h.report)
    recs = {tid: t.get("recommended") for tid, t in h.tasks.items()}
    ratios = [((r.get("latency_ms") or {}).get("p50") or 0) / t["llm_latency_ms"]["p50"]
              for tid, t in h.tasks.items() if (r := recs[tid]) and (t.get("llm_latency_ms") or {}).get("p50")]
    cards = [("task benchmarked" if len(rows) == 1 else "tasks benchmarked", str(len(rows))),
             ("with a configuration that meets the SLA", f"{sum(1 for r in recs.values() if r)} of {len(rows)}"),
             ("recommended p50, share of the LLM's", "–" if not ratios else f"{min(ratios):.0%}–{max(ratios):.0%}"
              if len(ratios) > 1 else f"{ratios[0]:.0%}")]
    body = "".join(f'<div class="fde-card"><div class="v">{html.escape(v)}</div><div class="k">'
                   f'{html.escape(k)}</div></div>' for k, v in cards)
    return viz.Html(f'<div class="fde-cards">{body}</div>'
                    f'<p class="fde-note">{html.escape(machine_text(h.report))}</p>')


def show_summary(h: Hardening) -> None:
    """The recommendation per task, and what was considered but could not be measured here."""
    if (empty := _missing(h)) is not None:
        _display(empty)
        return
    _display(figures.summary_table(h.report))
    unavailable = sorted({f"{c['runtime']}: {c.get('why') or 'not available'}" for t in h.tasks.values()
                          for c in t.get("configurations") or [] if c.get("status") == "unavailable"})
    if unavailable:
        _display(viz.note("Considered and not measured here: " + "; ".join(unavailable)))
    skipped = h.report.get("skipped") or {}
    if skipped:
        _display(viz.note("Not benchmarked: " + "; ".join(f"{t} ({why})" for t, why in skipped.items())))


def show_sla(h: Hardening) -> None:
    """Per task: the SLA's limits, every configuration and batch size checked against them, the recommendation."""
    if (empty := _missing(h)) is not None:
        _display(empty)
        return
    for tid, t in h.tasks.items():
        rec = t.get("recommended")
        why = (f"Recommended: {rec['runtime']} at batch {rec.get('batch_size')} ({rec.get('why') or ''})." if rec
               else "No configuration meets this task's SLA: `fde serve` keeps the eager specialist; loosen the SLA "
                    "or route the task to the LLM.")
        _display(_heading(h, tid), figures.sla_table(t), viz.note(why))


def _per_task(h: Hardening, draw) -> None:
    if (empty := _missing(h)) is not None:
        _display(empty)
        return
    for tid, t in h.tasks.items():
        _display(_heading(h, tid), draw(tid, t))


def show_latency(h: Hardening) -> None:
    """p50/p95/p99 at batch 1 per configuration, and the configurations table with load time and memory."""
    if (empty := _missing(h)) is not None:
        _display(empty)
        return
    for tid, t in h.tasks.items():
        _display(_heading(h, tid), figures.latency_figure(t, tid), figures.configurations_table(t))
        load = t.get("under_load")
        if load:
            lat, f = load.get("latency_ms") or {}, figures.fmt
            _display(viz.note(f"Under load ({load.get('concurrency')} concurrent clients, batches up to "
                              f"{load.get('max_batch')}, {load.get('runtime')}): p50 {f(lat.get('p50'), ',.0f')} ms, "
                              f"p95 {f(lat.get('p95'), ',.0f')} ms, p99 {f(lat.get('p99'), ',.0f')} ms, "
                              f"{f(load.get('requests_per_s'), ',.1f')} requests/s."))


def show_throughput(h: Hardening) -> None:
    _per_task(h, lambda tid, t: figures.throughput_figure(t, tid))


def show_quality(h: Hardening) -> None:
    _per_task(h, lambda tid, t: figures.quality_figure(t, h.report, tid))


def show_robustness(h: Hardening) -> None:
    _per_task(h, lambda tid, t: figures.robustness_table(t))


def show_deployment(h: Hardening) -> None:
    """The deployable bundle, when `fde bundle` has written it to the catalog's place."""
    import json

    eng = h.eng
    path = eng.artifacts.path("bundle") / "bundle.json"
    if not path.is_file():
        _display(viz.note(f"No bundle yet. Run `fde bundle {eng.display_root}`: it writes the deployable folder "
                          f"(models, routing.yaml, serve.yaml, pinned requirements, RUNBOOK.md) to "
                          f"{eng.display(path.parent)}."))
        return
    m = json.loads(path.read_text(encoding="utf-8"))
    rows = [{"task": tid, "kind": t.get("kind"), "base": t.get("base"),
             "runtime": t.get("runtime") + ("" if t.get("runtime") == "eager" or t.get("runtime_folder")
                                            else " (converted on first start)")}
            for tid, t in (m.get("tasks") or {}).items()]
    _display(viz.note(f"{eng.display(path.parent)}: {len(m.get('files', []))} files, "
                      f"{(m.get('bytes') or 0) / 1e6:,.1f} MB, made {m.get('created', '?')}. Start it with "
                      f"`cd {eng.display(path.parent)} && fde serve .` (RUNBOOK.md)."),
             viz.table(rows, {"task": "task", "kind": "specialist", "runtime": "runtime", "base": "base model"}))
    for w in m.get("warnings") or []:
        _display(viz.note(f"Warning: {w}"))


def show_hardening(eng) -> None:
    """Every section in one call (for a notebook user's own pages)."""
    h = load_hardening(eng)
    _display(key_numbers(h))
    for show in (show_summary, show_sla, show_latency, show_throughput, show_quality, show_robustness,
                 show_deployment):
        show(h)


def hardening_frame(eng) -> pl.DataFrame:
    """Every SLA row of every task as one table (for a notebook user's own analysis)."""
    h = load_hardening(eng)
    rows = [{"task": tid, **{k: v for k, v in r.items() if k != "checks"},
             **{f"check_{k}": v for k, v in (r.get("checks") or {}).items()}}
            for tid, t in h.tasks.items() for r in (t.get("sla") or {}).get("rows") or []]
    return pl.DataFrame(rows) if rows else pl.DataFrame()
