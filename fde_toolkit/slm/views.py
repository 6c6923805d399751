"""What the prototyping notebook shows, read from the artifacts the S4/S5 steps wrote (nothing is trained here).

    proto = load_prototyping(eng, tasks=None, candidates=None, budget=None)
    overview(proto)           # one row per task: which steps ran, the headline result, what to run next
    show_datasets(proto)      # sizes, splits, strata, example records (curated text only)
    show_selection(proto)     # candidates zero-shot and few-shot, side by side
    show_training(proto)      # training curves and what the run did
    show_comparison(proto)    # base vs few-shot vs fine-tuned vs the LLM
    show_errors(proto)        # confusion matrix (label tasks) and the worst examples
    prediction_explorer(proto)  # ipywidgets: browse the answers of any task and variant (live kernel only)

The `show_*` functions display one block per task, headed by the task, and a note naming the `fde`
command to run where a task has no artifact for that section yet.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from fde_toolkit import viz
from fde_toolkit.slm import figures
from fde_toolkit.slm.confidence import comparison_lines, interval_note, metric_text
from fde_toolkit.slm.status import artifact_paths, candidate_task_ids, check_task, next_command, specialist_ready
from fde_toolkit.slm.summary import encoder_training_rows
from fde_toolkit import formatting as num


@dataclass
class TaskArtifacts:
    """One task's prototyping artifacts; None where the step has not run."""

    id: str
    name: str
    output_kind: str | None = None
    rank: int | None = None
    dataset: dict[str, Any] | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)  # a few test records
    selection: dict[str, Any] | None = None
    training: dict[str, Any] | None = None
    curves: dict[str, Any] | None = None
    evaluation: dict[str, Any] | None = None
    predictions: list[dict[str, Any]] = field(default_factory=list)
    next: str | None = None  # the fde command that moves it one step further

    @property
    def title(self) -> str:
        return f"{self.id} · {self.name}" if self.name else self.id


