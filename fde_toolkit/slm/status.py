"""Which S4/S5 steps have run for which task, which tasks a step should run on, and what to run next.

    plan_tasks(eng, None, needs="dataset")   # (["t001", "t004"], ["No --task given: ...", "Skipping t003: ..."])
    task_status(eng, "t001")                 # {"dataset": True, "selection": False, "training": True, ...}
    next_command(eng, "t001")                # "fde finetune engagements/acme --task t001", or None when evaluated
    PROTOTYPING_ARTIFACTS                    # what the prototyping notebook reads (glob patterns, for the runner)

Without --task the steps run on the engagement's SLM candidate tasks (tasks.json `candidates`, best
first); select, finetune and evaluate take those of them whose previous step has run and name the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from fde_toolkit import FdeError

# Artifacts the prototyping notebook reads (catalog names).
PROTOTYPING_ARTIFACTS = ["tasks", "dataset_info", "split", "selection", "training", "curves", "eval", "predictions",
                         "routing", "routing_scores", "replay"]
STEPS = ("dataset", "selection", "training", "evaluation")
Needs = Literal["dataset", "training"] | None


def specialist_ready(folder: Path) -> bool:
    """Whether `folder` (a task's adapter/) holds a trained specialist: an encoder classifier or a LoRA adapter."""
    return (Path(folder) / "classifier.json").is_file() or (Path(folder) / "adapter_config.json").is_file()


def artifact_paths(eng, task_id: str) -> dict[str, Path]:
    """Where each step writes its main artifact for `task_id`."""
    path = eng.artifacts.path
    return {"dataset": path("dataset_info", task_id), "selection": path("selection", task_id),
            "training": path("training", task_id), "curves": path("curves", task_id),
            "adapter": path("adapter", task_id), "evaluation": path("eval", task_id),
            "predictions": path("predictions", task_id)}


def task_status(eng, task_id: str) -> dict[str, bool]:
    """Which of dataset, selection, training, evaluation exist for the task."""
    p = artifact_paths(eng, task_id)
    return {"dataset": p["dataset"].is_file(), "selection": p["selection"].is_file(),
            "training": p["training"].is_file() and specialist_ready(p["adapter"]),
            "evaluation": p["evaluation"].is_file()}


def next_command(eng, task_id: str, budget_minutes: float | None = None) -> str | None:
    """The `fde` command that moves the task one step further, or None when it is evaluated."""
    s = task_status(eng, task_id)
    where = f"{eng.display_root} --task {task_id}"
    if not s["dataset"]:
        return f"fde dataset {where}"
    if not s["training"]:
        return f"fde finetune {where}" + (f" --budget-minutes {budget_minutes:g}" if budget_minutes else "")
    if not s["evaluation"]:
        return f"fde evaluate {where}"
    return None


def candidate_task_ids(tasks: dict[str, Any]) -> list[str]:
    """The SLM candidate tasks of tasks.json, best first."""
    if tasks.get("candidates"):
        return list(tasks["candidates"])
    ranked = sorted((t for t in tasks.get("tasks", []) if t.get("candidate")),
                    key=lambda t: (t.get("rank") or 0, t["id"]))
    return [t["id"] for t in ranked]


def check_task(tasks: dict[str, Any], task_id: str) -> None:
    """FdeError naming the known ids when `task_id` is not in tasks.json."""
    ids = [t.get("id") for t in tasks.get("tasks", [])]
    if task_id not in ids:
        shown = ", ".join(str(i) for i in ids[:30]) + (" …" if len(ids) > 30 else "")
        raise FdeError(f"Task {task_id!r} is not in tasks.json (tasks: {shown or 'none'}). "
                       "Pick a listed id, or re-run `fde discover`.")


def plan_tasks(eng, task: str | None, needs: Needs = None) -> tuple[list[str], list[str]]:
    """(task ids to run a step on, notes for the user).

    With `task`: that task, checked against tasks.json. Without: the SLM candidate tasks; when the step
    `needs` a dataset or a fine-tuned adapter, only those that have it (the others are named in the notes)."""
    tasks = eng.artifacts.tasks()
    missing = {"dataset": ("no dataset", "dataset"), "training": ("no fine-tuned adapter", "finetune")}
    if task is not None:
        check_task(tasks, task)
        if needs is not None and not task_status(eng, task)[needs]:
            what, made_by = missing[needs]
            raise FdeError(f"Task {task}: {what} yet. Run `fde {made_by} {eng.display_root} --task {task}` first.")
        return [task], []
    ids = candidate_task_ids(tasks)
    if not ids:
        known = ", ".join(t.get("id", "?") for t in tasks.get("tasks", [])[:30])
        raise FdeError(f"tasks.json lists no SLM candidate task, so there is no default. Pass --task ID "
                       f"(tasks: {known or 'none'}).")
    notes = [f"No --task given: the {len(ids)} SLM candidate task(s) from tasks.json, best first: {', '.join(ids)}."]
    if needs is None:
        return ids, notes
    what, made_by = missing[needs]
    have = [t for t in ids if task_status(eng, t)[needs]]
    notes += [f"Skipping {t}: {what} yet (next: `{next_command(eng, t)}`)." for t in ids if t not in have]
    if not have:
        raise FdeError(f"None of the SLM candidate tasks ({', '.join(ids)}) has a {what.removeprefix('no ')} yet. "
                       f"Run `fde {made_by} {eng.display_root}` first, or pass --task ID.")
    return have, notes
