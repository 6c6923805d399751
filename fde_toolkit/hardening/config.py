"""The `hardening:` and `sla:` sections of engagement.yaml: what `fde harden` measures and what it must meet.

    hardening:
      max_quality_drop: 0.01       # agreement a faster configuration may lose against the eager one
      runtimes: []                 # [] = every configuration that applies (eager, merged, torch-int8, onnx,
                                   # onnx-int8, ct2-int8, ...); or name the ones to measure
      batch_sizes: [1, 2, 4, 8, 16]
      repeats: 3                   # timed passes per measurement; their spread is reported
      max_requests: 200            # test calls per timed pass (and for the quality check: every test call)
      warmup: 3                    # untimed requests before each measurement
      threads: null                # CPU threads per specialist (null: every core torch sees)
      concurrency: 16              # clients of the under-load measurement
    sla:
      default:                     # every task, unless `tasks:` says otherwise
        p95_ms: null               # null: the LLM's logged p95 for the task
        min_requests_per_s: null   # null: not checked
        quality_floor: null        # agreement with the LLM on the test split; null: not checked
        max_memory_mb: null        # peak resident memory of the serving process; null: not checked
      tasks: {t03: {p95_ms: 150}}
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Sla(_Strict):
    """One task's service levels; a None is not checked (p95_ms: None means the LLM's logged p95)."""

    p95_ms: float | None = Field(None, gt=0)
    min_requests_per_s: float | None = Field(None, gt=0)
    quality_floor: float | None = Field(None, ge=0, le=1)
    max_memory_mb: float | None = Field(None, gt=0)


class SlaConfig(_Strict):
    default: Sla = Field(default_factory=Sla)
    tasks: dict[str, Sla] = Field(default_factory=dict)

    def for_task(self, task: str) -> Sla:
        """The task's SLA: its own keys over the default's."""
        own = self.tasks.get(task)
        if own is None:
            return self.default
        return Sla.model_validate({**self.default.model_dump(), **own.model_dump(exclude_unset=True)})


class HardeningConfig(_Strict):
    """How `fde harden` benchmarks each specialist."""

    max_quality_drop: float = Field(0.01, ge=0, lt=1)
    runtimes: list[str] = Field(default_factory=list)
    batch_sizes: list[int] = Field(default_factory=lambda: [1, 2, 4, 8, 16])
    repeats: int = Field(3, ge=1)
    max_requests: int = Field(200, ge=1)
    warmup: int = Field(3, ge=0)
    threads: int | None = Field(None, ge=1)
    concurrency: int = Field(16, ge=1)

    @field_validator("batch_sizes")
    @classmethod
    def _batch_sizes(cls, v: list[int]) -> list[int]:
        if not v or any(b < 1 for b in v):
            raise ValueError("hardening.batch_sizes: list one or more batch sizes >= 1, e.g. [1, 2, 4, 8, 16]")
        return sorted(set(v))
