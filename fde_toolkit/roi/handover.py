"""What the handover shows of the specialists themselves: their model cards.

    model_cards(eng)              # [(task id, markdown)] from artifacts/models/<task>/model_card.md
    model_cards_markdown(eng)     # one IPython Markdown, headings moved under the notebook's section
"""

from __future__ import annotations

import re
from typing import Any


def model_cards(eng, tasks: list[str] | None = None) -> list[tuple[str, str]]:
    """Each specialist's model card (task order of `tasks` when given, else by task id)."""
    found = eng.artifacts.keys("model_card")
    order = [t for t in (tasks or []) if t in found] + [t for t in found if t not in (tasks or [])]
    return [(t, eng.artifacts.read("model_card", t)) for t in order]


def demote(markdown: str, levels: int = 2) -> str:
    """Move every heading down `levels` levels ('# Title' -> '### Title'), so cards sit inside a section."""
    return re.sub(r"^(#{1,6})(\s)", lambda m: "#" * min(6, len(m.group(1)) + levels) + m.group(2), markdown,
                  flags=re.MULTILINE)


def model_cards_markdown(eng, tasks: list[str] | None = None) -> Any:
    """The model cards as one Markdown block for the notebook, or a note when there is none yet."""
    from IPython.display import Markdown

    cards = model_cards(eng, tasks)
    if not cards:
        return Markdown("*No specialist has been fine-tuned yet: model cards appear here after `fde finetune` "
                        "and `fde evaluate`.*")
    return Markdown("\n\n---\n\n".join(demote(text) for _, text in cards))
