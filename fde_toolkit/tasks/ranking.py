"""Which SLM candidate to take first: the LLM spend a task could avoid.

    ids = value_rank(tasks["tasks"])     # sets priority, priority_basis and rank on each task; candidates best first
    ranking_note(tasks["tasks"])         # one sentence for tasks.json's explanation

A task's value is its share of the LLM bill (its cost over the known cost of all calls) times its
readiness score: the part of the spend a small model could plausibly take over. Volume does not
enter twice: how much a task is called already counts in readiness (its volume factor) and in the
bill it runs up. Only where no cost is known at all for a task (no call of the engagement, or none
of the task's, has a price) does its share of calls stand in for its share of the bill, and the
task says so (`priority_basis`: "volume_share" instead of "cost_share").
"""

from __future__ import annotations

from typing import Any

COST, VOLUME = "cost_share", "volume_share"
RANKING_VERSION = 2  # 1: readiness x the mean of volume and cost shares; 2: readiness x share of the bill


def priority_basis(task: dict[str, Any]) -> str:
    """'cost_share' when some of the task's cost is known, else 'volume_share' (its share of calls stands in)."""
    if task.get("cost_share") is None:
        return VOLUME
    calls, unpriced = task.get("calls"), task.get("unpriced_calls")
    if calls and unpriced is not None and unpriced >= calls:
        return VOLUME
    return COST


def task_value(task: dict[str, Any]) -> tuple[float, str]:
    """(share of the bill x readiness score, the share it used)."""
    basis = priority_basis(task)
    return round(float(task[basis] or 0.0) * float(task["readiness"]["score"]), 5), basis


def value_rank(tasks: list[dict[str, Any]]) -> list[str]:
    """Set `priority`, `priority_basis` and `rank` on every task (rank only on candidates, 1 = most spend to
    avoid; ties by id) and return the candidate ids best first. Each task needs id, candidate,
    readiness.score, cost_share, volume_share, and calls and unpriced_calls where known."""
    for t in tasks:
        t["priority"], t["priority_basis"] = task_value(t)
        t["rank"] = None
    ranked = sorted((t for t in tasks if t.get("candidate")), key=lambda t: (-t["priority"], t["id"]))
    for i, t in enumerate(ranked):
        t["rank"] = i + 1
    return [t["id"] for t in ranked]


def ranking_note(tasks: list[dict[str, Any]]) -> str:
    """How the candidates were ranked, naming the tasks whose share of calls stood in for an unknown cost."""
    cands = [t for t in tasks if t.get("candidate")]
    by_volume = sorted(t["id"] for t in cands if t.get("priority_basis", priority_basis(t)) == VOLUME)
    if not cands:
        return "No task is an SLM candidate yet."
    if len(by_volume) == len(cands):
        return ("SLM candidates are ranked by share of calls x readiness: no cost is known for "
                + ("any call." if all(t.get("cost_share") is None for t in tasks) else "any candidate's calls."))
    note = "SLM candidates are ranked by the LLM spend they could avoid: share of the bill x readiness."
    if by_volume:
        note += (f" No cost is known for {', '.join(by_volume)}: "
                 f"{'its' if len(by_volume) == 1 else 'their'} share of calls stands in for the share of the bill.")
    return note
