"""What the scoping report shows of task discovery when no live kernel is there: static task cards."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.display import HTML

from fde_toolkit.tasks.explorer import task_card

if TYPE_CHECKING:
    from fde_toolkit.engagement import Engagement


def load_tasks(eng: "Engagement") -> dict[str, Any] | None:
    """The engagement's tasks.json, or None when `fde discover` has not run yet."""
    return eng.artifacts.optional("tasks")


def discovery_headline(tasks: dict[str, Any] | None) -> str:
    """The first line of the discovery summary, or what to run when discovery has not run yet."""
    if not tasks:
        return "Task discovery has not run yet: run `fde discover` on this engagement."
    from fde_toolkit.tasks import render_tasks

    return render_tasks(tasks).split("\n")[0]


def candidate_cards(tasks: dict[str, Any], limit: int = 6) -> HTML:
    """One card per ranked SLM candidate (curated examples, terms, statistics, its share of the bill and the value it
    was ranked by), best first: the most LLM spend to avoid."""
    ranked = sorted((t for t in tasks["tasks"] if t.get("candidate")), key=lambda t: t.get("rank") or 0)[:limit]
    if not ranked:
        return HTML("<p>No task qualifies as an SLM candidate yet.</p>")
    return HTML("".join(task_card(t) for t in ranked))
