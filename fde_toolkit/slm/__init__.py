"""S4/S5: pick a base SLM per task, fine-tune it with LoRA on the customer's calls, prove it against the LLM.

    build_dataset(eng, "t03")          # `fde dataset`:  artifacts/datasets/t03/{train,val,test}.jsonl, OpenAI export
    select_candidates(eng, "t03")      # `fde select`:   artifacts/select/t03.json (candidates ranked)
    finetune(eng, "t03")               # `fde finetune`: artifacts/models/t03/{adapter/, curves.json, model_card.md}
    evaluate(eng, "t03")               # `fde evaluate`: artifacts/eval/t03.json

Modules, one job each: config (the `finetune:` section), registry (candidates, offline loading),
datasets, chat (prompts and answer tokens), batching, train (the LoRA loop), machine (free cores for
torch threads, bf16 measured), encoder (encoder classifiers for label tasks), specialist (either kind
of specialist, trained or loaded), tools (tool names as the provider logs them), decode (label
scoring, generation), metrics, stats (intervals, McNemar's test), confidence (the evaluation's
intervals and paired comparisons, and how they read), answer (running a model over a split),
selection, tuning (the `fde finetune` step), evaluation, card (model card), figures, status (which
steps ran per task, what to run next), summary (what the CLI prints), views (the prototyping
notebook's views, read from the artifacts).
Heavy imports (torch, transformers) happen inside the functions that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from fde_toolkit.engagement import Engagement
    from fde_toolkit.step import StepResult


def build_dataset(eng: "Engagement", task_id: str, force: bool = False) -> "StepResult[dict[str, Any]]":
    from fde_toolkit.slm.datasets import build_dataset as run
    return run(eng, task_id, force=force)


def select_candidates(eng: "Engagement", task_id: str, force: bool = False,
                      embedder: Callable | None = None) -> "StepResult[dict[str, Any]]":
    from fde_toolkit.slm.selection import select_candidates as run
    return run(eng, task_id, force=force, embedder=embedder)


def finetune(eng: "Engagement", task_id: str, candidate: str | None = None, resume: bool = False,
             budget_minutes: float | None = None, max_steps: int | None = None,
             force: bool = False) -> "StepResult[dict[str, Any]]":
    from fde_toolkit.slm.tuning import finetune as run
    return run(eng, task_id, candidate=candidate, resume=resume, budget_minutes=budget_minutes, max_steps=max_steps,
               force=force)


def evaluate(eng: "Engagement", task_id: str, force: bool = False,
             embedder: Callable | None = None) -> "StepResult[dict[str, Any]]":
    from fde_toolkit.slm.evaluation import evaluate as run
    return run(eng, task_id, force=force, embedder=embedder)