@dataclass
class Prototyping:
    """The notebook's view of an engagement's prototyping: the tasks shown and the settings it was read with."""

    engagement: str
    root: str  # the engagement folder, as the suggested commands name it
    tasks: list[TaskArtifacts]
    candidates: list[str]
    budget: float | None
    pending: list[TaskArtifacts] = field(default_factory=list)  # candidate tasks not started (overview only)
    note: str | None = None  # why there is nothing to show, when there is not

    def blocked(self) -> viz.Html | None:
        """A note when the sections have no task to show, else None."""
        if self.note:
            return viz.note(self.note)
        if not self.tasks:
            return viz.note(f"No SLM candidate task has a dataset yet: run `fde dataset {self.root}` (every "
                            f"candidate task) or `fde dataset {self.root} --task ID`, then `fde finetune` and "
                            "`fde evaluate` the same way.")
        return None


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _jsonl(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                out.append(json.loads(line))
                if limit is not None and len(out) >= limit:
                    break
    return out


def task_artifacts(eng, task: dict[str, Any], budget: float | None = None, n_examples: int = 5) -> TaskArtifacts:
    """Everything the S4/S5 steps wrote for one tasks.json entry."""
    p = artifact_paths(eng, task["id"])
    ta = TaskArtifacts(id=task["id"], name=task.get("name") or "", output_kind=task.get("output_kind"),
                       rank=task.get("rank"))
    ta.dataset = _json(p["dataset"])
    if ta.dataset:
        ta.output_kind = ta.dataset["output_kind"]
        ta.examples = _jsonl(p["dataset"].parent / "test.jsonl", n_examples)
    ta.selection = _json(p["selection"])
    if specialist_ready(p["adapter"]):
        ta.training = _json(p["training"])
        ta.curves = _json(p["curves"])
    ta.evaluation = _json(p["evaluation"])
    if ta.evaluation:
        ta.predictions = _jsonl(p["predictions"])
    ta.next = next_command(eng, task["id"], budget)
    return ta


def _as_list(v: str | Sequence[str] | None) -> list[str] | None:
    if v is None:
        return None
    return [v] if isinstance(v, str) else list(v)


def load_prototyping(eng, tasks: str | Sequence[str] | None = None, candidates: str | Sequence[str] | None = None,
                     budget: float | None = None) -> Prototyping:
    """Read the prototyping artifacts of `tasks` (None: every task with a dataset; the SLM candidate tasks not
    started yet are listed in the overview only, with the command that starts them).

    `candidates` limits the selection views (None: every registered candidate); `budget` (minutes, None: the
    engagement's finetune.train.budget_minutes) goes into the suggested `fde finetune` commands."""
    from fde_toolkit.slm.registry import candidates as registered, get_candidate

    cfg = eng.config.finetune
    budget = budget if budget is not None else cfg.train.budget_minutes
    cand_ids = [get_candidate(eng, c).id for c in _as_list(candidates)] if candidates is not None \
        else [c.id for c in registered(eng)]
    tasks_json = eng.artifacts.optional("tasks")
    if tasks_json is None:
        return Prototyping(eng.name, str(eng.root), [], cand_ids, budget,
                           note=f"Task discovery has not run yet: run `fde discover {eng.root}`, then "
                                f"`fde dataset {eng.root}` and `fde finetune {eng.root}`.")
    by_id = {t["id"]: t for t in tasks_json.get("tasks", [])}
    wanted, pending = _as_list(tasks), []
    if wanted is not None:
        for t in wanted:
            check_task(tasks_json, t)
    else:
        order = candidate_task_ids(tasks_json)
        order += sorted(t for t in by_id if t not in order)
        wanted = [t for t in order if artifact_paths(eng, t)["dataset"].is_file()]
        pending = [t for t in candidate_task_ids(tasks_json) if t not in wanted and t in by_id]
    shown = [task_artifacts(eng, by_id[t], budget) for t in wanted]
    note = None
    if not shown and not pending:
        note = "tasks.json lists no SLM candidate task: set `tasks` (a task id) to prototype one anyway."
    return Prototyping(eng.name, str(eng.root), shown, cand_ids, budget,
                       pending=[task_artifacts(eng, by_id[t], budget) for t in pending], note=note)


# ----------------------------------------------------------------------------- display helpers

_display = viz.show


def _heading(ta: TaskArtifacts) -> viz.Html:
    kind = f' <span class="fde-note">({html.escape(ta.output_kind)})</span>' if ta.output_kind else ""
    return viz.Html(f"<h3>{html.escape(ta.title)}{kind}</h3>")


def _todo(ta: TaskArtifacts, what: str, command: str | None = None) -> viz.Html:
    cmd = command or ta.next
    return viz.note(f"{what} Run `{cmd}`." if cmd else what)


def _primary(m: dict[str, Any] | None) -> str:
    if not m:
        return "–"
    key = m["primary"]
    return f"{m[key]:.1f} {key}" if key.startswith("chrf") else f"{num.share(m[key])} {key.replace('_', ' ')}"


# ----------------------------------------------------------------------------- sections

def key_numbers(proto: Prototyping) -> viz.Html | None:
    """Headline cards: how many tasks got how far, and each evaluated task's agreement and cost ratio."""
    if proto.note:
        return None  # the overview says why
    every = proto.tasks + proto.pending
    n = len(every)
    done = [t for t in proto.tasks if t.evaluation]
    cards = [(f"{sum(t.dataset is not None for t in every)} / {n}", "tasks with a dataset"),
             (f"{sum(t.training is not None for t in every)} / {n}", "tasks fine-tuned"),
             (f"{len(done)} / {n}", "tasks evaluated against the LLM")]
    for t in done[:6]:
        ev = t.evaluation
        ratio, ft = ev.get("cost_ratio_fine_tuned_vs_llm"), ev["variants"]["fine_tuned"]["metrics"]
        ci = (ft.get("intervals") or {}).get("agreement")
        cards.append((num.share(ft["agreement"]),
                      f"{t.id}: fine-tuned agrees with the LLM"
                      + (f" (95% interval {num.interval(*ci, digits=0)})" if ci else "")
                      + (f"; {num.share(ratio, 2)} of its cost per successful task" if ratio is not None else "")))
    body = "".join(f'<div class="fde-card"><div class="v">{html.escape(v)}</div><div class="k">{html.escape(k)}</div>'
                   "</div>" for v, k in cards)
    return viz.Html(f'<div class="fde-cards">{body}</div>')


def _trained(tr: dict[str, Any] | None) -> str:
    if not tr:
        return "–"
    if tr.get("specialist") == "encoder":
        return f"{tr['candidate']['id']}, head fitted in {tr['result']['elapsed_seconds']:,.0f} s"
    return f"{tr['candidate']['id']}, {tr['result']['steps']:,} steps"


def overview_rows(proto: Prototyping) -> list[dict[str, Any]]:
    """One row per task: dataset size, best candidate, training, fine-tuned agreement, the next command."""
    rows = []
    for t in proto.tasks + proto.pending:
        ds, sel, tr, ev = t.dataset, t.selection, t.training, t.evaluation
        rows.append({
            "task": t.id, "name": t.name, "output": t.output_kind or "–",
            "dataset": " / ".join(f"{ds['splits'][s]:,}" for s in ("train", "val", "test")) if ds else "–",
            "best": (sel.get("best") or "–") if sel else "–",
            "trained": _trained(tr),
            "agreement": (metric_text(ev["variants"]["fine_tuned"]["metrics"], "agreement") if ev else "–"),
            "next": t.next or "done",
        })
    return rows


def overview(proto: Prototyping) -> viz.Html:
    """The status table: where each task stands and what to run next."""
    if proto.note:
        return viz.note(proto.note)
    return viz.table(overview_rows(proto), {"task": "task", "name": "name", "output": "output",
                                            "dataset": "train / val / test", "best": "best candidate (select)",
                                            "trained": "fine-tuned", "agreement": "fine-tuned agreement",
                                            "next": "next step"}, numeric={"dataset", "agreement"})


def dataset_table(info: dict[str, Any]) -> viz.Html:
    """From logged calls to kept examples, and the splits."""
    sp = info["splits"]
    rows = [{"what": "calls of the task", "n": num.count(info["calls"])},
            {"what": "successful calls", "n": num.count(info["ok_calls"])},
            {"what": "distinct (input, answer) examples", "n": num.count(info["distinct_examples"])},
            {"what": f"kept (cap {info['settings']['max_examples']:,})", "n": num.count(info["kept_examples"])},
            {"what": "inputs the LLM answered differently", "n": num.count(info.get("conflicting_inputs", 0))},
            {"what": "train / val / test", "n": f"{sp['train']:,} / {sp['val']:,} / {sp['test']:,}"}]
    if info.get("labels"):
        rows.append({"what": "labels", "n": num.count(len(info["labels"]))})
    if info.get("tools"):
        rows.append({"what": "tools", "n": ", ".join(info["tools"])})
    return viz.table(rows, {"what": "", "n": "examples"}, numeric={"n"})


def examples_table(records: Sequence[dict[str, Any]], width: int = 220) -> viz.Html:
    """Test records as the SLM sees them: the request (system prompt left out) and the LLM's answer."""
    from fde_toolkit.slm.answer import request_text

    rows = [{"request": figures._short(request_text(r), width), "answer": figures._short(r["target"], width),
             "calls": num.count(r.get("calls"))} for r in records]
    return viz.table(rows, {"request": "request (curated)", "answer": "LLM answer (target)", "calls": "calls"},
                     numeric={"calls"})


def show_datasets(proto: Prototyping) -> None:
    """Per task: the counts, examples per stratum and split, and a few test records."""
    if proto.blocked():
        return _display(proto.blocked())
    for t in proto.tasks:
        _display(_heading(t))
        if not t.dataset:
            _display(_todo(t, "No dataset yet."))
            continue
        _display(dataset_table(t.dataset))
        if t.dataset.get("strata"):
            _display(figures.split_strata(t.dataset))
        _display(examples_table(t.examples))


def selection_table(result: dict[str, Any], candidates: Sequence[str] | None = None) -> viz.Html:
    rows = []
    for r in result.get("ranking", []):
        if candidates is not None and r["candidate"] not in candidates:
            continue
        rows.append({"rank": r["rank"], "candidate": r["candidate"],
                     "params": f"{r['params_m']:,.1f} M" if r.get("params_m") else "–",
                     "zero": _primary(r["zero_shot"]), "few": _primary(r["few_shot"]),
                     "fitted": _primary(r.get("fitted")),
                     "latency": num.duration_ms(r.get("latency_ms_p50")),
                     "rate": f"{r['examples_per_s']:.1f}/s" if r.get("examples_per_s") else "–",
                     "licence": r.get("licence") or "–"})
    return viz.table(rows, {"rank": "rank", "candidate": "candidate", "params": "parameters", "zero": "zero-shot",
                            "few": f"{result.get('shots', 'k')}-shot", "fitted": "encoder, fitted head",
                            "latency": "latency p50",
                            "rate": "throughput", "licence": "licence"},
                     numeric={"rank", "params", "latency", "rate"})


def show_selection(proto: Prototyping) -> None:
    """Per task: every candidate zero-shot and few-shot on the test split, ranked."""
    if proto.blocked():
        return _display(proto.blocked())
    for t in proto.tasks:
        _display(_heading(t))
        if not t.selection:
            cmd = f"fde select {proto.root} --task {t.id}"
            _display(_todo(t, "The candidates were not compared on this task (optional: fine-tuning then uses the "
                              "first registered candidate).", cmd if t.dataset else None))
            continue
        _display(selection_table(t.selection, proto.candidates), figures.selection_chart(t.selection, proto.candidates),
                 viz.note(f"{t.selection['examples']} test examples; ranked by {t.selection.get('how', 'quality')}."))


def _stopped(by: str, budget: float | None) -> str:
    if by == "budget" and budget:
        return f"stopped by the {budget:g}-minute budget"
    return f"stopped by {by.replace('_', ' ')}" + (f" (budget {budget:g} min)" if budget else "")


def training_summary(training: dict[str, Any], budget: float | None = None) -> viz.Html:
    """What the fine-tuning run did: candidate, steps, why it stopped, speed, validation loss."""
    r, enc = training["result"], training["encoded"]
    if training.get("specialist") == "encoder":
        return viz.table(encoder_training_rows(training), {"what": "", "v": ""})
    ran_budget = training["train"].get("budget_minutes")
    rows = [
        {"what": "base model", "v": f"{training['candidate']['id']} ({training.get('params_m') or '?'} M parameters)"},
        {"what": "LoRA", "v": f"r={training['lora']['r']}, alpha={training['lora']['alpha']}, "
                              f"lr {training['train']['lr']:g}"
                              + (", 4-bit QLoRA" if training.get("quantized") else "")},
        {"what": "examples", "v": f"{enc['train']:,} train, {enc['val']:,} val"},
        {"what": "ran", "v": f"{r['steps']:,} steps, {r['epochs']:g} epochs, {r['elapsed_seconds'] / 60:.1f} min on "
                             f"{r['device']}; " + _stopped(r["stopped_by"], ran_budget)},
        {"what": "speed", "v": f"{r['tokens_per_s']:,.0f} tokens/s"
                               + (f", padding waste {num.share(r['padding_waste'])}"
                                  if r.get("padding_waste") is not None else "")},
        {"what": "validation loss", "v": (f"best {r['best_val_loss']:.4f} at step {r['best_step']} (the saved adapter)"
                                          if r.get("best_val_loss") is not None else "no validation pass")},
    ]
    if budget and ran_budget and abs(budget - ran_budget) > 1e-9:
        rows.append({"what": "note", "v": f"trained with a {ran_budget:g}-minute budget; this report's budget is "
                                          f"{budget:g} min (`fde finetune --budget-minutes {budget:g} --force` "
                                          "to retrain)"})
    return viz.table(rows, {"what": "", "v": ""})


def show_training(proto: Prototyping) -> None:
    """Per task: the run's summary and its loss curves."""
    if proto.blocked():
        return _display(proto.blocked())
    for t in proto.tasks:
        _display(_heading(t))
        if not t.training:
            _display(_todo(t, "Not fine-tuned yet."))
            continue
        if t.training.get("specialist") == "encoder":
            _display(training_summary(t.training, proto.budget))
            continue
        _display(training_summary(t.training, proto.budget), figures.training_curves(t.curves or {}))


def show_comparison(proto: Prototyping) -> None:
    """All tasks' agreement with the LLM, then per task the full comparison table."""
    if proto.blocked():
        return _display(proto.blocked())
    done = [t.evaluation for t in proto.tasks if t.evaluation]
    if done:
        _display(figures.agreement_by_task(done))
    for t in proto.tasks:
        _display(_heading(t))
        ev = t.evaluation
        if not ev:
            _display(_todo(t, "Not evaluated yet."))
            continue
        ratio, serving = ev.get("cost_ratio_fine_tuned_vs_llm"), ev.get("serving", {})
        cost = (f"The fine-tuned SLM costs {num.share(ratio, 2)} of the LLM per successful task"
                if ratio is not None
                else "No cost ratio (the LLM's cost is not logged, or no fine-tuned answer succeeded)")
        paired = comparison_lines(ev)
        _display(figures.comparison_table(ev),
                 viz.note(f"{ev['examples']} held-out test calls; the reference is the LLM's logged answer. {cost}, "
                          f"serving on {serving.get('hardware', 'the SLM hardware')} at "
                          f"${serving.get('hourly_usd', 0):g}/hour fully used. {interval_note(ev)}".rstrip()),
                 viz.note("Paired on the same calls: " + "; ".join(paired) + ".") if paired else None)


def show_errors(proto: Prototyping, n: int = 8) -> None:
    """Per evaluated task: the confusion matrix (label tasks) and the fine-tuned model's worst answers."""
    if proto.blocked():
        return _display(proto.blocked())
    for t in proto.tasks:
        _display(_heading(t))
        if not t.predictions:
            _display(_todo(t, "No test-split answers yet."))
            continue
        if t.evaluation["output_kind"] == "label":
            _display(figures.confusion_matrix(t.predictions, "fine_tuned"))
        _display(*worst_answers(t, n))


def worst_answers(t: TaskArtifacts, n: int = 8, variant: str = "fine_tuned") -> list[viz.Html]:
    """A count of the answers that miss the LLM's, and the `n` furthest from it (curated text, worst first)."""
    kind = t.evaluation["output_kind"]
    missed = sum(not p.get(f"{variant}_ok", True) for p in t.predictions)
    rows = [r for r in figures.worst_examples(t.predictions, variant, kind, n) if r["score"] < 1.0]
    name = figures.VARIANT_NAMES.get(variant, variant)
    head = viz.note(f"{missed} of {len(t.predictions)} {name} answers do not count as the LLM's answer"
                    + (f". The {len(rows)} furthest from it, worst first (score: 1.0 is the same answer):" if rows
                       else "; none differs from it."))
    if not rows:
        return [head]
    return [head, viz.table(rows, {"request": "request", "llm": "LLM answer", "slm": "SLM answer", "score": "score"},
                            numeric={"score"})]


def prediction_explorer(proto: Prototyping):
    """ipywidgets: pick a task, a variant and how many answers; see the furthest from the LLM's (live kernel only)."""
    import ipywidgets as w

    done = [t for t in proto.tasks if t.predictions]
    if not done:
        return viz.note("No task has test-split answers yet.")
    task = w.Dropdown(options=[(t.title, t.id) for t in done], description="task")
    variant = w.Dropdown(options=[(v, k) for k, v in figures.VARIANT_NAMES.items()], value="fine_tuned",
                         description="variant")
    n = w.IntSlider(value=10, min=1, max=50, description="answers")
    out = w.Output()
    by_id = {t.id: t for t in done}

    def draw(*_: Any) -> None:
        t = by_id[task.value]
        out.clear_output()
        with out:
            _display(*worst_answers(t, n.value, variant.value))

    for c in (task, variant, n):
        c.observe(draw, names="value")
    draw()
    return w.VBox([w.HBox([task, variant, n]), out])
